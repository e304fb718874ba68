//! The runner: for each scenario, for each run — wait for steady state, select the victims,
//! inject the fault, observe the phases until each is seen or past its deadline, heal as the
//! scenario says, judge the expectations. Written once against [`Cluster`]; it emits typed
//! [`Event`]s to a [`Sink`] and never reads them back.

mod cadence;
mod count;
mod feed;
mod observe;
mod outage;
pub(crate) mod preflight;
mod ring;
pub mod suite;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use cadence::{Cadence, History};
use count::{Counter, Counting};
use feed::{Feed, Feeds};
pub(crate) use observe::{Called, GroupStamp, Snapshot, Tracker};

use crate::cluster::{AsgLookup, Cluster, ClusterError, InstanceFilter, InstanceId};
use crate::journal::{Event, FailureKind, RunFailure, Sink, Victim};
use crate::measure::Observed;
use crate::scenario::{Demand, HealPolicy, Scenario};
use crate::time::{Dur, Timestamp};
use crate::vocab::{Phase, Requests};

/// Why a run (and so the suite) stopped early.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// A safety rule or the cluster's state forbids going on.
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Cluster(ClusterError),
    #[error("interrupted")]
    Interrupted,
    #[error("cannot write the journal: {0}")]
    Journal(#[from] std::io::Error),
}

/// Set from a signal handler; the runner stops at its next step, and a wait in progress ends
/// at once.
#[derive(Clone, Debug)]
pub struct StopFlag(Arc<(AtomicBool, tokio::sync::watch::Sender<bool>)>);

impl Default for StopFlag {
    fn default() -> Self {
        Self(Arc::new((
            AtomicBool::new(false),
            tokio::sync::watch::Sender::new(false),
        )))
    }
}

impl StopFlag {
    pub(crate) fn raise(&self) {
        self.0.0.store(true, Ordering::Release);
        self.0.1.send_replace(true);
    }

    /// A load, not the watch's lock: the runner asks at every step.
    pub(crate) fn is_raised(&self) -> bool {
        self.0.0.load(Ordering::Acquire)
    }

    /// Completes once the flag is raised.
    pub(crate) async fn raised(&self) {
        let mut rx = self.0.1.subscribe();
        let _ = rx.wait_for(|raised| *raised).await;
    }
}

/// Waits on the cluster's clock, or until the stop flag is raised.
async fn pause<C: Cluster>(cluster: &mut C, d: Dur, stop: &StopFlag) -> Result<(), RunError> {
    if stop.is_raised() {
        return Err(RunError::Interrupted);
    }
    tokio::select! {
        // The simulator's sleep is done at its first poll: the stop flag is not even watched.
        biased;
        () = cluster.sleep(d) => Ok(()),
        () = stop.raised() => Err(RunError::Interrupted),
    }
}

/// Discards events: used to replay finished runs of a simulated scenario on resume.
struct Discard;

impl Sink for Discard {
    fn emit(&mut self, _: &Event) -> std::io::Result<()> {
        Ok(())
    }
}

/// A deterministic per-scenario seed from the suite seed and the scenario name.
pub(crate) fn scenario_seed(seed: u64, name: &str) -> u64 {
    // FNV-1a over the name, then a SplitMix64 finaliser over the mix.
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    let mut z = seed ^ h;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Where a scenario starts: at run 1, or (on resume) at a later run, with the finished runs
/// replayed silently first when the backend is deterministic (the simulator), so that the
/// cluster and the victim choice are where an uninterrupted suite would have them.
#[derive(Clone, Debug)]
pub(crate) struct Start {
    pub(crate) first_run: u32,
    pub(crate) replay: bool,
    /// The finished runs the journal holds, counted (what `until: decided` judges).
    pub(crate) counted: Counter,
}

impl Start {
    pub(crate) fn fresh(scenario: &Scenario) -> Start {
        Start {
            first_run: 1,
            replay: false,
            counted: Counter::new(&scenario.name),
        }
    }
}

/// Runs the runs of one scenario against `cluster`. Returns after the last run, or with the
/// reason the scenario was aborted (already journaled).
pub async fn run_scenario<C: Cluster>(
    cluster: &mut C,
    scenario: &Scenario,
    runs: u32,
    seed: u64,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> Result<(), RunError> {
    let start = Start::fresh(scenario);
    run_scenario_from(cluster, scenario, runs, seed, sink, stop, start).await
}

/// [`run_scenario`], starting where `start` says. With `until: decided` it stops before the
/// next run as soon as every SLO is decided over the runs finished.
pub(crate) async fn run_scenario_from<C: Cluster>(
    cluster: &mut C,
    scenario: &Scenario,
    runs: u32,
    seed: u64,
    sink: &mut dyn Sink,
    stop: &StopFlag,
    start: Start,
) -> Result<(), RunError> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(scenario_seed(seed, &scenario.name) ^ 0x5eed);
    let mut ctx = Context {
        scenario,
        lookup: preflight::asg_lookup(scenario),
        history: History::default(),
        run_requests: Requests::default(),
        last_start: None,
    };
    cluster.set_request_budget(Some(scenario.request_budget()));
    if start.replay {
        for run in 1..start.first_run.min(runs + 1) {
            run_once(cluster, &mut ctx, run, &mut rng, &mut Discard, stop).await?;
        }
    }
    let mut sink = Counting {
        counter: start.counted,
        inner: sink,
    };
    for run in start.first_run.max(1)..=runs {
        if run > 1 && scenario.runs.until_decided && sink.counter.tally.decided(scenario) {
            break;
        }
        match run_once(cluster, &mut ctx, run, &mut rng, &mut sink, stop).await {
            Ok(()) => {}
            Err(e) => {
                sink.emit(&Event::Aborted {
                    scenario: Some(scenario.name.clone()),
                    run: Some(run),
                    at: cluster.now(),
                    reason: e.to_string(),
                })?;
                return Err(e);
            }
        }
    }
    Ok(())
}

struct Context<'a> {
    scenario: &'a Scenario,
    /// The ASG to watch; learnt from the first victim when the scenario names none.
    lookup: Option<AsgLookup>,
    /// When the runs so far saw each phase: where adaptive polling may be gentle.
    history: History,
    /// The most requests one run so far sent to each service.
    run_requests: Requests,
    /// When the last run started (after its wait for the request budget).
    last_start: Option<Timestamp>,
}

