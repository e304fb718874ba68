//! Adaptive polling: each API is asked on its own cadence, densely while a transition it
//! shows may be near or is under way, gently otherwise.
//!
//! - A phase only a poll can time (instance terminated, agent lost, recovery complete) needs
//!   the short `poll_interval`: its error bound is half the gap between two polls. So does the
//!   phase a heal waits for: the operator reacts to it.
//! - A phase the server timestamps itself (scaling activities, Mesos registration and task
//!   status times) is exact whenever it is read: its API is polled every `max_poll_interval`,
//!   as long as the stamp is sure to come. A phase whose stamp did not arrive is a polled
//!   phase: the group's `InService` once the group shows a replacement no activity names, or
//!   while no activity came since the fault and no earlier run had the stamp (the first run:
//!   anything may happen); a phase an earlier run of the suite had to time by polling, when a
//!   verdict leans on it.
//! - Change drives the rest. A feed that shows a change (a state transition, an instance,
//!   agent or task appearing or leaving, a plan step moving) is read again after
//!   `poll_interval`, then twice as late at each read that shows none, up to
//!   `max_poll_interval`.
//! - The recovery plan is polled once a victim's new task runs; the bracket of its recovery
//!   starts at the task's own RUNNING timestamp. While a victim's pod shows the new task launched but not running, the
//!   pod is read at least as often as the quickest recovery of the suite took after RUNNING
//!   (densely in a first run), so that the plan's first read comes before it completes.
//! - Once a suite has seen a phase, a short-interval phase is only polled often from half
//!   its earliest time after the fault on (the unreachable-agent timeout takes minutes: the
//!   task cannot be lost before), unless that quiet window would be shorter than two gentle
//!   polls (instance terminated, agent lost: seconds after the fault). A phase that comes
//!   that much earlier than ever still gets an honest, wider bound.

use crate::scenario::{HealPolicy, Scenario};
use crate::time::{Dur, Timestamp};
use crate::vocab::Phase;

use super::feed::{Feed, Feeds, PerFeed};
use super::observe::{GroupStamp, Tracker};

/// The earliest each phase was seen after the fault in this suite's runs so far (the lower
/// edge of its bound), and whether a poll ever had to time it (its server stamp did not
/// arrive).
#[derive(Clone, Debug, Default)]
pub(crate) struct History {
    earliest: [Option<Dur>; Phase::ALL.len()],
    polled: [bool; Phase::ALL.len()],
    /// The shortest time from the task running again to the recovery's completion (upper
    /// edge of the one to the lower edge of the other).
    recovery_lag: Option<Dur>,
}

impl History {
    /// Remembers a finished run's phases.
    pub(crate) fn learn(&mut self, tracker: &Tracker, fault_at: Timestamp) {
        for p in Phase::ALL {
            if let Some(o) = tracker.get(p) {
                let lo = Timestamp::from_millis(o.at.as_millis() - o.error_ms as i64);
                let after = lo.since(fault_at);
                let earliest = &mut self.earliest[p as usize];
                *earliest = Some(earliest.map_or(after, |d| d.min(after)));
                self.polled[p as usize] |= o.source.is_poll();
            }
        }
        if let (Some(run), Some(done)) = (
            tracker.get(Phase::TaskRunning),
            tracker.get(Phase::RecoveryComplete),
        ) {
            let lag = (done.at.as_millis() - done.error_ms as i64)
                - (run.at.as_millis() + run.error_ms as i64);
            let lag = Dur::from_millis(lag.max(0) as u64);
            self.recovery_lag = Some(self.recovery_lag.map_or(lag, |d| d.min(lag)));
        }
    }

    /// Whether earlier runs saw `phase` and a server stamp timed it every time.
    fn stamped(&self, phase: Phase) -> bool {
        self.earliest[phase as usize].is_some() && !self.polled[phase as usize]
    }

    /// Whether a poll had to time `phase` in an earlier run: its stamp may not come.
    fn polled(&self, phase: Phase) -> bool {
        self.polled[phase as usize]
    }

    /// Whether `phase` may be near `elapsed` after the fault: always until it was seen once,
    /// then from half its earliest time on. A quiet window shorter than two gentle polls
    /// saves nothing worth a wider bound: a phase that early is always near.
    fn near(&self, phase: Phase, elapsed: Dur, gentle: Dur) -> bool {
        self.earliest[phase as usize].is_none_or(|earliest| {
            let quiet = earliest.as_millis() / 2;
            quiet < 2 * gentle.as_millis() || elapsed.as_millis() >= quiet
        })
    }
}

