//! The EC2 query API (`Version=2016-11-15`): `DescribeInstances`, `TerminateInstances`,
//! `StopInstances`, `RebootInstances`, with EC2's XML (lowerCamel elements, `item` lists) and
//! EC2's error envelope (`<Response><Errors><Error>…`).

use axum::http::StatusCode;
use axum::response::Response;

use super::query::{Filter, Params, ec2_filters};
use super::xml::Xml;
use super::{ACCOUNT, AwsError, World, iso, xml_response};
use crate::cluster::{ClusterError, InstanceFilter, InstanceId, InstanceObs, InstanceState};
use crate::vocab::FaultKind;

const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// The filters `DescribeInstances` understands here (a subset of EC2's).
const FILTERS: [&str; 6] = [
    "instance-id",
    "private-ip-address",
    "instance-state-name",
    "availability-zone",
    "tag-key",
    "tag-value",
];

pub(super) fn handle(w: &mut World, p: &Params, rid: &str) -> Response {
    let result = match p.get("Action") {
        None => Err(AwsError::bad_request(
            "MissingAction",
            "The request must contain the parameter Action",
        )),
        Some("DescribeInstances") => describe_instances(w, p, rid),
        Some("TerminateInstances") => change_state(w, p, rid, FaultKind::TerminateInstance),
        Some("StopInstances") => change_state(w, p, rid, FaultKind::StopInstance),
        Some("RebootInstances") => reboot(w, p, rid),
        Some(other) => Err(AwsError::bad_request(
            "InvalidAction",
            format!("The action {other} is not valid for this web service."),
        )),
    };
    match result {
        Ok(body) => xml_response(StatusCode::OK, rid, body),
        Err(e) => error_response(&e, rid),
    }
}

/// EC2's error envelope. Throttling is `RequestLimitExceeded` with 503, as EC2 sends it.
pub(super) fn error_response(e: &AwsError, rid: &str) -> Response {
    let body = Xml::document("Response", None, |x| {
        x.elem("Errors", |x| {
            x.elem("Error", |x| {
                x.text("Code", &e.code);
                x.text("Message", &e.message);
            });
        });
        x.text("RequestID", rid);
    });
    xml_response(e.status, rid, body)
}

fn model_error(e: &ClusterError) -> AwsError {
    match e {
        ClusterError::Throttled { .. } => AwsError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "RequestLimitExceeded",
            "Request limit exceeded.",
        ),
        ClusterError::Transient { .. } => AwsError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "Unavailable",
            "The service is unavailable. Please try again shortly.",
        ),
        ClusterError::Unauthorized { message, .. } => {
            AwsError::new(StatusCode::UNAUTHORIZED, "AuthFailure", message.clone())
        }
        other => AwsError::from_model(other, "InvalidParameterValue"),
    }
}

fn dry_run(p: &Params) -> Result<(), AwsError> {
    if p.flag("DryRun") {
        Err(AwsError::new(
            StatusCode::PRECONDITION_FAILED,
            "DryRunOperation",
            "Request would have succeeded, but DryRun flag is set.",
        ))
    } else {
        Ok(())
    }
}

/// `*` and `?` wildcards, as EC2 filter values allow.
fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

fn matches(f: &Filter, i: &InstanceObs, zone: Option<&str>) -> bool {
    let any = |text: Option<&str>| text.is_some_and(|t| f.values.iter().any(|v| glob(v, t)));
    match f.name.as_str() {
        "instance-id" => any(Some(i.id.as_str())),
        "private-ip-address" => any(i.private_ip.as_deref()),
        "instance-state-name" => any(Some(i.state.as_str())),
        "availability-zone" => any(zone),
        "tag-key" => i.tags.iter().any(|(k, _)| any(Some(k))),
        "tag-value" => i.tags.iter().any(|(_, v)| any(Some(v))),
        name => match name.strip_prefix("tag:") {
            Some(key) => i.tags.iter().any(|(k, v)| k == key && any(Some(v))),
            None => false,
        },
    }
}

/// The model's own filter for the request, when one narrows it: explicit ids (unknown ones
/// are an error, as in EC2), else a single group name. (Not a private IP: the model's lookup
/// by IP sees live instances only, while EC2's `private-ip-address` filter alone also shows a
/// stopped one; the request's own state filter decides.)
fn narrowing(ids: &[String], filters: &[Filter]) -> Option<InstanceFilter> {
    if !ids.is_empty() {
        return Some(InstanceFilter::Ids(
            ids.iter().map(InstanceId::new).collect(),
        ));
    }
    let single = |name: &str| {
        filters.iter().find_map(|f| match f.values.as_slice() {
            [v] if f.name == name && !v.contains(['*', '?']) => Some(v.clone()),
            _ => None,
        })
    };
    single("tag:aws:autoscaling:groupName").map(InstanceFilter::AsgName)
}

