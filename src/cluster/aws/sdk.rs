//! EC2 and EC2 Auto Scaling through the real AWS SDK: calls, and the mapping of their shapes and
//! errors to the port's types.

use std::sync::Arc;

use aws_sdk_autoscaling as asg;
use aws_sdk_ec2 as ec2;
use aws_sdk_ec2::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_ec2::primitives::DateTime;

use super::Pacer;
use crate::cluster::{
    ASG_NAME_TAG, ActivityObs, ActivityStatus, Api, AsgLookup, AsgMemberObs, AsgObs, ClusterError,
    ClusterResult, InstanceFilter, InstanceId, InstanceObs, InstanceState, LifecycleState,
};
use crate::time::Timestamp;
use crate::vocab::FaultKind;

/// Scaling activities per page: one page covers a drill's activities.
const ACTIVITY_PAGE: i32 = 20;

/// At most this many pages per call, whatever the tokens say.
const MAX_ACTIVITY_PAGES: u32 = 10;

/// The AWS SDK behaviour version this harness was written and tested against.
pub(crate) fn behavior_version() -> aws_config::BehaviorVersion {
    aws_config::BehaviorVersion::v2026_01_12()
}

/// Both service clients, from one loaded AWS configuration.
#[derive(Clone, Debug)]
pub struct AwsClients {
    pub(crate) ec2: ec2::Client,
    pub(crate) asg: asg::Client,
    pacer: Pacer,
}

impl AwsClients {
    /// The default chain: environment, profiles, SSO, instance role; `AWS_ENDPOINT_URL` and
    /// `AWS_ENDPOINT_URL_EC2` / `AWS_ENDPOINT_URL_AUTO_SCALING` honoured. No SDK retries: the
    /// runner rides out a failed call itself (journaled, retried at its next poll), so every
    /// request is one the harness counted and budgeted.
    pub(crate) async fn from_env() -> Self {
        let conf = aws_config::defaults(behavior_version())
            .retry_config(aws_config::retry::RetryConfig::disabled())
            .load()
            .await;
        Self::new(ec2::Client::new(&conf), asg::Client::new(&conf))
    }

    /// Clients of a local endpoint such as `chaos-harness sim serve` (`http://127.0.0.1:PORT`):
    /// static credentials, a fixed region, no SDK retries (as the harness runs them).
    pub fn for_endpoint(url: &str) -> Self {
        use aws_config::{Region, retry::RetryConfig};
        let creds =
            ec2::config::Credentials::new("AKIDSIMSERVE", "sim-serve-secret", None, None, "static");
        let ec2 = ec2::Client::from_conf(
            ec2::config::Builder::new()
                .behavior_version(behavior_version())
                .region(Region::new("us-west-2"))
                .credentials_provider(creds.clone())
                .retry_config(RetryConfig::disabled())
                .endpoint_url(url)
                .build(),
        );
        let asg = asg::Client::from_conf(
            asg::config::Builder::new()
                .behavior_version(behavior_version())
                .region(Region::new("us-west-2"))
                .credentials_provider(creds)
                .retry_config(RetryConfig::disabled())
                .endpoint_url(url)
                .build(),
        );
        Self::new(ec2, asg)
    }

    /// Clients configured elsewhere.
    pub(crate) fn new(ec2: ec2::Client, asg: asg::Client) -> Self {
        Self {
            ec2,
            asg,
            pacer: Pacer::default(),
        }
    }

    /// Counts and budgets every request with `pacer` (shared with the DC/OS client).
    pub(crate) fn set_pacer(&mut self, pacer: Pacer) {
        self.pacer = pacer;
    }