/// Whether what the feeds showed says `phase` is under way, whatever earlier runs saw: the
/// group shows a replacement that no activity names and that is not in service yet (its
/// `InService` may come at any poll, earlier than ever before).
fn under_way(phase: Phase, tracker: &Tracker) -> bool {
    phase == Phase::ReplacementInService && tracker.in_service_stamp() == GroupStamp::Missing
}

/// When each feed was last asked, and how often it is asked now.
#[derive(Clone, Debug)]
pub(crate) struct Cadence {
    dense: Dur,
    gentle: Dur,
    heal_waits_for: Option<Phase>,
    /// The phases a verdict leans on: an expectation's, an SLO's ends, the heal's trigger.
    judged: [bool; Phase::ALL.len()],
    /// Pods and the group are watched to the end for the stop conditions.
    watch: bool,
    /// The fault replaces the instance: the group shows the replacement's IP.
    replaces: bool,
    /// The scenario watches a service: the watch reads DC/OS, else the group.
    service: bool,
    /// `max_requests_per_minute`: the cadence plans no more than that per service.
    budget: u32,
    /// The shortest interval at which even the service with the most feeds stays within the
    /// budget, every feed read that often.
    roomy: Dur,
    last: PerFeed<Timestamp>,
    /// Reads of each feed in a row that showed no change since its last change.
    calm: PerFeed<u32>,
    /// Whether the feed showed a change in this run.
    moved: PerFeed<bool>,
}

impl Cadence {
    /// Every feed counts as asked at `fault_sent`. `group`: the group to watch is known.
    pub(crate) fn new(sc: &Scenario, fault_sent: Timestamp, group: bool) -> Self {
        let heal_waits_for = match sc.heal {
            HealPolicy::ReplaceOnTaskLost => Some(Phase::TaskLost),
            HealPolicy::ReplaceAfterAgentRegistered => Some(Phase::AgentRegistered),
            HealPolicy::ReplaceImmediately | HealPolicy::None => None,
        };
        let mut judged = [false; Phase::ALL.len()];
        let slo_ends = sc.slos.0.iter().flat_map(|s| {
            let (from, to) = s.metric.span();
            [from, to]
        });
        for p in sc
            .expect
            .iter()
            .map(|e| e.phase)
            .chain(slo_ends)
            .chain(heal_waits_for)
        {
            judged[p as usize] = true;
        }
        let mut cadence = Self {
            dense: sc.poll_interval,
            gentle: sc.max_poll_interval(),
            heal_waits_for,
            judged,
            watch: sc.service.is_some() || group,
            replaces: sc.fault.leaves_running(),
            service: sc.service.is_some(),
            budget: sc.request_budget(),
            roomy: Dur::ZERO,
            last: PerFeed::splat(fault_sent),
            calm: PerFeed::splat(0),
            moved: PerFeed::splat(false),
        };
        let mut feeds = [0u64; 3];
        for f in Feed::ALL {
            feeds[cadence.service(f)] += 1;
        }
        let most = feeds.into_iter().max().unwrap_or(0);
        cadence.roomy =
            Dur::from_millis((most * 60_000).div_ceil(u64::from(cadence.budget).max(1)));
        cadence
    }

    /// Notes what the last poll showed: `asked` were read, `changed` showed a change.
    pub(crate) fn shown(&mut self, asked: Feeds, changed: Feeds) {
        for f in Feed::ALL {
            if changed.has(f) {
                self.calm[f] = 0;
                self.moved[f] = true;
            } else if asked.has(f) {
                self.calm[f] = self.calm[f].saturating_add(1);
            }
        }
    }

    /// How often a feed with awaited phases is read while none of them presses: densely after
    /// a change it showed, backing off (twice the interval at each read that shows none)
    /// towards `max_poll_interval`; gently before its first change.
    fn settled(&self, feed: Feed) -> Dur {
        if !self.moved[feed] {
            return self.gentle;
        }
        let backed_off = self
            .dense
            .as_millis()
            .saturating_mul(1 << self.calm[feed].min(20));
        Dur::from_millis(backed_off.min(self.gentle.as_millis()))
    }

