//! The API economy, in-process against the simulated cluster: adaptive polling asks less than a
//! fixed poller and measures as truthfully; the request budget holds every service to its
//! requests per minute, as seen by a recorder between the runner and the cluster.

use chaos_harness::cluster::sim::{Profile, SimCluster, TruthEvent};
use chaos_harness::cluster::{
    ActivityObs, AgentObs, AsgLookup, AsgObs, Cluster, ClusterResult, InstanceFilter, InstanceId,
    InstanceObs, PlanObs, PodName, PodObs,
};
use chaos_harness::journal::Event;
use chaos_harness::report;
use chaos_harness::scenario::{Scenario, load_paths};
use chaos_harness::time::{Dur, Timestamp};
use chaos_harness::vocab::{FaultKind, Requests, Target};

use crate::root;
use crate::truth::{assert_truthful, run_in_process};

const SERVICES: [&str; 3] = ["ec2", "autoscaling", "dcos"];

/// A cluster that notes the service and the time of every call the runner makes, after the
/// inner cluster let it through (a call the budget holds back goes when the inner clock says).
struct Recorder<C> {
    inner: C,
    /// `(service index, sent at)`, in order.
    sent: Vec<(usize, Timestamp)>,
}

impl<C: Cluster> Recorder<C> {
    fn note<T>(&mut self, service: usize, r: ClusterResult<T>) -> ClusterResult<T> {
        self.sent.push((service, self.inner.now()));
        r
    }

    /// The calls to each service, counted by the recorder (not by the meter under test).
    fn counted(&self) -> Requests {
        let n = |s: usize| self.sent.iter().filter(|(x, _)| *x == s).count() as u64;
        Requests {
            ec2: n(0),
            autoscaling: n(1),
            dcos: n(2),
        }
    }

    /// The most calls to `service` in any window of 60 s (`[t, t + 60 s)`, as the budget
    /// counts).
    fn busiest_minute(&self, service: usize) -> usize {
        let times: Vec<Timestamp> = self
            .sent
            .iter()
            .filter(|(s, _)| *s == service)
            .map(|(_, t)| *t)
            .collect();
        times
            .iter()
            .enumerate()
            .map(|(i, t)| {
                times[i..]
                    .iter()
                    .take_while(|u| u.since(*t) < Dur::from_secs(60))
                    .count()
            })
            .max()
            .unwrap_or(0)
    }
}

const EC2: usize = 0;
const ASG: usize = 1;
const DCOS: usize = 2;

impl<C: Cluster> Cluster for Recorder<C> {
    fn target(&self) -> Target {
        self.inner.target()
    }
    fn now(&self) -> Timestamp {
        self.inner.now()
    }
    async fn sleep(&mut self, d: Dur) {
        self.inner.sleep(d).await;
    }
    async fn describe_instances(
        &mut self,
        filter: &InstanceFilter,
    ) -> ClusterResult<Vec<InstanceObs>> {
        let r = self.inner.describe_instances(filter).await;
        self.note(EC2, r)
    }
    async fn describe_asgs(&mut self, lookup: &AsgLookup) -> ClusterResult<Vec<AsgObs>> {
        let r = self.inner.describe_asgs(lookup).await;
        self.note(ASG, r)
    }
    async fn describe_scaling_activities(
        &mut self,
        asg: &str,
        since: Timestamp,
    ) -> ClusterResult<Vec<ActivityObs>> {
        let r = self.inner.describe_scaling_activities(asg, since).await;
        self.note(ASG, r)
    }
    async fn inject(&mut self, fault: FaultKind, instance: &InstanceId) -> ClusterResult<()> {
        let r = self.inner.inject(fault, instance).await;
        self.note(EC2, r)
    }
    async fn agents(&mut self) -> ClusterResult<Vec<AgentObs>> {
        let r = self.inner.agents().await;
        self.note(DCOS, r)
    }
    async fn pod_statuses(&mut self, service: &str) -> ClusterResult<Vec<PodObs>> {
        let r = self.inner.pod_statuses(service).await;
        self.note(DCOS, r)
    }
    async fn pod_info(&mut self, service: &str, pod: &PodName) -> ClusterResult<PodObs> {
        let r = self.inner.pod_info(service, pod).await;
        self.note(DCOS, r)
    }
    async fn pod_replace(&mut self, service: &str, pod: &PodName) -> ClusterResult<()> {
        let r = self.inner.pod_replace(service, pod).await;
        self.note(DCOS, r)
    }
    async fn plan(&mut self, service: &str, plan: &str) -> ClusterResult<PlanObs> {
        let r = self.inner.plan(service, plan).await;
        self.note(DCOS, r)
    }
    fn requests(&self) -> Requests {
        self.inner.requests()
    }
    fn set_request_budget(&mut self, per_minute: Option<u32>) {
        self.inner.set_request_budget(per_minute);
    }
    fn budget_room(&self, need: Requests, last_start: Option<Timestamp>) -> Dur {
        self.inner.budget_room(need, last_start)
    }
    async fn refresh_auth(&mut self) -> bool {
        self.inner.refresh_auth().await
    }
}

