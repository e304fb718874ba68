//! Phase detection (DESIGN §3): from one poll's observations to the phases they prove, per
//! victim, then per run. Pure: the runner feeds snapshots in, phases come out.
//!
//! Rules: a new instance, agent or task counts only if its id was not there before the fault
//! (the replacement is genuine); a server-side timestamp beats a poll; a poll-observed
//! transition is bracketed by the previous poll of the same API.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::cluster::{
    ActivityObs, ActivityStatus, AgentId, AgentObs, AsgObs, ClusterError, InstanceId, InstanceObs,
    InstanceState, LifecycleState, PlanObs, PodName, PodObs, TaskId, TaskObs, TaskState,
};
use crate::journal::{Replacement, Victim};
use crate::measure::{Observed, Source};
use crate::time::Timestamp;
use crate::vocab::{FaultKind, Phase};

use super::feed::{Feed, Feeds, PerFeed};
use super::ring::{Excuse, Ring, step_pod};

/// What was true before the fault: ids that do not count as replacements.
#[derive(Clone, Debug, Default)]
pub(crate) struct Baseline {
    pub(crate) asg_members: BTreeSet<InstanceId>,
    pub(crate) agents: BTreeSet<AgentId>,
    /// Ids of recovery-plan steps that already existed (completed steps stay in the plan).
    pub(crate) recovery_steps: BTreeSet<String>,
}

/// When a call was sent and when its answer came back: the state it reports held at some
/// instant in between.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Called {
    pub(crate) sent: Timestamp,
    pub(crate) received: Timestamp,
}

/// One poll: whatever each API answered, with the time of the call. `None` = not asked, or
/// the call failed (then the bracket of that API simply widens).
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    pub(crate) ec2: Option<(Called, Vec<InstanceObs>)>,
    pub(crate) asg: Option<(Called, AsgObs)>,
    pub(crate) activities: Option<(Called, Vec<ActivityObs>)>,
    pub(crate) agents: Option<(Called, Vec<AgentObs>)>,
    /// Pod info of each victim's pod, in victim order.
    pub(crate) pods: Option<(Called, Vec<PodObs>)>,
    pub(crate) recovery: Option<(Called, PlanObs)>,
    /// Descriptions of the group's new members (for their IPs and launch times).
    pub(crate) members: Vec<InstanceObs>,
    /// Every pod's status, for the stop conditions.
    pub(crate) all_pods: Option<(Called, Vec<PodObs>)>,
    /// The calls of this poll that failed (throttling, 5xx, …): ridden out, and journaled.
    pub(crate) errors: Vec<ClusterError>,
}

impl Snapshot {
    /// Whether the service's scheduler answered one of this poll's calls (a victim's pod,
    /// the recovery plan or every pod's status).
    pub(crate) fn scheduler_answered(&self) -> bool {
        self.pods.is_some() || self.recovery.is_some() || self.all_pods.is_some()
    }
}

/// Phases and how they were observed, one slot per phase.
#[derive(Clone, Copy, Debug, Default)]
struct PhaseMap([Option<Observed>; Phase::ALL.len()]);

impl PhaseMap {
    fn contains_key(&self, p: &Phase) -> bool {
        self.0[*p as usize].is_some()
    }

    fn get(&self, p: &Phase) -> Option<&Observed> {
        self.0[*p as usize].as_ref()
    }

    fn insert(&mut self, p: Phase, o: Observed) {
        self.0[p as usize] = Some(o);
    }

    /// The phases present, one bit each (bit `phase as u32`).
    fn seen(&self) -> u32 {
        self.0
            .iter()
            .enumerate()
            .fold(0, |m, (i, o)| m | u32::from(o.is_some()) << i)
    }

    /// The phase's slot if it is still empty.
    fn vacant(&mut self, p: Phase) -> Option<&mut Option<Observed>> {
        let slot = &mut self.0[p as usize];
        slot.is_none().then_some(slot)
    }
}

/// Everything known about one victim.
#[derive(Clone, Debug)]
struct Track {
    victim: Victim,
    replacement: Option<InstanceId>,
    replacement_ip: Option<Arc<str>>,
    new_agent: Option<AgentId>,
    new_task: Option<TaskId>,
    /// The pod's last read showed a new task launched but not running yet.
    relaunching: bool,
    /// A scaling activity names the replacement: its `EndTime` will time it in service.
    named: bool,
    /// The old task's status may still stamp `agent_lost` (the master's update as it marks
    /// the agent unreachable): the pod's last read showed the old task, not yet lost.
    agent_stamp_expected: bool,
    /// `/slaves` showed the old agent gone while that stamp was expected: the fallback.
    agent_gone_polled: Option<Observed>,
    phases: PhaseMap,
}

/// What the group's scaling activities promise for `replacement_in_service`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum GroupStamp {
    /// Activities came since the fault and name every replacement seen so far.
    Promised,
    /// The group shows a replacement no activity names: only polls can time it.
    Missing,
    /// No activity since the fault, no replacement yet: nothing known.
    Unknown,
}

