//! DC/OS over HTTP (reqwest, rustls): the dcos-commons scheduler API under
//! `<dcos_url>/service/<svc>/v1/`, the Mesos master under `<dcos_url>/mesos/`, and where the
//! connection settings come from (flags, `DCOS_URL` / `DCOS_ACS_TOKEN` / `DCOS_SSL_VERIFY`, or
//! the DC/OS CLI's attached cluster in `~/.dcos/clusters/*/dcos.toml`), and the logins: a
//! DC/OS service account (`DCOS_SERVICE_ACCOUNT_CREDENTIAL`, or `DCOS_UID` +
//! `DCOS_PRIVATE_KEY_PATH`) signs an RS256 login token and renews the auth token before it
//! expires and after a 401; `DCOS_USERNAME` + `DCOS_PASSWORD` log in again after a 401.
//!
//! Bodies and status codes as in `reference/dcos-cassandra-api.md`: plans answer 200, 202 or
//! 417, all with a plan body; a 404 is "not found" only when the scheduler says so.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use reqwest::StatusCode;
use serde::Deserialize;

use super::Pacer;
use crate::cluster::jwt::{self, Claims, SigningKey};
use crate::cluster::{
    AgentId, AgentObs, Api, ClusterError, ClusterResult, PhaseObs, PlanObs, PlanStatus, PodName,
    PodObs, StatusCause, StatusReason, StatusSource, StepObs, TaskId, TaskObs, TaskState,
};
use crate::time::{Dur, Timestamp};

/// An ACS token: never printed, logged or journaled.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

/// A DC/OS service account: its uid and RSA private key. The key is never printed.
#[derive(Clone)]
pub struct ServiceAccount {
    pub uid: String,
    key: Arc<SigningKey>,
}

impl ServiceAccount {
    /// `uid` with the private key in `pem` (PKCS#8 `PRIVATE KEY`, as `dcos security org
    /// service-accounts keypair` writes it, or PKCS#1 `RSA PRIVATE KEY`).
    pub fn from_pem(uid: impl Into<String>, pem: &str) -> Result<Self, String> {
        Ok(Self {
            uid: uid.into(),
            key: Arc::new(SigningKey::from_pem(pem)?),
        })
    }

    /// The service login token: `{uid, exp}` signed RS256, valid for [`LOGIN_TOKEN_LIFETIME`].
    fn login_token(&self, now: Timestamp) -> Result<String, String> {
        let exp = now.saturating_add(LOGIN_TOKEN_LIFETIME).as_millis() / 1000;
        self.key.sign(&Claims {
            uid: Some(self.uid.clone()),
            exp: Some(exp),
        })
    }
}

impl fmt::Debug for ServiceAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ServiceAccount({}, key ***)", self.uid)
    }
}

impl PartialEq for ServiceAccount {
    fn eq(&self, other: &Self) -> bool {
        self.uid == other.uid && self.key.public_der() == other.key.public_der()
    }
}

impl Eq for ServiceAccount {}

/// How long a service login token is valid (the dcos-commons scheduler uses 2 min; a little
/// more tolerates a CI runner's clock running behind the cluster's).
const LOGIN_TOKEN_LIFETIME: Dur = Dur::from_mins(5);

/// When the auth token's own `exp` cannot be read: renew after this long (DC/OS tokens live
/// 5 days by default; a 401 renews it anyway).
const RENEW_UNKNOWN_EXPIRY: Dur = Dur::from_mins(60);

/// After a failed renewal, the old token is used this long before the next attempt.
const RENEW_RETRY: Dur = Dur::from_secs(10);

/// `core.ssl_verify`: `true` (system roots), `false` (no verification), or a CA bundle path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SslVerify {
    System,
    Off,
    CaFile(PathBuf),
}

impl SslVerify {
    /// The CLI's rule: `true`/`false` in any case, empty = true, anything else a path.
    pub(crate) fn parse(s: &str) -> Self {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "true" => Self::System,
            "false" => Self::Off,
            _ => Self::CaFile(PathBuf::from(s.trim())),
        }
    }
}

/// Where to reach DC/OS and how to authenticate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DcosConfig {
    /// `core.dcos_url` without a trailing `/` or `/#/`.
    pub url: String,
    pub token: Option<Secret>,
    pub ssl_verify: SslVerify,
    /// Where the settings came from, for messages.
    pub origin: String,
    /// `DCOS_USERNAME` + `DCOS_PASSWORD`: lets the harness log in again when the token
    /// expires during a long suite (`POST /acs/api/v1/auth/login`).
    pub login: Option<(String, Secret)>,
    /// A service account (CI): logs in with it, renews before expiry and after a 401.
    pub service_account: Option<ServiceAccount>,
}

/// Why no DC/OS connection could be configured.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "no DC/OS cluster is configured; hint: set DCOS_URL and DCOS_ACS_TOKEN, or attach a cluster with `dcos cluster setup` (reads ~/.dcos/clusters/*/dcos.toml)"
    )]
    Missing,
    #[error("cannot read {}: {message}; hint: fix or re-run `dcos cluster setup`", path.display())]
    Unreadable { path: PathBuf, message: String },
    #[error("{} has no core.dcos_url; hint: re-run `dcos cluster setup`", path.display())]
    NoUrl { path: PathBuf },
    #[error(
        "cannot use the DC/OS service account from {origin}: {message}; hint: set DCOS_SERVICE_ACCOUNT_CREDENTIAL=file://<secret.json> (JSON with uid, scheme RS256, private_key), or DCOS_UID and DCOS_PRIVATE_KEY_PATH (PEM); see docs/AWS.md, \"CI login\""
    )]
    ServiceAccount { origin: String, message: String },
    #[error("cannot use the CA bundle {}: {message}; hint: set core.ssl_verify to a PEM file, `true` or `false`", path.display())]
    BadCa { path: PathBuf, message: String },
}

/// The environment the settings are read from (a map in tests, the process env otherwise).
pub(crate) trait Env {
    fn var(&self, key: &str) -> Option<String>;
    fn home(&self) -> Option<PathBuf>;
}

/// The process environment.
pub(crate) struct ProcessEnv;

impl Env for ProcessEnv {
    fn var(&self, key: &str) -> Option<String> {
        std::env::var(key).ok().filter(|v| !v.is_empty())
    }

    fn home(&self) -> Option<PathBuf> {
        std::env::var_os("HOME").map(PathBuf::from)
    }
}

#[derive(Deserialize, Default)]
struct CliToml {
    #[serde(default)]
    core: CoreToml,
    #[serde(default)]
    cluster: ClusterToml,
}

#[derive(Deserialize, Default)]
struct CoreToml {
    dcos_url: Option<String>,
    dcos_acs_token: Option<String>,
    ssl_verify: Option<toml::Value>,
}