    /// Whether a poll can only time `phase` to within half its interval, or someone waits for
    /// it. `agent_lost` is stamped by the old task's status (the master's `TASK_UNREACHABLE`
    /// / `LOST`, sent as it marks the agent unreachable) while the scheduler serves it. The group's `InService` is a polled phase until activities promise a stamp, unless
    /// every earlier run had one; a phase whose stamp an earlier run did not get is a polled
    /// phase when a verdict leans on it (an expectation, an SLO, the heal: the others are
    /// read as their feed moves, which keeps the request budget).
    fn pressing(&self, phase: Phase, tracker: &Tracker, history: &History) -> bool {
        if matches!(
            phase,
            Phase::InstanceTerminated
                | Phase::AgentDisconnected
                | Phase::RecoveryComplete
                | Phase::RingRestarted
        ) || (phase == Phase::AgentLost && !tracker.agent_lost_stamp_expected())
            || self.heal_waits_for == Some(phase)
            || (history.polled(phase) && self.judged[phase as usize])
        {
            return true;
        }
        phase == Phase::ReplacementInService
            && match tracker.in_service_stamp() {
                GroupStamp::Missing => true,
                GroupStamp::Promised => false,
                GroupStamp::Unknown => !history.stamped(phase),
            }
    }

    /// Per feed, whether it awaits one of the `pending` phases and, if so, whether one of them
    /// presses now: one pass over the phases for every feed.
    fn pressed(
        &self,
        pending: &[Phase],
        tracker: &Tracker,
        history: &History,
        elapsed: Dur,
    ) -> PerFeed<Option<bool>> {
        let mut pressed = PerFeed::splat(None);
        for &p in pending {
            let Some(feed) = Feed::of(p) else { continue };
            if pressed[feed] != Some(true) {
                pressed[feed] = Some(
                    self.pressing(p, tracker, history)
                        && (history.near(p, elapsed, self.gentle) || under_way(p, tracker)),
                );
            }
        }
        pressed
    }

    /// How often `feed` is asked now; `None`: not at all. `pressed`: whether the feed awaits
    /// phases and whether one of them presses; `pending`: the phases still awaited.
    fn interval(
        &self,
        feed: Feed,
        pressed: Option<bool>,
        pending: &[Phase],
        tracker: &Tracker,
        history: &History,
    ) -> Option<Dur> {
        let Some(dense) = pressed else {
            // The new agent is matched by its host's IP, which the group's new member gives.
            let needs_ip = feed == Feed::Asg
                && self.replaces
                && pending.contains(&Phase::AgentRegistered)
                && !tracker.replacement_ips_known();
            let watching = feed == Feed::Watch && self.watch;
            return (needs_ip || watching).then_some(self.gentle);
        };
        if feed == Feed::Recovery && !tracker.any_victim(Phase::TaskRunning) {
            // A victim's recovery only completes after its task runs again (and a later
            // replace may drop its completed step from the plan: read it from the first).
            return None;
        }
        let every = if dense {
            self.dense
        } else {
            self.settled(feed)
        };
        Some(
            match self.awaiting_running(feed, pending, tracker, history) {
                Some(d) => every.min(d),
                None => every,
            },
        )
    }

    /// The recovery plan is asked only once the task runs again, and its bracket starts at
    /// the task's RUNNING. While a victim's pod shows its new task launched but not running,
    /// the pod is read at least as often as the shortest recovery of the suite took after
    /// RUNNING (densely without one): the plan's first read then comes before the recovery
    /// completes, unless this one is the quickest yet.
    fn awaiting_running(
        &self,
        feed: Feed,
        pending: &[Phase],
        tracker: &Tracker,
        history: &History,
    ) -> Option<Dur> {
        (feed == Feed::Pods
            && pending.contains(&Phase::TaskRunning)
            && pending.contains(&Phase::RecoveryComplete)
            && tracker.relaunching())
        .then(|| {
            history
                .recovery_lag
                .map_or(self.dense, |lag| lag.max(self.dense))
        })
    }

