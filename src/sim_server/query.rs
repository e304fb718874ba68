//! The AWS query protocol's request side: form decoding, the flattened parameter names of
//! lists and structures (`InstanceId.1`, `Filter.2.Value.1`, `Filters.member.1.Values.member.2`)
//! and the SigV4 credential scope that says which service a request is for.

use std::collections::BTreeMap;

/// The service a query request is addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Service {
    Ec2,
    AutoScaling,
}

impl Service {
    /// From the service part of a SigV4 credential scope.
    fn from_scope(name: &str) -> Option<Self> {
        match name {
            "ec2" => Some(Self::Ec2),
            "autoscaling" => Some(Self::AutoScaling),
            _ => None,
        }
    }

    /// From the API `Version` parameter, for unsigned requests (curl).
    pub(crate) fn from_version(version: &str) -> Option<Self> {
        match version {
            "2016-11-15" => Some(Self::Ec2),
            "2011-01-01" => Some(Self::AutoScaling),
            _ => None,
        }
    }
}

/// The credential scope of a SigV4 `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Scope {
    pub(crate) access_key: String,
    pub(crate) date: String,
    pub(crate) region: String,
    pub(crate) service: String,
}

impl Scope {
    /// Parses `AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/ec2/aws4_request,
    /// SignedHeaders=…, Signature=…`. The signature is not verified.
    pub(crate) fn parse(authorization: &str) -> Option<Scope> {
        let rest = authorization.trim().strip_prefix("AWS4-HMAC-SHA256")?;
        let credential = rest
            .split(',')
            .map(str::trim)
            .find_map(|part| part.strip_prefix("Credential="))?;
        let mut parts = credential.split('/');
        let scope = Scope {
            access_key: parts.next()?.to_string(),
            date: parts.next()?.to_string(),
            region: parts.next()?.to_string(),
            service: parts.next()?.to_string(),
        };
        (parts.next()? == "aws4_request" && parts.next().is_none()).then_some(scope)
    }

    pub(crate) fn service(&self) -> Option<Service> {
        Service::from_scope(&self.service)
    }
}

/// Decodes `application/x-www-form-urlencoded` (`+` is a space, `%XX` a byte); invalid
/// escapes are kept as they are, invalid UTF-8 is replaced.
pub(crate) fn decode_form(body: &str) -> Vec<(String, String)> {
    body.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

fn percent_decode(s: &str) -> String {
    let hex = |b: Option<&u8>| b.and_then(|&b| (b as char).to_digit(16));
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => match (hex(bytes.get(i + 1)), hex(bytes.get(i + 2))) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parameters of one query request, or of one flattened structure inside it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    pub(crate) fn new(pairs: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            map: pairs.into_iter().collect(),
        }
    }

    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str)
    }

    /// A boolean parameter (`true`/`false`, any case); absent is `false`.
    pub(crate) fn flag(&self, name: &str) -> bool {
        self.get(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// The structures of a flattened list: for `prefix` = `Filter`, the keys `Filter.<n>.<rest>`
    /// grouped by `n` (in numeric order) with `<rest>` as each structure's keys.
    pub(crate) fn structs(&self, prefix: &str) -> Vec<Params> {
        let mut by_index: BTreeMap<u64, Params> = BTreeMap::new();
        for (k, v) in self.under(prefix) {
            if let Some((n, rest)) = k.split_once('.')
                && let Ok(n) = n.parse::<u64>()
            {
                by_index
                    .entry(n)
                    .or_default()
                    .map
                    .insert(rest.to_string(), v.clone());
            }
        }
        by_index.into_values().collect()
    }

    /// The values of a flattened list of scalars: `InstanceId.1`, `InstanceId.2`, … (or
    /// `AutoScalingGroupNames.member.1` … with `prefix` = `AutoScalingGroupNames.member`), in
    /// numeric order of the index.
    pub(crate) fn list(&self, prefix: &str) -> Vec<String> {
        let mut items: Vec<(u64, String)> = self
            .under(prefix)
            .filter_map(|(k, v)| k.parse::<u64>().ok().map(|n| (n, v.clone())))
            .collect();
        items.sort_by_key(|(n, _)| *n);
        items.into_iter().map(|(_, v)| v).collect()
    }

    /// `(rest, value)` for every key `<prefix>.<rest>`.
    fn under<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a String)> {
        self.map.iter().filter_map(move |(k, v)| {
            k.strip_prefix(prefix)
                .and_then(|r| r.strip_prefix('.'))
                .map(|rest| (rest, v))
        })
    }
}

/// One `Filter` (EC2) or `Filters.member` (Auto Scaling) structure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) name: String,
    pub(crate) values: Vec<String>,
}

/// EC2's filters: `Filter.N.Name`, `Filter.N.Value.M`.
pub(crate) fn ec2_filters(p: &Params) -> Vec<Filter> {
    p.structs("Filter")
        .into_iter()
        .map(|f| Filter {
            name: f.get("Name").unwrap_or_default().to_string(),
            values: f.list("Value"),
        })
        .collect()
}

