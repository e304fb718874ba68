//! The ring restart a run's own recovery causes: replacing a Cassandra seed makes the
//! scheduler restart every other node in place, one after the other, inside the same
//! `permanent-node-failure-recovery` phase (`CassandraRecoveryPlanOverrider`). Those nodes
//! leave RUNNING because of the run's own heal, not as collateral damage; and the run is not
//! over until that phase is COMPLETE.
//!
//! The run's phase is the one holding a step for a victim's pod that was not in the plan
//! before the fault; its other steps are the restarts. With two victims, a later replace
//! drops that phase (`DefaultRecoveryPlanManager`: a new phase drops every phase with a step
//! for one of its pods): when the later victim is a seed too, its own ring takes over and is
//! followed instead; otherwise the ring restart is abandoned for good, and `ring_restarted`
//! will never be observed (the run says so rather than wait for it). A restart the dropped
//! phase had begun (its pod killed) stays the plan's doing until its pod runs again. A pod seen not RUNNING is restarted by
//! the plan when its step is in flight (PREPARED, STARTING, STARTED), or COMPLETE in a read
//! that may have come after the pods' read; a step COMPLETE before that read, or not yet
//! begun (PENDING), excuses nothing.

use std::borrow::Borrow;
use std::collections::BTreeSet;
use std::sync::Arc;

use crate::cluster::{PERMANENT_RECOVERY_PHASE, PlanObs, PlanStatus, PodName};
use crate::time::Timestamp;

/// The pod of a step named `<pod>:[<task>]` (the pod ends at the first `:[`). Taken apart
/// from the end: every read of the plan asks it of every step, and a substring search
/// (`split_once(":[")`) cost about 3 % of a simulated run.
pub(crate) fn step_pod<'a>(step: &'a str, task: &str) -> Option<&'a str> {
    let pod = step
        .strip_suffix(']')?
        .strip_suffix(task)?
        .strip_suffix(":[")?;
    (!pod.as_bytes().windows(2).any(|w| w == b":[")).then_some(pod)
}

/// One restart step of the ring.
#[derive(Clone, Debug)]
struct Restart {
    pod: PodName,
    status: PlanStatus,
    /// When the first read showing the step COMPLETE came back.
    complete_since: Option<Timestamp>,
}

/// Whether a pod's absence is the plan's doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Excuse {
    /// Restarted by the run's own recovery.
    Plan,
    /// Not the plan's doing: collateral damage.
    None,
    /// The last read of the plan is older than the pods' read: read it again first.
    Stale,
}

/// The run's ring restart as the recovery plan last showed it.
#[derive(Clone, Debug)]
pub(crate) struct Ring {
    phase: Arc<str>,
    restarts: Vec<Restart>,
    /// When the last read of the plan was sent and came back.
    read: (Timestamp, Timestamp),
    complete: bool,
    /// The scheduler dropped the phase and no ring of this run took its place.
    dropped: bool,
    /// Pods whose restart a dropped phase had begun: still being brought back.
    inherited: Vec<PodName>,
}

impl Ring {
    /// The run's seed-replace phase in `plan`, if it restarts other nodes: a permanent phase
    /// with a new step (not in `known`) for one of the `victims`' pods.
    pub(crate) fn find(
        plan: &PlanObs,
        task: &str,
        victims: &[impl Borrow<PodName>],
        known: &BTreeSet<String>,
    ) -> Option<Arc<str>> {
        plan.phases
            .iter()
            .filter(|ph| &*ph.name == PERMANENT_RECOVERY_PHASE)
            .find(|ph| {
                // Other nodes first (a phase without them restarts nothing); the set of known
                // steps is searched last: it compares ids as text.
                let others = ph.steps.iter().any(|s| {
                    step_pod(&s.name, task)
                        .is_some_and(|p| !victims.iter().any(|v| v.borrow().as_str() == p))
                });
                others
                    && ph.steps.iter().any(|s| {
                        step_pod(&s.name, task)
                            .is_some_and(|p| victims.iter().any(|v| v.borrow().as_str() == p))
                            && !known.contains(&*s.id)
                    })
            })
            .map(|ph| ph.id.clone())
    }