/// EC2 rejects an id that cannot be one (`i-` and 8 or 17 hex digits) before looking it up.
fn well_formed<S: AsRef<str>>(ids: &[S]) -> Result<(), AwsError> {
    let ok = |id: &str| {
        id.strip_prefix("i-").is_some_and(|hex| {
            matches!(hex.len(), 8 | 17) && hex.chars().all(|c| c.is_ascii_hexdigit())
        })
    };
    match ids.iter().map(AsRef::as_ref).find(|id| !ok(id)) {
        Some(bad) => Err(AwsError::bad_request(
            "InvalidInstanceID.Malformed",
            format!("Invalid id: \"{bad}\""),
        )),
        None => Ok(()),
    }
}

fn describe_instances(w: &mut World, p: &Params, rid: &str) -> Result<String, AwsError> {
    let ids = p.list("InstanceId");
    well_formed(&ids)?;
    let filters = ec2_filters(p);
    if let Some(bad) = filters
        .iter()
        .find(|f| !FILTERS.contains(&f.name.as_str()) && !f.name.starts_with("tag:"))
    {
        return Err(AwsError::bad_request(
            "InvalidParameterValue",
            format!("The filter '{}' is invalid", bad.name),
        ));
    }
    let base = match narrowing(&ids, &filters) {
        Some(f) => w.sim.describe_instances(&f).map_err(|e| model_error(&e))?,
        None => w.sim.all_instances(),
    };
    dry_run(p)?;
    let found: Vec<InstanceObs> = base
        .into_iter()
        .filter(|i| {
            let zone = w.sim.instance_zone(&i.id);
            filters.iter().all(|f| matches(f, i, zone))
        })
        .collect();
    let region = w.sim.profile().topology.region.clone();
    Ok(Xml::document(
        "DescribeInstancesResponse",
        Some(XMLNS),
        |x| {
            x.text("requestId", rid);
            x.elem("reservationSet", |x| {
                for i in &found {
                    x.elem("item", |x| {
                        x.text("reservationId", reservation_id(&i.id));
                        x.text("ownerId", ACCOUNT);
                        x.elem("groupSet", |_| {});
                        x.elem("instancesSet", |x| {
                            x.elem("item", |x| {
                                instance(x, i, w.sim.instance_zone(&i.id), &region)
                            });
                        });
                    });
                }
            });
        },
    ))
}

/// One reservation per instance (the group launches them one at a time).
fn reservation_id(id: &InstanceId) -> String {
    let hex = id.as_str().trim_start_matches("i-");
    format!("r-{}", hex.chars().rev().collect::<String>())
}

fn state(x: &mut Xml, name: &str, s: InstanceState) {
    x.elem(name, |x| {
        x.value("code", s.code());
        x.text("name", s.as_str());
    });
}

fn instance(x: &mut Xml, i: &InstanceObs, zone: Option<&str>, region: &str) {
    x.text("instanceId", i.id.as_str());
    x.text("imageId", "ami-0c0ffee5ca1ab1e00");
    state(x, "instanceState", i.state);
    let dns = match &i.private_ip {
        Some(ip) if region == "us-east-1" => format!("ip-{}.ec2.internal", ip.replace('.', "-")),
        Some(ip) => format!("ip-{}.{region}.compute.internal", ip.replace('.', "-")),
        None => String::new(),
    };
    x.text("privateDnsName", dns);
    x.text("dnsName", "");
    x.text("reason", &i.state_transition_reason);
    x.value("amiLaunchIndex", 0);
    x.elem("productCodes", |_| {});
    x.text("instanceType", "m5.2xlarge");
    x.text("launchTime", iso(i.launch_time.floor_to_second()));
    x.elem("placement", |x| {
        x.opt_text("availabilityZone", zone);
        x.text("groupName", "");
        x.text("tenancy", "default");
    });
    x.elem("monitoring", |x| x.text("state", "disabled"));
    x.opt_text("privateIpAddress", i.private_ip.as_deref());
    let user_stopped = i.state_transition_reason.starts_with("User initiated")
        && !matches!(i.state, InstanceState::Running | InstanceState::Pending);
    if user_stopped {
        x.elem("stateReason", |x| {
            x.text("code", "Client.UserInitiatedShutdown");
            x.text(
                "message",
                "Client.UserInitiatedShutdown: User initiated shutdown",
            );
        });
    }
    x.text("architecture", "x86_64");
    x.text("rootDeviceType", "ebs");
    x.text("rootDeviceName", "/dev/xvda");
    x.elem("tagSet", |x| {
        for (k, v) in i.tags.iter() {
            x.elem("item", |x| {
                x.text("key", k);
                x.text("value", v);
            });
        }
    });
    x.text("virtualizationType", "hvm");
    x.text("hypervisor", "xen");
}