/// One run as it goes through its steps: what it works with, borrowed from its scenario's
/// loop, and when it started.
struct RunCtx<'a, 'r, C> {
    cluster: &'a mut C,
    ctx: &'a mut Context<'r>,
    sc: &'r Scenario,
    run: u32,
    rng: &'a mut Xoshiro256PlusPlus,
    sink: &'a mut dyn Sink,
    stop: &'a StopFlag,
    /// Steady state is waited for from here.
    started: Timestamp,
}

/// A set of phases in the order they were added, without a heap allocation (the observe loop
/// asks for one at every poll).
#[derive(Clone, Copy)]
struct Phases {
    slots: [Phase; Phase::ALL.len()],
    len: usize,
    /// One bit per phase in the set (bit `phase as u32`).
    bits: u32,
}

impl Default for Phases {
    fn default() -> Self {
        Self {
            slots: [Phase::SteadyStateVerified; Phase::ALL.len()],
            len: 0,
            bits: 0,
        }
    }
}

impl Phases {
    fn push(&mut self, p: Phase) {
        if self.bits & 1 << p as u32 == 0 {
            self.bits |= 1 << p as u32;
            self.slots[self.len] = p;
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[Phase] {
        &self.slots[..self.len]
    }
}

/// What a run watches once the fault is in.
struct Observation {
    tracker: Tracker,
    plan: Plan,
    cadence: Cadence,
    /// The fault's instant, bounded by its calls.
    fault: Observed,
    /// When the first injecting call was sent: nothing the fault caused happened before.
    sent: Timestamp,
    /// The service's task a stop condition counts (`server` without a service).
    task: String,
    victims: Vec<Victim>,
    /// The span the scheduler has not answered, if it is not answering.
    outage: outage::Outage,
}

async fn run_once<C: Cluster>(
    cluster: &mut C,
    ctx: &mut Context<'_>,
    run: u32,
    rng: &mut Xoshiro256PlusPlus,
    sink: &mut dyn Sink,
    stop: &StopFlag,
) -> Result<(), RunError> {
    let sc = ctx.scenario;
    // A run starts when the request budget has room for what a run of this suite asked:
    // waiting before it (idle time in the report) is cheaper than a budget that holds polls
    // back in the middle of a run, which widens their brackets and stretches the run by up
    // to a minute.
    pause(
        cluster,
        cluster.budget_room(ctx.run_requests, ctx.last_start),
        stop,
    )
    .await?;
    ctx.last_start = Some(cluster.now());
    sink.emit(&Event::RunStarted {
        scenario: sc.name.clone(),
        run,
        at: cluster.now(),
    })?;
    let started = cluster.now();
    let requests_before = cluster.requests();
    let mut r = RunCtx {
        cluster,
        ctx,
        sc,
        run,
        rng,
        sink,
        stop,
        started,
    };
    r.preflight().await?;
    let (steady, victims) = r.select().await?;
    let mut w = r.inject(steady, victims).await?;
    r.observe(&mut w).await?;
    if let Some(span) = w.outage.close() {
        r.emit_outage(span)?;
    }
    r.ctx.history.learn(&w.tracker, w.fault.at);
    let requests = r.cluster.requests().since(requests_before);
    r.ctx.run_requests = r.ctx.run_requests.max(requests);
    r.sink.emit(&Event::RunFinished {
        scenario: sc.name.clone(),
        run,
        at: r.cluster.now(),
        failures: w.plan.failures(&w.tracker, w.fault.at),
        replacements: w.tracker.replacements(),
        requests,
    })?;
    Ok(())
}

/// Times one call of a poll: `Some((when, answer))`, or `None` with the error kept in the
/// snapshot for the journal.
macro_rules! timed {
    ($cluster:expr, $snap:expr, $call:expr) => {{
        let sent = $cluster.now();
        let r = $call.await;
        let received = $cluster.now();
        match r {
            Ok(v) => Some((Called { sent, received }, v)),
            Err(e) => {
                $snap.errors.push(e);
                None
            }
        }
    }};
}

impl<C: Cluster> RunCtx<'_, '_, C> {
    /// Waits on the cluster's clock, or until the stop flag is raised.
    async fn pause(&mut self, d: Dur) -> Result<(), RunError> {
        pause(self.cluster, d, self.stop).await
    }

    fn emit_outage(&mut self, span: outage::Span) -> std::io::Result<()> {
        self.sink.emit(&Event::SchedulerUnavailable {
            scenario: self.sc.name.clone(),
            run: self.run,
            from: span.from,
            to: span.to,
            back: span.back,
            refused: span.refused,
        })
    }

    fn emit_phase(&mut self, phase: Phase, o: Observed) -> std::io::Result<()> {
        self.sink.emit(&Event::PhaseObserved {
            scenario: self.sc.name.clone(),
            run: self.run,
            phase,
            at: o.at,
            error_ms: o.error_ms,
            source: o.source,
        })
    }

    /// Journals an API error the run rides out. A refused credential is refreshed once if the
    /// backend can; an error that waiting cannot fix ends the run.
    async fn ride_out(&mut self, e: &ClusterError) -> Result<(), RunError> {
        self.sink.emit(&Event::ApiError {
            scenario: self.sc.name.clone(),
            run: self.run,
            at: self.cluster.now(),
            error: crate::journal::ApiErrorRecord::of(e),
        })?;
        match e {
            ClusterError::NotFound { .. } => Ok(()),
            e if recoverable(self.cluster, e).await => Ok(()),
            e => Err(RunError::Cluster(e.clone())),
        }
    }

    /// The refusal once the cluster has been unsteady for longer than the scenario allows.
    fn waited_too_long(&self, why: &str) -> Option<RunError> {
        let sc = self.sc;
        (self.cluster.now().since(self.started) >= sc.steady_state_timeout).then(|| {
            RunError::Refused(format!(
                "the cluster did not reach steady state within {}: {why}",
                sc.steady_state_timeout
            ))
        })
    }

    /// Learns the victim's group first (when the scenario names none), so that steady state
    /// covers it; then the cooldown between runs.
    async fn preflight(&mut self) -> Result<(), RunError> {
        let sc = self.sc;
        while self.ctx.lookup.is_none() {
            match self.victims_anywhere().await {
                Ok(victims) => {
                    self.ctx.lookup = victims
                        .first()
                        .and_then(|v| v.asg.clone())
                        .map(AsgLookup::Name);
                    break;
                }
                Err(RunError::Cluster(e)) => {
                    self.ride_out(&e).await?;
                    if let Some(too_long) = self.waited_too_long(&e.to_string()) {
                        return Err(too_long);
                    }
                    self.pause(sc.poll_interval).await?;
                }
                Err(e) => return Err(e),
            }
        }
        if self.run > 1 && !sc.cooldown.is_zero() {
            self.pause(sc.cooldown).await?;
        }
        Ok(())
    }

    /// The victims the scenario would hit, before their group is known.
    async fn victims_anywhere(&mut self) -> Result<Vec<Victim>, RunError> {
        let agents = match &self.sc.service {
            Some(_) => self.cluster.agents().await?,
            None => Vec::new(),
        };
        preflight::select_victims(self.cluster, self.sc, None, &agents, self.rng).await
    }

    /// Steady state, waiting for it (between runs the last recovery may still be finishing),
    /// then the victims. A throttled or briefly unreachable API is a reason to wait, not to
    /// give up.
    async fn select(&mut self) -> Result<(preflight::Steady, Vec<Victim>), RunError> {
        let sc = self.sc;
        let (steady, victims, steady_at) = loop {
            check_stop(self.stop).await?;
            let why = match observe_steady(self.cluster, sc, self.ctx.lookup.as_ref()).await {
                Ok(Ok(steady)) => {
                    let at = self.cluster.now();
                    let asg = steady.asg.as_ref();
                    match preflight::select_victims(self.cluster, sc, asg, &steady.agents, self.rng)
                        .await
                    {
                        Ok(victims) => break (steady, victims, at),
                        Err(RunError::Cluster(e)) => {
                            self.ride_out(&e).await?;
                            e.to_string()
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(Err(why)) => why,
                Err(RunError::Cluster(e)) => {
                    self.ride_out(&e).await?;
                    e.to_string()
                }
                Err(e) => return Err(e),
            };
            if let Some(too_long) = self.waited_too_long(&why) {
                return Err(too_long);
            }
            self.pause(sc.poll_interval).await?;
        };
        self.sink.emit(&Event::VictimsSelected {
            scenario: sc.name.clone(),
            run: self.run,
            victims: victims.clone(),
        })?;
        self.emit_phase(Phase::SteadyStateVerified, Observed::harness(steady_at, 0))?;
        check_stop(self.stop).await?;
        Ok((steady, victims))
    }

    /// Injects the fault into each victim; the fault's instant is the middle of the calls,
    /// bounded by them. Returns what the run watches from here.
    async fn inject(
        &mut self,
        steady: preflight::Steady,
        victims: Vec<Victim>,
    ) -> Result<Observation, RunError> {
        let sc = self.sc;
        let mut before = self.cluster.now();
        let mut after = before;
        for (i, v) in victims.iter().enumerate() {
            let (sent, received) = self.inject_once(&v.instance).await?;
            if i == 0 {
                before = sent;
            }
            after = received;
        }
        let fault = Observed::harness_between(before, after);
        let task = sc.service.as_ref().map_or("server", |s| s.task.as_str());
        let mut tracker = Tracker::new(sc.fault, task, steady.baseline, victims.clone(), before);
        if let Some((p, o)) = tracker.record_harness(Phase::FaultInjected, fault) {
            self.emit_phase(p, o)?;
        }
        Ok(Observation {
            plan: Plan::new(sc, &victims),
            cadence: Cadence::new(sc, before, self.ctx.lookup.is_some()),
            tracker,
            fault,
            sent: before,
            task: task.to_string(),
            victims,
            outage: outage::Outage::default(),
        })
    }

    /// Polls the feeds that are due until every awaited phase is seen or past its deadline
    /// and every quiet window has run out; heals when the scenario says.
    async fn observe(&mut self, w: &mut Observation) -> Result<(), RunError> {
        let sc = self.sc;
        loop {
            let owed = self.heal(&mut w.tracker).await?;
            let now = self.cluster.now();
            let elapsed = now.since(w.fault.at);
            if w.plan.finished(&w.tracker, elapsed) {
                return Ok(());
            }
            check_stop(self.stop).await?;
            let pending = w.plan.pending(&w.tracker, elapsed);
            let history = &self.ctx.history;
            let Some((due, feeds)) =
                w.cadence
                    .next(pending.as_slice(), &w.tracker, history, w.fault.at, now)
            else {
                // Nothing to ask: only a deadline or a quiet window is left to run out (or a
                // replace to ask again); the run ends when the first of them does.
                let end = w.plan.next_end(&w.tracker, elapsed);
                let wait = if owed {
                    end.map_or(sc.poll_interval, |e| e.min(sc.poll_interval))
                } else {
                    end.unwrap_or(sc.max_poll_interval())
                };
                self.pause(wait).await?;
                continue;
            };
            // A replace the scheduler could not take is asked again every `poll_interval`, and
            // no poll goes past the end of the run: a window or deadline that runs out first
            // ends it.
            let mut wait = due.since(now);
            if owed {
                wait = wait.min(sc.poll_interval);
            }
            if let Some(end) = w.plan.next_end(&w.tracker, elapsed) {
                wait = wait.min(end);
            }
            if wait < due.since(now) {
                self.pause(wait).await?;
                continue;
            }
            self.pause(wait).await?;
            let feeds = self.reads(feeds, &w.tracker);
            w.cadence.asked(feeds, self.cluster.now());
            // Filled and handed on by reference: moving a snapshot out of a future or into
            // the next one copies it.
            let mut snap = Snapshot::default();
            self.poll(&w.tracker, feeds, w.sent, &mut snap).await;
            self.take_in(w, &mut snap).await?;
            w.cadence.shown(feeds, w.tracker.changed());
        }
    }

    /// Feeds one poll to the tracker, journals its phases and errors, and applies the stop
    /// conditions: anything beyond the victims degrading ends the suite.
    async fn take_in(&mut self, w: &mut Observation, snap: &mut Snapshot) -> Result<(), RunError> {
        for (p, o) in w.tracker.update(snap) {
            self.emit_phase(p, o)?;
        }
        let answered = snap.scheduler_answered();
        if let Some(span) = w.outage.note(self.cluster.now(), &snap.errors, answered) {
            self.emit_outage(span)?;
        }
        for e in std::mem::take(&mut snap.errors) {
            self.ride_out(&e).await?;
        }
        let down = self.pods_down(w, snap).await?;
        match preflight::collateral(
            &w.task,
            &w.victims,
            &down,
            w.tracker.baseline(),
            snap.asg.as_ref().map(|(_, a)| a),
            snap.all_pods.as_ref().map(|(_, p)| p.as_slice()),
            self.sc.stop_when.as_ref(),
        ) {
            Some(why) => Err(RunError::Refused(format!("stop condition: {why}"))),
            None => Ok(()),
        }
    }

    /// The pods beyond the victims that this poll saw not RUNNING, and those of them that
    /// the run's own recovery restarts (a seed's replace restarts the ring). When the plan was
    /// last read before the pods, it is read again first; a pod still undecided after a
    /// failed read is judged at the next poll.
    async fn pods_down(
        &mut self,
        w: &mut Observation,
        snap: &Snapshot,
    ) -> Result<preflight::PodsDown, RunError> {
        let Some((called, pods)) = &snap.all_pods else {
            return Ok(preflight::PodsDown::default());
        };
        let down = preflight::pods_down(&w.task, &w.victims, pods);
        let stale = |w: &Observation| {
            down.iter()
                .any(|p| w.tracker.excuse(p, called.sent) == ring::Excuse::Stale)
        };
        if stale(w)
            && let Some(svc) = &self.sc.service
        {
            let mut fresh = Snapshot::default();
            let cluster = &mut *self.cluster;
            fresh.recovery = timed!(cluster, fresh, cluster.plan(&svc.name, "recovery"));
            for (p, o) in w.tracker.update(&fresh) {
                self.emit_phase(p, o)?;
            }
            for e in fresh.errors {
                self.ride_out(&e).await?;
            }
        }
        let restarted = down
            .iter()
            .filter(|p| w.tracker.excuse(p, called.sent) != ring::Excuse::None)
            .cloned()
            .collect();
        Ok(preflight::PodsDown { down, restarted })
    }

    /// Replaces each victim's pod as soon as the scenario's policy says for that victim, as
    /// the operator would (the runbook: `pod replace` once that pod's task is lost, not once
    /// every victim's is); each replace is bounded by its call. A scheduler that cannot take
    /// it (throttled, 5xx, Admin Router's 502/503/404 while Marathon relaunches it) is
    /// journaled and asked again at the next turn, for as long as the run's deadlines allow
    /// (`pod replace` is safe to repeat: it marks and kills). Returns whether a replace is
    /// still owed.
    async fn heal(&mut self, tracker: &mut Tracker) -> Result<bool, RunError> {
        let trigger = match self.sc.heal {
            HealPolicy::None => return Ok(false),
            HealPolicy::ReplaceImmediately => None,
            HealPolicy::ReplaceOnTaskLost => Some(Phase::TaskLost),
            HealPolicy::ReplaceAfterAgentRegistered => Some(Phase::AgentRegistered),
        };
        let due = tracker.awaiting_heal(trigger);
        if due.is_empty() {
            return Ok(false);
        }
        let svc = self
            .sc
            .service
            .as_ref()
            .map(|s| s.name.clone())
            .unwrap_or_default();
        let mut owed = false;
        for (victim, pod) in due {
            let t0 = self.cluster.now();
            if let Err(e) = self.cluster.pod_replace(&svc, &pod).await {
                self.ride_out(&e).await?;
                owed = true;
                continue;
            }
            let o = Observed::harness_between(t0, self.cluster.now());
            if let Some((p, o)) = tracker.record_victim(victim, Phase::PodReplaceIssued, o) {
                self.emit_phase(p, o)?;
            }
        }
        Ok(owed)
    }

    /// Injects the fault exactly once. A throttled call had no effect and is retried with
    /// jittered backoff; after an ambiguous failure (5xx, reset) the instance is looked at
    /// first, and if the fault already landed it is never sent again. Returns when the landing
    /// call was sent and when its effect was known.
    async fn inject_once(&mut self, id: &InstanceId) -> Result<(Timestamp, Timestamp), RunError> {
        const ATTEMPTS: u32 = 6;
        let fault = self.sc.fault;
        let mut first_sent = None;
        let mut attempt = 1;
        loop {
            check_stop(self.stop).await?;
            let sent = self.cluster.now();
            let first = *first_sent.get_or_insert(sent);
            let e = match self.cluster.inject(fault, id).await {
                Ok(()) => return Ok((sent, self.cluster.now())),
                Err(e) => e,
            };
            self.ride_out(&e).await?;
            if !matches!(e, ClusterError::Throttled { .. }) {
                if !fault.leaves_running() {
                    // A reboot leaves no trace to check: never risk a second one.
                    return Err(RunError::Cluster(e));
                }
                if self.landed(id).await? {
                    return Ok((first, self.cluster.now()));
                }
            }
            if attempt == ATTEMPTS {
                return Err(RunError::Cluster(e));
            }
            let backoff = self.backoff(attempt);
            self.pause(backoff).await?;
            attempt += 1;
        }
    }

    /// Whether the instance has left `running`: an ambiguous failure's fault landed. A failed
    /// look is ridden out (journaled) and counts as not landed.
    async fn landed(&mut self, id: &InstanceId) -> Result<bool, RunError> {
        match self
            .cluster
            .describe_instances(&InstanceFilter::Ids(vec![id.clone()]))
            .await
        {
            Ok(i) => Ok(i
                .iter()
                .all(|i| i.state != crate::cluster::InstanceState::Running)),
            Err(e) => {
                self.ride_out(&e).await?;
                Ok(false)
            }
        }
    }

    /// Exponential backoff from a tenth of the poll interval, with jitter derived from the
    /// clock (deterministic on the simulator).
    fn backoff(&self, attempt: u32) -> Dur {
        let base = (self.sc.poll_interval.as_millis() / 10).max(100) << (attempt - 1).min(5);
        let spread = self
            .cluster
            .now()
            .as_millis()
            .unsigned_abs()
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            >> 40;
        Dur::from_millis(base / 2 + spread % (base / 2 + 1))
    }

    /// What a poll of `feeds` reads. The watch's read of the group is the group feed's while
    /// that awaits phases (a change it shows brings the activities that stamp them); without a
    /// service, the group feed's read is all the watch reads.
    fn reads(&self, mut feeds: Feeds, tracker: &Tracker) -> Feeds {
        if self.sc.fault.leaves_running() && self.ctx.lookup.is_some() {
            if feeds.has(Feed::Watch) && !tracker.has(Phase::ReplacementInService) {
                feeds.insert(Feed::Asg);
            }
            if feeds.has(Feed::Asg) && self.sc.service.is_none() {
                feeds.insert(Feed::Watch);
            }
        }
        feeds
    }

    /// One poll of the feeds that are due, into `snap`. A failed call leaves its part empty.
    async fn poll(
        &mut self,
        tracker: &Tracker,
        feeds: Feeds,
        fault_sent: Timestamp,
        snap: &mut Snapshot,
    ) {
        let (cluster, sc) = (&mut *self.cluster, self.sc);
        let lookup = self.ctx.lookup.as_ref();
        if sc.fault.leaves_running() && feeds.has(Feed::Ec2) {
            let ids = tracker.instances_of_interest();
            snap.ec2 = timed!(
                cluster,
                snap,
                cluster.describe_instances(&InstanceFilter::Ids(ids))
            );
        }
        if sc.fault.leaves_running()
            && feeds.has(Feed::Asg)
            && let Some(lookup) = lookup
        {
            poll_group(cluster, tracker, lookup, fault_sent, snap).await;
        }
        if let Some(svc) = &sc.service {
            poll_service(cluster, &svc.name, tracker, feeds, snap).await;
        }
        // The group's members for the stop conditions, unless this poll read the group already.
        if feeds.has(Feed::Watch)
            && snap.asg.is_none()
            && let Some(lookup) = lookup
            && let Some((called, mut groups)) = timed!(cluster, snap, cluster.describe_asgs(lookup))
            && groups.len() == 1
        {
            snap.asg = Some((called, groups.remove(0)));
        }
        if let Some(svc) = &sc.service
            && feeds.has(Feed::Recovery)
        {
            snap.recovery = timed!(cluster, snap, cluster.plan(&svc.name, "recovery"));
        }
    }
}

/// The group, its scaling activities since the fault (until the replacement is in service),
/// and the descriptions of members that joined since the fault (for their IPs).
async fn poll_group<C: Cluster>(
    cluster: &mut C,
    tracker: &Tracker,
    lookup: &AsgLookup,
    fault_sent: Timestamp,
    snap: &mut Snapshot,
) {
    let Some((called, mut groups)) = timed!(cluster, snap, cluster.describe_asgs(lookup)) else {
        return;
    };
    if groups.len() != 1 {
        return;
    }
    let asg = groups.remove(0);
    // Activities name each replacement as it launches and stamp it in service: they can
    // only say something new when the group moved, and not once the group showed a
    // replacement they did not name (it is timed by polls then).
    if !tracker.has(Phase::ReplacementInService)
        && tracker.in_service_stamp() != GroupStamp::Missing
        && tracker.group_moved(&asg)
    {
        snap.activities = timed!(
            cluster,
            snap,
            cluster.describe_scaling_activities(&asg.name, fault_sent)
        );
    }
    let fresh: Vec<_> = asg
        .instances
        .iter()
        .map(|m| &m.id)
        .filter(|id| !tracker.baseline().asg_members.contains(*id) && !tracker.knows_ip(id))
        .cloned()
        .collect();
    if !fresh.is_empty() {
        match cluster
            .describe_instances(&InstanceFilter::Ids(fresh))
            .await
        {
            Ok(more) => snap.members = more,
            Err(e) => snap.errors.push(e),
        }
    }
    snap.asg = Some((called, asg));
}

/// The service's feeds that are due: the master's agents, the victims' pods, every pod's
/// status.
async fn poll_service<C: Cluster>(
    cluster: &mut C,
    service: &str,
    tracker: &Tracker,
    feeds: Feeds,
    snap: &mut Snapshot,
) {
    if feeds.has(Feed::Agents) {
        snap.agents = timed!(cluster, snap, cluster.agents());
    }
    if feeds.has(Feed::Pods) {
        let sent = cluster.now();
        let mut pods = Vec::new();
        let mut ok = true;
        for pod in tracker.victims().filter_map(|v| v.pod.clone()) {
            match cluster.pod_info(service, &pod).await {
                Ok(p) => pods.push(p),
                Err(e) => {
                    snap.errors.push(e);
                    ok = false;
                }
            }
        }
        let received = cluster.now();
        if ok && !pods.is_empty() {
            snap.pods = Some((Called { sent, received }, pods));
        }
    }
    if feeds.has(Feed::Watch) {
        snap.all_pods = timed!(cluster, snap, cluster.pod_statuses(service));
    }
}

/// One look at the cluster: steady (with what it looked like), or why not; refused when the
/// scenario's group selector matches no group or several.
async fn observe_steady<C: Cluster>(
    cluster: &mut C,
    sc: &Scenario,
    lookup: Option<&AsgLookup>,
) -> Result<Result<preflight::Steady, String>, RunError> {
    let asg = match lookup {
        Some(l) => Some(preflight::find_asg(cluster, l).await?),
        None => None,
    };
    let (agents, pods, recovery) = match &sc.service {
        Some(svc) => (
            cluster.agents().await?,
            Some(cluster.pod_statuses(&svc.name).await?),
            Some(cluster.plan(&svc.name, "recovery").await?),
        ),
        None => (Vec::new(), None, None),
    };
    Ok(
        match preflight::unsteady_reason(
            sc,
            &agents,
            asg.as_ref(),
            pods.as_deref(),
            recovery.as_ref(),
        ) {
            Some(why) => Err(why),
            None => Ok(preflight::Steady {
                baseline: preflight::baseline(asg.as_ref(), &agents, recovery.as_ref()),
                asg,
                agents,
            }),
        },
    )
}

async fn check_stop(stop: &StopFlag) -> Result<(), RunError> {
    thread_local! {
        static CHECKS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    }
    // Let a signal handler on the same thread run, even when the backend never waits (every
    // 256th check, a few times a simulated run, well under a millisecond apart: a yield costs
    // the simulator more than a poll).
    if CHECKS.with(|c| {
        c.set(c.get().wrapping_add(1));
        c.get() % 256 == 0
    }) {
        tokio::task::yield_now().await;
    }
    if stop.is_raised() {
        Err(RunError::Interrupted)
    } else {
        Ok(())
    }
}

/// Whether asking again can help: the error is transient, or a refused credential was renewed.
async fn recoverable<C: Cluster>(cluster: &mut C, e: &ClusterError) -> bool {
    match e {
        ClusterError::Unauthorized { .. } => cluster.refresh_auth().await,
        e => e.is_retryable(),
    }
}

/// The phases a run of `sc` that hit `victims` looks for until it ends (an awaited phase it
/// did not see by then was not reached by then).
pub(crate) fn awaited(sc: &Scenario, victims: &[Victim]) -> Vec<Phase> {
    Plan::new(sc, victims)
        .awaited
        .into_iter()
        .map(|(p, _)| p)
        .collect()
}

/// What a run waits for, and until when.
struct Plan {
    /// `(phase, deadline since the fault)`.
    awaited: Vec<(Phase, Dur)>,
    /// `(phase, window since the fault)` in which the phase must not happen.
    absent: Vec<(Phase, Dur)>,
    within: Vec<(Phase, Dur)>,
    /// The deadline of `ring_restarted`, awaited only once the plan shows that the run's
    /// recovery restarts the ring (a seed was replaced).
    ring: Dur,
}

impl Plan {
    fn new(sc: &Scenario, victims: &[Victim]) -> Self {
        let replaced = sc.fault.leaves_running();
        let service = sc.service.is_some();
        let pods = victims.iter().any(|v| v.pod.is_some());
        let mut awaited = Vec::new();
        for p in Phase::ALL {
            let implied = match p {
                Phase::SteadyStateVerified | Phase::FaultInjected => false,
                Phase::InstanceTerminated
                | Phase::ReplacementLaunched
                | Phase::ReplacementInService => replaced,
                Phase::AgentDisconnected | Phase::AgentRegistered => service,
                // A rebooted host's agent comes back before the master gives up on it.
                Phase::AgentLost => service && replaced,
                Phase::TaskLost => pods,
                Phase::PodReplaceIssued => false,
                // Without a heal, a replaced host's pod stays lost; only a reboot heals alone.
                Phase::TaskRunning | Phase::RecoveryComplete => {
                    pods && (sc.heal.replaces() || !replaced)
                }
                Phase::RingRestarted => false,
            };
            if implied {
                awaited.push((p, sc.timeout));
            }
        }
        let mut absent = Vec::new();
        let mut within = Vec::new();
        let mut ring = sc.timeout;
        for e in &sc.expect {
            match e.demand() {
                Demand::Within(d) if e.phase == Phase::RingRestarted => {
                    within.push((e.phase, d));
                    ring = d;
                }
                Demand::Within(d) => {
                    within.push((e.phase, d));
                    match awaited.iter_mut().find(|(p, _)| *p == e.phase) {
                        Some(a) => a.1 = d,
                        None => awaited.push((e.phase, d)),
                    }
                }
                Demand::AbsentFor(d) => {
                    awaited.retain(|(p, _)| *p != e.phase);
                    absent.push((e.phase, d));
                }
            }
        }
        Self {
            awaited,
            absent,
            within,
            ring,
        }
    }

    /// The awaited phases with their deadlines, `ring_restarted` while the run's recovery
    /// restarts the ring.
    fn awaited<'a>(&'a self, tracker: &Tracker) -> impl Iterator<Item = (Phase, Dur)> + 'a {
        let ring = tracker
            .ring_restarting()
            .then_some((Phase::RingRestarted, self.ring));
        self.awaited.iter().copied().chain(ring)
    }

    /// The phases still looked for: every awaited phase not seen yet, past its own deadline
    /// too (a late phase is still measured while the run waits for others, and later phases
    /// may need it), and those in a window in which they must not happen.
    fn pending(&self, tracker: &Tracker, elapsed: Dur) -> Phases {
        // Plain loops: this runs at every wake of every run.
        let mut out = Phases::default();
        for (p, _) in self.awaited(tracker) {
            if !tracker.has(p) {
                out.push(p);
            }
        }
        for &(p, window) in &self.absent {
            if !tracker.has(p) && elapsed < window {
                out.push(p);
            }
        }
        out
    }

    /// How long until the next deadline of a phase not seen yet or the end of a window runs
    /// out, `elapsed` after the fault.
    fn next_end(&self, tracker: &Tracker, elapsed: Dur) -> Option<Dur> {
        self.awaited(tracker)
            .chain(self.absent.iter().copied())
            .filter(|(p, end)| !tracker.has(*p) && *end > elapsed)
            .map(|(_, end)| Dur::from_millis(end.as_millis() - elapsed.as_millis()))
            .min()
    }

    fn finished(&self, tracker: &Tracker, elapsed: Dur) -> bool {
        let awaited_done = self
            .awaited(tracker)
            .all(|(p, deadline)| tracker.has(p) || elapsed >= deadline);
        let windows_done = self
            .absent
            .iter()
            .all(|(p, window)| tracker.has(*p) || elapsed >= *window);
        awaited_done && windows_done
    }

    fn failures(&self, tracker: &Tracker, fault_at: Timestamp) -> Vec<RunFailure> {
        let failure = |phase: Phase, kind: FailureKind, detail: String| RunFailure {
            phase,
            kind,
            detail,
        };
        let mut out = Vec::new();
        for (p, deadline) in self.awaited(tracker) {
            if !tracker.has(p) {
                let detail = format!("{p} was not observed within {deadline}");
                out.push(failure(p, FailureKind::NotObserved, detail));
            }
        }
        if let Some(detail) = tracker.ring_dropped() {
            out.push(failure(
                Phase::RingRestarted,
                FailureKind::NotObserved,
                detail,
            ));
        }
        for (p, d) in &self.within {
            if let Some(o) = tracker.get(*p) {
                let took = o.at.since(fault_at);
                if took > *d {
                    let detail = format!("{p} took {}, expected within {d}", took.human());
                    out.push(failure(*p, FailureKind::TooLate, detail));
                }
            }
        }
        for (p, window) in &self.absent {
            if let Some(o) = tracker.get(*p) {
                let at = o.at.since(fault_at);
                if at < *window {
                    let detail = format!(
                        "{p} happened {} after the fault, expected none for {window}",
                        at.human()
                    );
                    out.push(failure(*p, FailureKind::Happened, detail));
                }
            }
        }
        out
    }
}

/// The victims a scenario would hit now, without injecting anything (`plan`).
pub(crate) async fn dry_run<C: Cluster>(
    cluster: &mut C,
    scenario: &Scenario,
    seed: u64,
) -> Result<Vec<Victim>, RunError> {
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(scenario_seed(seed, &scenario.name) ^ 0x5eed);
    let agents = match &scenario.service {
        Some(_) => cluster.agents().await?,
        None => Vec::new(),
    };
    let asg = match preflight::asg_lookup(scenario) {
        Some(l) => Some(preflight::find_asg(cluster, &l).await?),
        None => None,
    };
    preflight::select_victims(cluster, scenario, asg.as_ref(), &agents, &mut rng).await
}