/// The phase tracker of one run.
#[derive(Clone, Debug)]
pub(crate) struct Tracker {
    fault: FaultKind,
    task: String,
    baseline: Baseline,
    /// The victims' pods, in victim order.
    victim_pods: Vec<PodName>,
    tracks: Vec<Track>,
    /// When the last successful poll of each feed's API was sent (starts when the fault was
    /// sent): a transition seen now happened after it.
    prev: PerFeed<Timestamp>,
    /// The group listed a scaling activity since the fault: it keeps them.
    activities_seen: bool,
    run_phases: PhaseMap,
    /// The ring restart this run's recovery causes (a seed was replaced), once the plan shows
    /// it.
    ring: Option<Ring>,
    /// When the last successful read of the recovery plan came back.
    plan_read: Option<Timestamp>,
    /// What each feed showed at its last read: a read that differs shows a change.
    shown: PerFeed<Option<Shown>>,
    /// The feeds whose last read showed a change (or proved a phase).
    changed: Feeds,
    /// The scheduler answered its last call (not 5xx, not unreachable).
    scheduler_answers: bool,
}

impl Tracker {
    /// `fault_sent`: when the injecting call was sent; nothing it caused happened before.
    pub(crate) fn new(
        fault: FaultKind,
        task: &str,
        baseline: Baseline,
        victims: Vec<Victim>,
        fault_sent: Timestamp,
    ) -> Self {
        Self {
            fault,
            task: task.to_string(),
            baseline,
            victim_pods: victims.iter().filter_map(|v| v.pod.clone()).collect(),
            tracks: victims
                .into_iter()
                .map(|victim| Track {
                    agent_stamp_expected: victim.pod.is_some(),
                    victim,
                    replacement: None,
                    replacement_ip: None,
                    new_agent: None,
                    new_task: None,
                    relaunching: false,
                    named: false,
                    agent_gone_polled: None,
                    phases: PhaseMap::default(),
                })
                .collect(),
            prev: PerFeed::splat(fault_sent),
            activities_seen: false,
            run_phases: PhaseMap::default(),
            ring: None,
            plan_read: None,
            shown: PerFeed::default(),
            changed: Feeds::default(),
            scheduler_answers: true,
        }
    }

    /// Whether every victim still waiting for `agent_lost` will get it stamped by its old
    /// task's status, which the scheduler serves: `/slaves` then need not be read densely.
    pub(crate) fn agent_lost_stamp_expected(&self) -> bool {
        self.scheduler_answers
            && self
                .tracks
                .iter()
                .filter(|t| !t.phases.contains_key(&Phase::AgentLost))
                .all(|t| t.agent_stamp_expected)
    }

    /// The feeds whose read in the last poll showed a change: a state transition, an
    /// instance, agent or task appearing or leaving, a plan step moving, a phase proved.
    pub(crate) fn changed(&self) -> Feeds {
        self.changed
    }

    /// Whether `asg` differs from the group's last read (its members or their states): only
    /// then can the scaling activities say something new.
    pub(crate) fn group_moved(&self, asg: &AsgObs) -> bool {
        !self.shown[Feed::Asg]
            .as_ref()
            .is_some_and(|s| s.same(group_items(asg)))
    }

    /// Compares what `snap` shows per feed with the feed's last read; notes the feeds whose
    /// reads changed.
    fn note_changes(&mut self, snap: &Snapshot, phases: &[(Phase, Observed)]) {
        let mut changed = Feeds::default();
        let shown = &mut self.shown;
        let mut note = |feed: Feed, moved: bool| {
            if moved {
                changed.insert(feed);
            }
        };
        if let Some((_, instances)) = &snap.ec2 {
            let items = instances.iter().map(|i| (&i.id.0, [i.state as i64, 0]));
            note(Feed::Ec2, Shown::note(&mut shown[Feed::Ec2], items));
        }
        if let Some((_, asg)) = &snap.asg {
            note(
                Feed::Asg,
                Shown::note(&mut shown[Feed::Asg], group_items(asg)),
            );
        }
        if let Some((_, agents)) = &snap.agents {
            let items = agents.iter().map(|a| {
                let re = a.reregistered_time.map_or(i64::MIN, |t| t.as_millis());
                (&a.id.0, [i64::from(a.active), re])
            });
            note(Feed::Agents, Shown::note(&mut shown[Feed::Agents], items));
        }
        if let Some((_, pods)) = &snap.pods {
            let items = pods
                .iter()
                .flat_map(|p| p.tasks.iter())
                .map(|t| (&t.id.0, [t.state.map_or(-1, |s| s as i64), 0]));
            note(Feed::Pods, Shown::note(&mut shown[Feed::Pods], items));
        }
        if let Some((_, plan)) = &snap.recovery {
            let items = plan.steps().map(|s| (&s.id, [s.status as i64, 0]));
            note(
                Feed::Recovery,
                Shown::note(&mut shown[Feed::Recovery], items),
            );
        }
        for (p, _) in phases {
            if let Some(feed) = Feed::of(*p) {
                changed.insert(feed);
            }
        }
        self.changed = changed;
    }

