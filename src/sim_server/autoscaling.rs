//! The Auto Scaling query API (awsQuery, `Version=2011-01-01`): `DescribeAutoScalingGroups`,
//! `DescribeAutoScalingInstances`, `DescribeScalingActivities`, with the `<XResponse><XResult>
//! … <ResponseMetadata>` envelope, `member` lists and the `<ErrorResponse>` error format.

use axum::http::StatusCode;
use axum::response::Response;

use super::query::{Filter, Params, autoscaling_filters};
use super::xml::Xml;
use super::{ACCOUNT, AwsError, World, iso, resource_id, stable_uuid, xml_response};
use crate::cluster::{
    ActivityObs, AsgLookup, AsgObs, CFN_LOGICAL_ID_TAG, ClusterError, InstanceId,
    MASTER_LOGICAL_ID, PUBLIC_AGENTS_LOGICAL_ID,
};
use crate::time::Timestamp;

const XMLNS: &str = "http://autoscaling.amazonaws.com/doc/2011-01-01/";

/// `DescribeScalingActivities`' default and largest page.
const MAX_RECORDS: usize = 100;

pub(super) fn handle(w: &mut World, p: &Params, rid: &str) -> Response {
    let result = match p.get("Action") {
        None => Err(AwsError::bad_request(
            "MissingAction",
            "The request must contain the parameter Action",
        )),
        Some("DescribeAutoScalingGroups") => describe_groups(w, p, rid),
        Some("DescribeAutoScalingInstances") => describe_instances(w, p, rid),
        Some("DescribeScalingActivities") => describe_activities(w, p, rid),
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

/// The awsQuery error envelope. Throttling is `Throttling` / `Rate exceeded` with 400, as
/// Auto Scaling sends it.
pub(super) fn error_response(e: &AwsError, rid: &str) -> Response {
    let body = Xml::document("ErrorResponse", Some(XMLNS), |x| {
        x.elem("Error", |x| {
            let kind = if e.status.is_server_error() {
                "Receiver"
            } else {
                "Sender"
            };
            x.text("Type", kind);
            x.text("Code", &e.code);
            x.text("Message", &e.message);
        });
        x.text("RequestId", rid);
    });
    xml_response(e.status, rid, body)
}

fn model_error(e: &ClusterError) -> AwsError {
    match e {
        ClusterError::Throttled { .. } => AwsError::bad_request("Throttling", "Rate exceeded"),
        ClusterError::Transient { .. } => AwsError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "Service is unavailable",
        ),
        ClusterError::Unauthorized { message, .. } => AwsError::new(
            StatusCode::FORBIDDEN,
            "InvalidClientTokenId",
            message.clone(),
        ),
        other => AwsError::from_model(other, "ValidationError"),
    }
}

/// `<Action>Response><Action>Result>…</…Result><ResponseMetadata>…`.
fn envelope(action: &str, rid: &str, result: impl FnOnce(&mut Xml)) -> String {
    let response = format!("{action}Response");
    let result_name = format!("{action}Result");
    Xml::document(&response, Some(XMLNS), |x| {
        x.elem(&result_name, result);
        x.elem("ResponseMetadata", |x| x.text("RequestId", rid));
    })
}

fn group_matches(f: &Filter, g: &AsgObs) -> bool {
    let has = |v: &str| f.values.iter().any(|want| want == v);
    match f.name.as_str() {
        "tag-key" => g.tags.iter().any(|(k, _)| has(k)),
        "tag-value" => g.tags.iter().any(|(_, v)| has(v)),
        name => match name.strip_prefix("tag:") {
            Some(key) => g.tags.iter().any(|(k, v)| k == key && has(v)),
            None => false,
        },
    }
}

/// Every group the model has: the masters', the private agents', the public agents'.
fn all_groups(w: &World) -> Vec<AsgObs> {
    w.sim.all_groups()
}

fn describe_groups(w: &mut World, p: &Params, rid: &str) -> Result<String, AwsError> {
    let groups = matching_groups(w, p)?;
    Ok(envelope("DescribeAutoScalingGroups", rid, |x| {
        x.elem("AutoScalingGroups", |x| {
            for g in &groups {
                let set = GroupSetting::of(w, g);
                x.elem("member", |x| group_xml(x, w, g, &set));
            }
        });
    }))
}

/// The groups the request names (all when it names none) that pass its filters.
fn matching_groups(w: &World, p: &Params) -> Result<Vec<AsgObs>, AwsError> {
    let names = p.list("AutoScalingGroupNames.member");
    let filters = autoscaling_filters(p);
    if let Some(bad) = filters.iter().find(|f| {
        !matches!(f.name.as_str(), "tag-key" | "tag-value") && !f.name.starts_with("tag:")
    }) {
        return Err(AwsError::bad_request(
            "ValidationError",
            format!("Filter name {} is not valid", bad.name),
        ));
    }
    let groups = if names.is_empty() {
        all_groups(w)
    } else {
        let mut found: Vec<AsgObs> = Vec::new();
        for n in &names {
            for g in w.sim.describe_asgs(&AsgLookup::Name(n.clone())) {
                if !found.iter().any(|f| f.name == g.name) {
                    found.push(g);
                }
            }
        }
        found
    }
    .into_iter()
    .filter(|g| filters.iter().all(|f| group_matches(f, g)))
    .collect();
    Ok(groups)
}

/// Where a group of the model lives: its region, zones, subnets (the private agents' subnets,
/// or the masters' or public agents' one, after its logical id) and creation time.
struct GroupSetting {
    region: String,
    zones: Vec<String>,
    subnets: Vec<String>,
    created: String,
}

impl GroupSetting {
    fn of(w: &World, g: &AsgObs) -> Self {
        let topo = &w.sim.profile().topology;
        let region = topo.region.clone();
        let logical_id = g
            .tags
            .iter()
            .find(|(k, _)| k == CFN_LOGICAL_ID_TAG)
            .map(|(_, v)| v.as_str());
        let own = match logical_id {
            Some(MASTER_LOGICAL_ID) => std::slice::from_ref(&topo.master_subnet),
            Some(PUBLIC_AGENTS_LOGICAL_ID) => std::slice::from_ref(&topo.public_subnet),
            _ => topo.private_subnets.as_slice(),
        };
        let mut zones: Vec<String> = Vec::new();
        for s in own {
            if !zones.contains(&s.zone) {
                zones.push(s.zone.clone());
            }
        }
        let subnets: Vec<String> = own.iter().map(|s| resource_id("subnet", &s.cidr)).collect();
        let created = iso(w.asg_created);
        Self {
            region,
            zones,
            subnets,
            created,
        }
    }
}

/// One group as `DescribeAutoScalingGroups` lists it.
fn group_xml(x: &mut Xml, w: &World, g: &AsgObs, set: &GroupSetting) {
    x.text("AutoScalingGroupName", &g.name);
    x.text("AutoScalingGroupARN", group_arn(&set.region, &g.name));
    x.elem("LaunchTemplate", |x| {
        x.text("LaunchTemplateId", resource_id("lt", &g.name));
        x.text("LaunchTemplateName", format!("{}-lt", g.name));
        x.text("Version", "$Default");
    });
    x.value("MinSize", g.min_size);
    x.value("MaxSize", g.max_size);
    x.value("DesiredCapacity", g.desired_capacity);
    x.value("DefaultCooldown", 300);
    x.text_list("AvailabilityZones", "member", &set.zones);
    x.elem("LoadBalancerNames", |_| {});
    x.elem("TargetGroupARNs", |_| {});
    x.text("HealthCheckType", "EC2");
    x.value("HealthCheckGracePeriod", 300);
    x.elem("Instances", |x| {
        for m in &g.instances {
            x.elem("member", |x| {
                x.text("InstanceId", m.id.as_str());
                x.text("InstanceType", "m5.2xlarge");
                x.opt_text("AvailabilityZone", w.sim.instance_zone(&m.id));
                x.text("LifecycleState", m.lifecycle.as_str());
                x.text(
                    "HealthStatus",
                    if m.healthy { "Healthy" } else { "Unhealthy" },
                );
                x.elem("LaunchTemplate", |x| {
                    x.text("LaunchTemplateId", resource_id("lt", &g.name));
                    x.text("LaunchTemplateName", format!("{}-lt", g.name));
                    x.text("Version", "1");
                });
                x.value("ProtectedFromScaleIn", false);
            });
        }
    });
    x.text("CreatedTime", &set.created);
    x.elem("SuspendedProcesses", |_| {});
    x.text("VPCZoneIdentifier", set.subnets.join(","));
    x.elem("EnabledMetrics", |_| {});
    x.elem("Tags", |x| {
        for (k, v) in g.tags.iter() {
            x.elem("member", |x| {
                x.text("ResourceId", &g.name);
                x.text("ResourceType", "auto-scaling-group");
                x.text("Key", k);
                x.text("Value", v);
                x.value("PropagateAtLaunch", true);
            });
        }
    });
    x.text_list("TerminationPolicies", "member", ["Default"]);
    x.value("NewInstancesProtectedFromScaleIn", false);
    x.text(
        "ServiceLinkedRoleARN",
        format!(
            "arn:aws:iam::{ACCOUNT}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling"
        ),
    );
    x.value("CapacityRebalance", false);
}

fn group_arn(region: &str, name: &str) -> String {
    format!(
        "arn:aws:autoscaling:{region}:{ACCOUNT}:autoScalingGroup:{}:autoScalingGroupName/{name}",
        stable_uuid(name)
    )
}

/// `DescribeAutoScalingInstances`. Like the real API, `HealthStatus` is upper case here
/// (`HEALTHY`), unlike in `DescribeAutoScalingGroups`.
fn describe_instances(w: &mut World, p: &Params, rid: &str) -> Result<String, AwsError> {
    let ids: Vec<InstanceId> = p
        .list("InstanceIds.member")
        .iter()
        .map(InstanceId::new)
        .collect();
    let groups = all_groups(w);
    Ok(envelope("DescribeAutoScalingInstances", rid, |x| {
        x.elem("AutoScalingInstances", |x| {
            for g in &groups {
                for m in g
                    .instances
                    .iter()
                    .filter(|m| ids.is_empty() || ids.contains(&m.id))
                {
                    x.elem("member", |x| {
                        x.text("InstanceId", m.id.as_str());
                        x.text("InstanceType", "m5.2xlarge");
                        x.text("AutoScalingGroupName", &g.name);
                        x.opt_text("AvailabilityZone", w.sim.instance_zone(&m.id));
                        x.text("LifecycleState", m.lifecycle.as_str());
                        x.text(
                            "HealthStatus",
                            if m.healthy { "HEALTHY" } else { "UNHEALTHY" },
                        );
                        x.elem("LaunchTemplate", |x| {
                            x.text("LaunchTemplateId", resource_id("lt", &g.name));
                            x.text("LaunchTemplateName", format!("{}-lt", g.name));
                            x.text("Version", "1");
                        });
                        x.value("ProtectedFromScaleIn", false);
                    });
                }
            }
        });
    }))
}

fn describe_activities(w: &mut World, p: &Params, rid: &str) -> Result<String, AwsError> {
    let max = match p.get("MaxRecords") {
        None => MAX_RECORDS,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=MAX_RECORDS).contains(&n) => n,
            _ => {
                return Err(AwsError::bad_request(
                    "ValidationError",
                    format!(
                        "1 validation error detected: Value '{s}' at 'maxRecords' failed to satisfy constraint: Member must have value less than or equal to {MAX_RECORDS}"
                    ),
                ));
            }
        },
    };
    let wanted = p.list("ActivityIds.member");
    let own = w.sim.profile().topology.asg.name.clone();
    let group = p.get("AutoScalingGroupName").unwrap_or(&own).to_string();
    let all = w
        .sim
        .describe_scaling_activities(&group, Timestamp::from_millis(i64::MIN))
        .map_err(|e| model_error(&e))?;
    // A token names the last activity of the previous page: the next page starts after it,
    // however many newer activities started since.
    let skip = match p.get("NextToken") {
        None => 0,
        Some(t) => page_after(t)
            .and_then(|last| all.iter().position(|a| a.id == last))
            .map(|i| i + 1)
            .ok_or_else(|| {
                AwsError::bad_request("InvalidNextToken", "The token '********' is invalid.")
            })?,
    };
    let mut activities: Vec<ActivityObs> = all
        .into_iter()
        .skip(skip)
        .filter(|a| wanted.is_empty() || wanted.contains(&a.id))
        .take(max + 1)
        .collect();
    // One more than the page tells whether a next page exists.
    let next = (activities.len() > max).then(|| page_token(&activities[max - 1].id));
    activities.truncate(max);
    let topo = &w.sim.profile().topology;
    let region = topo.region.clone();
    let details = |a: &ActivityObs| -> String {
        let inst = a.launched_instance().or_else(|| a.terminated_instance());
        let zone = inst.as_ref().and_then(|i| w.sim.instance_zone(i));
        let subnet = zone.and_then(|z| topo.private_subnets.iter().find(|s| s.zone == z));
        match (zone, subnet) {
            (Some(z), Some(s)) => serde_json::json!({
                "Subnet ID": resource_id("subnet", &s.cidr),
                "Availability Zone": z,
            })
            .to_string(),
            _ => "{}".to_string(),
        }
    };
    Ok(envelope("DescribeScalingActivities", rid, |x| {
        x.elem("Activities", |x| {
            for a in &activities {
                x.elem("member", |x| {
                    x.text("ActivityId", &a.id);
                    x.text("AutoScalingGroupName", &group);
                    x.text("Description", &a.description);
                    x.text("Cause", &a.cause);
                    x.text("StartTime", iso(a.start_time));
                    x.opt_text("EndTime", a.end_time.map(|t| iso(t.floor_to_second())));
                    x.text("StatusCode", a.status.as_str());
                    let progress = if a.end_time.is_some() { 100 } else { 30 };
                    x.value("Progress", progress);
                    x.text("Details", details(a));
                    x.text("AutoScalingGroupARN", group_arn(&region, &group));
                });
            }
        });
        if let Some(t) = &next {
            x.text("NextToken", t);
        }
    }))
}

/// An opaque-looking pagination token naming the last activity of a page.
fn page_token(last: &str) -> String {
    format!("sim-activities-{last}")
}

fn page_after(token: &str) -> Option<&str> {
    token.strip_prefix("sim-activities-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_arn_is_uuid_shaped() {
        let arn = group_arn("us-west-2", "dcos-private-agents");
        let uuid = arn
            .strip_prefix("arn:aws:autoscaling:us-west-2:123456789012:autoScalingGroup:")
            .and_then(|r| r.strip_suffix(":autoScalingGroupName/dcos-private-agents"))
            .unwrap();
        let parts: Vec<usize> = uuid.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{uuid}");
        assert_eq!(arn, group_arn("us-west-2", "dcos-private-agents"));
    }

    #[test]
    fn throttling_is_a_400() {
        let e = model_error(&ClusterError::Throttled {
            api: crate::cluster::Api::AutoScaling,
            message: String::new(),
        });
        assert_eq!(
            (e.status, e.code.as_str(), e.message.as_str()),
            (StatusCode::BAD_REQUEST, "Throttling", "Rate exceeded")
        );
    }
}