/// The reference scenario as its file says.
pub(crate) fn reference() -> Scenario {
    let loaded = load_paths(&[root().join("scenarios/cassandra-node-replace.yaml")]).unwrap();
    loaded[0].scenario.clone()
}

/// The reference scenario polled every second, whatever is pending, under `budget`.
fn fixed_poller(budget: u32) -> Scenario {
    let mut sc = reference();
    sc.poll_interval = Dur::from_secs(1);
    sc.max_poll_interval = Some(Dur::from_secs(1));
    sc.max_requests_per_minute = Some(budget);
    sc
}

/// What one suite against the default simulated cluster left behind.
pub(crate) struct Drill {
    /// The journal, as `run` writes it from the scenario's start on.
    pub(crate) events: Vec<Event>,
    /// The simulator's ground truth.
    pub(crate) truth: Vec<TruthEvent>,
    recorder: Recorder<SimCluster>,
}

impl Drill {
    pub(crate) fn run(sc: &Scenario, runs: u32, seed: u64) -> Self {
        let profile = Profile::load("default").unwrap();
        let cluster = SimCluster::at_epoch(&profile, seed);
        let mut recorder = Recorder {
            inner: cluster,
            sent: Vec::new(),
        };
        let mut events: Vec<Event> = Vec::new();
        run_in_process(&mut recorder, sc, runs, seed, &mut events);
        assert!(
            !events.iter().any(|e| matches!(e, Event::Aborted { .. })),
            "the suite aborted"
        );
        // The meter counts exactly the calls that were made.
        assert_eq!(recorder.inner.requests(), recorder.counted());
        let truth = recorder.inner.truth().to_vec();
        Self {
            events,
            truth,
            recorder,
        }
    }

    /// Each finished run's requests, as the journal has them.
    fn per_run(&self) -> Vec<Requests> {
        self.events
            .iter()
            .filter_map(|e| match e {
                Event::RunFinished { requests, .. } => Some(*requests),
                _ => None,
            })
            .collect()
    }

    fn report(&self) -> report::ScenarioReport {
        let mut r = report::build(&self.events, false);
        assert_eq!(r.scenarios.len(), 1);
        r.scenarios.remove(0)
    }
}