    pub(crate) fn baseline(&self) -> &Baseline {
        &self.baseline
    }

    pub(crate) fn victims(&self) -> impl Iterator<Item = &Victim> {
        self.tracks.iter().map(|t| &t.victim)
    }

    /// Instances worth describing: victims and their known replacements.
    pub(crate) fn instances_of_interest(&self) -> Vec<InstanceId> {
        self.tracks
            .iter()
            .flat_map(|t| std::iter::once(t.victim.instance.clone()).chain(t.replacement.clone()))
            .collect()
    }

    /// Whether every victim has a replacement whose IP is known.
    pub(crate) fn replacement_ips_known(&self) -> bool {
        self.tracks.iter().all(|t| t.replacement_ip.is_some())
    }

    /// Whether `id` is a replacement whose IP is known already.
    pub(crate) fn knows_ip(&self, id: &InstanceId) -> bool {
        self.tracks
            .iter()
            .any(|t| t.replacement.as_ref() == Some(id) && t.replacement_ip.is_some())
    }

    /// Whether a server stamp is to come for the replacement's `InService`.
    pub(crate) fn in_service_stamp(&self) -> GroupStamp {
        let pending = |t: &&Track| !t.phases.contains_key(&Phase::ReplacementInService);
        if self
            .tracks
            .iter()
            .filter(pending)
            .any(|t| t.replacement.is_some() && !t.named)
        {
            GroupStamp::Missing
        } else if self.activities_seen {
            GroupStamp::Promised
        } else {
            GroupStamp::Unknown
        }
    }

    /// Whether this run's recovery restarts the ring and has not finished doing so.
    pub(crate) fn ring_restarting(&self) -> bool {
        self.ring
            .as_ref()
            .is_some_and(|r| !r.complete() && r.dropped().is_none())
    }

    /// Why this run's ring restart will never complete: the scheduler dropped its phase and
    /// none took its place.
    pub(crate) fn ring_dropped(&self) -> Option<String> {
        self.ring.as_ref().and_then(Ring::dropped)
    }

    /// Whether `pod`, seen not RUNNING by a read of the pods sent at `pods_sent`, is being
    /// restarted by this run's own recovery plan. Before the plan shows a ring, a pod is
    /// excused by nothing, unless a victim's replace was issued and the plan not read since
    /// the pods.
    pub(crate) fn excuse(&self, pod: &PodName, pods_sent: Timestamp) -> Excuse {
        match &self.ring {
            Some(r) => r.excuse(pod, pods_sent),
            None if self.any_victim(Phase::PodReplaceIssued)
                && self.plan_read.is_none_or(|t| t < pods_sent) =>
            {
                Excuse::Stale
            }
            None => Excuse::None,
        }
    }

    /// Whether a victim's pod showed, at its last read, a new task launched that does not
    /// run yet: its RUNNING is near.
    pub(crate) fn relaunching(&self) -> bool {
        self.tracks.iter().any(|t| t.relaunching)
    }

    pub(crate) fn has(&self, phase: Phase) -> bool {
        self.run_phases.contains_key(&phase)
    }

    pub(crate) fn get(&self, phase: Phase) -> Option<&Observed> {
        self.run_phases.get(&phase)
    }

    /// Whether some victim reached `phase` (the run-level phase waits for all of them).
    pub(crate) fn any_victim(&self, phase: Phase) -> bool {
        self.tracks.iter().any(|t| t.phases.contains_key(&phase))
    }

    /// Records a phase the harness itself caused (fault injection, pod replace) for all victims.
    pub(crate) fn record_harness(
        &mut self,
        phase: Phase,
        obs: Observed,
    ) -> Option<(Phase, Observed)> {
        for t in &mut self.tracks {
            if let Some(slot) = t.phases.vacant(phase) {
                *slot = Some(obs);
            }
        }
        self.roll_up(phase)
    }

    /// Records what the harness did to one victim (its pod replaced). The run-level phase
    /// comes once every victim with a pod has it; victims without one take that instant.
    pub(crate) fn record_victim(
        &mut self,
        victim: usize,
        phase: Phase,
        obs: Observed,
    ) -> Option<(Phase, Observed)> {
        if let Some(slot) = self.tracks[victim].phases.vacant(phase) {
            *slot = Some(obs);
        }
        if self
            .tracks
            .iter()
            .any(|t| t.victim.pod.is_some() && !t.phases.contains_key(&phase))
        {
            return None;
        }
        self.record_harness(phase, obs)
    }

