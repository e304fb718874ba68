//! The runner: for each scenario, for each run — wait for steady state, select the victims,
//! inject the fault, observe the phases until each is seen or past its deadline, heal as the
//! scenario says, judge the expectations. Written once against [`Cluster`]; it emits typed
//! [`Event`]s to a [`Sink`] and never reads them back.

mod cadence;
mod observe;
pub mod preflight;

use std::sync::Arc;

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use cadence::{Cadence, Feed, Feeds, History};
pub use observe::{Baseline, Called, Snapshot, Tracker};

use crate::cluster::{
    AsgLookup, Cluster, ClusterError, FaultKind, InstanceFilter, InstanceId, PodName,
};
use crate::journal::{Event, FailureKind, RunFailure, Sink, Victim};
use crate::measure::Observed;
use crate::scenario::{Demand, HealPolicy, Phase, Scenario};
use crate::time::{Dur, Timestamp};

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
pub struct StopFlag(Arc<tokio::sync::watch::Sender<bool>>);

impl Default for StopFlag {
    fn default() -> Self {
        Self(Arc::new(tokio::sync::watch::Sender::new(false)))
    }
}

impl StopFlag {
    pub fn raise(&self) {
        self.0.send_replace(true);
    }

    pub fn is_raised(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once the flag is raised.
    pub async fn raised(&self) {
        let mut rx = self.0.subscribe();
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
pub fn scenario_seed(seed: u64, name: &str) -> u64 {
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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Start {
    pub first_run: u32,
    pub replay: bool,
}

impl Start {
    pub const FRESH: Start = Start {
        first_run: 1,
        replay: false,
    };
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
    run_scenario_from(cluster, scenario, runs, seed, sink, stop, Start::FRESH).await
}

/// [`run_scenario`], starting where `start` says.
pub async fn run_scenario_from<C: Cluster>(
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
    };
    cluster.set_request_budget(Some(scenario.max_requests_per_minute));
    if start.replay {
        for run in 1..start.first_run.min(runs + 1) {
            run_once(cluster, &mut ctx, run, &mut rng, &mut Discard, stop).await?;
        }
    }
    for run in start.first_run.max(1)..=runs {
        match run_once(cluster, &mut ctx, run, &mut rng, sink, stop).await {
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
    let name = sc.name.clone();
    sink.emit(&Event::RunStarted {
        scenario: name.clone(),
        run,
        at: cluster.now(),
    })?;
    let started = cluster.now();
    let requests_before = cluster.requests();
    let waited_too_long = |now: Timestamp, why: &str| {
        (now.since(started) >= sc.steady_state_timeout).then(|| {
            RunError::Refused(format!(
                "the cluster did not reach steady state within {}: {why}",
                sc.steady_state_timeout
            ))
        })
    };
    while ctx.lookup.is_none() {
        // Learn the victim's group first, so that steady state covers it.
        let learnt = async {
            let agents = match &sc.service {
                Some(_) => cluster.agents().await?,
                None => Vec::new(),
            };
            preflight::select_victims(cluster, sc, None, &agents, rng).await
        }
        .await;
        match learnt {
            Ok(victims) => {
                ctx.lookup = victims
                    .first()
                    .and_then(|v| v.asg.clone())
                    .map(AsgLookup::Name);
                break;
            }
            Err(RunError::Cluster(e)) => {
                ride_out(cluster, &e, sink, &name, run).await?;
                if let Some(too_long) = waited_too_long(cluster.now(), &e.to_string()) {
                    return Err(too_long);
                }
                pause(cluster, sc.poll_interval, stop).await?;
            }
            Err(e) => return Err(e),
        }
    }

    if run > 1 && !sc.cooldown.is_zero() {
        pause(cluster, sc.cooldown, stop).await?;
    }
    // Steady state, waiting for it (between runs the last recovery may still be finishing),
    // then the victims. A throttled or briefly unreachable API is a reason to wait, not to
    // give up.
    let (steady, victims, steady_at) = loop {
        check_stop(stop).await?;
        let why = match observe_steady(cluster, sc, ctx.lookup.as_ref()).await {
            Ok(Ok(steady)) => {
                let at = cluster.now();
                match preflight::select_victims(
                    cluster,
                    sc,
                    steady.asg.as_ref(),
                    &steady.agents,
                    rng,
                )
                .await
                {
                    Ok(victims) => break (steady, victims, at),
                    Err(RunError::Cluster(e)) => {
                        ride_out(cluster, &e, sink, &name, run).await?;
                        e.to_string()
                    }
                    Err(e) => return Err(e),
                }
            }
            Ok(Err(why)) => why,
            Err(e) => {
                ride_out(cluster, &e, sink, &name, run).await?;
                e.to_string()
            }
        };
        if let Some(too_long) = waited_too_long(cluster.now(), &why) {
            return Err(too_long);
        }
        pause(cluster, sc.poll_interval, stop).await?;
    };
    sink.emit(&Event::VictimsSelected {
        scenario: name.clone(),
        run,
        victims: victims.clone(),
    })?;

    sink.emit(&Event::PhaseObserved {
        scenario: name.clone(),
        run,
        phase: Phase::SteadyStateVerified,
        at: steady_at,
        error_ms: 0,
        source: crate::measure::Source::Harness,
    })?;
    check_stop(stop).await?;
    let mut before = cluster.now();
    let mut after = before;
    for (i, v) in victims.iter().enumerate() {
        let (sent, received) = inject_once(
            cluster,
            sc.fault,
            &v.instance,
            sc.poll_interval,
            stop,
            sink,
            &name,
            run,
        )
        .await?;
        if i == 0 {
            before = sent;
        }
        after = received;
    }
    let half = after.since(before).as_millis() / 2;
    let fault = Observed::harness(before.saturating_add(Dur::from_millis(half)), half);

    let task = sc.service.as_ref().map_or("server", |s| s.task.as_str());
    let mut tracker = Tracker::new(sc.fault, task, steady.baseline, victims.clone(), before);
    let emit_phase = |sink: &mut dyn Sink, phase: Phase, o: Observed| {
        sink.emit(&Event::PhaseObserved {
            scenario: name.clone(),
            run,
            phase,
            at: o.at,
            error_ms: o.error_ms,
            source: o.source,
        })
    };
    if let Some((p, o)) = tracker.record_harness(Phase::FaultInjected, fault) {
        emit_phase(sink, p, o)?;
    }

    let plan = Plan::new(sc, &victims);
    let mut cadence = Cadence::new(sc, before, ctx.lookup.is_some());
    loop {
        if should_heal(sc.heal, &tracker) {
            let svc = sc
                .service
                .as_ref()
                .map(|s| s.name.clone())
                .unwrap_or_default();
            let t0 = cluster.now();
            for pod in victims.iter().filter_map(|v| v.pod.clone()) {
                replace_with_retry(
                    cluster,
                    &svc,
                    &pod,
                    sc.poll_interval,
                    stop,
                    sink,
                    &name,
                    run,
                )
                .await?;
            }
            let t1 = cluster.now();
            let half = t1.since(t0).as_millis() / 2;
            let o = Observed::harness(t0.saturating_add(Dur::from_millis(half)), half);
            if let Some((p, o)) = tracker.record_harness(Phase::PodReplaceIssued, o) {
                emit_phase(sink, p, o)?;
            }
        }
        let now = cluster.now();
        let elapsed = now.since(fault.at);
        if plan.finished(&tracker, elapsed) {
            break;
        }
        check_stop(stop).await?;
        let pending = plan.pending(&tracker, elapsed);
        let Some((due, feeds)) = cadence.next(&pending, &tracker, &ctx.history, fault.at, now)
        else {
            // Nothing to ask: only a deadline or a quiet window is left to run out.
            pause(cluster, sc.max_poll_interval(), stop).await?;
            continue;
        };
        pause(cluster, due.since(now), stop).await?;
        cadence.asked(feeds, cluster.now());
        let mut snap = poll(cluster, sc, &tracker, ctx.lookup.as_ref(), feeds, before).await;
        for (p, o) in tracker.update(&snap) {
            emit_phase(sink, p, o)?;
        }
        for e in std::mem::take(&mut snap.errors) {
            ride_out(cluster, &e, sink, &name, run).await?;
        }
        // Stop conditions: anything beyond the victims degrading ends the suite.
        if let Some(why) = preflight::collateral(
            task,
            &victims,
            tracker.baseline(),
            snap.asg.as_ref().map(|(_, a)| a),
            snap.all_pods.as_deref(),
            sc.stop_when.as_ref(),
        ) {
            return Err(RunError::Refused(format!("stop condition: {why}")));
        }
    }
    ctx.history.learn(&tracker, fault.at);

    sink.emit(&Event::RunFinished {
        scenario: name,
        run,
        at: cluster.now(),
        failures: plan.failures(&tracker, fault.at),
        replacements: tracker.replacements(),
        requests: cluster.requests().since(requests_before),
    })?;
    Ok(())
}

/// One look at the cluster: steady (with what it looked like), or why not.
async fn observe_steady<C: Cluster>(
    cluster: &mut C,
    sc: &Scenario,
    lookup: Option<&AsgLookup>,
) -> Result<Result<preflight::Steady, String>, ClusterError> {
    let asg = match lookup {
        Some(l) => {
            let mut groups = cluster.describe_asgs(l).await?;
            if groups.len() != 1 {
                return Ok(Err(format!(
                    "{} Auto Scaling groups match {l:?}",
                    groups.len()
                )));
            }
            Some(groups.remove(0))
        }
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
    // 16th check: a yield costs the simulator more than a poll).
    if CHECKS.with(|c| {
        c.set(c.get().wrapping_add(1));
        c.get() % 16 == 0
    }) {
        tokio::task::yield_now().await;
    }
    if stop.is_raised() {
        Err(RunError::Interrupted)
    } else {
        Ok(())
    }
}

fn should_heal(policy: HealPolicy, tracker: &Tracker) -> bool {
    if tracker.has(Phase::PodReplaceIssued) || !tracker.victims().any(|v| v.pod.is_some()) {
        return false;
    }
    match policy {
        HealPolicy::ReplaceImmediately => true,
        HealPolicy::ReplaceOnTaskLost => tracker.has(Phase::TaskLost),
        HealPolicy::ReplaceAfterAgentRegistered => tracker.has(Phase::AgentRegistered),
        HealPolicy::None => false,
    }
}

/// Whether asking again can help: the error is transient, or a refused credential was renewed.
async fn recoverable<C: Cluster>(cluster: &mut C, e: &ClusterError) -> bool {
    match e {
        ClusterError::Unauthorized { .. } => cluster.refresh_auth().await,
        e => e.is_retryable(),
    }
}

/// Journals an API error the run rides out. A refused credential is refreshed once if the
/// backend can; an error that waiting cannot fix ends the run.
async fn ride_out<C: Cluster>(
    cluster: &mut C,
    e: &ClusterError,
    sink: &mut dyn Sink,
    scenario: &str,
    run: u32,
) -> Result<(), RunError> {
    sink.emit(&Event::ApiError {
        scenario: scenario.to_string(),
        run,
        at: cluster.now(),
        error: crate::journal::ApiErrorRecord::of(e),
    })?;
    match e {
        ClusterError::NotFound { .. } => Ok(()),
        e if recoverable(cluster, e).await => Ok(()),
        e => Err(RunError::Cluster(e.clone())),
    }
}

/// Injects the fault exactly once. A throttled call had no effect and is retried with jittered
/// backoff; after an ambiguous failure (5xx, reset) the instance is looked at first, and if the
/// fault already landed it is never sent again. Returns when the landing call was sent and
/// when its effect was known.
#[expect(
    clippy::too_many_arguments,
    reason = "the run's context, passed through"
)]
async fn inject_once<C: Cluster>(
    cluster: &mut C,
    fault: FaultKind,
    id: &InstanceId,
    wait: Dur,
    stop: &StopFlag,
    sink: &mut dyn Sink,
    scenario: &str,
    run: u32,
) -> Result<(Timestamp, Timestamp), RunError> {
    const ATTEMPTS: u32 = 6;
    let mut first_sent = None;
    let mut attempt = 1;
    loop {
        check_stop(stop).await?;
        let sent = cluster.now();
        let first = *first_sent.get_or_insert(sent);
        let e = match cluster.inject(fault, id).await {
            Ok(()) => return Ok((sent, cluster.now())),
            Err(e) => e,
        };
        ride_out(cluster, &e, sink, scenario, run).await?;
        if !matches!(e, ClusterError::Throttled { .. }) {
            if !fault.leaves_running() {
                // A reboot leaves no trace to check: never risk a second one.
                return Err(RunError::Cluster(e));
            }
            let landed = cluster
                .describe_instances(&InstanceFilter::Ids(vec![id.clone()]))
                .await
                .is_ok_and(|i| {
                    i.iter()
                        .all(|i| i.state != crate::cluster::InstanceState::Running)
                });
            if landed {
                return Ok((first, cluster.now()));
            }
        }
        if attempt == ATTEMPTS {
            return Err(RunError::Cluster(e));
        }
        // Exponential backoff from a tenth of the poll interval, with jitter derived from the
        // clock (deterministic on the simulator).
        let base = (wait.as_millis() / 10).max(100) << (attempt - 1).min(5);
        let spread = cluster
            .now()
            .as_millis()
            .unsigned_abs()
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            >> 40;
        pause(
            cluster,
            Dur::from_millis(base / 2 + spread % (base / 2 + 1)),
            stop,
        )
        .await?;
        attempt += 1;
    }
}

/// `pod replace` is safe to repeat (it marks and kills), but a throttled or unreachable
/// scheduler is simply asked again after a poll interval.
#[expect(
    clippy::too_many_arguments,
    reason = "the run's context, passed through"
)]
async fn replace_with_retry<C: Cluster>(
    cluster: &mut C,
    service: &str,
    pod: &PodName,
    wait: Dur,
    stop: &StopFlag,
    sink: &mut dyn Sink,
    scenario: &str,
    run: u32,
) -> Result<(), RunError> {
    const ATTEMPTS: u32 = 8;
    let mut attempt = 1;
    loop {
        match cluster.pod_replace(service, pod).await {
            Ok(()) => return Ok(()),
            Err(e) => {
                ride_out(cluster, &e, sink, scenario, run).await?;
                if attempt == ATTEMPTS {
                    return Err(e.into());
                }
                attempt += 1;
                check_stop(stop).await?;
                pause(cluster, wait, stop).await?;
            }
        }
    }
}

/// One poll of the feeds that are due. A failed call leaves its part empty.
async fn poll<C: Cluster>(
    cluster: &mut C,
    sc: &Scenario,
    tracker: &Tracker,
    lookup: Option<&AsgLookup>,
    feeds: Feeds,
    fault_sent: Timestamp,
) -> Snapshot {
    let mut snap = Snapshot::default();
    // Times one call; a failure is kept for the journal.
    macro_rules! timed {
        ($call:expr) => {{
            let sent = cluster.now();
            let r = $call.await;
            let received = cluster.now();
            match r {
                Ok(v) => Some((Called { sent, received }, v)),
                Err(e) => {
                    snap.errors.push(e);
                    None
                }
            }
        }};
    }
    if sc.fault.leaves_running() && feeds.has(Feed::Ec2) {
        let ids = tracker.instances_of_interest();
        snap.ec2 = timed!(cluster.describe_instances(&InstanceFilter::Ids(ids)));
    }
    if sc.fault.leaves_running()
        && feeds.has(Feed::Asg)
        && let Some(lookup) = lookup
        && let Some((called, mut groups)) = timed!(cluster.describe_asgs(lookup))
        && groups.len() == 1
    {
        let asg = groups.remove(0);
        if !tracker.has(Phase::ReplacementInService) {
            snap.activities = timed!(cluster.describe_scaling_activities(&asg.name, fault_sent));
        }
        // Members that joined since the fault and are not described yet: for their IP.
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
    if let Some(svc) = &sc.service {
        if feeds.has(Feed::Agents) {
            snap.agents = timed!(cluster.agents());
        }
        if feeds.has(Feed::Pods) {
            let sent = cluster.now();
            let mut pods = Vec::new();
            let mut ok = true;
            for pod in tracker.victims().filter_map(|v| v.pod.clone()) {
                match cluster.pod_info(&svc.name, &pod).await {
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
            snap.all_pods = timed!(cluster.pod_statuses(&svc.name)).map(|(_, p)| p);
        }
    }
    // The group's members for the stop conditions, unless this poll read the group already.
    if feeds.has(Feed::Watch)
        && snap.asg.is_none()
        && let Some(lookup) = lookup
        && let Some((called, mut groups)) = timed!(cluster.describe_asgs(lookup))
        && groups.len() == 1
    {
        snap.asg = Some((called, groups.remove(0)));
    }
    if let Some(svc) = &sc.service
        && feeds.has(Feed::Recovery)
    {
        snap.recovery = timed!(cluster.plan(&svc.name, "recovery"));
    }
    snap
}

/// What a run waits for, and until when.
struct Plan {
    /// `(phase, deadline since the fault)`.
    awaited: Vec<(Phase, Dur)>,
    /// `(phase, window since the fault)` in which the phase must not happen.
    absent: Vec<(Phase, Dur)>,
    within: Vec<(Phase, Dur)>,
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
                Phase::AgentLost | Phase::AgentRegistered => service,
                Phase::TaskLost => pods,
                Phase::PodReplaceIssued => false,
                // Without a heal, a replaced host's pod stays lost; only a reboot heals alone.
                Phase::TaskRunning | Phase::RecoveryComplete => {
                    pods && (sc.heal.replaces() || !replaced)
                }
            };
            if implied {
                awaited.push((p, sc.timeout));
            }
        }
        let mut absent = Vec::new();
        let mut within = Vec::new();
        for e in &sc.expect {
            match e.demand() {
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
        }
    }

    /// The phases still looked for: every awaited phase not seen yet, past its own deadline
    /// too (a late phase is still measured while the run waits for others, and later phases
    /// may need it), and those in a window in which they must not happen.
    fn pending(&self, tracker: &Tracker, elapsed: Dur) -> Vec<Phase> {
        let awaited = self.awaited.iter().filter(|(p, _)| !tracker.has(*p));
        let absent = self
            .absent
            .iter()
            .filter(|(p, window)| !tracker.has(*p) && elapsed < *window);
        awaited.chain(absent).map(|(p, _)| *p).collect()
    }

    fn finished(&self, tracker: &Tracker, elapsed: Dur) -> bool {
        let awaited_done = self
            .awaited
            .iter()
            .all(|(p, deadline)| tracker.has(*p) || elapsed >= *deadline);
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
        for (p, deadline) in &self.awaited {
            if !tracker.has(*p) {
                let detail = format!("{p} was not observed within {deadline}");
                out.push(failure(*p, FailureKind::NotObserved, detail));
            }
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
pub async fn dry_run<C: Cluster>(
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