#[test]
fn adaptive_polling_asks_less_than_a_fixed_one_second_poller_and_is_as_truthful() {
    const RUNS: u32 = 8;
    let adaptive = Drill::run(&reference(), RUNS, 21);
    let fixed = Drill::run(&fixed_poller(100_000), RUNS, 21);
    let (a, f) = (adaptive.per_run(), fixed.per_run());
    assert_eq!(a.len(), RUNS as usize);
    assert_eq!(f.len(), RUNS as usize);

    // The journal's per-run figures add up to what the cluster saw (between runs nothing is
    // sent that the next run does not count).
    for d in [&adaptive, &fixed] {
        let sum = d
            .per_run()
            .into_iter()
            .fold(Requests::default(), |x, y| x + y);
        let all = d.recorder.counted();
        for ((name, n), (_, seen)) in sum.by_service().into_iter().zip(all.by_service()) {
            assert!(n > 0, "{name}: no requests");
            assert!(n <= seen, "{name}: {n} in runs, {seen} in all");
        }
    }

    // Run for run, every service is asked less often.
    for (run, (a, f)) in a.iter().zip(&f).enumerate() {
        for ((name, x), (_, y)) in a.by_service().into_iter().zip(f.by_service()) {
            assert!(
                x < y,
                "run {}: {name} got {x} requests polled adaptively, {y} polled every second",
                run + 1,
            );
        }
    }
    // And by a wide margin overall: the fixed poller asks at least twice as much.
    let (ta, tf) = (adaptive.report(), fixed.report());
    let (ra, rf) = (ta.requests.unwrap(), tf.requests.unwrap());
    for ((s, x), (_, y)) in ra
        .per_run
        .by_service()
        .into_iter()
        .zip(rf.per_run.by_service())
    {
        assert!(2.0 * x <= y, "{s}: {x} per run adaptively vs {y} fixed");
    }

    // Both measure every phase with a truth counterpart within its bound.
    assert_eq!(
        assert_truthful(&adaptive.events, &adaptive.truth),
        9 * RUNS as usize
    );
    assert_eq!(
        assert_truthful(&fixed.events, &fixed.truth),
        9 * RUNS as usize
    );
}

#[test]
fn the_default_budget_holds_every_service_to_sixty_requests_in_any_minute() {
    const RUNS: u32 = 3;
    // Unbudgeted, a one-second poller asks DC/OS far more than 60 times a minute: the budget
    // has something to hold back.
    let free = Drill::run(&fixed_poller(100_000), RUNS, 4);
    assert!(
        free.recorder.busiest_minute(DCOS) > 60,
        "unbudgeted DC/OS peak {} per minute",
        free.recorder.busiest_minute(DCOS)
    );

    let mut sc = fixed_poller(0);
    // The default budget at the default 5 s poll.
    sc.max_requests_per_minute = Some(reference().request_budget());
    assert_eq!(sc.max_requests_per_minute, Some(60), "the default budget");
    let held = Drill::run(&sc, RUNS, 4);
    for (s, name) in SERVICES.iter().enumerate() {
        let peak = held.recorder.busiest_minute(s);
        assert!(peak <= 60, "{name}: {peak} requests in one minute");
    }
    // The budget delays requests but the drill still finishes, truthfully.
    assert_eq!(held.per_run().len(), RUNS as usize);
    assert_truthful(&held.events, &held.truth);

    // The adaptive poller stays within the budget too.
    let adaptive = Drill::run(&reference(), RUNS, 4);
    for (s, name) in SERVICES.iter().enumerate() {
        let peak = adaptive.recorder.busiest_minute(s);
        assert!(peak <= 60, "{name}: {peak} requests in one minute");
    }
}

#[test]
fn a_tiny_budget_slows_the_polls_but_runs_finish_truthfully() {
    const RUNS: u32 = 3;
    let mut sc = reference();
    sc.max_requests_per_minute = Some(5);
    let d = Drill::run(&sc, RUNS, 8);
    for (s, name) in SERVICES.iter().enumerate() {
        let peak = d.recorder.busiest_minute(s);
        assert!(peak <= 5, "{name}: {peak} requests in one minute");
    }
    let r = d.report();
    assert_eq!(r.runs_finished, RUNS);
    let q = r.requests.expect("finished runs have a request summary");
    for (s, rate) in q.per_minute.by_service() {
        assert!(rate <= 5.0, "{s}: {rate} requests per minute");
        assert!(rate > 0.0, "{s}: no requests");
    }
    assert_truthful(&d.events, &d.truth);
}