    /// The victims whose pods are not replaced yet and that have seen `trigger` themselves
    /// (any, without one), with their pods: each is healed on its own signal.
    pub(crate) fn awaiting_heal(&self, trigger: Option<Phase>) -> Vec<(usize, PodName)> {
        self.tracks
            .iter()
            .enumerate()
            .filter(|(_, t)| {
                !t.phases.contains_key(&Phase::PodReplaceIssued)
                    && trigger.is_none_or(|p| t.phases.contains_key(&p))
            })
            .filter_map(|(i, t)| Some((i, t.victim.pod.clone()?)))
            .collect()
    }

    pub(crate) fn replacements(&self) -> Vec<Replacement> {
        self.tracks
            .iter()
            .map(|t| Replacement {
                victim: t.victim.instance.clone(),
                instance: t.replacement.clone(),
                agent: t.new_agent.clone(),
                task: t.new_task.clone(),
            })
            .collect()
    }

    /// Feeds one poll; returns the run-level phases it completed, in timeline order.
    pub(crate) fn update(&mut self, snap: &Snapshot) -> Vec<(Phase, Observed)> {
        if snap.scheduler_answered() {
            self.scheduler_answers = true;
        }
        if snap
            .errors
            .iter()
            .any(|e| e.api() == crate::cluster::Api::Scheduler && e.is_retryable())
        {
            self.scheduler_answers = false;
        }
        if let Some((c, instances)) = &snap.ec2 {
            self.on_ec2(c.received, instances);
        }
        if let Some((c, asg)) = &snap.asg {
            let acts = snap.activities.as_ref().map(|(_, a)| a.as_slice());
            self.on_asg(c.received, asg, acts, &snap.members);
        }
        if let Some((c, agents)) = &snap.agents {
            self.on_agents(c.received, agents);
        }
        if let Some((c, pods)) = &snap.pods {
            self.on_pods(c.received, pods);
        }
        if let Some((c, plan)) = &snap.recovery {
            self.on_recovery(c.received, plan);
            self.on_ring(*c, plan);
        }
        // The group's read brackets its phases (the activities ride along with it); the
        // watch feed only reads what the others read.
        for (feed, called) in [
            (Feed::Ec2, snap.ec2.as_ref().map(|x| x.0)),
            (Feed::Asg, snap.asg.as_ref().map(|x| x.0)),
            (Feed::Agents, snap.agents.as_ref().map(|x| x.0)),
            (Feed::Pods, snap.pods.as_ref().map(|x| x.0)),
            (Feed::Recovery, snap.recovery.as_ref().map(|x| x.0)),
        ] {
            if let Some(c) = called {
                self.prev[feed] = c.sent;
            }
        }
        // Only a phase every victim has now and the run did not have yet rolls up.
        let new = self
            .tracks
            .iter()
            .fold(!self.run_phases.seen(), |m, t| m & t.phases.seen());
        let phases: Vec<_> = match new {
            0 => Vec::new(),
            _ => Phase::ALL
                .into_iter()
                .filter(|p| new & (1 << *p as u32) != 0)
                .filter_map(|p| self.roll_up(p))
                .collect(),
        };
        self.note_changes(snap, &phases);
        phases
    }

    /// A run-level phase exists once every victim has it; it is the latest of them. Each
    /// victim's truth lies in `[at − error, at + error]`, so the latest lies in
    /// `[max of the lows, max of the highs]`: that interval is reported.
    fn roll_up(&mut self, phase: Phase) -> Option<(Phase, Observed)> {
        if self.run_phases.contains_key(&phase) {
            return None;
        }
        let mut span: Option<(i64, i64, Source)> = None;
        for t in &self.tracks {
            let o = *t.phases.get(&phase)?;
            let (lo, hi) = (
                o.at.as_millis() - o.error_ms as i64,
                o.at.as_millis() + o.error_ms as i64,
            );
            span = Some(match span {
                None => (lo, hi, o.source),
                Some((l, h, s)) => (l.max(lo), h.max(hi), if hi > h { o.source } else { s }),
            });
        }
        let (lo, hi, source) = span?;
        let half = (hi - lo + 1) / 2;
        let o = Observed {
            at: Timestamp::from_millis(hi - half),
            error_ms: half as u64,
            source,
        };
        self.run_phases.insert(phase, o);
        Some((phase, o))
    }

    fn bracket(&self, feed: Feed, now: Timestamp, source: Source) -> Observed {
        Observed::between_polls(self.prev[feed], now, source)
    }

    fn on_ec2(&mut self, now: Timestamp, instances: &[InstanceObs]) {
        if !self.fault.leaves_running() {
            return;
        }
        let obs = self.bracket(Feed::Ec2, now, Source::PollEc2);
        for t in &mut self.tracks {
            if t.phases.contains_key(&Phase::InstanceTerminated) {
                continue;
            }
            let gone = match crate::cluster::find_of(instances, &t.victim.instance.0, |i| &i.id.0) {
                Some(i) => matches!(i.state, InstanceState::Terminated | InstanceState::Stopped),
                // Terminated instances drop out of DescribeInstances after a while.
                None => true,
            };
            if gone {
                t.phases.insert(Phase::InstanceTerminated, obs);
            }
        }
    }