    pub(crate) async fn describe_instances(
        &self,
        filter: &InstanceFilter,
    ) -> ClusterResult<Vec<InstanceObs>> {
        // Always filtered: unfiltered DescribeInstances draws on the smaller throttle bucket.
        let f = |name: &str, values: Vec<String>| {
            ec2::types::Filter::builder()
                .name(name)
                .set_values(Some(values))
                .build()
        };
        let filters = match filter {
            InstanceFilter::Ids(ids) if ids.is_empty() => return Ok(Vec::new()),
            InstanceFilter::Ids(ids) => vec![f(
                "instance-id",
                ids.iter().map(|i| i.as_str().to_string()).collect(),
            )],
            // A released address may already belong to a new instance while EC2 still
            // describes the old one: only a live instance owns it.
            InstanceFilter::PrivateIp(ip) => vec![
                f("private-ip-address", vec![ip.clone()]),
                f(
                    "instance-state-name",
                    vec!["pending".to_string(), "running".to_string()],
                ),
            ],
            InstanceFilter::AsgName(name) => {
                vec![f(&format!("tag:{}", ASG_NAME_TAG), vec![name.clone()])]
            }
        };
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            self.pacer.admit(Api::Ec2).await;
            let page = self
                .ec2
                .describe_instances()
                .set_filters(Some(filters.clone()))
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error(Api::Ec2, e))?;
            for r in page.reservations() {
                out.extend(r.instances().iter().filter_map(instance_obs));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// By name, or by tags (`tag:<key>` filters, all of which must match: a stack's group
    /// is the one with its stack-name and logical-id tags). Every page is read, so that an
    /// ambiguous tag shows all its groups.
    pub(crate) async fn describe_asgs(&self, lookup: &AsgLookup) -> ClusterResult<Vec<AsgObs>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut req = self
                .asg
                .describe_auto_scaling_groups()
                .set_next_token(token.take());
            req = match lookup {
                AsgLookup::Name(n) => req.auto_scaling_group_names(n),
                _ => lookup.tags().into_iter().fold(req, |req, (key, value)| {
                    req.filters(
                        asg::types::Filter::builder()
                            .name(format!("tag:{key}"))
                            .values(value)
                            .build(),
                    )
                }),
            };
            self.pacer.admit(Api::AutoScaling).await;
            let page = req
                .send()
                .await
                .map_err(|e| sdk_error(Api::AutoScaling, e))?;
            out.extend(page.auto_scaling_groups().iter().map(asg_obs));
            match page.next_token() {
                Some(t) if !t.is_empty() && out.len() < 1000 => token = Some(t.to_string()),
                _ => break,
            }
        }
        Ok(out)
    }

    /// Pages (newest first) until an activity older than `since` shows up: the group's
    /// history before the fault is never read.
    pub(crate) async fn describe_scaling_activities(
        &self,
        group: &str,
        since: Timestamp,
    ) -> ClusterResult<Vec<ActivityObs>> {
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        let mut pages = 0;
        loop {
            self.pacer.admit(Api::AutoScaling).await;
            let page = self
                .asg
                .describe_scaling_activities()
                .auto_scaling_group_name(group)
                .max_records(ACTIVITY_PAGE)
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| sdk_error(Api::AutoScaling, e))?;
            // Activities still in progress come first whatever their age: only a finished
            // one older than `since` means the rest is older too.
            let older_seen = page.activities().iter().any(|a| {
                a.start_time().is_some_and(|t| stamp(t) < since)
                    && a.status_code() != Some(&asg::types::ScalingActivityStatusCode::InProgress)
            });
            out.extend(
                page.activities()
                    .iter()
                    .filter_map(activity_obs)
                    .filter(|a| a.start_time >= since),
            );
            pages += 1;
            match page.next_token() {
                Some(t) if !t.is_empty() && !older_seen && pages < MAX_ACTIVITY_PAGES => {
                    token = Some(t.to_string());
                }
                _ => break,
            }
        }
        Ok(out)
    }

    pub(crate) async fn inject(&self, fault: FaultKind, id: &InstanceId) -> ClusterResult<()> {
        let id = id.as_str();
        self.pacer.admit(Api::Ec2).await;
        match fault {
            FaultKind::TerminateInstance => self
                .ec2
                .terminate_instances()
                .instance_ids(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error(Api::Ec2, e)),
            FaultKind::StopInstance => self
                .ec2
                .stop_instances()
                .instance_ids(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error(Api::Ec2, e)),
            FaultKind::RebootInstance => self
                .ec2
                .reboot_instances()
                .instance_ids(id)
                .send()
                .await
                .map(drop)
                .map_err(|e| sdk_error(Api::Ec2, e)),
        }
    }
}

