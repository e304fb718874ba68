//! RS256 JSON Web Tokens as DC/OS service accounts log in with them (`reference/
//! dcos-cassandra-api.md` §4.2): header `{"alg":"RS256","typ":"JWT"}`, claims `{uid, exp}`,
//! base64url without padding, RSASSA-PKCS1-v1_5 with SHA-256.
//!
//! One crypto stack: aws-lc-rs, the library rustls and the AWS SDK already build on. PEM is
//! unwrapped here (base64 between the `BEGIN`/`END` lines). No message ever carries key
//! material: errors name what is wrong, never a byte of the key.

use std::fmt;

use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{self, RsaKeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};

/// The only header a service login token carries.
const HEADER: &str = r#"{"alg":"RS256","typ":"JWT"}"#;

/// The claims of a DC/OS login token (service login or auth token): who, and until when
/// (unix seconds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) exp: Option<i64>,
}

/// An RSA private key (PKCS#8 `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY` PEM). Never printed.
pub struct SigningKey(RsaKeyPair);

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(***)")
    }
}

impl SigningKey {
    /// Parses a PEM private key; the error says what is wrong, never what the key holds.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        let (label, der) = pem_block(pem)?;
        let key = match label.as_str() {
            "PRIVATE KEY" => RsaKeyPair::from_pkcs8(&der),
            "RSA PRIVATE KEY" => RsaKeyPair::from_der(&der),
            other => {
                return Err(format!(
                    "a PEM `{other}` block is no RSA private key; hint: DC/OS service-account keys are `PRIVATE KEY` (PKCS#8) PEM"
                ));
            }
        };
        key.map(Self)
            .map_err(|e| format!("not a usable RSA private key ({e})"))
    }

    /// The public half as DER (`RSAPublicKey`), to compare keys without printing them.
    pub(crate) fn public_der(&self) -> &[u8] {
        use aws_lc_rs::signature::KeyPair as _;
        self.0.public_key().as_ref()
    }

    /// A signed token with `claims`.
    pub(crate) fn sign(&self, claims: &Claims) -> Result<String, String> {
        let payload = serde_json::to_vec(claims).map_err(|e| e.to_string())?;
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut sig = vec![0; self.0.public_modulus_len()];
        self.0
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                input.as_bytes(),
                &mut sig,
            )
            .map_err(|_| "RS256 signing failed".to_string())?;
        Ok(format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig)))
    }
}

/// An RSA public key (`PUBLIC KEY` SubjectPublicKeyInfo or `RSA PUBLIC KEY` PKCS#1 PEM).
#[derive(Clone, PartialEq, Eq)]
pub struct VerifyingKey(Vec<u8>);

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VerifyingKey({} bytes)", self.0.len())
    }
}

impl VerifyingKey {
    pub(crate) fn from_pem(pem: &str) -> Result<Self, String> {
        let (label, der) = pem_block(pem)?;
        if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
            return Err(format!(
                "a PEM `{label}` block is no public key; hint: pass the service account's `PUBLIC KEY` PEM"
            ));
        }
        // Kept as PKCS#1 `RSAPublicKey`, whichever form the file had.
        let key = aws_lc_rs::rsa::PublicKey::from_der(&der)
            .map_err(|e| format!("not a usable RSA public key ({e})"))?;
        Ok(Self(key.as_ref().to_vec()))
    }

    /// The public key of `key`.
    #[cfg(test)]
    pub(crate) fn of(key: &SigningKey) -> Self {
        Self(key.public_der().to_vec())
    }

    /// Checks an RS256 token's header and signature; returns its claims (not their `exp`:
    /// the caller knows the time).
    pub(crate) fn verify(&self, token: &str) -> Result<Claims, &'static str> {
        let (input, sig) = token.rsplit_once('.').ok_or("not a JWT")?;
        let (header, payload) = input.split_once('.').ok_or("not a JWT")?;
        let header: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).map_err(|_| "bad header")?)
                .map_err(|_| "bad header")?;
        if header["alg"] != "RS256" {
            return Err("not RS256");
        }
        let sig = URL_SAFE_NO_PAD.decode(sig).map_err(|_| "bad signature")?;
        UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, &self.0)
            .verify(input.as_bytes(), &sig)
            .map_err(|_| "bad signature")?;
        decode_claims(payload).ok_or("bad claims")
    }
}

