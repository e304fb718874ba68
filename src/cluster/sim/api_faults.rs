//! Faults in the APIs themselves (not in the cluster): throttling, 5xx, connection resets, slow
//! answers, refused or expiring DC/OS tokens, a scheduler that Admin Router cannot reach.
//!
//! A profile's `api_faults:` section ([`ApiFaults`]) says how often and which; an
//! [`ApiFaultInjector`] decides, request by request, what happens to each call and counts what
//! it injected. The in-process [`SimCluster`](super::SimCluster) turns a decision into a
//! [`ClusterError`] (the call then has no effect on the world); `sim serve` turns it into the
//! real APIs' error responses.
//!
//! The injector draws from its own random stream, seeded from the world's seed but separate
//! from the world model's: turning API faults on does not change what the world does.

use std::collections::BTreeMap;
use std::fmt;

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::dist::Dist;
use super::truth::{TruthEvent, TruthKind};
use crate::cluster::{Api, ClusterError};
use crate::time::{Dur, Timestamp};

/// Mixed into the world's seed for the fault stream, so the two streams never coincide.
const STREAM: u64 = 0xA91F_A017_5EED_0001;

/// A profile's `api_faults:` section.
///
/// ```yaml
/// api_faults:
///   rate: 0.2                  # share of requests that fail, per API family
///   kinds: [throttle, server_error, reset, slow, unauthorized, scheduler_unreachable]
///   slow: {uniform: {min: 1s, max: 3s}}
///   apis:                      # optional, per API family: ec2, auto_scaling, mesos, scheduler
///     ec2: {rate: 0.3, kinds: [throttle]}
///   token_expires_after: 10m   # optional
///   scheduler_outage: {every: 5m, lasting: 20s}   # optional
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiFaults {
    /// The share of requests to each API family that meet a fault drawn from `kinds`.
    #[serde(default)]
    pub(crate) rate: Rate,
    /// The faults drawn from (each API family draws among those that apply to it).
    #[serde(default = "ApiFaultKind::all")]
    pub(crate) kinds: Vec<ApiFaultKind>,
    /// How long a `slow` answer takes.
    #[serde(default = "default_slow")]
    pub(crate) slow: Dist,
    /// Per API family: another rate or other kinds.
    #[serde(default, skip_serializing_if = "PerApi::is_empty")]
    pub(crate) apis: PerApi,
    /// The DC/OS token stops being accepted this long after it was issued (401 until the
    /// client logs in again).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token_expires_after: Option<Dur>,
    /// The scheduler is periodically unreachable behind Admin Router (502).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) scheduler_outage: Option<Outage>,
}

fn default_slow() -> Dist {
    Dist::uniform(Dur::from_secs(1), Dur::from_secs(3)).expect("1s <= 3s")
}

impl Default for ApiFaults {
    fn default() -> Self {
        Self {
            rate: Rate::default(),
            kinds: ApiFaultKind::all(),
            slow: default_slow(),
            apis: PerApi::default(),
            token_expires_after: None,
            scheduler_outage: None,
        }
    }
}

/// A share of requests, `0` to `1`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub(crate) struct Rate(f64);

impl Rate {
    #[cfg(test)]
    pub(crate) fn new(r: f64) -> Result<Rate, String> {
        r.try_into()
    }

    pub(crate) fn get(self) -> f64 {
        self.0
    }
}

impl TryFrom<f64> for Rate {
    type Error = String;

    fn try_from(r: f64) -> Result<Self, String> {
        if r.is_finite() && (0.0..=1.0).contains(&r) {
            Ok(Self(r))
        } else {
            Err(format!(
                "rate {r} is not a share of requests; hint: write a number from 0 to 1, e.g. `0.2` for 20 %"
            ))
        }
    }
}

impl From<Rate> for f64 {
    fn from(r: Rate) -> f64 {
        r.0
    }
}

/// Per-API-family overrides.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub(crate) struct PerApi {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) ec2: Option<ApiOverride>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) auto_scaling: Option<ApiOverride>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) mesos: Option<ApiOverride>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) scheduler: Option<ApiOverride>,
}

