//! The recovery plan's phases and steps, and Cassandra's seeds (dcos-commons
//! `DefaultRecoveryPlanManager` + `CassandraRecoveryPlanOverrider`).
//!
//! - A task that fails on its own gets a transient phase `<pod>:[server]` (one step, relaunch
//!   in place on the pod's reservations).
//! - `pod replace` makes the phase `permanent-node-failure-recovery` (serial): first the
//!   replace step `<pod>:[server]` (any free agent, new volumes); when the replaced node is a
//!   seed (index < `topology.seeds`, `LOCAL_SEEDS_COUNT`, default 2), then a transient restart
//!   step for every other node in index order, each killing the running task and relaunching
//!   it in place once the step before it is COMPLETE (PENDING → PREPARED → STARTING → STARTED
//!   → COMPLETE; new task ids on the same agents).
//! - A new phase drops every phase that touches one of its pods (`phaseOverridden`). A replace
//!   step still incomplete in a dropped phase moves into the new phase, right after its first
//!   step, so that two nodes replaced at once both come back (the SDK would drop and rebuild
//!   such phases over several offer cycles).

use super::{Phase, PlanStatus, Sim, Step, TruthEvent, TruthKind, uuid4};
use crate::cluster::PERMANENT_RECOVERY_PHASE as PERMANENT_PHASE;

impl Sim {
    /// The pod's recovery step not yet complete, as `(phase, step)`.
    pub(super) fn active_step(&self, pod: usize) -> Option<(usize, usize)> {
        self.recovery.iter().enumerate().find_map(|(ph, phase)| {
            phase
                .steps
                .iter()
                .position(|s| s.pod == pod && s.status != PlanStatus::Complete)
                .map(|st| (ph, st))
        })
    }

    /// Whether a step may progress: its phase is parallel, or every step before it is done.
    pub(super) fn step_may_go(&self, phase: usize, step: usize) -> bool {
        let ph = &self.recovery[phase];
        !ph.serial
            || ph.steps[..step]
                .iter()
                .all(|s| s.status == PlanStatus::Complete)
    }

    fn is_seed(&self, pod: usize) -> bool {
        (pod as u32) < self.profile.topology.seeds
    }

    /// A new recovery phase for `pod`: permanent (`pod replace`) or transient (the task
    /// failed). Phases touching any of its pods are dropped.
    pub(super) fn new_phase(&mut self, pod: usize, permanent: bool) {
        let mut replaced = vec![pod];
        if permanent {
            // Replace steps left incomplete in phases about to be dropped come along.
            for ph in &self.recovery {
                if ph.steps.iter().any(|s| s.pod == pod) {
                    replaced.extend(
                        ph.steps
                            .iter()
                            .filter(|s| {
                                s.permanent && s.status != PlanStatus::Complete && s.pod != pod
                            })
                            .map(|s| s.pod),
                    );
                }
            }
        }
        let mut pods = replaced.clone();
        if permanent && replaced.iter().any(|&p| self.is_seed(p)) {
            pods.extend((0..self.pods.len()).filter(|p| !replaced.contains(p)));
        }
        self.recovery
            .retain(|ph| !ph.steps.iter().any(|s| pods.contains(&s.pod)));
        let steps = pods
            .iter()
            .map(|&p| Step {
                id: uuid4(&mut self.rng).into(),
                pod: p,
                permanent: replaced.contains(&p) && permanent,
                status: PlanStatus::Pending,
            })
            .collect();
        let name = if permanent {
            PERMANENT_PHASE.into()
        } else {
            self.pods[pod].step_name.clone()
        };
        self.recovery.push(Phase {
            id: uuid4(&mut self.rng).into(),
            name,
            serial: permanent,
            steps,
        });
        let ph = self.recovery.len() - 1;
        for st in 0..self.recovery[ph].steps.len() {
            self.record_step(ph, st);
        }
    }