    fn on_asg(
        &mut self,
        now: Timestamp,
        asg: &AsgObs,
        activities: Option<&[ActivityObs]>,
        members: &[InstanceObs],
    ) {
        // Every replacement known with its IP and both group phases: nothing left to learn
        // (the stop-condition watch keeps reading the group).
        if self.tracks.iter().all(|t| {
            t.replacement_ip.is_some()
                && t.phases.contains_key(&Phase::ReplacementLaunched)
                && t.phases.contains_key(&Phase::ReplacementInService)
        }) {
            return;
        }
        self.activities_seen |= activities.is_some_and(|a| !a.is_empty());
        self.assign_replacements(asg, activities);
        let poll = Observed::between_polls(self.prev[Feed::Asg], now, Source::PollAutoScaling);
        for t in &mut self.tracks {
            let Some(repl) = &t.replacement else { continue };
            let described = members.iter().find(|i| &i.id == repl);
            if t.replacement_ip.is_none() {
                t.replacement_ip = described.and_then(|i| i.private_ip.clone());
            }
            let activity = activities.and_then(|a| {
                a.iter()
                    .find(|a| a.launched_instance().as_ref() == Some(repl))
            });
            t.named |= activity.is_some();
            if let Some(slot) = t.phases.vacant(Phase::ReplacementLaunched) {
                let launch = match activity {
                    Some(a) => Some(Observed::exact(a.start_time, Source::AsgActivity)),
                    None => described
                        .map(|i| Observed::whole_second(i.launch_time, Source::Ec2LaunchTime)),
                };
                if let Some(o) = launch {
                    *slot = Some(o);
                }
            }
            if let Some(slot) = t.phases.vacant(Phase::ReplacementInService) {
                let done = activity.filter(|a| a.status == ActivityStatus::Successful);
                let in_service = asg
                    .instances
                    .iter()
                    .any(|m| &m.id == repl && m.lifecycle == LifecycleState::InService);
                match done.and_then(|a| a.end_time) {
                    Some(end) => {
                        *slot = Some(Observed::whole_second(end, Source::AsgActivity));
                    }
                    None if in_service => {
                        *slot = Some(poll);
                    }
                    None => {}
                }
            }
        }
    }

    /// New members of the group, oldest launch first, go to the victims still waiting for a
    /// replacement.
    fn assign_replacements(&mut self, asg: &AsgObs, activities: Option<&[ActivityObs]>) {
        let mut fresh: Vec<&InstanceId> = asg
            .instances
            .iter()
            .map(|m| &m.id)
            .filter(|id| !self.baseline.asg_members.contains(*id))
            .filter(|id| {
                !self
                    .tracks
                    .iter()
                    .any(|t| t.replacement.as_ref() == Some(*id))
            })
            .collect();
        let launched_at = |id: &InstanceId| {
            activities
                .and_then(|a| {
                    a.iter()
                        .find(|a| a.launched_instance().as_ref() == Some(id))
                })
                .map(|a| a.start_time)
        };
        fresh.sort_by_key(|id| (launched_at(id), (*id).clone()));
        let mut fresh = fresh.into_iter();
        for t in &mut self.tracks {
            if t.replacement.is_none() {
                match fresh.next() {
                    Some(id) => t.replacement = Some(id.clone()),
                    None => break,
                }
            }
        }
    }

    fn on_agents(&mut self, now: Timestamp, agents: &[AgentObs]) {
        let poll = Observed::between_polls(self.prev[Feed::Agents], now, Source::PollMesos);
        let reboot = !self.fault.leaves_running();
        let fault_at = self.prev_fault();
        for t in &mut self.tracks {
            if let Some(old) = &t.victim.agent {
                // Inactive first (its connection dropped), then out of `/slaves` (marked
                // unreachable); a poll may see both at once.
                let listed = crate::cluster::find_of(agents, &old.0, |a| &a.id.0);
                if listed.is_none_or(|a| !a.active)
                    && let Some(slot) = t.phases.vacant(Phase::AgentDisconnected)
                {
                    *slot = Some(poll);
                }
                if listed.is_none()
                    && let Some(slot) = t.phases.vacant(Phase::AgentLost)
                {
                    if t.agent_stamp_expected {
                        t.agent_gone_polled.get_or_insert(poll);
                    } else {
                        *slot = Some(poll);
                    }
                }
            }
            if t.phases.contains_key(&Phase::AgentRegistered) {
                continue;
            }
            let host = if reboot {
                t.victim.private_ip.as_deref()
            } else {
                t.replacement_ip.as_deref()
            };
            let Some(host) = host else { continue };
            let found = agents.iter().find_map(|a| {
                if &*a.hostname != host || !a.active {
                    return None;
                }
                if !self.baseline.agents.contains(&a.id) {
                    return Some((a.id.clone(), a.registered_time));
                }
                // A rebooted host whose agent kept its id re-registers.
                match a.reregistered_time {
                    Some(re) if reboot && re > fault_at => Some((a.id.clone(), re)),
                    _ => None,
                }
            });
            if let Some((id, at)) = found {
                t.new_agent = Some(id);
                t.phases.insert(
                    Phase::AgentRegistered,
                    Observed::exact(at, Source::MesosAgent),
                );
            }
        }
    }