/// Auto Scaling's filters: `Filters.member.N.Name`, `Filters.member.N.Values.member.M`.
pub(crate) fn autoscaling_filters(p: &Params) -> Vec<Filter> {
    p.structs("Filters.member")
        .into_iter()
        .map(|f| Filter {
            name: f.get("Name").unwrap_or_default().to_string(),
            values: f.list("Values.member"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(body: &str) -> Params {
        Params::new(decode_form(body))
    }

    #[test]
    fn form_decoding() {
        assert_eq!(
            decode_form(
                "Action=DescribeInstances&Version=2016-11-15&Filter.1.Value.1=tag%3Aa+b&&empty=&bare"
            ),
            vec![
                ("Action".to_string(), "DescribeInstances".to_string()),
                ("Version".to_string(), "2016-11-15".to_string()),
                ("Filter.1.Value.1".to_string(), "tag:a b".to_string()),
                ("empty".to_string(), String::new()),
                ("bare".to_string(), String::new()),
            ]
        );
        assert_eq!(percent_decode("%E2%9C%93%2f"), "✓/");
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn flattened_lists_in_numeric_order() {
        let p =
            params("InstanceId.10=i-10&InstanceId.2=i-2&InstanceId.1=i-1&InstanceIdX.1=no&Other=1");
        assert_eq!(p.list("InstanceId"), ["i-1", "i-2", "i-10"]);
        let p = params("AutoScalingGroupNames.member.2=b&AutoScalingGroupNames.member.1=a");
        assert_eq!(p.list("AutoScalingGroupNames.member"), ["a", "b"]);
        assert!(p.list("InstanceId").is_empty());
    }

    #[test]
    fn ec2_filters_are_structures_with_value_lists() {
        let p = params(
            "Action=DescribeInstances&Filter.1.Name=tag%3Aaws%3Aautoscaling%3AgroupName\
             &Filter.1.Value.1=dcos-private-agents&Filter.2.Name=instance-state-name\
             &Filter.2.Value.2=pending&Filter.2.Value.1=running",
        );
        assert_eq!(
            ec2_filters(&p),
            vec![
                Filter {
                    name: "tag:aws:autoscaling:groupName".into(),
                    values: vec!["dcos-private-agents".into()],
                },
                Filter {
                    name: "instance-state-name".into(),
                    values: vec!["running".into(), "pending".into()],
                },
            ]
        );
    }

    #[test]
    fn autoscaling_filters_use_member_lists() {
        let p = params(
            "Filters.member.1.Name=tag%3Achaos-harness%2Fopt-in&Filters.member.1.Values.member.1=true\
             &Filters.member.2.Name=tag-key&Filters.member.2.Values.member.1=k1&Filters.member.2.Values.member.2=k2",
        );
        assert_eq!(
            autoscaling_filters(&p),
            vec![
                Filter {
                    name: "tag:chaos-harness/opt-in".into(),
                    values: vec!["true".into()],
                },
                Filter {
                    name: "tag-key".into(),
                    values: vec!["k1".into(), "k2".into()],
                },
            ]
        );
        assert!(params("DryRun=TRUE").flag("DryRun"));
        assert!(!params("DryRun=false").flag("DryRun"));
        assert!(!params("").flag("DryRun"));
    }

    #[test]
    fn sigv4_scope() {
        let h = "AWS4-HMAC-SHA256 Credential=testing/20261124/us-east-1/ec2/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date, Signature=abcdef";
        let s = Scope::parse(h).unwrap();
        assert_eq!(s.access_key, "testing");
        assert_eq!(s.date, "20261124");
        assert_eq!(s.region, "us-east-1");
        assert_eq!(s.service(), Some(Service::Ec2));
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20261124/us-west-2/autoscaling/aws4_request,SignedHeaders=host,Signature=0";
        assert_eq!(
            Scope::parse(h).unwrap().service(),
            Some(Service::AutoScaling)
        );
        let h = "AWS4-HMAC-SHA256 Credential=AKID/20261124/us-west-2/s3/aws4_request, Signature=0";
        assert_eq!(Scope::parse(h).unwrap().service(), None);
        assert_eq!(Scope::parse("token=abc"), None);
        assert_eq!(
            Scope::parse("AWS4-HMAC-SHA256 Credential=AKID/20261124/us-east-1/ec2"),
            None
        );
        assert_eq!(
            Scope::parse("AWS4-HMAC-SHA256 Credential=AKID/2026/r/ec2/aws4_request/x"),
            None
        );
        assert_eq!(Service::from_version("2016-11-15"), Some(Service::Ec2));
        assert_eq!(
            Service::from_version("2011-01-01"),
            Some(Service::AutoScaling)
        );
    }
}