impl PerApi {
    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub(crate) fn get(&self, api: Api) -> Option<&ApiOverride> {
        match api {
            Api::Ec2 => self.ec2.as_ref(),
            Api::AutoScaling => self.auto_scaling.as_ref(),
            Api::Mesos => self.mesos.as_ref(),
            Api::Scheduler => self.scheduler.as_ref(),
        }
    }
}

/// Another rate or other kinds for one API family.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ApiOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rate: Option<Rate>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kinds: Option<Vec<ApiFaultKind>>,
}

/// A periodic outage: `lasting` long, once `every`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Outage {
    pub(crate) every: Dur,
    pub(crate) lasting: Dur,
}

/// The faults a request can meet at random (`api_faults.kinds`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiFaultKind {
    /// EC2 `RequestLimitExceeded` (503), Auto Scaling `Throttling` (400), DC/OS 429.
    Throttle,
    /// 500 or 503 (EC2, Auto Scaling), 500/502/503 from Admin Router (DC/OS).
    ServerError,
    /// The connection is closed without an answer.
    Reset,
    /// The answer comes late (`api_faults.slow`).
    Slow,
    /// DC/OS answers 401 to a valid token (Mesos and scheduler routes only).
    Unauthorized,
    /// Admin Router cannot reach the scheduler: 502 (scheduler routes only).
    SchedulerUnreachable,
}

impl ApiFaultKind {
    pub(crate) const ALL: [ApiFaultKind; 6] = [
        Self::Throttle,
        Self::ServerError,
        Self::Reset,
        Self::Slow,
        Self::Unauthorized,
        Self::SchedulerUnreachable,
    ];

    fn all() -> Vec<ApiFaultKind> {
        Self::ALL.to_vec()
    }

    /// Whether this fault can happen on `api` (401s and an unreachable scheduler are DC/OS's).
    pub(crate) const fn applies_to(self, api: Api) -> bool {
        match self {
            Self::Unauthorized => matches!(api, Api::Mesos | Api::Scheduler),
            Self::SchedulerUnreachable => matches!(api, Api::Scheduler),
            Self::Throttle | Self::ServerError | Self::Reset | Self::Slow => true,
        }
    }

    pub(crate) const fn as_str(self) -> &'static str {
        ApiFault::from_kind(self).as_str()
    }
}

/// A fault that was injected: one of the random kinds, or a time-driven one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApiFault {
    Throttle,
    ServerError,
    Reset,
    Slow,
    Unauthorized,
    SchedulerUnreachable,
    /// The DC/OS token had expired (`token_expires_after`): 401.
    TokenExpired,
    /// The request fell in a scheduler outage (`scheduler_outage`): 502.
    SchedulerOutage,
}

impl ApiFault {
    pub(crate) const fn from_kind(k: ApiFaultKind) -> Self {
        match k {
            ApiFaultKind::Throttle => Self::Throttle,
            ApiFaultKind::ServerError => Self::ServerError,
            ApiFaultKind::Reset => Self::Reset,
            ApiFaultKind::Slow => Self::Slow,
            ApiFaultKind::Unauthorized => Self::Unauthorized,
            ApiFaultKind::SchedulerUnreachable => Self::SchedulerUnreachable,
        }
    }

    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Self::Throttle => "throttle",
            Self::ServerError => "server_error",
            Self::Reset => "reset",
            Self::Slow => "slow",
            Self::Unauthorized => "unauthorized",
            Self::SchedulerUnreachable => "scheduler_unreachable",
            Self::TokenExpired => "token_expired",
            Self::SchedulerOutage => "scheduler_outage",
        }
    }
}

impl fmt::Display for ApiFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The stable name of an API family in counts and logs (`ec2`, `auto-scaling`, `mesos`,
/// `scheduler`), as [`Api`] serialises.
pub(crate) const fn api_name(api: Api) -> &'static str {
    match api {
        Api::Ec2 => "ec2",
        Api::AutoScaling => "auto-scaling",
        Api::Mesos => "mesos",
        Api::Scheduler => "scheduler",
    }
}