fn instance_ids(p: &Params) -> Result<Vec<InstanceId>, AwsError> {
    let ids = p.list("InstanceId");
    if ids.is_empty() {
        return Err(AwsError::bad_request(
            "MissingParameter",
            "The request must contain the parameter InstanceId",
        ));
    }
    well_formed(&ids)?;
    Ok(ids.iter().map(InstanceId::new).collect())
}

/// The states of `ids`; an unknown id fails the whole call before anything is done.
fn states(w: &World, ids: &[InstanceId]) -> Result<Vec<InstanceState>, AwsError> {
    Ok(w.sim
        .describe_instances(&InstanceFilter::Ids(ids.to_vec()))
        .map_err(|e| model_error(&e))?
        .iter()
        .map(|i| i.state)
        .collect())
}

/// `TerminateInstances` / `StopInstances`: `instancesSet/item/{instanceId, currentState,
/// previousState}`.
fn change_state(
    w: &mut World,
    p: &Params,
    rid: &str,
    fault: FaultKind,
) -> Result<String, AwsError> {
    let ids = instance_ids(p)?;
    let before = states(w, &ids)?;
    dry_run(p)?;
    for id in &ids {
        w.sim.inject(fault, id).map_err(|e| model_error(&e))?;
    }
    let after = states(w, &ids)?;
    let root = match fault {
        FaultKind::StopInstance => "StopInstancesResponse",
        _ => "TerminateInstancesResponse",
    };
    Ok(Xml::document(root, Some(XMLNS), |x| {
        x.text("requestId", rid);
        x.elem("instancesSet", |x| {
            for ((id, prev), cur) in ids.iter().zip(&before).zip(&after) {
                x.elem("item", |x| {
                    x.text("instanceId", id.as_str());
                    state(x, "currentState", *cur);
                    state(x, "previousState", *prev);
                });
            }
        });
    }))
}

/// `RebootInstances`: `<return>true</return>`; the instance stays `running`.
fn reboot(w: &mut World, p: &Params, rid: &str) -> Result<String, AwsError> {
    let ids = instance_ids(p)?;
    states(w, &ids)?;
    dry_run(p)?;
    for id in &ids {
        w.sim
            .inject(FaultKind::RebootInstance, id)
            .map_err(|e| model_error(&e))?;
    }
    Ok(Xml::document("RebootInstancesResponse", Some(XMLNS), |x| {
        x.text("requestId", rid);
        x.value("return", true);
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_like_ec2_filters() {
        assert!(glob("dcos-*", "dcos-private-agents"));
        assert!(glob("*", ""));
        assert!(glob("10.0.?.23", "10.0.1.23"));
        assert!(!glob("10.0.?.23", "10.0.12.23"));
        assert!(glob("a*b*c", "axxbyyc"));
        assert!(!glob("a*b*c", "axxbyy"));
        assert!(glob("running", "running"));
        assert!(!glob("running", "running2"));
    }

    #[test]
    fn instance_ids_must_be_well_formed() {
        assert!(well_formed(&["i-0123456789abcdef0", "i-12345678"]).is_ok());
        for bad in ["i-123", "x-0123456789abcdef0", "i-0123456789abcdefg", ""] {
            let e = well_formed(&[bad]).unwrap_err();
            assert_eq!(e.code, "InvalidInstanceID.Malformed", "{bad}");
            assert_eq!(e.message, format!("Invalid id: \"{bad}\""));
        }
    }

    #[test]
    fn model_error_codes_are_kept() {
        let e = ClusterError::NotFound {
            api: crate::cluster::Api::Ec2,
            message: "InvalidInstanceID.NotFound: The instance ID 'i-1' does not exist".into(),
        };
        let a = model_error(&e);
        assert_eq!(a.status, StatusCode::BAD_REQUEST);
        assert_eq!(a.code, "InvalidInstanceID.NotFound");
        assert_eq!(a.message, "The instance ID 'i-1' does not exist");
        let t = model_error(&ClusterError::Throttled {
            api: crate::cluster::Api::Ec2,
            message: "slow down".into(),
        });
        assert_eq!(
            (t.status, t.code.as_str()),
            (StatusCode::SERVICE_UNAVAILABLE, "RequestLimitExceeded")
        );
    }
}