fn stamp(dt: &DateTime) -> Timestamp {
    Timestamp::from_millis(dt.secs() * 1000 + i64::from(dt.subsec_nanos() / 1_000_000))
}

fn instance_obs(i: &ec2::types::Instance) -> Option<InstanceObs> {
    let state = i
        .state()
        .and_then(|s| s.name())
        .and_then(|n| InstanceState::parse(n.as_str()))?;
    let tags: Vec<(String, String)> = i
        .tags()
        .iter()
        .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
        .collect();
    Some(InstanceObs {
        id: InstanceId::new(i.instance_id()?),
        state,
        private_ip: i.private_ip_address().map(Arc::from),
        launch_time: i.launch_time().map_or(Timestamp::from_millis(0), stamp),
        asg_name: tags
            .iter()
            .find(|(k, _)| k == ASG_NAME_TAG)
            .map(|(_, v)| v.as_str().into()),
        tags: tags.into(),
        state_transition_reason: i.state_transition_reason().unwrap_or("").into(),
    })
}

fn asg_obs(g: &asg::types::AutoScalingGroup) -> AsgObs {
    let n = |v: Option<i32>| v.unwrap_or(0).max(0) as u32;
    AsgObs {
        name: g.auto_scaling_group_name().unwrap_or("").into(),
        desired_capacity: n(g.desired_capacity()),
        min_size: n(g.min_size()),
        max_size: n(g.max_size()),
        tags: g
            .tags()
            .iter()
            .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
            .collect(),
        instances: g
            .instances()
            .iter()
            .filter_map(|m| {
                Some(AsgMemberObs {
                    id: InstanceId::new(m.instance_id()?),
                    lifecycle: LifecycleState::parse(m.lifecycle_state()?.as_str())?,
                    healthy: m.health_status() == Some("Healthy"),
                })
            })
            .collect(),
    }
}

fn activity_obs(a: &asg::types::Activity) -> Option<ActivityObs> {
    Some(ActivityObs {
        id: a.activity_id()?.to_string(),
        description: a.description().unwrap_or("").to_string(),
        cause: a.cause().unwrap_or("").to_string(),
        start_time: stamp(a.start_time()?),
        end_time: a.end_time().map(stamp),
        status: ActivityStatus::parse(a.status_code()?.as_str())?,
    })
}

/// Maps an SDK error to how the runner must react. Throttling is not an experiment failure.
fn sdk_error<E, R>(api: Api, e: SdkError<E, R>) -> ClusterError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let message = match &e {
        SdkError::ServiceError(se) => se.err().message().unwrap_or("").to_string(),
        other => format!("{}", DisplayErrorContext(other)),
    };
    match &e {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("");
            let message = format!("{code}: {message}");
            match code {
                "Throttling"
                | "ThrottlingException"
                | "RequestLimitExceeded"
                | "TooManyRequestsException"
                | "RequestThrottled"
                | "EC2ThrottledException" => ClusterError::Throttled { api, message },
                "AuthFailure"
                | "UnrecognizedClientException"
                | "InvalidClientTokenId"
                | "ExpiredToken"
                | "ExpiredTokenException"
                | "SignatureDoesNotMatch"
                | "UnauthorizedOperation"
                | "AccessDenied"
                | "AccessDeniedException" => ClusterError::Unauthorized { api, message },
                c if c.starts_with("InvalidInstanceID") => ClusterError::NotFound { api, message },
                "InternalError" | "InternalFailure" | "ServiceUnavailable" | "Unavailable"
                | "RequestTimeout" => ClusterError::Transient { api, message },
                _ => ClusterError::Fatal { api, message },
            }
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ClusterError::Transient { api, message }
        }
        _ => ClusterError::Fatal { api, message },
    }
}