    /// The ring of phase `id`, empty until [`Ring::update`] reads it.
    pub(crate) fn new(id: Arc<str>) -> Self {
        Self {
            phase: id,
            restarts: Vec::new(),
            read: (
                Timestamp::from_millis(i64::MIN),
                Timestamp::from_millis(i64::MIN),
            ),
            complete: false,
            dropped: false,
            inherited: Vec::new(),
        }
    }

    /// Whether `plan` still holds this ring's phase.
    pub(crate) fn in_plan(&self, plan: &PlanObs) -> bool {
        plan.phases.iter().any(|ph| ph.id == self.phase)
    }

    /// The ring of phase `id`, which superseded this one: the restarts this one had begun
    /// are still the plan's doing.
    pub(crate) fn succeeded_by(&self, id: Arc<str>) -> Self {
        let mut next = Self::new(id);
        next.inherited = self.begun();
        next
    }

    /// Notes that the phase left the plan with nothing to take its place.
    pub(crate) fn drop_out(&mut self) {
        self.dropped = true;
    }

    /// Pods whose restart this ring had begun and not finished, and those it inherited.
    fn begun(&self) -> Vec<PodName> {
        let mut out = self.inherited.clone();
        for r in &self.restarts {
            if matches!(
                r.status,
                PlanStatus::Prepared | PlanStatus::Starting | PlanStatus::Started
            ) && !out.contains(&r.pod)
            {
                out.push(r.pod.clone());
            }
        }
        out
    }

    /// Why `ring_restarted` will never be observed, once the phase was dropped for good.
    pub(crate) fn dropped(&self) -> Option<String> {
        if !self.dropped || self.complete {
            return None;
        }
        // A restart begun (its task killed) comes back through a phase of its own.
        let left: Vec<&str> = self
            .restarts
            .iter()
            .filter(|r| r.status == PlanStatus::Pending)
            .map(|r| r.pod.as_str())
            .collect();
        let what = if left.is_empty() {
            "every other node had been restarted, but the phase never completes".to_string()
        } else {
            format!(
                "never restarted: {}; `pod restart` them by hand",
                left.join(", ")
            )
        };
        Some(format!(
            "ring_restarted will not be observed: a later replace dropped the seed's restart \
             phase from the recovery plan and no other took its place ({what})"
        ))
    }

    /// Takes in a read of the plan sent at `sent`, answered at `received`; returns whether
    /// this read is the first to show the whole phase COMPLETE.
    pub(crate) fn update(
        &mut self,
        plan: &PlanObs,
        task: &str,
        victims: &[impl Borrow<PodName>],
        (sent, received): (Timestamp, Timestamp),
    ) -> bool {
        self.read = (sent, received);
        let Some(ph) = plan.phases.iter().find(|ph| ph.id == self.phase) else {
            return false;
        };
        self.dropped = false;
        for s in &ph.steps {
            let Some(pod) = step_pod(&s.name, task) else {
                continue;
            };
            if victims.iter().any(|v| v.borrow().as_str() == pod) {
                continue;
            }
            let r = match self.restarts.iter_mut().find(|r| r.pod.as_str() == pod) {
                Some(r) => r,
                None => {
                    self.restarts.push(Restart {
                        pod: PodName::new(pod),
                        status: s.status,
                        complete_since: None,
                    });
                    self.restarts.last_mut().expect("just pushed")
                }
            };
            r.status = s.status;
            if s.status == PlanStatus::Complete && r.complete_since.is_none() {
                r.complete_since = Some(received);
            }
        }
        let done = ph.status == PlanStatus::Complete;
        let first = done && !self.complete;
        self.complete |= done;
        first
    }

    pub(crate) fn complete(&self) -> bool {
        self.complete
    }