    /// When the next poll is due, and which feeds it asks then. `None`: nothing to ask.
    pub(crate) fn next(
        &self,
        pending: &[Phase],
        tracker: &Tracker,
        history: &History,
        fault_at: Timestamp,
        now: Timestamp,
    ) -> Option<(Timestamp, Feeds)> {
        let pressed = self.pressed(pending, tracker, history, now.since(fault_at));
        // Plain loops over the feeds: this runs at every wake of every run.
        let mut every = [None; Feed::ALL.len()];
        for f in Feed::ALL {
            every[f as usize] = self.interval(f, pressed[f], pending, tracker, history);
        }
        self.within_budget(&mut every);
        let mut due = [None; Feed::ALL.len()];
        let mut at: Option<Timestamp> = None;
        for f in Feed::ALL {
            if let Some(d) = every[f as usize] {
                let t = self.last[f].saturating_add(d);
                due[f as usize] = Some(t);
                at = Some(at.map_or(t, |a| a.min(t)));
            }
        }
        let at = at?;
        // Feeds due shortly after are asked in the same poll: fewer wake-ups, each feed at
        // most half a short interval early.
        let slack = at.saturating_add(Dur::from_millis(self.dense.as_millis() / 2));
        let mut feeds = Feeds::default();
        for f in Feed::ALL {
            if due[f as usize].is_some_and(|t| t <= slack) {
                feeds.insert(f);
            }
        }
        Some((at.max(now), feeds))
    }

    /// The service whose budget a read of `feed` spends.
    fn service(&self, feed: Feed) -> usize {
        match feed {
            Feed::Ec2 => 0,
            Feed::Asg => 1,
            Feed::Watch if !self.service => 1,
            Feed::Agents | Feed::Pods | Feed::Recovery | Feed::Watch => 2,
        }
    }

    /// Stretches the intervals of a service whose feeds, read that often, would ask more
    /// than its request budget: its polls are spread evenly, never held back in a burst until
    /// the budget's minute has passed (a bracket of up to a minute).
    fn within_budget(&self, every: &mut [Option<Dur>; Feed::ALL.len()]) {
        // Every feed at `roomy` or longer: no service can spend its budget (the common case,
        // and no division).
        if every.iter().flatten().all(|d| *d >= self.roomy) {
            return;
        }
        // Requests per minute, in thousandths. Without a service the watch's read is the
        // group's.
        let mut wanted = [0u64; 3];
        for f in Feed::ALL {
            let rides = f == Feed::Watch && !self.service && every[Feed::Asg as usize].is_some();
            if let (Some(d), false) = (every[f as usize], rides) {
                wanted[self.service(f)] += 60_000_000 / d.as_millis().max(1);
            }
        }
        let allowed = u64::from(self.budget).saturating_mul(1000).max(1);
        for f in Feed::ALL {
            let w = wanted[self.service(f)];
            if let Some(d) = &mut every[f as usize]
                && w > allowed
            {
                *d = Dur::from_millis(d.as_millis().saturating_mul(w).div_ceil(allowed));
            }
        }
    }