    fn prev_fault(&self) -> Timestamp {
        self.tracks
            .first()
            .and_then(|t| t.phases.get(&Phase::FaultInjected))
            .map_or(self.prev[Feed::Ec2], |o| o.at)
    }

    fn on_pods(&mut self, now: Timestamp, pods: &[PodObs]) {
        let poll = Observed::between_polls(self.prev[Feed::Pods], now, Source::PollScheduler);
        let fault_at = self.prev_fault();
        // A status's time when it stamps the change; a reconciliation answer only says the
        // change came between the fault and the reconciliation (a relaunched scheduler serves
        // stale statuses until then, so the polls before it prove nothing); else the polls.
        let stamped = |task: &TaskObs, stamp: fn(&TaskObs) -> Option<Timestamp>| match (
            stamp(task),
            task.status_time,
        ) {
            (Some(ts), _) => Observed::exact(ts, Source::MesosTaskStatus),
            (None, Some(ts)) => Observed::between_polls(fault_at, ts, Source::PollScheduler),
            (None, None) => poll,
        };
        let task_name = &self.task;
        for t in &mut self.tracks {
            let Some(pod_name) = &t.victim.pod else {
                continue;
            };
            let Some(pod) = crate::cluster::find_of(pods, &pod_name.0, |p| &p.name.0) else {
                continue;
            };
            let task = pod.task(task_name);
            let old = t.victim.task.as_ref();
            // The master stamps the status it sends as it marks the agent unreachable; a
            // relaunched scheduler's reconciliation carries that time as `unreachable_time`.
            let old_task = task.filter(|task| Some(&task.id) == old);
            if let Some(slot) = t.phases.vacant(Phase::AgentLost) {
                match old_task.and_then(TaskObs::agent_removed_stamp) {
                    Some(at) => *slot = Some(Observed::exact(at, Source::MesosTaskStatus)),
                    // Lost without the stamp, or replaced: `/slaves` times it.
                    None if old_task.is_none_or(|t| t.state != Some(TaskState::Running)) => {
                        t.agent_stamp_expected = false;
                        *slot = t.agent_gone_polled;
                    }
                    None => {}
                }
            }
            if let Some(slot) = t.phases.vacant(Phase::TaskLost) {
                // A reconciliation answer's timestamp is the reconciliation's: no stamp of
                // the loss (the polls bracket it then).
                let lost = match task {
                    None => Some(poll),
                    Some(task) if Some(&task.id) == old => match task.state {
                        Some(TaskState::Running) => None,
                        Some(_) => Some(stamped(task, |t| t.lost_stamp())),
                        None => Some(poll),
                    },
                    // The pod already carries another task: the old one is gone.
                    Some(_) => Some(poll),
                };
                if let Some(o) = lost {
                    *slot = Some(o);
                }
            }
            t.relaunching = task.is_some_and(|task| {
                Some(&task.id) != old
                    && matches!(task.state, Some(TaskState::Staging | TaskState::Starting))
            });
            if !t.phases.contains_key(&Phase::TaskRunning)
                && let Some(task) = task
                && Some(&task.id) != old
                && !task.id.as_str().is_empty()
                && task.state == Some(TaskState::Running)
            {
                t.new_task = Some(task.id.clone());
                let o = stamped(task, TaskObs::stamp);
                t.phases.insert(Phase::TaskRunning, o);
            }
        }
    }

    /// Finds and follows the run's ring restart; its end is bracketed by the plan's polls.
    fn on_ring(&mut self, c: Called, plan: &PlanObs) {
        self.plan_read = Some(c.received);
        let victims = &self.victim_pods;
        let find = || Ring::find(plan, &self.task, victims, &self.baseline.recovery_steps);
        match &mut self.ring {
            None => self.ring = find().map(Ring::new),
            // A later replace dropped the ring's phase: follow the phase that superseded it
            // (another seed's), or note that none did.
            Some(ring) if !ring.complete() && !ring.in_plan(plan) => match find() {
                Some(id) => *ring = ring.succeeded_by(id),
                None => ring.drop_out(),
            },
            Some(_) => {}
        }
        let Some(ring) = &mut self.ring else { return };
        if ring.update(plan, &self.task, victims, (c.sent, c.received)) {
            let o = Observed::between_polls(
                self.prev[Feed::Recovery],
                c.received,
                Source::PollScheduler,
            );
            for t in &mut self.tracks {
                t.phases.insert(Phase::RingRestarted, o);
            }
        }
    }