    /// A step's new status; the next step of a serial phase may go once one completes, and a
    /// phase whose last step completes is recorded as complete.
    pub(super) fn set_step(&mut self, phase: usize, step: usize, status: PlanStatus) {
        self.recovery[phase].steps[step].status = status;
        self.record_step(phase, step);
        #[cfg(test)]
        if status == PlanStatus::Prepared
            && let Some(p) = self.sabotage.take()
        {
            self.lose_task(p);
        }
        if status != PlanStatus::Complete {
            return;
        }
        let ph = &self.recovery[phase];
        if ph.steps.iter().all(|s| s.status == PlanStatus::Complete) {
            self.record_phase(phase);
        } else if ph.serial {
            self.schedule_offers();
        }
    }

    /// The truth of a phase whose last step completed (when the truth is kept).
    fn record_phase(&mut self, phase: usize) {
        if !self.keep_truth {
            return;
        }
        let ph = &self.recovery[phase];
        let steps: Vec<&str> = ph
            .steps
            .iter()
            .map(|s| &*self.pods[s.pod].step_name)
            .collect();
        let ev = TruthEvent {
            at: self.now,
            kind: TruthKind::RecoveryPhase,
            subject: ph.name.to_string(),
            id: Some(ph.id.to_string()),
            state: Some(PlanStatus::Complete.as_str().to_string()),
            detail: Some(steps.join(", ")),
        };
        self.truth.push(ev);
    }
}

#[cfg(test)]
impl Sim {
    /// Collateral damage on cue: when the first restart of a ring begins, `pod`'s task is
    /// lost for a reason of its own (as if its host failed), not by the plan's doing.
    pub(crate) fn lose_when_ring_restarts(&mut self, pod: &str) {
        self.sabotage = self.pods.iter().position(|p| p.name.as_str() == pod);
    }