    /// Records that `feeds` were asked at `at`.
    pub(crate) fn asked(&mut self, feeds: Feeds, at: Timestamp) {
        for f in Feed::ALL {
            if feeds.has(f) {
                self.last[f] = at;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runner::observe::Baseline;
    use crate::vocab::FaultKind;

    const AWAITED: [Phase; 8] = [
        Phase::InstanceTerminated,
        Phase::ReplacementLaunched,
        Phase::ReplacementInService,
        Phase::AgentLost,
        Phase::AgentRegistered,
        Phase::TaskLost,
        Phase::TaskRunning,
        Phase::RecoveryComplete,
    ];

    /// The reference scenario: poll_interval 5 s, max_poll_interval defaulted to 30 s, heal
    /// once the task is lost.
    fn reference() -> Scenario {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/cassandra-node-replace.yaml");
        let sc = crate::scenario::load_paths(&[path])
            .unwrap()
            .remove(0)
            .scenario;
        assert_eq!(sc.poll_interval, Dur::from_secs(5));
        assert_eq!(sc.max_poll_interval(), Dur::from_secs(30));
        sc
    }

    fn fault() -> Timestamp {
        crate::cluster::sim::EPOCH
    }

    fn after(d: Dur) -> Timestamp {
        fault().saturating_add(d)
    }

    fn fresh_tracker() -> Tracker {
        Tracker::new(
            FaultKind::TerminateInstance,
            "server",
            Baseline::default(),
            Vec::new(),
            fault(),
        )
    }

    fn feeds(f: Feeds) -> Vec<Feed> {
        Feed::ALL.into_iter().filter(|x| f.has(*x)).collect()
    }

    impl History {
        /// One earlier run, which saw `p` at `earliest`.
        fn seen(p: Phase, earliest: Dur) -> Self {
            let mut h = Self::default();
            h.earliest[p as usize] = Some(earliest);
            h
        }
    }

    /// The first poll a fresh run of a fresh suite makes while `pending` are awaited.
    /// A one-victim tracker whose last poll saw the scheduler refuse a call (Admin Router's
    /// 502 while it is down).
    fn refused_tracker() -> Tracker {
        let mut t = fresh_tracker();
        t.update(&super::super::observe::Snapshot {
            errors: vec![crate::cluster::ClusterError::Transient {
                api: crate::cluster::Api::Scheduler,
                message: "HTTP 502: Bad Gateway".into(),
            }],
            ..Default::default()
        });
        t
    }

    fn first_poll(c: &Cadence, pending: &[Phase]) -> (Timestamp, Feeds) {
        c.next(
            pending,
            &fresh_tracker(),
            &History::default(),
            fault(),
            fault(),
        )
        .unwrap()
    }

    #[test]
    fn without_history_poll_timed_phases_and_the_heals_trigger_are_polled_densely() {
        let sc = reference();
        let c = Cadence::new(&sc, fault(), true);
        let (at, f) = first_poll(&c, &AWAITED);
        assert_eq!(at, after(Dur::from_secs(5)));
        // Instance terminated (EC2), the group's InService (no activity has promised a stamp
        // yet, and no earlier run had one) and task lost (the heal's trigger); not agent lost
        // (the old task's status stamps it while the scheduler answers), nor the recovery
        // plan (no task runs again yet).
        assert_eq!(feeds(f), [Feed::Ec2, Feed::Asg, Feed::Pods]);
    }

    #[test]
    fn agent_lost_is_polled_densely_only_while_the_scheduler_does_not_answer() {
        let sc = reference();
        let c = Cadence::new(&sc, fault(), true);
        let t0 = fresh_tracker();
        let next = |t: &Tracker| {
            c.next(
                &[Phase::AgentLost],
                t,
                &History::default(),
                fault(),
                fault(),
            )
            .unwrap()
            .0
        };
        assert_eq!(next(&t0), after(Dur::from_secs(30)));
        let t = refused_tracker();
        assert_eq!(next(&t), after(Dur::from_secs(5)));
    }

    #[test]
    fn server_stamped_phases_are_polled_gently() {
        let sc = reference();
        let c = Cadence::new(&sc, fault(), true);
        let pending = [Phase::ReplacementLaunched, Phase::ReplacementInService];
        // Earlier runs had the activities' stamps.
        let history = History::seen(Phase::ReplacementInService, Dur::from_secs(20));
        let (at, f) = c
            .next(&pending, &fresh_tracker(), &history, fault(), fault())
            .unwrap();
        assert_eq!(at, after(Dur::from_secs(30)));
        // The pods are watched for the stop conditions, gently too.
        assert_eq!(feeds(f), [Feed::Asg, Feed::Watch]);
    }

    /// The group with the victim's replacement `i-new` (in service or not) and the
    /// activities the poll listed.
    fn group_poll(tracker: &mut Tracker, at: Timestamp, in_service: bool, acts: &[&str]) {
        use crate::cluster::{
            ActivityObs, ActivityStatus, AsgMemberObs, AsgObs, InstanceId, LifecycleState,
        };
        let called = super::super::observe::Called {
            sent: at,
            received: at,
        };
        let asg = AsgObs {
            name: "g".into(),
            desired_capacity: 1,
            min_size: 1,
            max_size: 1,
            tags: crate::cluster::Tags::default(),
            instances: vec![AsgMemberObs {
                id: InstanceId::new("i-new"),
                lifecycle: if in_service {
                    LifecycleState::InService
                } else {
                    LifecycleState::Pending
                },
                healthy: true,
            }],
        };
        let activities = acts
            .iter()
            .map(|d| ActivityObs {
                id: d.to_string(),
                description: d.to_string(),
                cause: String::new(),
                start_time: at,
                end_time: None,
                status: ActivityStatus::InProgress,
            })
            .collect();
        tracker.update(&super::super::observe::Snapshot {
            asg: Some((called, asg)),
            activities: Some((called, activities)),
            ..Default::default()
        });
    }

    fn one_victim_tracker() -> Tracker {
        victim_tracker(None)
    }

    /// A tracker of one terminated victim `i-old`, with its pod and task when given.
    fn victim_tracker(pod: Option<(&str, &str)>) -> Tracker {
        use crate::cluster::{PodName, TaskId};
        Tracker::new(
            FaultKind::TerminateInstance,
            "server",
            Baseline::default(),
            vec![crate::journal::Victim {
                instance: crate::cluster::InstanceId::new("i-old"),
                private_ip: None,
                asg: None,
                agent: None,
                pod: pod.map(|(p, _)| PodName::new(p)),
                task: pod.map(|(_, t)| TaskId::new(t)),
            }],
            fault(),
        )
    }

    fn asg_every(c: &Cadence, tracker: &Tracker, history: &History, now: Timestamp) -> Dur {
        let pending = [Phase::ReplacementInService];
        let (at, f) = c.next(&pending, tracker, history, fault(), now).unwrap();
        assert!(f.has(Feed::Asg));
        at.since(now)
    }

    #[test]
    fn the_groups_in_service_is_polled_densely_while_no_activity_promises_a_stamp() {
        let sc = reference();
        let stamped = History::seen(Phase::ReplacementInService, Dur::from_secs(20));
        let (dense, gentle) = (Dur::from_secs(5), Dur::from_secs(30));
        let mut c = Cadence::new(&sc, fault(), true);
        let now = after(Dur::from_secs(10));
        c.asked(Feeds(u8::MAX), now);

        // No activity, no replacement yet: dense on a first run, gentle after runs that
        // always had the stamp.
        let mut t = one_victim_tracker();
        assert_eq!(t.in_service_stamp(), GroupStamp::Unknown);
        assert_eq!(asg_every(&c, &t, &History::default(), now), dense);
        assert_eq!(asg_every(&c, &t, &stamped, now), gentle);

        // The group shows a replacement no activity names: a polled phase, dense whatever
        // the history says, even before half the earliest time an earlier run polled it at.
        group_poll(&mut t, now, false, &[]);
        assert_eq!(t.in_service_stamp(), GroupStamp::Missing);
        assert_eq!(asg_every(&c, &t, &stamped, now), dense);
        assert_eq!(asg_every(&c, &t, &History::default(), now), dense);
        let mut later = History::seen(Phase::ReplacementInService, Dur::from_mins(6));
        later.polled[Phase::ReplacementInService as usize] = true;
        assert_eq!(asg_every(&c, &t, &later, now), dense);
        // Before the replacement shows, that history's quiet window holds.
        assert_eq!(asg_every(&c, &one_victim_tracker(), &later, now), gentle);

        // An activity names it: its EndTime will come, gently.
        let mut t = one_victim_tracker();
        group_poll(&mut t, now, false, &["Launching a new EC2 instance: i-new"]);
        assert_eq!(t.in_service_stamp(), GroupStamp::Promised);
        assert_eq!(asg_every(&c, &t, &History::default(), now), gentle);

        // Activities came (the victim's termination) but none names the replacement (paged
        // away): dense.
        let mut t = one_victim_tracker();
        group_poll(&mut t, now, false, &["Terminating EC2 instance: i-old"]);
        assert_eq!(t.in_service_stamp(), GroupStamp::Missing);
        assert_eq!(asg_every(&c, &t, &stamped, now), dense);
    }

    /// A tracker of one victim whose pod `node-4` ran task `old`, after a read that shows
    /// the pod's task `id` in `state`.
    fn pod_read(id: &str, state: crate::cluster::TaskState) -> Tracker {
        use crate::cluster::{PodName, PodObs, TaskId, TaskObs};
        let mut t = victim_tracker(Some(("node-4", "old")));
        let called = super::super::observe::Called {
            sent: fault(),
            received: fault(),
        };
        let pod = PodObs {
            name: PodName::new("node-4"),
            tasks: [TaskObs {
                name: "node-4-server".into(),
                id: TaskId::new(id),
                state: Some(state),
                agent: None,
                status_time: Some(fault()),
                cause: Default::default(),
            }]
            .into(),
        };
        t.update(&super::super::observe::Snapshot {
            pods: Some((called, vec![pod])),
            ..Default::default()
        });
        t
    }

    #[test]
    fn a_relaunched_task_is_read_as_often_as_the_quickest_recovery_after_running() {
        use crate::cluster::TaskState;
        let sc = reference();
        let c = Cadence::new(&sc, fault(), true);
        let pending = [Phase::TaskRunning, Phase::RecoveryComplete];
        let pods_every = |tracker: &Tracker, history: &History| {
            let (at, f) = c
                .next(&pending, tracker, history, fault(), fault())
                .unwrap();
            assert!(f.has(Feed::Pods));
            at.since(fault())
        };
        let mut history = History::seen(Phase::TaskRunning, Dur::from_secs(20));
        // The old task still runs: RUNNING again is not near, the pod is read gently.
        let old = pod_read("old", TaskState::Running);
        assert!(!old.relaunching());
        assert_eq!(pods_every(&old, &history), Dur::from_secs(30));
        // The new task is launched: densely while no recovery was timed yet ...
        let staging = pod_read("new", TaskState::Staging);
        assert!(staging.relaunching());
        assert_eq!(pods_every(&staging, &history), Dur::from_secs(5));
        // ... then at the quickest recovery after RUNNING, never more often than densely,
        // never less often than gently.
        for (lag, every) in [(12, 12), (1, 5), (120, 30)] {
            history.recovery_lag = Some(Dur::from_secs(lag));
            assert_eq!(pods_every(&staging, &history), Dur::from_secs(every));
        }
        // Running: nothing is launching any more.
        assert!(!pod_read("new", TaskState::Running).relaunching());
    }

    #[test]
    fn a_feed_that_shows_a_change_is_read_densely_again_then_backs_off() {
        let sc = reference();
        // A later run: agent registration is server-stamped, its feed is read gently.
        let history = History::seen(Phase::AgentRegistered, Dur::from_secs(20));
        let pending = [Phase::AgentRegistered];
        let tracker = fresh_tracker();
        let mut c = Cadence::new(&sc, fault(), true);
        let (mut last, mut clock) = (fault(), fault());
        // Seconds from the last read of the agents to the next; that read shows a change or
        // not. The watch's reads between show none.
        let mut agents_every = |c: &mut Cadence, changed: bool| loop {
            let (at, f) = c
                .next(&pending, &tracker, &history, fault(), clock)
                .unwrap();
            clock = at;
            c.asked(f, at);
            let mut moved = Feeds::default();
            if f.has(Feed::Agents) && changed {
                moved.insert(Feed::Agents);
            }
            c.shown(f, moved);
            if f.has(Feed::Agents) {
                let every = at.since(last).as_millis() / 1000;
                last = at;
                return every;
            }
        };
        assert_eq!(agents_every(&mut c, true), 30);
        // A change: 5 s, then twice as late at each read that shows none, up to 30 s.
        let mut seen = Vec::new();
        for _ in 0..5 {
            seen.push(agents_every(&mut c, false));
        }
        assert_eq!(seen, [5, 10, 20, 30, 30]);
        // Another change: densely again.
        assert_eq!(agents_every(&mut c, true), 30);
        assert_eq!(agents_every(&mut c, false), 5);
    }

    #[test]
    fn a_phase_an_earlier_run_had_to_poll_is_polled_densely() {
        let sc = reference();
        let c = Cadence::new(&sc, fault(), true);
        let tracker = fresh_tracker();
        let mut history = History::seen(Phase::TaskRunning, Dur::from_secs(20));
        let pending = [Phase::TaskRunning];
        let (at, _) = c
            .next(&pending, &tracker, &history, fault(), fault())
            .unwrap();
        assert_eq!(at, after(Dur::from_secs(30)));
        history.polled[Phase::TaskRunning as usize] = true;
        let (at, f) = c
            .next(&pending, &tracker, &history, fault(), fault())
            .unwrap();
        assert_eq!(at, after(Dur::from_secs(5)));
        assert!(f.has(Feed::Pods));
        // Unless no verdict leans on it (no expectation, SLO or heal names the agent's
        // registration): then its feed is read as it moves, gently while it does not.
        let mut history = History::seen(Phase::AgentRegistered, Dur::from_secs(20));
        history.polled[Phase::AgentRegistered as usize] = true;
        let (at, f) = c
            .next(
                &[Phase::AgentRegistered],
                &tracker,
                &history,
                fault(),
                fault(),
            )
            .unwrap();
        assert_eq!(at, after(Dur::from_secs(30)));
        assert!(f.has(Feed::Agents));
    }

    #[test]
    fn a_phase_seen_before_is_polled_densely_only_from_half_its_earliest_time() {
        let sc = reference();
        let history = History::seen(Phase::AgentDisconnected, Dur::from_mins(8));
        let pending = [Phase::AgentDisconnected];
        let tracker = fresh_tracker();
        let mut c = Cadence::new(&sc, fault(), true);
        for (now, every) in [
            (Dur::from_secs(10), Dur::from_secs(30)),
            (Dur::from_secs(3 * 60 + 59), Dur::from_secs(30)),
            (Dur::from_mins(4), Dur::from_secs(5)),
            (Dur::from_mins(9), Dur::from_secs(5)),
        ] {
            let now = after(now);
            c.asked(Feeds(u8::MAX), now);
            let (at, f) = c.next(&pending, &tracker, &history, fault(), now).unwrap();
            assert_eq!(at, now.saturating_add(every), "at {now}");
            assert!(f.has(Feed::Agents));
            assert!(!f.has(Feed::Ec2) && !f.has(Feed::Asg) && !f.has(Feed::Recovery));
        }
    }

    #[test]
    fn a_phase_seen_within_two_gentle_polls_of_the_fault_is_always_polled_densely() {
        let sc = reference();
        // Half of 1m59s is under two 30 s polls: no quiet window.
        let history = History::seen(Phase::AgentDisconnected, Dur::from_secs(119));
        let mut c = Cadence::new(&sc, fault(), true);
        let now = after(Dur::from_secs(1));
        c.asked(Feeds(u8::MAX), now);
        let (at, f) = c
            .next(
                &[Phase::AgentDisconnected],
                &fresh_tracker(),
                &history,
                fault(),
                now,
            )
            .unwrap();
        assert_eq!(at, now.saturating_add(Dur::from_secs(5)));
        assert!(f.has(Feed::Agents));
        // From two minutes on, the window is long enough to be quiet in.
        let history = History::seen(Phase::AgentDisconnected, Dur::from_secs(120));
        let (at, _) = c
            .next(
                &[Phase::AgentDisconnected],
                &fresh_tracker(),
                &history,
                fault(),
                now,
            )
            .unwrap();
        assert_eq!(at, now.saturating_add(Dur::from_secs(30)));
    }

    #[test]
    fn feeds_that_would_ask_more_than_the_budget_are_spread_evenly_within_it() {
        let mut sc = reference();
        sc.poll_interval = Dur::from_secs(1);
        sc.max_requests_per_minute = Some(60);
        // While the scheduler refuses calls, agent lost (Mesos) and task lost (the heal's
        // trigger, the pods) are both read at 1 s, and the watch at 30 s: 122 DC/OS requests
        // a minute against a budget of 60.
        let pending = [Phase::AgentLost, Phase::TaskLost];
        let t = refused_tracker();
        let first = |c: &Cadence| {
            c.next(&pending, &t, &History::default(), fault(), fault())
                .unwrap()
        };
        let (at, f) = first(&Cadence::new(&sc, fault(), true));
        assert_eq!(at, after(Dur::from_millis(2034)));
        assert_eq!(feeds(f), [Feed::Agents, Feed::Pods]);
        // Within the budget: 60 / 2.034 s × 2 + 60 / 61 s < 60 a minute.
        sc.max_requests_per_minute = Some(122);
        let (at, _) = first(&Cadence::new(&sc, fault(), true));
        assert_eq!(at, after(Dur::from_secs(1)));
    }

    #[test]
    fn a_fixed_poller_asks_everything_pending_every_poll_interval() {
        let mut sc = reference();
        sc.poll_interval = Dur::from_secs(1);
        sc.max_poll_interval = Some(Dur::from_secs(1));
        // No budget (the default 60 a minute would spread four DC/OS feeds at 1 s).
        sc.max_requests_per_minute = Some(u32::MAX);
        let c = Cadence::new(&sc, fault(), true);
        let (at, f) = first_poll(&c, &AWAITED);
        assert_eq!(at, after(Dur::from_secs(1)));
        assert_eq!(
            feeds(f),
            [Feed::Ec2, Feed::Asg, Feed::Agents, Feed::Pods, Feed::Watch]
        );
    }

    #[test]
    fn nothing_pending_and_nothing_to_watch_asks_nothing() {
        let mut sc = reference();
        sc.service = None;
        let c = Cadence::new(&sc, fault(), false);
        assert_eq!(
            c.next(&[], &fresh_tracker(), &History::default(), fault(), fault()),
            None
        );
        // A known group is watched for the stop conditions, gently.
        let c = Cadence::new(&sc, fault(), true);
        let (at, f) = c
            .next(&[], &fresh_tracker(), &History::default(), fault(), fault())
            .unwrap();
        assert_eq!(at, after(Dur::from_secs(30)));
        assert_eq!(feeds(f), [Feed::Watch]);
        // With a service, its pods are still watched, gently.
        let c = Cadence::new(&reference(), fault(), true);
        let (at, f) = c
            .next(&[], &fresh_tracker(), &History::default(), fault(), fault())
            .unwrap();
        assert_eq!(at, after(Dur::from_secs(30)));
        assert_eq!(feeds(f), [Feed::Watch]);
    }
}
