//! Adaptive polling: each API is asked on its own cadence, often only while a transition it
//! shows may be near, gently otherwise.
//!
//! - A phase only a poll can time (instance terminated, agent lost, recovery complete) needs
//!   the short `poll_interval`: its error bound is half the gap between two polls. So does the
//!   phase a heal waits for: the operator reacts to it.
//! - A phase the server timestamps itself (scaling activities, Mesos registration and task
//!   status times) is exact whenever it is read: its API is polled every `max_poll_interval`,
//!   as long as the stamp is sure to come. A phase whose stamp did not arrive is a polled
//!   phase: the group's `InService` once the group shows a replacement no activity names, or
//!   while no activity came since the fault and no earlier run had the stamp (the first run:
//!   anything may happen); any phase an earlier run of the suite had to time by polling.
//! - The recovery plan is polled once the new task runs; its bracket starts at the task's own
//!   RUNNING timestamp. So that its polls start in time, the task's RUNNING is awaited
//!   densely unless every earlier recovery of the suite took longer than a gentle poll after
//!   it (a first run: densely).
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

    /// Whether every earlier run's recovery took longer than `d` after the task ran again.
    fn recovers_slower_than(&self, d: Dur) -> bool {
        self.recovery_lag.is_some_and(|lag| lag > d)
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

/// When each feed was last asked, and how often it is asked now.
#[derive(Clone, Debug)]
pub(crate) struct Cadence {
    dense: Dur,
    gentle: Dur,
    heal_waits_for: Option<Phase>,
    /// Pods and the group are watched to the end for the stop conditions.
    watch: bool,
    /// The fault replaces the instance: the group shows the replacement's IP.
    replaces: bool,
    last: PerFeed<Timestamp>,
}

impl Cadence {
    /// Every feed counts as asked at `fault_sent`. `group`: the group to watch is known.
    pub(crate) fn new(sc: &Scenario, fault_sent: Timestamp, group: bool) -> Self {
        Self {
            dense: sc.poll_interval,
            gentle: sc.max_poll_interval(),
            heal_waits_for: match sc.heal {
                HealPolicy::ReplaceOnTaskLost => Some(Phase::TaskLost),
                HealPolicy::ReplaceAfterAgentRegistered => Some(Phase::AgentRegistered),
                HealPolicy::ReplaceImmediately | HealPolicy::None => None,
            },
            watch: sc.service.is_some() || group,
            replaces: sc.fault.leaves_running(),
            last: PerFeed::splat(fault_sent),
        }
    }

    /// Whether a poll can only time `phase` to within half its interval, or someone waits for
    /// it. A phase whose server stamp did not arrive (in this run, or ever in an earlier one)
    /// is a polled phase; so is the group's `InService` until activities promise a stamp,
    /// unless every earlier run had one. The recovery plan is asked only once the task runs
    /// again: unless every earlier recovery took longer than a gentle poll after that, the
    /// task's RUNNING is awaited densely too (else the plan's bracket starts a gentle poll
    /// late).
    fn pressing(
        &self,
        phase: Phase,
        pending: &[Phase],
        tracker: &Tracker,
        history: &History,
    ) -> bool {
        if matches!(
            phase,
            Phase::InstanceTerminated
                | Phase::AgentDisconnected
                | Phase::AgentLost
                | Phase::RecoveryComplete
                | Phase::RingRestarted
        ) || self.heal_waits_for == Some(phase)
            || history.polled(phase)
        {
            return true;
        }
        let a_gentle_poll_late = Dur::from_millis(self.gentle.as_millis() + self.dense.as_millis());
        if phase == Phase::TaskRunning
            && pending.contains(&Phase::RecoveryComplete)
            && !history.recovers_slower_than(a_gentle_poll_late)
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

    /// How often `feed` is asked now; `None`: not at all. `pending`: the phases still
    /// awaited.
    fn interval(
        &self,
        feed: Feed,
        pending: &[Phase],
        tracker: &Tracker,
        history: &History,
        elapsed: Dur,
    ) -> Option<Dur> {
        let mut mine = pending
            .iter()
            .copied()
            .filter(|p| Feed::of(*p) == Some(feed))
            .peekable();
        if mine.peek().is_none() {
            // The new agent is matched by its host's IP, which the group's new member gives.
            let needs_ip = feed == Feed::Asg
                && self.replaces
                && pending.contains(&Phase::AgentRegistered)
                && !tracker.replacement_ips_known();
            let watching = feed == Feed::Watch && self.watch;
            return (needs_ip || watching).then_some(self.gentle);
        }
        if feed == Feed::Recovery && !tracker.has(Phase::TaskRunning) {
            // Recovery only completes after the task runs again.
            return None;
        }
        let dense = mine.any(|p| {
            self.pressing(p, pending, tracker, history) && history.near(p, elapsed, self.gentle)
        });
        Some(if dense { self.dense } else { self.gentle })
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
        let elapsed = now.since(fault_at);
        let due = Feed::ALL.map(|f| {
            let every = self.interval(f, pending, tracker, history, elapsed)?;
            Some((f, self.last[f].saturating_add(every)))
        });
        let at = due.iter().flatten().map(|(_, t)| *t).min()?;
        // Feeds due shortly after are asked in the same poll: fewer wake-ups, each feed at
        // most half a short interval early.
        let slack = at.saturating_add(Dur::from_millis(self.dense.as_millis() / 2));
        let mut feeds = Feeds::default();
        for (f, t) in due.into_iter().flatten() {
            if t <= slack {
                feeds.insert(f);
            }
        }
        Some((at.max(now), feeds))
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
        fn seen(p: Phase, earliest: Dur) -> Self {
            let mut h = Self::default();
            h.earliest[p as usize] = Some(earliest);
            h
        }
    }

    #[test]
    fn without_history_poll_timed_phases_and_the_heals_trigger_are_polled_densely() {
        let sc = reference();
        let c = Cadence::new(&sc, fault(), true);
        let (at, f) = c
            .next(
                &AWAITED,
                &fresh_tracker(),
                &History::default(),
                fault(),
                fault(),
            )
            .unwrap();
        assert_eq!(at, after(Dur::from_secs(5)));
        // Instance terminated (EC2), the group's InService (no activity has promised a stamp
        // yet, and no earlier run had one), agent lost (Mesos) and task lost (the heal's
        // trigger); not the recovery plan (no task runs again yet).
        assert_eq!(feeds(f), [Feed::Ec2, Feed::Asg, Feed::Agents, Feed::Pods]);
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
        Tracker::new(
            FaultKind::TerminateInstance,
            "server",
            Baseline::default(),
            vec![crate::journal::Victim {
                instance: crate::cluster::InstanceId::new("i-old"),
                private_ip: None,
                asg: None,
                agent: None,
                pod: None,
                task: None,
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
        // the history says.
        group_poll(&mut t, now, false, &[]);
        assert_eq!(t.in_service_stamp(), GroupStamp::Missing);
        assert_eq!(asg_every(&c, &t, &stamped, now), dense);
        assert_eq!(asg_every(&c, &t, &History::default(), now), dense);

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

    #[test]
    fn the_task_running_again_is_awaited_densely_unless_recoveries_take_long_after_it() {
        let sc = reference();
        let c = Cadence::new(&sc, fault(), true);
        let tracker = fresh_tracker();
        let pending = [Phase::TaskRunning, Phase::RecoveryComplete];
        let pods_every = |history: &History| {
            let (at, f) = c
                .next(&pending, &tracker, history, fault(), fault())
                .unwrap();
            assert!(f.has(Feed::Pods));
            at.since(fault())
        };
        // A first run: the plan may complete a second after RUNNING.
        let mut history = History::seen(Phase::TaskRunning, Dur::from_secs(20));
        assert_eq!(pods_every(&history), Dur::from_secs(5));
        // Earlier recoveries came 1 s after RUNNING: still dense.
        history.recovery_lag = Some(Dur::from_secs(1));
        assert_eq!(pods_every(&history), Dur::from_secs(5));
        // Every earlier recovery took over a gentle poll (and a dense one) after RUNNING: the
        // plan's polls start in time even when RUNNING is read a gentle poll late.
        history.recovery_lag = Some(Dur::from_secs(36));
        assert_eq!(pods_every(&history), Dur::from_secs(30));
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
    }

    #[test]
    fn a_phase_seen_before_is_polled_densely_only_from_half_its_earliest_time() {
        let sc = reference();
        let history = History::seen(Phase::AgentLost, Dur::from_mins(8));
        let pending = [Phase::AgentLost];
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
        let history = History::seen(Phase::AgentLost, Dur::from_secs(119));
        let mut c = Cadence::new(&sc, fault(), true);
        let now = after(Dur::from_secs(1));
        c.asked(Feeds(u8::MAX), now);
        let (at, f) = c
            .next(
                &[Phase::AgentLost],
                &fresh_tracker(),
                &history,
                fault(),
                now,
            )
            .unwrap();
        assert_eq!(at, now.saturating_add(Dur::from_secs(5)));
        assert!(f.has(Feed::Agents));
        // From two minutes on, the window is long enough to be quiet in.
        let history = History::seen(Phase::AgentLost, Dur::from_secs(120));
        let (at, _) = c
            .next(
                &[Phase::AgentLost],
                &fresh_tracker(),
                &history,
                fault(),
                now,
            )
            .unwrap();
        assert_eq!(at, now.saturating_add(Dur::from_secs(30)));
    }

    #[test]
    fn a_fixed_poller_asks_everything_pending_every_poll_interval() {
        let mut sc = reference();
        sc.poll_interval = Dur::from_secs(1);
        sc.max_poll_interval = Some(Dur::from_secs(1));
        let c = Cadence::new(&sc, fault(), true);
        let (at, f) = c
            .next(
                &AWAITED,
                &fresh_tracker(),
                &History::default(),
                fault(),
                fault(),
            )
            .unwrap();
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