#[derive(Deserialize, Default)]
struct ClusterToml {
    name: Option<String>,
}

impl DcosConfig {
    /// Resolves the settings: explicit `url`/`token` first, then `DCOS_URL` (or
    /// `DCOS_DCOS_URL`), `DCOS_ACS_TOKEN` (or `DCOS_DCOS_ACS_TOKEN`), `DCOS_SSL_VERIFY`, then the
    /// CLI's attached cluster (`$DCOS_DIR` or `~/.dcos`; `$DCOS_CLUSTER` picks one by name;
    /// legacy `dcos.toml` / `$DCOS_CONFIG`).
    pub(crate) fn resolve(
        env: &dyn Env,
        url: Option<String>,
        token: Option<String>,
    ) -> Result<Self, ConfigError> {
        let file = Self::cli_file(env)?;
        let (file_url, file_token, file_ssl, origin) = match &file {
            Some((path, t)) => (
                t.core.dcos_url.clone(),
                t.core.dcos_acs_token.clone(),
                t.core.ssl_verify.as_ref().map(|v| match v {
                    toml::Value::String(s) => s.clone(),
                    toml::Value::Boolean(b) => b.to_string(),
                    _ => String::new(),
                }),
                path.display().to_string(),
            ),
            None => (None, None, None, String::new()),
        };
        let env_url = env.var("DCOS_URL").or_else(|| env.var("DCOS_DCOS_URL"));
        let (url, origin) = match (url, env_url, file_url) {
            (Some(u), _, _) => (u, "--dcos-url".to_string()),
            (None, Some(u), _) => (u, "DCOS_URL".to_string()),
            (None, None, Some(u)) => (u, origin),
            (None, None, None) => {
                return Err(match file {
                    Some((path, _)) => ConfigError::NoUrl { path },
                    None => ConfigError::Missing,
                });
            }
        };
        let token = token
            .or_else(|| env.var("DCOS_ACS_TOKEN"))
            .or_else(|| env.var("DCOS_DCOS_ACS_TOKEN"))
            .or(file_token)
            .filter(|t| !t.is_empty())
            .map(Secret::new);
        let login = env
            .var("DCOS_USERNAME")
            .zip(env.var("DCOS_PASSWORD"))
            .map(|(u, p)| (u, Secret::new(p)));
        let ssl_verify =
            SslVerify::parse(&env.var("DCOS_SSL_VERIFY").or(file_ssl).unwrap_or_default());
        Ok(Self {
            url: normalise_url(&url),
            token,
            ssl_verify,
            origin,
            login,
            service_account: service_account(env)?,
        })
    }