    fn on_recovery(&mut self, now: Timestamp, plan: &PlanObs) {
        let task = &self.task;
        for t in &mut self.tracks {
            if t.phases.contains_key(&Phase::RecoveryComplete) {
                continue;
            }
            let Some(pod) = &t.victim.pod else { continue };
            // A recovery only completes after the task runs again: that bounds the bracket
            // from below even when the plan was not polled before.
            let Some(running) = t.phases.get(&Phase::TaskRunning) else {
                continue;
            };
            let after = Timestamp::from_millis(running.at.as_millis() - running.error_ms as i64);
            let complete = plan.steps().any(|s| {
                // The step `<pod>:[<task>]`.
                s.status == crate::cluster::PlanStatus::Complete
                    && step_pod(&s.name, task) == Some(pod.as_str())
                    && !self.baseline.recovery_steps.contains(&*s.id)
            });
            if complete {
                let lo = self.prev[Feed::Recovery].max(after);
                t.phases.insert(
                    Phase::RecoveryComplete,
                    Observed::between_polls(lo, now, Source::PollScheduler),
                );
            }
        }
    }
}

/// One item of a read as compared with the last read: its id and what it shows of its state.
type Item<'a> = (&'a Arc<str>, [i64; 2]);

/// What a feed's last read showed: each item's id and state, in order. A simulated read
/// shares its ids with the one before and they compare by pointer; a real one compares them
/// as text (a read takes milliseconds there).
#[derive(Clone, Debug, Default)]
struct Shown(Vec<(Arc<str>, [i64; 2])>);

impl Shown {
    /// Whether `items` are what the last read showed.
    fn same<'a>(&self, items: impl Iterator<Item = Item<'a>>) -> bool {
        let mut n = 0;
        for (id, state) in items {
            match self.0.get(n) {
                // The pointer first, by hand: measured, `Arc`'s own equality costs 2 % more
                // instructions a simulated run here.
                Some((known, was)) if *was == state && (Arc::ptr_eq(known, id) || known == id) => {
                    n += 1;
                }
                _ => return false,
            }
        }
        n == self.0.len()
    }

    /// Notes a read: whether it differs from the last one (a first read does).
    fn note<'a>(last: &mut Option<Shown>, items: impl Iterator<Item = Item<'a>> + Clone) -> bool {
        if last.as_ref().is_some_and(|s| s.same(items.clone())) {
            return false;
        }
        let shown = last.get_or_insert_default();
        shown.0.clear();
        shown.0.extend(items.map(|(id, state)| (id.clone(), state)));
        true
    }
}