/// One fault that was injected.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InjectedFault {
    pub(crate) at: Timestamp,
    pub(crate) api: Api,
    /// The call, e.g. `TerminateInstances`, `GET /mesos/master/slaves`, `POST pod/node-4/replace`.
    pub(crate) operation: String,
    pub(crate) fault: ApiFault,
    /// The HTTP status sent (none for a reset or a slow answer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) status: Option<u16>,
    /// How late a slow answer was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) delay: Option<Dur>,
}

impl InjectedFault {
    /// This fault as a truth-log line: `{"at", "kind": "api_fault", "subject": "ec2",
    /// "state": "throttle", "detail": "TerminateInstances 503"}`.
    pub(crate) fn truth(&self) -> TruthEvent {
        let detail = match (self.status, self.delay) {
            (Some(s), _) => format!("{} {s}", self.operation),
            (None, Some(d)) => format!("{} +{d}", self.operation),
            (None, None) => self.operation.clone(),
        };
        TruthEvent {
            at: self.at,
            kind: TruthKind::ApiFault,
            subject: api_name(self.api).to_string(),
            id: None,
            state: Some(self.fault.as_str().to_string()),
            detail: Some(detail),
        }
    }

    /// The error the in-process backend returns for this fault (`None` for a slow answer,
    /// which succeeds). Messages follow what the aws backend makes of the same wire answer.
    pub fn cluster_error(&self) -> Option<ClusterError> {
        let api = self.api;
        let status = self.status.unwrap_or(0);
        Some(match self.fault {
            ApiFault::Slow => return None,
            ApiFault::Throttle => ClusterError::Throttled {
                api,
                message: match api {
                    Api::Ec2 => "RequestLimitExceeded: Request limit exceeded.".into(),
                    Api::AutoScaling => "Throttling: Rate exceeded".into(),
                    Api::Mesos | Api::Scheduler => "HTTP 429: Too Many Requests".into(),
                },
            },
            ApiFault::ServerError => ClusterError::Transient {
                api,
                message: match (api, status) {
                    (Api::Ec2, 500) => "InternalError: An internal error has occurred".into(),
                    (Api::Ec2, _) => {
                        "Unavailable: The service is unavailable. Please try again shortly.".into()
                    }
                    (Api::AutoScaling, 500) => "InternalFailure: internal failure".into(),
                    (Api::AutoScaling, _) => "ServiceUnavailable: Service is unavailable".into(),
                    (_, s) => format!("HTTP {s}: {}", reason(s)),
                },
            },
            ApiFault::Reset => ClusterError::Transient {
                api,
                message: "request failed: connection reset by peer".into(),
            },
            ApiFault::Unauthorized | ApiFault::TokenExpired => ClusterError::Unauthorized {
                api,
                message:
                    "DC/OS answered 401 Unauthorized (the token is missing, invalid or expired)"
                        .into(),
            },
            ApiFault::SchedulerUnreachable | ApiFault::SchedulerOutage => ClusterError::Transient {
                api,
                message: "HTTP 502: Bad Gateway".into(),
            },
        })
    }
}

/// The reason phrase of the statuses faults use.
pub(crate) fn reason(status: u16) -> &'static str {
    match status {
        401 => "Unauthorized",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Temporarily Unavailable",
        _ => "Error",
    }
}

/// What happens to one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Served normally.
    Pass,
    /// Served, after this delay (the fault is recorded).
    Slow(Dur),
    /// Not served: the fault (recorded) says how it fails.
    Fail(InjectedFault),
}

/// Decides, request by request, which API faults happen, and remembers each one.
#[derive(Clone, Debug)]
pub struct ApiFaultInjector {
    spec: ApiFaults,
    rng: Xoshiro256PlusPlus,
    start: Timestamp,
    /// Where in its period the first scheduler outage starts.
    outage_offset_ms: u64,
    /// When the current DC/OS token was issued (in-process: the client logs in again after
    /// each 401 for an expired token).
    token_issued: Timestamp,
    injected: Vec<InjectedFault>,
    requests: BTreeMap<Api, u64>,
}