    fn cli_file(env: &dyn Env) -> Result<Option<(PathBuf, CliToml)>, ConfigError> {
        let read = |path: &Path| -> Result<CliToml, ConfigError> {
            let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Unreadable {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
            toml::from_str(&text).map_err(|e| ConfigError::Unreadable {
                path: path.to_path_buf(),
                message: e.to_string(),
            })
        };
        if let Some(p) = env.var("DCOS_CONFIG") {
            let p = PathBuf::from(p);
            return Ok(Some((p.clone(), read(&p)?)));
        }
        let Some(dir) = env
            .var("DCOS_DIR")
            .map(PathBuf::from)
            .or_else(|| env.home().map(|h| h.join(".dcos")))
        else {
            return Ok(None);
        };
        let wanted = env.var("DCOS_CLUSTER");
        let mut clusters: Vec<PathBuf> = std::fs::read_dir(dir.join("clusters"))
            .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        clusters.sort();
        for c in &clusters {
            let toml_path = c.join("dcos.toml");
            if !toml_path.is_file() {
                continue;
            }
            let chosen = match &wanted {
                Some(name) => {
                    let t = read(&toml_path)?;
                    if t.cluster.name.as_deref() == Some(name.as_str())
                        || c.file_name().is_some_and(|f| f == name.as_str())
                    {
                        return Ok(Some((toml_path, t)));
                    }
                    false
                }
                None => c.join("attached").exists(),
            };
            if chosen {
                return Ok(Some((toml_path.clone(), read(&toml_path)?)));
            }
        }
        let legacy = dir.join("dcos.toml");
        if legacy.is_file() {
            return Ok(Some((legacy.clone(), read(&legacy)?)));
        }
        Ok(None)
    }
}

/// The service account, the DC/OS CLI's way: `DCOS_SERVICE_ACCOUNT_CREDENTIAL` holds the
/// service-account secret (`file://PATH`, a path, or the JSON itself: `{"uid", "scheme":
/// "RS256", "private_key": PEM, "login_endpoint"}`), else `DCOS_UID` (or `DCOS_USERNAME`) with
/// `DCOS_PRIVATE_KEY_PATH`. The secret's `login_endpoint` is not used: the login goes to the
/// configured DC/OS URL, the only host the harness sends credentials to.
fn service_account(env: &dyn Env) -> Result<Option<ServiceAccount>, ConfigError> {
    #[derive(Deserialize)]
    struct Credential {
        uid: String,
        scheme: Option<String>,
        private_key: String,
    }
    let err = |origin: &str, message: String| ConfigError::ServiceAccount {
        origin: origin.to_string(),
        message,
    };
    let read = |path: &str| {
        let path = path.strip_prefix("file://").unwrap_or(path);
        std::fs::read_to_string(path).map_err(|e| err(path, e.to_string()))
    };
    if let Some(v) = env.var("DCOS_SERVICE_ACCOUNT_CREDENTIAL") {
        let (origin, text) = if v.trim_start().starts_with('{') {
            ("DCOS_SERVICE_ACCOUNT_CREDENTIAL", v.clone())
        } else {
            (v.strip_prefix("file://").unwrap_or(&v), read(&v)?)
        };
        // serde_json's messages may quote the input: say only where it broke.
        let c: Credential = serde_json::from_str(&text).map_err(|e| {
            err(
                origin,
                format!(
                    "not a service-account secret (JSON with uid and private_key; line {}, column {})",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        if let Some(scheme) = c.scheme.filter(|s| s != "RS256") {
            return Err(err(origin, format!("scheme {scheme:?} is not RS256")));
        }
        return ServiceAccount::from_pem(c.uid, &c.private_key)
            .map(Some)
            .map_err(|m| err(origin, m));
    }
    let Some(path) = env.var("DCOS_PRIVATE_KEY_PATH") else {
        return Ok(None);
    };
    let uid = env
        .var("DCOS_UID")
        .or_else(|| env.var("DCOS_USERNAME"))
        .ok_or_else(|| {
            err(
                "DCOS_PRIVATE_KEY_PATH",
                "no uid: set DCOS_UID to the service account's name".into(),
            )
        })?;
    ServiceAccount::from_pem(uid, &read(&path)?)
        .map(Some)
        .map_err(|m| err(&path, m))
}

fn normalise_url(u: &str) -> String {
    let u = u.trim();
    let u = u.strip_suffix("/#/").unwrap_or(u);
    u.trim_end_matches('/').to_string()
}

/// The DC/OS HTTP client.
#[derive(Clone, Debug)]
pub struct DcosClient {
    http: reqwest::Client,
    base: String,
    /// Shared by the clones, so that a fresh token reaches all of them.
    auth: Arc<Mutex<Auth>>,
    /// One login at a time among the clones (the others then use its token).
    login_gate: Arc<tokio::sync::Mutex<()>>,
    login: Option<(String, Secret)>,
    service_account: Option<ServiceAccount>,
    pacer: Pacer,
    /// Set once Admin Router upgraded a request to `https://` (strict mode): later requests
    /// go there at once, so the token crosses plain HTTP once at most. Shared by the clones.
    upgraded: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

/// The auth token in use, and when a service account renews it.
#[derive(Debug, Default)]
struct Auth {
    token: Option<Secret>,
    renew_at: Option<Timestamp>,
}

/// When to renew a token obtained at `now`: at four fifths of its lifetime when its `exp`
/// (unix seconds) is readable, else after [`RENEW_UNKNOWN_EXPIRY`]; never sooner than 1 s.
fn renew_at(now: Timestamp, exp: Option<i64>) -> Timestamp {
    let after = match exp {
        Some(exp) => {
            let left = exp.saturating_mul(1000).saturating_sub(now.as_millis());
            Dur::from_millis(u64::try_from(left / 5 * 4).unwrap_or(0))
        }
        None => RENEW_UNKNOWN_EXPIRY,
    };
    now.saturating_add(after.max(Dur::from_secs(1)))
}

impl DcosClient {
    /// A client of a plain-HTTP DC/OS at `url` with `token`, such as `chaos-harness sim serve`.
    pub fn for_url(url: &str, token: &str) -> Self {
        Self::new(&DcosConfig {
            url: url.to_string(),
            token: Some(Secret::new(token)),
            ssl_verify: SslVerify::System,
            origin: "sim serve".into(),
            login: None,
            service_account: None,
        })
        .expect("a plain-HTTP DC/OS client always builds")
    }

    pub fn new(cfg: &DcosConfig) -> Result<Self, ConfigError> {
        let mut b = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(30))
            // Redirects are followed by hand (`follow`): to the same host only, with the token.
            .redirect(reqwest::redirect::Policy::none());
        match &cfg.ssl_verify {
            SslVerify::System => {}
            SslVerify::Off => b = b.danger_accept_invalid_certs(true),
            SslVerify::CaFile(path) => {
                let bad = |message: String| ConfigError::BadCa {
                    path: path.clone(),
                    message,
                };
                let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
                let cert = reqwest::Certificate::from_pem(&pem).map_err(|e| bad(e.to_string()))?;
                b = b.tls_certs_only([cert]);
            }
        }
        Ok(Self {
            http: b.build().map_err(|e| ConfigError::Unreadable {
                path: PathBuf::from(&cfg.url),
                message: e.to_string(),
            })?,
            base: cfg.url.clone(),
            auth: Arc::new(Mutex::new(Auth {
                token: cfg.token.clone(),
                renew_at: None,
            })),
            login_gate: Arc::default(),
            login: cfg.login.clone(),
            service_account: cfg.service_account.clone(),
            pacer: Pacer::default(),
            upgraded: std::sync::Arc::default(),
        })
    }

    /// Counts and budgets every request with `pacer` (shared with the AWS clients).
    pub(crate) fn set_pacer(&mut self, pacer: Pacer) {
        self.pacer = pacer;
    }

    fn auth(&self) -> std::sync::MutexGuard<'_, Auth> {
        self.auth.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Logs in again after a 401 (the `refresh_auth` hook): with the service account, else
    /// with `DCOS_USERNAME` / `DCOS_PASSWORD`; returns whether a fresh token was obtained.
    pub(crate) async fn login(&self) -> bool {
        let _gate = self.login_gate.lock().await;
        if self.service_account.is_some() {
            return self.service_login(Api::Mesos).await.is_ok();
        }
        self.password_login().await
    }

    async fn password_login(&self) -> bool {
        let Some((uid, password)) = &self.login else {
            return false;
        };
        let body = serde_json::json!({"uid": uid, "password": password.expose()});
        match self.post_login(Api::Mesos, &body).await {
            Ok(token) => {
                self.auth().token = Some(token);
                true
            }
            Err(_) => false,
        }
    }

    /// Signs a service login token and exchanges it for an auth token, which is renewed at
    /// four fifths of its lifetime.
    async fn service_login(&self, api: Api) -> ClusterResult<()> {
        let Some(sa) = &self.service_account else {
            return Ok(());
        };
        let now = self.pacer.clock.now();
        let jwt = sa
            .login_token(now)
            .map_err(|message| ClusterError::Fatal { api, message })?;
        let body = serde_json::json!({"uid": sa.uid, "token": jwt});
        let result = self.post_login(api, &body).await;
        let mut auth = self.auth();
        match result {
            Ok(token) => {
                let exp = jwt::claims(token.expose()).and_then(|c| c.exp);
                auth.renew_at = Some(renew_at(now, exp));
                auth.token = Some(token);
                Ok(())
            }
            Err(e) => {
                auth.renew_at = Some(now.saturating_add(RENEW_RETRY));
                Err(match e {
                    ClusterError::Unauthorized { api, message } => ClusterError::Unauthorized {
                        api,
                        message: format!(
                            "DC/OS refused the login of service account {:?}: {message}; hint: check the uid, that the account holds this key's public half, and the clocks",
                            sa.uid
                        ),
                    },
                    e => e,
                })
            }
        }
    }

    /// `POST /acs/api/v1/auth/login` with `body` → the auth token.
    async fn post_login(&self, api: Api, body: &serde_json::Value) -> ClusterResult<Secret> {
        #[derive(Deserialize)]
        struct Login {
            token: String,
        }
        let url = format!("{}/acs/api/v1/auth/login", self.base);
        let resp = self.follow(api, self.http.post(url).json(body)).await?;
        let status = resp.status();
        let text = resp.text().await.map_err(|e| ClusterError::Transient {
            api,
            message: without_url(&e),
        })?;
        if status.is_success() {
            return serde_json::from_str::<Login>(&text)
                .map(|l| Secret::new(l.token))
                .map_err(|e| ClusterError::Fatal {
                    api,
                    message: format!("unexpected login body: {e}"),
                });
        }
        let message = format!(
            "HTTP {}: {}",
            status.as_u16(),
            text.trim().chars().take(200).collect::<String>()
        );
        Err(match status {
            StatusCode::TOO_MANY_REQUESTS => ClusterError::Throttled { api, message },
            s if s.is_server_error() => ClusterError::Transient { api, message },
            _ => ClusterError::Unauthorized { api, message },
        })
    }

    /// The token to send: a service account logs in first when it has none or its renewal
    /// is due. A failed renewal keeps the old token (a 401 renews it again).
    async fn current_token(&self, api: Api) -> ClusterResult<Option<Secret>> {
        let due =
            |a: &Auth, now: Timestamp| a.token.is_none() || a.renew_at.is_none_or(|t| now >= t);
        if self.service_account.is_some() && due(&self.auth(), self.pacer.clock.now()) {
            let _gate = self.login_gate.lock().await;
            if due(&self.auth(), self.pacer.clock.now()) {
                let renewed = self.service_login(api).await;
                if let Err(e) = renewed
                    && self.auth().token.is_none()
                {
                    return Err(e);
                }
            }
        }
        Ok(self.auth().token.clone())
    }

    fn service_url(&self, service: &str, rest: &str) -> String {
        format!(
            "{}/service/{}/v1/{rest}",
            self.base,
            service.trim_matches('/')
        )
    }

    async fn send(
        &self,
        api: Api,
        req: reqwest::RequestBuilder,
        ok: &[StatusCode],
    ) -> ClusterResult<String> {
        let req = match self.current_token(api).await? {
            Some(t) => req.header(
                reqwest::header::AUTHORIZATION,
                format!("token={}", t.expose()),
            ),
            None => req,
        };
        let resp = self.follow(api, req).await?;
        let status = resp.status();
        let body = resp.text().await.map_err(|e| ClusterError::Transient {
            api,
            message: without_url(&e),
        })?;
        if ok.contains(&status) {
            return Ok(body);
        }
        let snippet: String = body.trim().chars().take(200).collect();
        let message = format!("HTTP {}: {snippet}", status.as_u16());
        Err(match status {
            StatusCode::UNAUTHORIZED => ClusterError::Unauthorized {
                api,
                message: "DC/OS answered 401 Unauthorized (the token is missing, invalid or expired); run `dcos auth login` or set DCOS_ACS_TOKEN".into(),
            },
            StatusCode::FORBIDDEN => ClusterError::Fatal {
                api,
                message: format!("{message}; the account lacks a permission"),
            },
            // Only the scheduler's own words mean "does not exist"; the Admin Router's 404 means
            // the scheduler is not (yet) known, e.g. while it restarts.
            StatusCode::NOT_FOUND if snippet.contains("service not found") => {
                ClusterError::Transient { api, message }
            }
            StatusCode::NOT_FOUND => ClusterError::NotFound {
                api,
                message: snippet,
            },
            StatusCode::TOO_MANY_REQUESTS => ClusterError::Throttled { api, message },
            s if s.is_server_error() => ClusterError::Transient { api, message },
            _ => ClusterError::Fatal { api, message },
        })
    }

    /// Sends a request (each hop counted and budgeted), following Admin Router's redirects
    /// only where [`redirect_allowed`] says: the token is never sent to another host.
    async fn follow(
        &self,
        api: Api,
        req: reqwest::RequestBuilder,
    ) -> ClusterResult<reqwest::Response> {
        let fatal = |message: String| ClusterError::Fatal { api, message };
        let mut req = req.build().map_err(|e| fatal(without_url(&e)))?;
        if self.upgraded.load(std::sync::atomic::Ordering::Relaxed) {
            upgrade(req.url_mut());
        }
        for _ in 0..=MAX_REDIRECTS {
            let again = req.try_clone();
            let from = req.url().clone();
            self.pacer.admit(api).await;
            let resp = self
                .http
                .execute(req)
                .await
                .map_err(|e| ClusterError::Transient {
                    api,
                    message: without_url(&e),
                })?;
            let status = resp.status();
            if !status.is_redirection() || status == StatusCode::NOT_MODIFIED {
                return Ok(resp);
            }
            let code = status.as_u16();
            let to = resp
                .headers()
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| from.join(l).ok())
                .ok_or_else(|| {
                    fatal(format!("HTTP {code}: a redirect without a usable Location"))
                })?;
            if !redirect_allowed(&from, &to) {
                return Err(fatal(format!(
                    "HTTP {code}: DC/OS redirected to {}, another host or port: not followed, the token is only ever sent to {} (hint: set DCOS_URL / core.dcos_url to the address the cluster answers on itself)",
                    origin(&to),
                    origin(&from)
                )));
            }
            let keeps_method = matches!(
                status,
                StatusCode::TEMPORARY_REDIRECT | StatusCode::PERMANENT_REDIRECT
            ) || again
                .as_ref()
                .is_some_and(|r| r.method() == reqwest::Method::GET);
            let Some(mut next) = again.filter(|_| keeps_method) else {
                return Err(fatal(format!(
                    "HTTP {code}: a redirect that would change the request; not followed (hint: set DCOS_URL to {})",
                    origin(&to)
                )));
            };
            if from.scheme() == "http" && to.scheme() == "https" {
                self.upgraded
                    .store(true, std::sync::atomic::Ordering::Relaxed);
            }
            *next.url_mut() = to;
            req = next;
        }
        Err(fatal(format!(
            "more than {MAX_REDIRECTS} redirects; hint: set DCOS_URL to the address the cluster answers on"
        )))
    }

    fn parse<T: serde::de::DeserializeOwned>(api: Api, what: &str, text: &str) -> ClusterResult<T> {
        serde_json::from_str(text).map_err(|e| ClusterError::Fatal {
            api,
            message: format!("unexpected {what} body: {e}"),
        })
    }

    /// `GET /mesos/master/slaves`.
    pub async fn agents(&self) -> ClusterResult<Vec<AgentObs>> {
        let api = Api::Mesos;
        let url = format!("{}/mesos/master/slaves", self.base);
        let body = self
            .send(api, self.http.get(url), &[StatusCode::OK])
            .await?;
        let slaves: Slaves = Self::parse(api, "/mesos/master/slaves", &body)?;
        Ok(slaves.slaves.into_iter().map(Slave::into_obs).collect())
    }

    /// `GET /v1/pod/status`.
    pub async fn pod_statuses(&self, service: &str) -> ClusterResult<Vec<PodObs>> {
        let api = Api::Scheduler;
        let url = self.service_url(service, "pod/status");
        let body = self
            .send(api, self.http.get(url), &[StatusCode::OK])
            .await?;
        let tree: PodTree = Self::parse(api, "pod status", &body)?;
        Ok(tree
            .pods
            .into_iter()
            .flat_map(|p| p.instances)
            .map(|i| PodObs {
                name: PodName::new(&i.name),
                tasks: i
                    .tasks
                    .into_iter()
                    .map(|t| TaskObs {
                        name: t.name.into(),
                        id: TaskId::new(t.id),
                        state: t.status.as_deref().map(task_state),
                        agent: None,
                        status_time: None,
                        cause: Default::default(),
                    })
                    .collect(),
            })
            .collect())
    }

    /// `GET /v1/pod/<pod>/info`: agents and status timestamps of the pod's tasks.
    pub async fn pod_info(&self, service: &str, pod: &PodName) -> ClusterResult<PodObs> {
        let api = Api::Scheduler;
        let url = self.service_url(service, &format!("pod/{pod}/info"));
        let body = self
            .send(api, self.http.get(url), &[StatusCode::OK])
            .await?;
        let infos: Vec<TaskInfoAndStatus> = Self::parse(api, "pod info", &body)?;
        Ok(PodObs {
            name: pod.clone(),
            tasks: infos.into_iter().map(TaskInfoAndStatus::into_obs).collect(),
        })
    }

    /// `POST /v1/pod/<pod>/replace`.
    pub async fn pod_replace(&self, service: &str, pod: &PodName) -> ClusterResult<()> {
        let url = self.service_url(service, &format!("pod/{pod}/replace"));
        self.send(Api::Scheduler, self.http.post(url), &[StatusCode::OK])
            .await
            .map(drop)
    }

    /// `GET /v1/plans/<plan>`: 200 complete, 202 in progress, 417 with errors — all carry a plan.
    pub async fn plan(&self, service: &str, plan: &str) -> ClusterResult<PlanObs> {
        let api = Api::Scheduler;
        let url = self.service_url(service, &format!("plans/{plan}"));
        let body = self
            .send(
                api,
                self.http.get(url),
                &[
                    StatusCode::OK,
                    StatusCode::ACCEPTED,
                    StatusCode::EXPECTATION_FAILED,
                ],
            )
            .await?;
        let p: PlanJson = Self::parse(api, "plan", &body)?;
        Ok(p.into_obs())
    }
}

/// At most this many redirects are followed per request.
const MAX_REDIRECTS: usize = 3;

/// Whether a redirect from `from` to `to` may be followed (with the token): to the same host
/// only, either on the same origin or as Admin Router's upgrade of `http://` to `https://`
/// (strict mode answers 307 to the same host on the default port).
pub(crate) fn redirect_allowed(from: &reqwest::Url, to: &reqwest::Url) -> bool {
    if to.host_str().is_none() || from.host_str() != to.host_str() {
        return false;
    }
    let same_origin =
        from.scheme() == to.scheme() && from.port_or_known_default() == to.port_or_known_default();
    let upgrade = from.scheme() == "http"
        && to.scheme() == "https"
        && to.port_or_known_default() == Some(443);
    same_origin || upgrade
}

/// Admin Router's upgrade of a plain-HTTP URL: `https://`, same host, the default port.
fn upgrade(u: &mut reqwest::Url) {
    if u.scheme() == "http" && u.set_scheme("https").is_ok() {
        let _ = u.set_port(None);
    }
}

/// `scheme://host[:port]` of a URL, for messages (never its path or query).
fn origin(u: &reqwest::Url) -> String {
    match u.port() {
        Some(p) => format!("{}://{}:{p}", u.scheme(), u.host_str().unwrap_or("")),
        None => format!("{}://{}", u.scheme(), u.host_str().unwrap_or("")),
    }
}

/// reqwest errors name the URL; keep messages short and free of query strings.
fn without_url(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "cannot connect"
    } else {
        "request failed"
    };
    match e.url() {
        Some(u) => format!("{kind}: {}{}", u.host_str().unwrap_or(""), u.path()),
        None => kind.to_string(),
    }
}

/// A task state as the scheduler prints it (`RUNNING`) or as Mesos does (`TASK_RUNNING`).
fn task_state(s: &str) -> TaskState {
    TaskState::parse(s.strip_prefix("TASK_").unwrap_or(s)).unwrap_or(TaskState::Unknown)
}

/// A field a real body may carry as an explicit `null` as well as leave out: both mean the
/// default (serde's `default` alone covers only the missing field).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Deserialize)]
struct Slaves {
    #[serde(default, deserialize_with = "nullable")]
    slaves: Vec<Slave>,
}

#[derive(Deserialize)]
struct Slave {
    id: String,
    hostname: String,
    /// Absent or `null` on old masters: an agent in `/slaves` is connected.
    #[serde(default)]
    active: Option<bool>,
    registered_time: f64,
    reregistered_time: Option<f64>,
    #[serde(default, deserialize_with = "nullable")]
    attributes: serde_json::Map<String, serde_json::Value>,
    #[serde(default, deserialize_with = "nullable")]
    reserved_resources: serde_json::Map<String, serde_json::Value>,
}

impl Slave {
    fn into_obs(self) -> AgentObs {
        let public = self
            .attributes
            .get("public_ip")
            .is_some_and(|v| v.as_str() == Some("true") || v.as_bool() == Some(true))
            || self.reserved_resources.contains_key("slave_public");
        AgentObs {
            id: AgentId::new(self.id),
            hostname: self.hostname.into(),
            active: self.active.unwrap_or(true),
            registered_time: Timestamp::from_unix_seconds_f64(self.registered_time),
            reregistered_time: self.reregistered_time.map(Timestamp::from_unix_seconds_f64),
            public,
        }
    }
}

#[derive(Deserialize)]
struct PodTree {
    /// Absent when the service has no tasks at all.
    #[serde(default, deserialize_with = "nullable")]
    pods: Vec<PodType>,
}

#[derive(Deserialize)]
struct PodType {
    #[serde(default, deserialize_with = "nullable")]
    instances: Vec<PodInstance>,
}

#[derive(Deserialize)]
struct PodInstance {
    name: String,
    #[serde(default, deserialize_with = "nullable")]
    tasks: Vec<PodTask>,
}

#[derive(Deserialize)]
struct PodTask {
    #[serde(default, deserialize_with = "nullable")]
    id: String,
    name: String,
    /// Omitted when the scheduler has no status (the CLI's `<UNKNOWN>`).
    status: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskInfoAndStatus {
    info: TaskInfoJson,
    status: Option<TaskStatusJson>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskInfoJson {
    name: String,
    task_id: Option<ValueJson>,
    slave_id: Option<ValueJson>,
}

#[derive(Deserialize)]
struct ValueJson {
    #[serde(default, deserialize_with = "nullable")]
    value: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskStatusJson {
    state: Option<String>,
    timestamp: Option<f64>,
    source: Option<String>,
    reason: Option<String>,
    /// `TimeInfo` (`{"nanoseconds": …}`), set on statuses of tasks on unreachable agents.
    unreachable_time: Option<TimeInfoJson>,
}

#[derive(Deserialize)]
struct TimeInfoJson {
    nanoseconds: Option<i64>,
}

impl TaskStatusJson {
    fn cause(&self) -> StatusCause {
        StatusCause {
            source: self.source.as_deref().and_then(StatusSource::parse),
            reason: self.reason.as_deref().and_then(StatusReason::parse),
            unreachable_time: self
                .unreachable_time
                .as_ref()
                .and_then(|t| t.nanoseconds)
                .map(|ns| Timestamp::from_millis(ns.div_euclid(1_000_000))),
        }
    }
}

impl TaskInfoAndStatus {
    fn into_obs(self) -> TaskObs {
        let status = self.status;
        TaskObs {
            name: self.info.name.into(),
            id: TaskId::new(self.info.task_id.map(|v| v.value).unwrap_or_default()),
            state: status
                .as_ref()
                .and_then(|s| s.state.as_deref())
                .map(task_state),
            agent: self
                .info
                .slave_id
                .filter(|v| !v.value.is_empty())
                .map(|v| AgentId::new(v.value)),
            cause: status
                .as_ref()
                .map(TaskStatusJson::cause)
                .unwrap_or_default(),
            status_time: status
                .and_then(|s| s.timestamp)
                .map(Timestamp::from_unix_seconds_f64),
        }
    }
}

#[derive(Deserialize)]
struct PlanJson {
    #[serde(default, deserialize_with = "nullable")]
    phases: Vec<PhaseJson>,
    #[serde(default, deserialize_with = "nullable")]
    errors: Vec<Option<String>>,
    status: String,
}

#[derive(Deserialize)]
struct PhaseJson {
    #[serde(default, deserialize_with = "nullable")]
    id: String,
    name: String,
    status: String,
    #[serde(default, deserialize_with = "nullable")]
    steps: Vec<StepJson>,
}

#[derive(Deserialize)]
struct StepJson {
    #[serde(default, deserialize_with = "nullable")]
    id: String,
    name: String,
    status: String,
}

fn plan_status(s: &str) -> PlanStatus {
    // Display-only statuses (PAUSING/PAUSED) and unknown ones count as "not complete".
    PlanStatus::parse(s).unwrap_or(PlanStatus::Waiting)
}

impl PlanJson {
    fn into_obs(self) -> PlanObs {
        PlanObs {
            status: plan_status(&self.status),
            errors: self.errors.into_iter().flatten().collect(),
            phases: self
                .phases
                .into_iter()
                .map(|p| PhaseObs {
                    id: p.id.into(),
                    name: p.name.into(),
                    status: plan_status(&p.status),
                    steps: p
                        .steps
                        .into_iter()
                        .map(|s| StepObs {
                            id: s.id.into(),
                            name: s.name.into(),
                            status: plan_status(&s.status),
                        })
                        .collect(),
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    struct MapEnv(BTreeMap<&'static str, String>, Option<PathBuf>);

    impl Env for MapEnv {
        fn var(&self, key: &str) -> Option<String> {
            self.0.get(key).cloned()
        }
        fn home(&self) -> Option<PathBuf> {
            self.1.clone()
        }
    }

    const FIXTURES: &str = "tests/fixtures/dcos";

    fn fixture(name: &str) -> String {
        let p = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join(FIXTURES)
            .join(name);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    #[test]
    fn env_beats_the_cli_file_and_urls_are_normalised() {
        let home = tempfile::tempdir().unwrap();
        let c = home.path().join(".dcos/clusters/abc");
        std::fs::create_dir_all(&c).unwrap();
        std::fs::write(c.join("attached"), "").unwrap();
        std::fs::write(
            c.join("dcos.toml"),
            "[core]\ndcos_url = \"https://file.example/#/\"\ndcos_acs_token = \"file-token\"\nssl_verify = \"false\"\n[cluster]\nname = \"c1\"\n",
        )
        .unwrap();
        let from_file = DcosConfig::resolve(
            &MapEnv(BTreeMap::new(), Some(home.path().into())),
            None,
            None,
        )
        .unwrap();
        assert_eq!(from_file.url, "https://file.example");
        assert_eq!(from_file.token, Some(Secret::new("file-token")));
        assert_eq!(from_file.ssl_verify, SslVerify::Off);

        let env = MapEnv(
            BTreeMap::from([
                ("DCOS_URL", "http://127.0.0.1:9/".to_string()),
                ("DCOS_ACS_TOKEN", "env-token".to_string()),
            ]),
            Some(home.path().into()),
        );
        let cfg = DcosConfig::resolve(&env, None, None).unwrap();
        assert_eq!(cfg.url, "http://127.0.0.1:9");
        assert_eq!(cfg.token, Some(Secret::new("env-token")));
        // ssl_verify still comes from the file when the environment says nothing.
        assert_eq!(cfg.ssl_verify, SslVerify::Off);
        assert!(
            !format!("{cfg:?}").contains("env-token"),
            "tokens never print"
        );
    }

    #[test]
    fn a_service_account_is_configured_the_dcos_cli_way() {
        let (private, _) = jwt::generate_pem();
        let dir = tempfile::tempdir().unwrap();
        let secret = serde_json::json!({"uid": "chaos-ci", "scheme": "RS256",
            "private_key": private, "login_endpoint": "https://master.mesos/acs/api/v1/auth/login"});
        let secret_file = dir.path().join("secret.json");
        std::fs::write(&secret_file, secret.to_string()).unwrap();
        let key_file = dir.path().join("key.pem");
        std::fs::write(&key_file, &private).unwrap();
        let expected = ServiceAccount::from_pem("chaos-ci", &private).unwrap();
        let resolve = |vars: &[(&'static str, String)]| {
            let mut m = BTreeMap::from([("DCOS_URL", "http://127.0.0.1:9".to_string())]);
            m.extend(vars.iter().cloned());
            DcosConfig::resolve(&MapEnv(m, None), None, None)
        };
        let file_url = format!("file://{}", secret_file.display());
        for vars in [
            vec![("DCOS_SERVICE_ACCOUNT_CREDENTIAL", file_url.clone())],
            vec![(
                "DCOS_SERVICE_ACCOUNT_CREDENTIAL",
                secret_file.display().to_string(),
            )],
            vec![("DCOS_SERVICE_ACCOUNT_CREDENTIAL", secret.to_string())],
            vec![
                ("DCOS_UID", "chaos-ci".to_string()),
                ("DCOS_PRIVATE_KEY_PATH", key_file.display().to_string()),
            ],
        ] {
            let cfg = resolve(&vars).unwrap();
            assert_eq!(cfg.service_account.as_ref(), Some(&expected), "{vars:?}");
            let shown = format!("{cfg:?}");
            assert!(!shown.contains(&private[40..80]), "{shown}");
        }
        // Errors say what is wrong, never what the key holds.
        let body = private.lines().nth(3).unwrap();
        for (vars, wanted) in [
            (
                vec![("DCOS_PRIVATE_KEY_PATH", key_file.display().to_string())],
                "DCOS_UID",
            ),
            (
                vec![(
                    "DCOS_SERVICE_ACCOUNT_CREDENTIAL",
                    secret.to_string().replace("RS256", "HS256"),
                )],
                "not RS256",
            ),
            (
                vec![(
                    "DCOS_SERVICE_ACCOUNT_CREDENTIAL",
                    secret.to_string().replace(body, &body[..30]),
                )],
                "PRIVATE KEY",
            ),
            (
                vec![(
                    "DCOS_SERVICE_ACCOUNT_CREDENTIAL",
                    format!("{{\"uid\": {body}"),
                )],
                "not a service-account secret",
            ),
        ] {
            let e = resolve(&vars).unwrap_err().to_string();
            assert!(e.contains(wanted) && e.contains("CI login"), "{e}");
            assert!(!e.contains(&body[..20]), "{e}");
        }
        assert_eq!(resolve(&[]).unwrap().service_account, None);
    }

    #[test]
    fn renewal_comes_at_four_fifths_of_the_lifetime() {
        let now = Timestamp::from_millis(1_000_000_000_000);
        let at = |exp| renew_at(now, exp).since(now);
        assert_eq!(at(Some(1_000_000_000 + 100)), Dur::from_secs(80));
        assert_eq!(at(None), RENEW_UNKNOWN_EXPIRY);
        // Already past (clock skew): not in a loop, a 401 renews it.
        assert_eq!(at(Some(1_000_000_000 - 5)), Dur::from_secs(1));
    }

    #[test]
    fn no_configuration_says_how_to_get_one() {
        let err = DcosConfig::resolve(&MapEnv(BTreeMap::new(), None), None, None).unwrap_err();
        assert!(err.to_string().contains("DCOS_URL"), "{err}");
    }

    #[test]
    fn ssl_verify_has_the_cli_meaning() {
        assert_eq!(SslVerify::parse("TRUE"), SslVerify::System);
        assert_eq!(SslVerify::parse(""), SslVerify::System);
        assert_eq!(SslVerify::parse("False"), SslVerify::Off);
        assert_eq!(
            SslVerify::parse("/etc/dcos_ca.crt"),
            SslVerify::CaFile(PathBuf::from("/etc/dcos_ca.crt"))
        );
    }

    #[test]
    fn fixture_pod_status_maps_states_and_status_less_stubs() {
        let tree: PodTree = serde_json::from_str(&fixture("pod-status-node4-lost.json")).unwrap();
        let pods: Vec<PodInstance> = tree.pods.into_iter().flat_map(|p| p.instances).collect();
        assert_eq!(pods.len(), 5);
        let node4 = &pods[4];
        let server = node4
            .tasks
            .iter()
            .find(|t| t.name == "node-4-server")
            .unwrap();
        assert_eq!(
            server.status.as_deref().map(task_state),
            Some(TaskState::Lost)
        );
        let repair = node4
            .tasks
            .iter()
            .find(|t| t.name == "node-4-repair")
            .unwrap();
        assert_eq!(repair.status, None);
        assert_eq!(repair.id, "");
    }

    #[test]
    fn fixture_slaves_map_to_agents_with_the_public_one_marked() {
        let slaves: Slaves = serde_json::from_str(&fixture("mesos-slaves.json")).unwrap();
        let agents: Vec<AgentObs> = slaves.slaves.into_iter().map(Slave::into_obs).collect();
        assert_eq!(agents.len(), 6);
        assert_eq!(agents.iter().filter(|a| a.public).count(), 1);
        assert_eq!(&*agents[0].hostname, "10.0.1.23");
        assert_eq!(agents[0].registered_time.as_millis(), 1_700_470_011_582);
    }

    #[test]
    fn pod_info_with_null_status_and_mesos_state_names() {
        let body = r#"[
          {"info": {"name": "node-4-server", "taskId": {"value": "cassandra__node-4-server__9f8e"},
                    "slaveId": {"value": "S4"}},
           "status": {"taskId": {"value": "cassandra__node-4-server__9f8e"}, "state": "TASK_UNREACHABLE",
                      "timestamp": 1700471234.56789, "slaveId": {"value": "S4"}}},
          {"info": {"name": "node-4-repair", "taskId": {"value": ""}, "slaveId": {"value": "S4"}}, "status": null}
        ]"#;
        let infos: Vec<TaskInfoAndStatus> = serde_json::from_str(body).unwrap();
        let tasks: Vec<TaskObs> = infos.into_iter().map(TaskInfoAndStatus::into_obs).collect();
        assert_eq!(tasks[0].state, Some(TaskState::Unreachable));
        assert_eq!(tasks[0].status_time.unwrap().as_millis(), 1_700_471_234_568);
        assert_eq!(tasks[0].agent.as_ref().unwrap().as_str(), "S4");
        assert_eq!(tasks[1].state, None);
        assert_eq!(tasks[1].id.as_str(), "");
    }

    #[test]
    fn pod_info_carries_the_status_source_reason_and_unreachable_time() {
        let body = r#"[
          {"info": {"name": "node-4-server", "taskId": {"value": "t1"}, "slaveId": {"value": "S4"}},
           "status": {"taskId": {"value": "t1"}, "state": "TASK_UNREACHABLE",
                      "source": "SOURCE_MASTER", "reason": "REASON_RECONCILIATION",
                      "timestamp": 1700471934.5, "unreachableTime": {"nanoseconds": 1700471234567890000}}},
          {"info": {"name": "node-3-server", "taskId": {"value": "t2"}},
           "status": {"state": "TASK_RUNNING", "source": null, "reason": "REASON_SOMETHING_NEW",
                      "timestamp": 1700471000.0, "unreachableTime": null}}
        ]"#;
        let infos: Vec<TaskInfoAndStatus> = serde_json::from_str(body).unwrap();
        let tasks: Vec<TaskObs> = infos.into_iter().map(TaskInfoAndStatus::into_obs).collect();
        let cause = tasks[0].cause;
        assert_eq!(cause.source, Some(StatusSource::Master));
        assert_eq!(cause.reason, Some(StatusReason::Reconciliation));
        let lost = Timestamp::from_millis(1_700_471_234_567);
        assert_eq!(cause.unreachable_time, Some(lost));
        // A reconciliation answer's timestamp is no stamp of the loss; the unreachable time is.
        assert_eq!(tasks[0].stamp(), None);
        assert_eq!(tasks[0].lost_stamp(), Some(lost));
        assert_eq!(tasks[0].agent_removed_stamp(), Some(lost));
        assert_eq!(tasks[1].cause, StatusCause::default());
        assert_eq!(tasks[1].stamp(), tasks[1].status_time);
    }

    #[test]
    fn explicit_nulls_mean_the_default() {
        let slaves = r#"{"slaves": [{"id": "S0", "hostname": "10.0.1.5", "active": null,
            "registered_time": 1700470011.58, "reregistered_time": null, "attributes": null,
            "reserved_resources": null},
          {"id": "S1", "hostname": "10.0.5.9", "registered_time": 1700470012.0,
            "attributes": {"public_ip": "true"}, "reserved_resources": {"slave_public": {}}}]}"#;
        let agents: Vec<AgentObs> = serde_json::from_str::<Slaves>(slaves)
            .unwrap()
            .slaves
            .into_iter()
            .map(Slave::into_obs)
            .collect();
        assert!(agents[0].active && !agents[0].public);
        assert_eq!(agents[0].reregistered_time, None);
        assert!(agents[1].public);
        assert!(
            serde_json::from_str::<Slaves>(r#"{"slaves": null}"#)
                .unwrap()
                .slaves
                .is_empty()
        );

        let plan = r#"{"phases": [{"id": null, "name": "permanent-node-failure-recovery",
            "status": "IN_PROGRESS", "steps": [{"id": null, "name": "node-4:[server]",
            "status": "PENDING"}]}, {"id": "p2", "name": "empty", "status": "COMPLETE",
            "steps": null}], "errors": null, "status": "IN_PROGRESS"}"#;
        let plan = serde_json::from_str::<PlanJson>(plan).unwrap().into_obs();
        assert_eq!(plan.status, PlanStatus::InProgress);
        assert!(plan.errors.is_empty());
        assert_eq!(&*plan.steps().next().unwrap().id, "");
        assert!(plan.phases[1].steps.is_empty());
        let errors = r#"{"phases": null, "errors": ["boom", null], "status": "ERROR"}"#;
        let errors = serde_json::from_str::<PlanJson>(errors).unwrap().into_obs();
        assert_eq!(errors.errors, ["boom"]);

        let status = r#"{"service": "cassandra", "pods": [{"name": "node", "instances": [
            {"name": "node-0", "tasks": [{"id": null, "name": "node-0-repair", "status": null},
              {"id": "cassandra__node-0-server__1", "name": "node-0-server", "status": "RUNNING"}]},
            {"name": "node-1", "tasks": null}]}, {"name": "other", "instances": null}]}"#;
        let tree: PodTree = serde_json::from_str(status).unwrap();
        let pods: Vec<PodInstance> = tree.pods.into_iter().flat_map(|p| p.instances).collect();
        assert_eq!(pods.len(), 2);
        assert_eq!(pods[0].tasks[0].id, "");
        assert!(pods[1].tasks.is_empty());
        assert!(
            serde_json::from_str::<PodTree>(r#"{"pods": null}"#)
                .unwrap()
                .pods
                .is_empty()
        );

        let info = r#"[{"info": {"name": "node-4-server", "taskId": {"value": null},
            "slaveId": null}, "status": {"state": null, "timestamp": null}}]"#;
        let infos: Vec<TaskInfoAndStatus> = serde_json::from_str(info).unwrap();
        let task = infos.into_iter().next().unwrap().into_obs();
        assert_eq!((task.id.as_str(), task.agent, task.state), ("", None, None));
    }