    fn lose_task(&mut self, pod: usize) {
        self.pods[pod].task.state = crate::cluster::TaskState::Lost;
        self.pods[pod].task.time = self.now;
        self.record_task(pod);
        self.task_failed(pod);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::sim::Profile;
    use crate::cluster::{PodName, TaskState};
    use crate::time::{Dur, Timestamp};

    const SVC: &str = "cassandra";

    fn sim() -> Sim {
        Sim::new(&Profile::default_profile(), 7, crate::cluster::sim::EPOCH)
    }

    /// `(step name, status)` of the recovery plan's steps, in order.
    fn steps(s: &Sim) -> Vec<(String, PlanStatus)> {
        s.plan(SVC, "recovery")
            .unwrap()
            .phases
            .iter()
            .flat_map(|ph| ph.steps.iter().map(|st| (st.name.to_string(), st.status)))
            .collect()
    }

    fn servers(s: &Sim) -> Vec<(String, String, Option<TaskState>)> {
        s.pod_statuses(SVC)
            .unwrap()
            .iter()
            .map(|p| {
                let t = p.task("server").unwrap();
                (p.name.to_string(), t.id.to_string(), t.state)
            })
            .collect()
    }

    fn agent_of(s: &Sim, pod: &str) -> String {
        let info = s.pod_info(SVC, &PodName::new(pod)).unwrap();
        info.task("server")
            .unwrap()
            .agent
            .clone()
            .unwrap()
            .to_string()
    }

    #[test]
    fn replacing_a_seed_restarts_every_other_node_in_place_one_at_a_time() {
        let mut s = sim();
        let before = servers(&s);
        let agents: Vec<String> = (1..5).map(|i| agent_of(&s, &format!("node-{i}"))).collect();
        s.pod_replace(SVC, &PodName::new("node-0")).unwrap();
        let names: Vec<String> = steps(&s).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            (0..5)
                .map(|i| format!("node-{i}:[server]"))
                .collect::<Vec<_>>(),
            "the replaced seed first, then every other node in index order"
        );
        let plan = s.plan(SVC, "recovery").unwrap();
        assert_eq!(plan.phases.len(), 1);
        assert_eq!(&*plan.phases[0].name, PERMANENT_PHASE);
        // Step by step: never two steps in flight, never a later one before an earlier one.
        let mut t = s.now();
        let end = Timestamp::from_millis(t.as_millis() + Dur::from_mins(120).as_millis() as i64);
        while t < end && s.plan(SVC, "recovery").unwrap().status != PlanStatus::Complete {
            t = Timestamp::from_millis(t.as_millis() + 1_000);
            s.advance_to(t);
            let st = steps(&s);
            let busy = st
                .iter()
                .filter(|(_, x)| !matches!(x, PlanStatus::Pending | PlanStatus::Complete))
                .count();
            assert!(busy <= 1, "{st:?}");
            let first_open = st.iter().position(|(_, x)| *x != PlanStatus::Complete);
            if let Some(i) = first_open {
                assert!(st[i + 1..].iter().all(|(_, x)| *x == PlanStatus::Pending));
            }
        }
        assert_eq!(
            s.plan(SVC, "recovery").unwrap().status,
            PlanStatus::Complete
        );
        // Every node runs again with a new task id; the others on the same agents.
        let after = servers(&s);
        for (b, a) in before.iter().zip(&after) {
            assert_ne!(b.1, a.1, "{} has a new task", a.0);
            assert_eq!(a.2, Some(TaskState::Running));
        }
        let moved: Vec<String> = (1..5).map(|i| agent_of(&s, &format!("node-{i}"))).collect();
        assert_eq!(moved, agents, "restarted in place");
        // The truth: each restarted node's step and task go through the whole lifecycle, and
        // the phase's completion is the last step's.
        for i in 1..5 {
            let step = format!("node-{i}:[server]");
            let seen: Vec<&str> = s
                .truth()
                .iter()
                .filter(|e| e.kind == TruthKind::RecoveryStep && e.subject == step)
                .map(|e| e.state.as_deref().unwrap())
                .collect();
            assert_eq!(
                seen,
                ["PENDING", "PREPARED", "STARTING", "STARTED", "COMPLETE"],
                "{step}"
            );
            let task = format!("node-{i}-server");
            let seen: Vec<&str> = s
                .truth()
                .iter()
                .filter(|e| e.kind == TruthKind::TaskStatus && e.subject == task)
                .map(|e| e.state.as_deref().unwrap())
                .collect();
            assert_eq!(seen, ["KILLED", "STAGING", "STARTING", "RUNNING"], "{task}");
        }
        let last_step = s
            .truth()
            .iter()
            .rfind(|e| e.kind == TruthKind::RecoveryStep)
            .unwrap();
        let phase: Vec<&TruthEvent> = s
            .truth()
            .iter()
            .filter(|e| e.kind == TruthKind::RecoveryPhase)
            .collect();
        assert_eq!(phase.len(), 1);
        assert_eq!(phase[0].at, last_step.at);
        assert_eq!(phase[0].subject, PERMANENT_PHASE);
        assert!(
            phase[0]
                .detail
                .as_deref()
                .unwrap()
                .starts_with("node-0:[server], node-1")
        );
    }

    #[test]
    fn replacing_a_node_that_is_no_seed_touches_no_other() {
        let mut s = sim();
        s.pod_replace(SVC, &PodName::new("node-2")).unwrap();
        assert_eq!(
            steps(&s),
            [("node-2:[server]".to_string(), PlanStatus::Pending)]
        );
        // With `seeds: 0`, not even node-0 is a seed.
        let mut p = Profile::default_profile();
        p.topology.seeds = 0;
        let mut s = Sim::new(&p, 7, crate::cluster::sim::EPOCH);
        s.pod_replace(SVC, &PodName::new("node-0")).unwrap();
        assert_eq!(steps(&s).len(), 1);
    }

    #[test]
    fn two_seeds_replaced_at_once_share_one_phase() {
        let mut s = sim();
        s.pod_replace(SVC, &PodName::new("node-0")).unwrap();
        s.pod_replace(SVC, &PodName::new("node-1")).unwrap();
        let names: Vec<String> = steps(&s).into_iter().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            ["node-1", "node-0", "node-2", "node-3", "node-4"].map(|p| format!("{p}:[server]"))
        );
        let t =
            Timestamp::from_millis(s.now().as_millis() + Dur::from_mins(180).as_millis() as i64);
        s.advance_to(t);
        assert_eq!(
            s.plan(SVC, "recovery").unwrap().status,
            PlanStatus::Complete
        );
        assert!(
            servers(&s)
                .iter()
                .all(|(_, _, st)| *st == Some(TaskState::Running))
        );
    }
}
