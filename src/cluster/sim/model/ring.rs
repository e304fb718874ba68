//! The recovery plan's phases and steps, and Cassandra's seeds (dcos-commons
//! `DefaultRecoveryPlanManager` + `CassandraRecoveryPlanOverrider`, mesosphere/dcos-commons
//! at 69824783f).
//!
//! The plan is rebuilt the way `DefaultRecoveryPlanManager.updatePlan` does it on every offer
//! cycle:
//!
//! - A pod needs recovery when its task failed (terminal, LOST, UNREACHABLE) or when `pod
//!   replace` marked it permanently failed (`TaskUtils.getTasksNeedingRecovery`; the mark lives
//!   on the pod's TaskInfos until a new task is launched).
//! - A pod with an incomplete step is in progress, unless its failure escalated: every step
//!   it has is transient and the pod is now marked (`failureStateHasEscalated`).
//! - Every other pod needing recovery gets a new phase, in pod-name order: a marked pod the
//!   overrider's `permanent-node-failure-recovery` (serial: the replace step `<pod>:[server]`
//!   on any free agent, new volumes; when the pod is a seed, index < `topology.seeds`
//!   (`LOCAL_SEEDS_COUNT`, default 2), then a transient restart step for every other node in
//!   index order, each killing the running task and relaunching it in place once the step
//!   before it is COMPLETE: PENDING → PREPARED → STARTING → STARTED → COMPLETE, new task ids
//!   on the same agents); an unmarked pod a transient phase `<pod>:[server]` (relaunch in
//!   place on the pod's reservations).
//! - Every older phase with a step for a pod of the new phases is dropped, complete or not
//!   (`phaseOverridden`), and the new phases are appended.
//!
//! So with two victims of which one is a seed, a later replace drops the seed's phase: the
//! other victim's restart step in it escalates to a permanent phase of its own. A seed
//! replaced while the other victim's replace is still waiting for an agent makes the two
//! phases drop each other on alternate offer cycles until one of them launches; the plan is
//! then rebuilt every offer cycle (`timings.offer`), as long as it is unsettled.