    #[test]
    fn redirects_are_followed_to_the_same_host_only() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let from = url("http://master.example/mesos/master/slaves");
        // Admin Router's strict mode: 307 to https on the same host.
        assert!(redirect_allowed(
            &from,
            &url("https://master.example/mesos/master/slaves")
        ));
        assert!(redirect_allowed(
            &from,
            &url("https://master.example:443/x")
        ));
        assert!(redirect_allowed(
            &from,
            &url("http://master.example:80/other")
        ));
        assert!(!redirect_allowed(&from, &url("https://evil.example/x")));
        assert!(!redirect_allowed(
            &from,
            &url("https://master.example:8443/x")
        ));
        assert!(!redirect_allowed(
            &from,
            &url("http://master.example:8080/x")
        ));
        assert!(!redirect_allowed(
            &from,
            &url("https://master.example.evil.example/x")
        ));
        // Never downgraded, never another host on the same port.
        let tls = url("https://master.example/x");
        assert!(!redirect_allowed(&tls, &url("http://master.example/x")));
        let local = url("http://127.0.0.1:8080/x");
        assert!(!redirect_allowed(&local, &url("http://localhost:8080/x")));
        assert!(redirect_allowed(&local, &url("http://127.0.0.1:8080/y")));
        assert_eq!(
            origin(&url("https://h.example:8443/p?q=1")),
            "https://h.example:8443"
        );
        // Once upgraded, later requests go to where the upgrade led, and nowhere else.
        for (before, after) in [
            (
                "http://master.example/x?y=1",
                "https://master.example/x?y=1",
            ),
            ("http://master.example:80/x", "https://master.example/x"),
            (
                "https://master.example:8443/x",
                "https://master.example:8443/x",
            ),
        ] {
            let mut u = url(before);
            upgrade(&mut u);
            assert_eq!(u.as_str(), after);
            assert!(u == url(before) || redirect_allowed(&url(before), &u));
        }
    }

    #[test]
    fn plan_bodies_keep_steps_and_errors() {
        let body = r#"{"phases": [{"id": "p1", "name": "permanent-node-failure-recovery", "strategy": "serial",
            "status": "STARTING", "steps": [{"id": "s1", "name": "node-4:[server]", "status": "STARTING",
            "message": "…"}]}], "errors": ["boom"], "status": "STARTING", "strategy": "parallel"}"#;
        let plan = serde_json::from_str::<PlanJson>(body).unwrap().into_obs();
        assert_eq!(plan.status, PlanStatus::Starting);
        assert_eq!(&*plan.steps().next().unwrap().name, "node-4:[server]");
        assert_eq!(plan.errors, vec!["boom".to_string()]);
        let empty = serde_json::from_str::<PlanJson>(
            r#"{"phases": [], "errors": [], "status": "COMPLETE"}"#,
        )
        .unwrap()
        .into_obs();
        assert_eq!(empty.status, PlanStatus::Complete);
    }
}