/// The claims of a token, *unverified* (a client reads its own token's `exp`).
pub(crate) fn claims(token: &str) -> Option<Claims> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    decode_claims(payload)
}

fn decode_claims(payload: &str) -> Option<Claims> {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()
}

/// A token shaped like a DC/OS auth token (readable claims, `sig` as its third part) that
/// nobody can verify: what `sim serve` issues.
pub(crate) fn unsigned(claims: &Claims, sig: &str) -> String {
    let payload = serde_json::to_vec(claims).unwrap_or_default();
    format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(HEADER),
        URL_SAFE_NO_PAD.encode(payload),
        URL_SAFE_NO_PAD.encode(sig)
    )
}

/// The label and DER of the first PEM block in `pem`.
fn pem_block(pem: &str) -> Result<(String, Vec<u8>), String> {
    let start = pem
        .find("-----BEGIN ")
        .ok_or("no PEM block (`-----BEGIN …-----`)")?;
    let rest = &pem[start + "-----BEGIN ".len()..];
    let (label, rest) = rest.split_once("-----").ok_or("a broken PEM header")?;
    let end = format!("-----END {label}-----");
    let body = &rest[..rest.find(&end).ok_or("a PEM block without its END line")?];
    let b64: String = body.split_whitespace().collect();
    let der = STANDARD
        .decode(b64)
        .map_err(|_| format!("the PEM `{label}` block is not base64"))?;
    Ok((label.to_string(), der))
}

/// A fresh 2048-bit key pair as PEM: (`PRIVATE KEY` PKCS#8, `PUBLIC KEY`), for tests, which
/// commit no key file.
pub fn generate_pem() -> (String, String) {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
    use aws_lc_rs::signature::KeyPair as _;
    let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
        .expect("aws-lc generates RSA-2048 keys");
    let pkcs8: Pkcs8V1Der<'static> = kp.as_der().expect("an RSA key has a PKCS#8 form");
    let spki: PublicKeyX509Der<'static> = kp
        .public_key()
        .as_der()
        .expect("an RSA key has an SPKI form");
    (
        pem("PRIVATE KEY", pkcs8.as_ref()),
        pem("PUBLIC KEY", spki.as_ref()),
    )
}

/// DER wrapped as PEM, 64 columns.
fn pem(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_login_token_verifies_with_the_public_key_only() {
        let (private, public) = generate_pem();
        let key = SigningKey::from_pem(&private).unwrap();
        let public = VerifyingKey::from_pem(&public).unwrap();
        assert_eq!(public, VerifyingKey::of(&key));
        let c = Claims {
            uid: Some("chaos-harness".into()),
            exp: Some(1_900_000_000),
        };
        let t = key.sign(&c).unwrap();
        let mut parts = t.split('.');
        assert_eq!(
            URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap(),
            HEADER.as_bytes()
        );
        assert!(!t.contains('=') && !t.contains('+') && !t.contains('/'));
        assert_eq!(public.verify(&t), Ok(c.clone()));
        assert_eq!(claims(&t), Some(c.clone()));
        // Another key's signature, a changed claim, another algorithm: refused.
        let (other, _) = generate_pem();
        let forged = SigningKey::from_pem(&other).unwrap().sign(&c).unwrap();
        assert_eq!(public.verify(&forged), Err("bad signature"));
        let (h, rest) = t.split_once('.').unwrap();
        let (_, sig) = rest.split_once('.').unwrap();
        let more = URL_SAFE_NO_PAD.encode(r#"{"uid":"root","exp":1900000000}"#);
        assert_eq!(
            public.verify(&format!("{h}.{more}.{sig}")),
            Err("bad signature")
        );
        let none = URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#);
        assert_eq!(public.verify(&format!("{none}.{more}.")), Err("not RS256"));
        assert!(format!("{key:?}").contains("***"));
    }

    #[test]
    fn key_errors_name_no_key_material() {
        let (private, public) = generate_pem();
        let e = SigningKey::from_pem(&public).unwrap_err();
        assert!(
            e.contains("PUBLIC KEY") && e.contains("no RSA private key"),
            "{e}"
        );
        let body = private.lines().nth(1).unwrap();
        let broken = private.replace(body, &format!("{}!", &body[1..]));
        let e = SigningKey::from_pem(&broken).unwrap_err();
        assert!(!e.contains(&body[1..10]), "{e}");
        assert!(SigningKey::from_pem("no pem").is_err());
        assert!(VerifyingKey::from_pem(&private).is_err());
    }
}