/// The group's members and their states.
fn group_items(asg: &AsgObs) -> impl Iterator<Item = Item<'_>> + Clone {
    asg.instances
        .iter()
        .map(|m| (&m.id.0, [m.lifecycle as i64, i64::from(m.healthy)]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{StatusCause, StatusReason, StatusSource};

    fn victim(id: &str) -> Victim {
        Victim {
            instance: InstanceId::new(id),
            private_ip: None,
            asg: None,
            agent: None,
            pod: None,
            task: None,
        }
    }

    fn at(ms: i64) -> Timestamp {
        Timestamp::from_millis(ms)
    }

    /// A tracker of one victim on agent S4 running node-4, the fault sent at 0.
    fn node_4_victim() -> Tracker {
        let v = Victim {
            agent: Some(AgentId::new("S4")),
            pod: Some(PodName::new("node-4")),
            task: Some(TaskId::new("t-old")),
            ..victim("i-a")
        };
        Tracker::new(
            FaultKind::TerminateInstance,
            "server",
            Baseline::default(),
            vec![v],
            at(0),
        )
    }

    /// The old task, lost, as a pod read at `ms` shows it.
    fn lost_read(t: &mut Tracker, ms: i64, cause: StatusCause) -> Vec<(Phase, Observed)> {
        let task = TaskObs {
            name: "node-4-server".into(),
            id: TaskId::new("t-old"),
            state: Some(TaskState::Unreachable),
            agent: Some(AgentId::new("S4")),
            status_time: Some(at(ms - 1_000)),
            cause,
        };
        let pod = PodObs {
            name: PodName::new("node-4"),
            tasks: [task].into(),
        };
        let called = Called {
            sent: at(ms),
            received: at(ms),
        };
        t.update(&Snapshot {
            pods: Some((called, vec![pod])),
            ..Default::default()
        })
    }

    fn phase(phases: &[(Phase, Observed)], p: Phase) -> Observed {
        phases.iter().find(|(q, _)| *q == p).unwrap().1
    }

    #[test]
    fn a_reconciliation_timestamp_is_no_stamp_of_the_loss() {
        let reconciled = |unreachable| StatusCause {
            source: Some(StatusSource::Master),
            reason: Some(StatusReason::Reconciliation),
            unreachable_time: unreachable,
        };
        // With the agent's unreachable time, both phases are stamped by it.
        let mut t = node_4_victim();
        let phases = lost_read(&mut t, 700_000, reconciled(Some(at(320_000))));
        for p in [Phase::TaskLost, Phase::AgentLost] {
            let o = phase(&phases, p);
            assert_eq!(
                (o.at, o.error_ms, o.source),
                (at(320_000), 1, Source::MesosTaskStatus)
            );
        }
        // Without it, the loss lies between the fault and the reconciliation (699 s): the
        // polls before the answer proved nothing, and `/slaves` times the agent's loss.
        let mut t = node_4_victim();
        let phases = lost_read(&mut t, 700_000, reconciled(None));
        let o = phase(&phases, Phase::TaskLost);
        assert_eq!((o.at, o.error_ms), (at(349_500), 349_500));
        assert_ne!(o.source, Source::MesosTaskStatus);
        assert!(phases.iter().all(|(p, _)| *p != Phase::AgentLost));
        // The master's own update as it removes the agent is a stamp of both.
        let mut t = node_4_victim();
        let removed = StatusCause {
            source: Some(StatusSource::Master),
            reason: Some(StatusReason::SlaveRemoved),
            unreachable_time: None,
        };
        let phases = lost_read(&mut t, 330_000, removed);
        for p in [Phase::TaskLost, Phase::AgentLost] {
            assert_eq!(phase(&phases, p).at, at(329_000));
            assert_eq!(phase(&phases, p).error_ms, 1);
        }
    }

    #[test]
    fn a_read_that_differs_from_the_last_one_of_its_feed_is_a_change() {
        let mut t = Tracker::new(
            FaultKind::RebootInstance,
            "server",
            Baseline::default(),
            vec![victim("i-a")],
            at(0),
        );
        let agent = |id: &str, active: bool| AgentObs {
            id: AgentId::new(id),
            hostname: "10.0.1.5".into(),
            active,
            registered_time: at(0),
            reregistered_time: None,
            public: false,
        };
        let read = |t: &mut Tracker, agents: Vec<AgentObs>, ms: i64| {
            let called = Called {
                sent: at(ms),
                received: at(ms),
            };
            t.update(&Snapshot {
                agents: Some((called, agents)),
                ..Default::default()
            });
            t.changed()
        };
        // The first read of a feed is a change (nothing was known), the same again is none.
        assert!(read(&mut t, vec![agent("S1", true)], 1_000).has(Feed::Agents));
        assert_eq!(
            read(&mut t, vec![agent("S1", true)], 2_000),
            Feeds::default()
        );
        // An agent going inactive, one appearing: changes; nothing read of the others.
        let c = read(&mut t, vec![agent("S1", false)], 3_000);
        assert!(c.has(Feed::Agents) && !c.has(Feed::Pods) && !c.has(Feed::Asg));
        assert!(read(&mut t, vec![agent("S1", false), agent("S2", true)], 4_000).has(Feed::Agents));
        // A poll that did not read the feed shows no change of it.
        assert_eq!(t.update(&Snapshot::default()), Vec::new());
        assert_eq!(t.changed(), Feeds::default());
    }

    #[test]
    fn a_run_level_phase_spans_the_latest_truth_any_victim_allows() {
        let mut t = Tracker::new(
            FaultKind::TerminateInstance,
            "server",
            Baseline::default(),
            vec![victim("i-a"), victim("i-b")],
            at(0),
        );
        // Victim a: bracketed in [10 000, 20 000]; victim b: exact at 16 000 (± 1 ms). The
        // latest truth can be anywhere in [15 999, 20 000]: b's exact time would miss it.
        t.tracks[0].phases.insert(
            Phase::TaskLost,
            Observed::between_polls(at(10_000), at(20_000), Source::PollScheduler),
        );
        t.tracks[1].phases.insert(
            Phase::TaskLost,
            Observed::exact(at(16_000), Source::MesosTaskStatus),
        );
        let (_, o) = t.roll_up(Phase::TaskLost).expect("both victims have it");
        assert_eq!((o.at, o.error_ms), (at(17_999), 2_001));
        assert_eq!(o.source, Source::PollScheduler);
        // One victim alone: its own observation, unchanged.
        let mut one = Tracker::new(
            FaultKind::TerminateInstance,
            "server",
            Baseline::default(),
            vec![victim("i-a")],
            at(0),
        );
        let b = Observed::between_polls(at(10_000), at(15_001), Source::PollScheduler);
        one.tracks[0].phases.insert(Phase::TaskLost, b);
        let (_, o) = one.roll_up(Phase::TaskLost).unwrap();
        assert_eq!((o.at, o.error_ms), (b.at, b.error_ms));
        // Not every victim has it yet: no run-level phase.
        one.tracks[0].phases = PhaseMap::default();
        assert!(one.roll_up(Phase::TaskLost).is_none());
    }
}