impl ApiFaultInjector {
    /// An injector for a world seeded with `seed` that starts at `start`.
    pub(crate) fn new(spec: &ApiFaults, seed: u64, start: Timestamp) -> Self {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed ^ STREAM);
        let outage_offset_ms = match &spec.scheduler_outage {
            Some(o) => rng.random_range(0..o.every.as_millis().max(1)),
            None => 0,
        };
        Self {
            spec: spec.clone(),
            rng,
            start,
            outage_offset_ms,
            token_issued: start,
            injected: Vec::new(),
            requests: BTreeMap::new(),
        }
    }

    pub(crate) fn spec(&self) -> &ApiFaults {
        &self.spec
    }

    /// Every injected fault so far, in order.
    pub(crate) fn injected(&self) -> &[InjectedFault] {
        &self.injected
    }

    /// How many faults of each kind each API family met.
    pub(crate) fn counts(&self) -> BTreeMap<(Api, ApiFault), u64> {
        let mut out = BTreeMap::new();
        for f in &self.injected {
            *out.entry((f.api, f.fault)).or_insert(0) += 1;
        }
        out
    }

    /// How many requests each API family received (faulty or not).
    pub(crate) fn requests(&self) -> &BTreeMap<Api, u64> {
        &self.requests
    }

    /// Whether `at` falls in a scheduler outage.
    pub(crate) fn scheduler_down(&self, at: Timestamp) -> bool {
        let Some(o) = &self.spec.scheduler_outage else {
            return false;
        };
        let every = o.every.as_millis().max(1);
        let since = at.since(self.start).as_millis();
        since >= self.outage_offset_ms
            && (since - self.outage_offset_ms) % every < o.lasting.as_millis()
    }

    /// Whether a token issued at `issued` is refused at `at`.
    pub(crate) fn token_expired(&self, issued: Timestamp, at: Timestamp) -> bool {
        self.spec
            .token_expires_after
            .is_some_and(|ttl| at.since(issued) >= ttl)
    }

    /// Records a fault decided outside [`Self::decide`] (`sim serve`'s expired tokens).
    pub(crate) fn record(&mut self, fault: InjectedFault) {
        self.injected.push(fault);
    }

    /// One request to `api` at `at`: a scheduler outage, else a random draw. Counts the
    /// request and records the fault, if any.
    pub(crate) fn decide(&mut self, api: Api, operation: &str, at: Timestamp) -> Verdict {
        *self.requests.entry(api).or_insert(0) += 1;
        let fault = |fault: ApiFault, status: Option<u16>, delay: Option<Dur>| InjectedFault {
            at,
            api,
            operation: operation.to_string(),
            fault,
            status,
            delay,
        };
        if api == Api::Scheduler && self.scheduler_down(at) {
            let f = fault(ApiFault::SchedulerOutage, Some(502), None);
            self.injected.push(f.clone());
            return Verdict::Fail(f);
        }
        let over = self.spec.apis.get(api);
        let rate = over.and_then(|o| o.rate).unwrap_or(self.spec.rate).get();
        let kinds = over
            .and_then(|o| o.kinds.as_deref())
            .unwrap_or(&self.spec.kinds);
        let applicable: Vec<ApiFaultKind> = kinds
            .iter()
            .copied()
            .filter(|k| k.applies_to(api))
            .collect();
        if rate <= 0.0 || applicable.is_empty() || !self.rng.random_bool(rate) {
            return Verdict::Pass;
        }
        let kind = applicable[self.rng.random_range(0..applicable.len())];
        let f = match kind {
            ApiFaultKind::Slow => {
                let d = self.spec.slow.sample(&mut self.rng);
                fault(ApiFault::Slow, None, Some(d))
            }
            ApiFaultKind::Throttle => {
                let status = if api == Api::Ec2 {
                    503
                } else if api == Api::AutoScaling {
                    400
                } else {
                    429
                };
                fault(ApiFault::Throttle, Some(status), None)
            }
            ApiFaultKind::ServerError => {
                let statuses: &[u16] = match api {
                    Api::Ec2 | Api::AutoScaling => &[500, 503],
                    Api::Mesos | Api::Scheduler => &[500, 502, 503],
                };
                let s = statuses[self.rng.random_range(0..statuses.len())];
                fault(ApiFault::ServerError, Some(s), None)
            }
            ApiFaultKind::Reset => fault(ApiFault::Reset, None, None),
            ApiFaultKind::Unauthorized => fault(ApiFault::Unauthorized, Some(401), None),
            ApiFaultKind::SchedulerUnreachable => {
                fault(ApiFault::SchedulerUnreachable, Some(502), None)
            }
        };
        self.injected.push(f.clone());
        match f.delay {
            Some(d) => Verdict::Slow(d),
            None => Verdict::Fail(f),
        }
    }

    /// In-process DC/OS calls: a token older than `token_expires_after` is refused once, and
    /// the simulated client logs in again (the token is renewed at `at`).
    pub(crate) fn check_token_in_process(
        &mut self,
        api: Api,
        operation: &str,
        at: Timestamp,
    ) -> Option<InjectedFault> {
        if !matches!(api, Api::Mesos | Api::Scheduler) || !self.token_expired(self.token_issued, at)
        {
            return None;
        }
        self.token_issued = at;
        *self.requests.entry(api).or_insert(0) += 1;
        let f = InjectedFault {
            at,
            api,
            operation: operation.to_string(),
            fault: ApiFault::TokenExpired,
            status: Some(401),
            delay: None,
        };
        self.injected.push(f.clone());
        Some(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: i64) -> Timestamp {
        Timestamp::from_millis(crate::cluster::sim::EPOCH.as_millis() + ms)
    }

    fn spec(rate: f64) -> ApiFaults {
        ApiFaults {
            rate: Rate::new(rate).unwrap(),
            ..ApiFaults::default()
        }
    }

    #[test]
    fn the_rate_is_the_share_of_faulty_requests() {
        let mut inj = ApiFaultInjector::new(&spec(0.2), 7, t(0));
        let n: u32 = 20_000;
        let faulty = (0..n)
            .filter(|i| {
                inj.decide(Api::Ec2, "DescribeInstances", t(i64::from(*i))) != Verdict::Pass
            })
            .count();
        let share = faulty as f64 / f64::from(n);
        assert!((share - 0.2).abs() < 0.015, "{share}");
        assert_eq!(inj.injected().len(), faulty);
        assert_eq!(inj.requests()[&Api::Ec2], u64::from(n));
        // EC2 meets no 401 and no unreachable scheduler.
        let counts = inj.counts();
        assert!(counts.keys().all(|(api, _)| *api == Api::Ec2));
        assert!(!counts.contains_key(&(Api::Ec2, ApiFault::Unauthorized)));
        assert!(!counts.contains_key(&(Api::Ec2, ApiFault::SchedulerUnreachable)));
        for f in [
            ApiFault::Throttle,
            ApiFault::ServerError,
            ApiFault::Reset,
            ApiFault::Slow,
        ] {
            assert!(counts[&(Api::Ec2, f)] > 500, "{f}: {counts:?}");
        }
    }

    #[test]
    fn the_same_seed_draws_the_same_faults() {
        let run = |seed| {
            let mut inj = ApiFaultInjector::new(&spec(0.3), seed, t(0));
            (0..500)
                .map(|i| inj.decide(Api::Scheduler, "GET pod/status", t(i * 1000)))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(1), run(1));
        assert_ne!(run(1), run(2));
    }

    #[test]
    fn overrides_change_rate_and_kinds_per_api() {
        let mut s = spec(0.0);
        s.apis.scheduler = Some(ApiOverride {
            rate: Some(Rate::new(1.0).unwrap()),
            kinds: Some(vec![ApiFaultKind::Throttle]),
        });
        let mut inj = ApiFaultInjector::new(&s, 1, t(0));
        for i in 0..50 {
            assert_eq!(
                inj.decide(Api::Ec2, "DescribeInstances", t(i)),
                Verdict::Pass
            );
            let Verdict::Fail(f) = inj.decide(Api::Scheduler, "GET plans/recovery", t(i)) else {
                panic!("the scheduler fails every request");
            };
            assert_eq!((f.fault, f.status), (ApiFault::Throttle, Some(429)));
            assert!(matches!(
                f.cluster_error(),
                Some(ClusterError::Throttled { .. })
            ));
        }
    }

    #[test]
    fn slow_answers_wait_within_the_distribution() {
        let mut s = spec(1.0);
        s.kinds = vec![ApiFaultKind::Slow];
        let mut inj = ApiFaultInjector::new(&s, 3, t(0));
        for i in 0..100 {
            let Verdict::Slow(d) = inj.decide(Api::Mesos, "GET /mesos/master/slaves", t(i)) else {
                panic!("every request is slow");
            };
            assert!((1_000..=3_000).contains(&d.as_millis()), "{d}");
        }
        assert!(inj.injected().iter().all(|f| f.cluster_error().is_none()));
    }

    #[test]
    fn scheduler_outages_recur() {
        let mut s = spec(0.0);
        s.scheduler_outage = Some(Outage {
            every: Dur::from_mins(5),
            lasting: Dur::from_secs(20),
        });
        let mut inj = ApiFaultInjector::new(&s, 5, t(0));
        let down: Vec<i64> = (0..30 * 60)
            .filter(|sec| inj.scheduler_down(t(sec * 1000)))
            .collect();
        // Six periods of 5 min in 30 min, 20 s each (the first may be cut by the start).
        assert!((100..=120).contains(&down.len()), "{}", down.len());
        assert!(!inj.scheduler_down(t(-1)));
        let first = down[0];
        assert!(inj.scheduler_down(t((first + 300) * 1000)));
        let Verdict::Fail(f) = inj.decide(Api::Scheduler, "GET pod/status", t(first * 1000)) else {
            panic!("the scheduler is down");
        };
        assert_eq!(f.fault, ApiFault::SchedulerOutage);
        assert_eq!(
            inj.decide(Api::Mesos, "GET /mesos/master/slaves", t(first * 1000)),
            Verdict::Pass
        );
    }

    #[test]
    fn tokens_expire_and_are_renewed_in_process() {
        let mut s = spec(0.0);
        s.token_expires_after = Some(Dur::from_mins(10));
        let mut inj = ApiFaultInjector::new(&s, 5, t(0));
        assert!(
            inj.check_token_in_process(Api::Scheduler, "GET pod/status", t(599_999))
                .is_none()
        );
        let f = inj
            .check_token_in_process(Api::Scheduler, "GET pod/status", t(600_000))
            .unwrap();
        assert_eq!(f.fault, ApiFault::TokenExpired);
        assert!(matches!(
            f.cluster_error(),
            Some(ClusterError::Unauthorized { .. })
        ));
        assert!(
            inj.check_token_in_process(Api::Mesos, "GET /mesos/master/slaves", t(600_001))
                .is_none()
        );
        assert!(
            inj.check_token_in_process(Api::Ec2, "DescribeInstances", t(9_999_999))
                .is_none()
        );
        assert!(
            inj.check_token_in_process(Api::Mesos, "GET /mesos/master/slaves", t(1_200_000))
                .is_some()
        );
    }

    #[test]
    fn rates_outside_zero_to_one_are_refused() {
        assert!(Rate::new(1.5).is_err());
        assert!(Rate::new(-0.1).is_err());
        assert!(Rate::new(f64::NAN).is_err());
        assert!(Rate::new(0.0).is_ok() && Rate::new(1.0).is_ok());
    }
}