    /// Whether `pod`, seen not RUNNING by a read of the pods sent at `pods_sent`, is restarted
    /// by this ring.
    pub(crate) fn excuse(&self, pod: &PodName, pods_sent: Timestamp) -> Excuse {
        let r = self.restarts.iter().find(|r| &r.pod == pod);
        if self.inherited.contains(pod)
            && r.is_none_or(|r| r.complete_since.is_none_or(|t| t > pods_sent))
        {
            // Killed by the dropped phase; back once its step here is done.
            return Excuse::Plan;
        }
        let Some(r) = r else {
            return Excuse::None;
        };
        match r.status {
            PlanStatus::Prepared | PlanStatus::Starting | PlanStatus::Started => Excuse::Plan,
            // Complete before the pods were read: the pod went down after its restart.
            PlanStatus::Complete if r.complete_since.is_some_and(|t| t <= pods_sent) => {
                Excuse::None
            }
            PlanStatus::Complete => Excuse::Plan,
            // Not begun when the plan was read before the pods: it may have begun since. (A
            // read answered at the very instant the pods' read was sent is no older: the
            // simulator's calls take no time, and it reads the plan after the pods.)
            _ if self.read.1 < pods_sent => Excuse::Stale,
            _ => Excuse::None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{PhaseObs, StepObs};

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    fn plan(steps: &[(&str, PlanStatus)]) -> PlanObs {
        plan_of("ph", steps)
    }

    /// A plan of one permanent phase `id`; step ids are `<id>-<pod>`.
    fn plan_of(id: &str, steps: &[(&str, PlanStatus)]) -> PlanObs {
        let steps: Vec<StepObs> = steps
            .iter()
            .map(|(n, s)| StepObs {
                id: format!("{id}-{n}").into(),
                name: format!("{n}:[server]").into(),
                status: *s,
            })
            .collect();
        let all_done = steps.iter().all(|s| s.status == PlanStatus::Complete);
        let status = if all_done {
            PlanStatus::Complete
        } else {
            PlanStatus::InProgress
        };
        PlanObs {
            status,
            phases: vec![PhaseObs {
                id: id.into(),
                name: PERMANENT_RECOVERY_PHASE.into(),
                status,
                steps,
            }]
            .into(),
            errors: Vec::new(),
        }
    }

    #[test]
    fn only_a_step_in_flight_or_completed_after_the_pods_read_excuses_a_pod() {
        use PlanStatus::*;
        let node0 = PodName::new("node-0");
        let victims = [&node0];
        let p = plan(&[
            ("node-0", Complete),
            ("node-1", Prepared),
            ("node-2", Pending),
        ]);
        let id = Ring::find(&p, "server", &victims, &BTreeSet::new()).expect("a ring");
        // A phase whose victim step was there before the fault is an older run's.
        let known = BTreeSet::from(["ph-node-0".to_string()]);
        assert!(Ring::find(&p, "server", &victims, &known).is_none());
        let mut ring = Ring::new(id);
        assert!(!ring.update(&p, "server", &victims, (at(100), at(110))));
        let (n1, n2, n3) = (
            PodName::new("node-1"),
            PodName::new("node-2"),
            PodName::new("node-3"),
        );
        assert_eq!(ring.excuse(&n1, at(50)), Excuse::Plan);
        assert_eq!(ring.excuse(&n3, at(50)), Excuse::None, "not in the ring");
        assert_eq!(ring.excuse(&n2, at(200)), Excuse::Stale, "read again");
        assert_eq!(ring.excuse(&n2, at(50)), Excuse::None, "not begun after");
        assert_eq!(ring.excuse(&n2, at(110)), Excuse::None, "the same instant");
        let p = plan(&[
            ("node-0", Complete),
            ("node-1", Complete),
            ("node-2", Starting),
        ]);
        ring.update(&p, "server", &victims, (at(300), at(310)));
        assert_eq!(
            ring.excuse(&n1, at(305)),
            Excuse::Plan,
            "may be the restart"
        );
        assert_eq!(
            ring.excuse(&n1, at(400)),
            Excuse::None,
            "down after its restart"
        );
        let p = plan(&[
            ("node-0", Complete),
            ("node-1", Complete),
            ("node-2", Complete),
        ]);
        assert!(ring.update(&p, "server", &victims, (at(500), at(510))));
        assert!(ring.complete());
        assert!(
            !ring.update(&p, "server", &victims, (at(600), at(610))),
            "once"
        );
    }

    #[test]
    fn a_replace_that_restarts_nothing_is_no_ring() {
        let node3 = PodName::new("node-3");
        let p = plan(&[("node-3", PlanStatus::Starting)]);
        assert!(Ring::find(&p, "server", &[&node3], &BTreeSet::new()).is_none());
        assert_eq!(step_pod("node-3:[server]", "server"), Some("node-3"));
        assert_eq!(step_pod("node-3:[repair]", "server"), None);
        assert_eq!(step_pod("node-3:[server]]", "server"), None);
        assert_eq!(step_pod("node-3:[b:[server]", "server"), None);
        assert_eq!(step_pod(":[server]", "server"), Some(""));
    }

    /// The tracker's rule: a ring whose phase left the plan follows the run's ring that took
    /// its place, or is dropped for good.
    fn follow(ring: Ring, p: &PlanObs, victims: &[&PodName]) -> Ring {
        if ring.complete() || ring.in_plan(p) {
            return ring;
        }
        match Ring::find(p, "server", victims, &BTreeSet::new()) {
            Some(id) => ring.succeeded_by(id),
            None => {
                let mut ring = ring;
                ring.drop_out();
                ring
            }
        }
    }

    #[test]
    fn a_ring_a_later_replace_dropped_is_followed_through_its_successor_or_said_lost() {
        use PlanStatus::*;
        let (n0, n1, n2, n3) = (
            PodName::new("node-0"),
            PodName::new("node-1"),
            PodName::new("node-2"),
            PodName::new("node-3"),
        );
        let ring0 = |victims: &[&PodName]| {
            let p = plan_of(
                "p0",
                &[
                    ("node-0", Complete),
                    ("node-1", Complete),
                    ("node-2", Prepared),
                    ("node-3", Pending),
                    ("node-4", Pending),
                ],
            );
            let mut ring = Ring::new(Ring::find(&p, "server", victims, &BTreeSet::new()).unwrap());
            ring.update(&p, "server", victims, (at(100), at(110)));
            ring
        };
        // Victims node-0 (a seed, first) and node-3: node-3's own phase drops the seed's.
        let victims = [&n0, &n3];
        let p3 = plan_of("p3", &[("node-3", Pending)]);
        let mut ring = follow(ring0(&victims), &p3, &victims);
        assert!(!ring.update(&p3, "server", &victims, (at(200), at(210))));
        let why = ring.dropped().expect("dropped for good");
        assert!(why.contains("never restarted: node-4;"), "{why}");
        assert_eq!(
            ring.excuse(&n2, at(300)),
            Excuse::Plan,
            "killed by the ring"
        );
        // Victims node-0 and node-1, both seeds: node-1's ring takes over.
        let victims = [&n0, &n1];
        let p1 = plan_of(
            "p1",
            &[
                ("node-1", Pending),
                ("node-0", Pending),
                ("node-2", Pending),
                ("node-3", Pending),
                ("node-4", Pending),
            ],
        );
        let mut ring = follow(ring0(&victims), &p1, &victims);
        ring.update(&p1, "server", &victims, (at(200), at(210)));
        assert!(ring.dropped().is_none());
        assert!(ring.in_plan(&p1));
        // node-2's restart, begun by the dropped phase, waits for its turn in the new one.
        assert_eq!(ring.excuse(&n2, at(300)), Excuse::Plan);
        assert_eq!(
            ring.excuse(&n3, at(300)),
            Excuse::Stale,
            "not begun: read again"
        );
        let steps: Vec<(&str, PlanStatus)> = p1.phases[0]
            .steps
            .iter()
            .map(|s| (step_pod(&s.name, "server").unwrap(), Complete))
            .collect();
        let done = plan_of(&p1.phases[0].id, &steps);
        assert!(ring.update(&done, "server", &victims, (at(400), at(410))));
        assert_eq!(ring.excuse(&n2, at(500)), Excuse::None, "back since");
    }
}