use super::{Ev, Phase, PlanStatus, Sim, Step, TruthEvent, TruthKind, is_active_task, uuid4};
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

    /// Whether the scheduler wants `pod` recovered: its task failed, or it is marked
    /// permanently failed.
    fn needs_recovery(&self, pod: usize) -> bool {
        self.pods[pod].marked || !is_active_task(self.pods[pod].task.state)
    }

    /// Whether `pod` has a recovery in progress: an incomplete step, and no escalation from
    /// transient (every step it has) to permanent (the pod is marked).
    fn recovering(&self, pod: usize) -> bool {
        let mut steps = self
            .recovery
            .iter()
            .flat_map(|ph| &ph.steps)
            .filter(|s| s.pod == pod && s.status != PlanStatus::Complete)
            .peekable();
        steps.peek().is_some() && (!self.pods[pod].marked || steps.any(|s| s.permanent))
    }

    /// The pods the next rebuild recovers anew, in pod-name order (`getNewFailedPods`).
    fn new_failures(&self) -> Vec<usize> {
        let mut out: Vec<usize> = (0..self.pods.len())
            .filter(|&p| self.needs_recovery(p) && !self.recovering(p))
            .collect();
        out.sort_by(|a, b| self.pods[*a].name.as_str().cmp(self.pods[*b].name.as_str()));
        out
    }

    /// One rebuild of the recovery plan (`updatePlan`): a new phase for every new failure,
    /// the overrider's permanent ones first; older phases touching their pods are dropped.
    /// While another rebuild would change the plan again, one is due at the next offer cycle.
    pub(super) fn update_plan(&mut self) {
        let new = self.new_failures();
        if new.is_empty() {
            return;
        }
        let (permanent, transient): (Vec<usize>, Vec<usize>) =
            new.into_iter().partition(|&p| self.pods[p].marked);
        let mut phases = Vec::new();
        for p in permanent {
            let mut pods = vec![p];
            if self.is_seed(p) {
                pods.extend((0..self.pods.len()).filter(|&o| o != p));
            }
            phases.push(self.new_phase(&pods, true));
        }
        for p in transient {
            phases.push(self.new_phase(&[p], false));
        }
        let touched = |pod: usize| phases.iter().flat_map(|n| &n.steps).any(|s| s.pod == pod);
        self.recovery
            .retain(|ph| !ph.steps.iter().any(|s| touched(s.pod)));
        let first = self.recovery.len();
        self.recovery.extend(phases);
        for ph in first..self.recovery.len() {
            for st in 0..self.recovery[ph].steps.len() {
                self.record_step(ph, st);
            }
        }
        if !self.cycle_pending && !self.new_failures().is_empty() {
            self.cycle_pending = true;
            let d = self.sample(|t| &t.offer);
            self.schedule(d, Ev::PlanCycle);
        }
    }

    /// The offer cycle of an unsettled plan: rebuild it, then offer to what it wants.
    pub(super) fn plan_cycle(&mut self) {
        self.cycle_pending = false;
        self.update_plan();
        self.schedule_offers();
    }

    /// A phase for `pods`: the overrider's permanent phase (the first pod replaced, the others
    /// restarted), or a transient one.
    fn new_phase(&mut self, pods: &[usize], permanent: bool) -> Phase {
        let steps = pods
            .iter()
            .enumerate()
            .map(|(i, &p)| Step {
                id: uuid4(&mut self.rng).into(),
                pod: p,
                permanent: permanent && i == 0,
                status: PlanStatus::Pending,
            })
            .collect();
        let name = if permanent {
            PERMANENT_PHASE.into()
        } else {
            self.pods[pods[0]].step_name.clone()
        };
        Phase {
            id: uuid4(&mut self.rng).into(),
            name,
            serial: permanent,
            steps,
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
    use std::collections::BTreeSet;

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

    fn step_names(s: &Sim) -> Vec<String> {
        steps(s).into_iter().map(|(n, _)| n).collect()
    }

    /// `node-0:[server]` … `node-4:[server]`.
    fn every_node() -> Vec<String> {
        (0..5).map(|i| format!("node-{i}:[server]")).collect()
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
        assert_eq!(
            step_names(&s),
            every_node(),
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

    /// Advances second by second until `done` holds (at most two hours).
    fn until(s: &mut Sim, done: impl Fn(&Sim) -> bool) {
        let end = s.now().as_millis() + Dur::from_mins(120).as_millis() as i64;
        while !done(s) {
            assert!(s.now().as_millis() < end, "{:?}", steps(s));
            s.advance_to(Timestamp::from_millis(s.now().as_millis() + 1_000));
        }
    }

    fn complete(s: &Sim) -> bool {
        s.plan(SVC, "recovery").unwrap().status == PlanStatus::Complete
    }

    fn status_of(s: &Sim, step: &str) -> Option<PlanStatus> {
        steps(s).into_iter().find(|(n, _)| n == step).map(|x| x.1)
    }

    /// The permanent phases that completed, as the truth records them (their steps).
    fn completed_phases(s: &Sim) -> Vec<String> {
        s.truth()
            .iter()
            .filter(|e| e.kind == TruthKind::RecoveryPhase)
            .map(|e| e.detail.clone().unwrap())
            .collect()
    }

    #[test]
    fn a_later_replace_drops_the_seeds_phase_and_what_it_had_not_restarted_yet() {
        let mut s = sim();
        let node4 = servers(&s)[4].1.clone();
        s.pod_replace(SVC, &PodName::new("node-0")).unwrap();
        until(&mut s, |s| {
            status_of(s, "node-2:[server]") == Some(PlanStatus::Complete)
        });
        // node-3's replace: its restart step (transient) escalates to a permanent phase of
        // its own, which drops the seed's phase, node-4's restart with it.
        s.pod_replace(SVC, &PodName::new("node-3")).unwrap();
        let plan = s.plan(SVC, "recovery").unwrap();
        assert_eq!(plan.phases.len(), 1, "{plan:?}");
        assert_eq!(&*plan.phases[0].name, PERMANENT_PHASE);
        assert_eq!(
            steps(&s),
            [("node-3:[server]".to_string(), PlanStatus::Pending)]
        );
        until(&mut s, complete);
        // The seed's phase never completes; node-4 was never restarted; every pod runs.
        assert_eq!(completed_phases(&s), ["node-3:[server]"]);
        let after = servers(&s);
        assert_eq!(after[4].1, node4, "node-4 keeps its task");
        assert!(after.iter().all(|x| x.2 == Some(TaskState::Running)));
        assert!(!s.cycle_pending, "the plan is settled");
    }

    #[test]
    fn a_seed_replaced_after_another_node_drops_that_nodes_phase_and_restarts_it() {
        let mut s = sim();
        s.pod_replace(SVC, &PodName::new("node-3")).unwrap();
        until(&mut s, complete);
        let node3 = servers(&s)[3].1.clone();
        s.pod_replace(SVC, &PodName::new("node-0")).unwrap();
        assert_eq!(
            step_names(&s),
            every_node(),
            "node-3's completed phase is dropped: the seed's phase has a step for it"
        );
        until(&mut s, complete);
        assert_eq!(completed_phases(&s).len(), 2);
        assert_ne!(
            servers(&s)[3].1,
            node3,
            "the replaced node-3 is restarted too"
        );
    }

    #[test]
    fn two_seeds_replaced_at_once_drop_each_others_phase_until_one_launches() {
        let mut s = sim();
        s.pod_replace(SVC, &PodName::new("node-0")).unwrap();
        s.pod_replace(SVC, &PodName::new("node-1")).unwrap();
        // node-1's restart step in the seed's phase escalated: its own phase dropped node-0's.
        assert_eq!(
            step_names(&s),
            ["node-1", "node-0", "node-2", "node-3", "node-4"].map(|p| format!("{p}:[server]"))
        );
        assert!(
            s.cycle_pending,
            "node-0 has no step: the next offer cycle rebuilds"
        );
        // The phases alternate, each a new one, until a replace launches; then one settles.
        let mut ids = BTreeSet::new();
        until(&mut s, |s| {
            complete(s) && !s.cycle_pending && s.queue.iter().all(|e| e.at > s.now)
        });
        for e in s.truth() {
            if e.kind == TruthKind::RecoveryStep
                && e.detail.as_deref() == Some(PERMANENT_PHASE)
                && e.state.as_deref() == Some("PENDING")
                && (e.subject == "node-0:[server]" || e.subject == "node-1:[server]")
            {
                ids.insert(e.id.clone().unwrap());
            }
        }
        assert!(ids.len() > 2, "rebuilt more than once: {ids:?}");
        let done = completed_phases(&s);
        assert_eq!(done.len(), 1, "{done:?}");
        assert_eq!(done[0].split(", ").count(), 5, "one whole ring");
        assert!(
            servers(&s)
                .iter()
                .all(|(_, _, st)| *st == Some(TaskState::Running))
        );
    }
}
