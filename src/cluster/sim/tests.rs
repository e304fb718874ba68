//! Drills by hand through the `Cluster` port, checked against the references and against the
//! model's own truth log.

use std::future::Future;

use super::*;
use crate::cluster::{
    ActivityStatus, AgentId, Api, ClusterError, InstanceState, LifecycleState, PlanStatus, TaskId,
    TaskState,
};

const SVC: &str = "cassandra";

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

fn start() -> Timestamp {
    Timestamp::parse_rfc3339("2026-01-05T10:00:00Z").unwrap()
}

/// The default profile with the scheduler on none of the private agents: for the tests of the
/// model's timings, which read the scheduler throughout (its outage has tests of its own).
fn scheduler_elsewhere() -> Profile {
    let mut p = Profile::default_profile();
    p.scheduler.agent = super::marathon::Placement::Elsewhere;
    p
}

fn pod(name: &str) -> PodName {
    PodName::new(name)
}

fn mins(t: Timestamp, t0: Timestamp) -> f64 {
    t.since(t0).as_millis() as f64 / 60_000.0
}

/// The server task of a pod: (id, state, agent, status time).
async fn server(c: &mut SimCluster, p: &str) -> (TaskId, Option<TaskState>, AgentId, Timestamp) {
    let info = c.pod_info(SVC, &pod(p)).await.unwrap();
    let t = info.task("server").unwrap();
    (
        t.id.clone(),
        t.state,
        t.agent.clone().unwrap(),
        t.status_time.unwrap(),
    )
}

/// The EC2 instance hosting a pod, found the way the harness does: agent → hostname → IP.
async fn host_of(c: &mut SimCluster, p: &str) -> InstanceObs {
    let (_, _, agent, _) = server(c, p).await;
    let agents = c.agents().await.unwrap();
    let host = agents
        .iter()
        .find(|a| a.id == agent)
        .unwrap()
        .hostname
        .to_string();
    let found = c
        .describe_instances(&InstanceFilter::PrivateIp(host))
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    found.into_iter().next().unwrap()
}

async fn instance(c: &mut SimCluster, id: &InstanceId) -> InstanceObs {
    c.describe_instances(&InstanceFilter::Ids(vec![id.clone()]))
        .await
        .unwrap()
        .remove(0)
}

async fn step_status(c: &mut SimCluster, step: &str) -> Option<(String, PlanStatus)> {
    let plan = c.plan(SVC, "recovery").await.unwrap();
    plan.phases.iter().find_map(|ph| {
        ph.steps
            .iter()
            .find(|s| &*s.name == step)
            .map(|s| (ph.name.to_string(), s.status))
    })
}

#[test]
fn steady_state_looks_like_the_fixtures() {
    let mut c = SimCluster::new(&Profile::default_profile(), 1, start());
    assert_eq!(c.target(), crate::vocab::Target::Sim);
    assert_eq!(c.now(), start());
    block_on(async {
        let pods = c.pod_statuses(SVC).await.unwrap();
        let names: Vec<&str> = pods.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["node-0", "node-1", "node-2", "node-3", "node-4"]);
        let node0: Vec<(&str, &str, Option<TaskState>)> = pods[0]
            .tasks
            .iter()
            .map(|t| (&*t.name, t.id.as_str(), t.state))
            .collect();
        assert_eq!(node0[0].0, "node-0-init_system_keyspaces");
        assert!(
            node0[0]
                .1
                .starts_with("cassandra__node-0-init_system_keyspaces__")
        );
        assert_eq!(node0[0].2, Some(TaskState::Finished));
        assert_eq!(node0[1], ("node-0-repair", "", None));
        assert_eq!(node0[2].0, "node-0-server");
        assert_eq!(node0[2].2, Some(TaskState::Running));
        for p in &pods[1..] {
            assert_eq!(p.tasks.len(), 2);
            assert_eq!(p.tasks[0].id.as_str(), "");
            assert!(p.tasks[0].state.is_none());
            let s = p.task("server").unwrap();
            assert_eq!(s.state, Some(TaskState::Running));
            let prefix = format!("cassandra__{}-server__", p.name);
            assert!(s.id.as_str().starts_with(&prefix), "{}", s.id);
            assert_eq!(s.id.as_str().len(), prefix.len() + 36);
            // `/v1/pod/status` carries neither agents nor status times.
            assert!(s.agent.is_none() && s.status_time.is_none());
        }

        let agents = c.agents().await.unwrap();
        assert_eq!(agents.len(), 6);
        for (n, a) in agents.iter().enumerate() {
            assert_eq!(
                a.id.as_str(),
                format!("b6f0c2d8-4e1a-4f7b-9c3d-2a5e8f1b7c64-S{n}")
            );
            assert!(a.active);
            assert!(a.registered_time < start());
            assert_eq!(a.public, n == 5);
        }
        // One Cassandra node per private agent.
        let mut hosts = Vec::new();
        for p in 0..5 {
            let (_, _, agent, t) = server(&mut c, &format!("node-{p}")).await;
            assert!(t < start());
            hosts.push(agent);
        }
        hosts.sort();
        hosts.dedup();
        assert_eq!(hosts.len(), 5);
        assert!(!hosts.contains(&agents[5].id));

        let asgs = c
            .describe_asgs(&AsgLookup::Name("dcos-private-agents".into()))
            .await
            .unwrap();
        assert_eq!(asgs.len(), 1);
        let asg = &asgs[0];
        assert_eq!(
            (asg.desired_capacity, asg.min_size, asg.max_size),
            (5, 5, 5)
        );
        assert_eq!(asg.instances.len(), 5);
        assert!(
            asg.instances
                .iter()
                .all(|m| m.lifecycle == LifecycleState::InService && m.healthy)
        );
        let by_tag = c
            .describe_asgs(&AsgLookup::Tag {
                key: "chaos-harness/opt-in".into(),
                value: "true".into(),
            })
            .await
            .unwrap();
        assert_eq!(by_tag, asgs);
        assert!(
            c.describe_asgs(&AsgLookup::Name("other".into()))
                .await
                .unwrap()
                .is_empty()
        );

        let members = c
            .describe_instances(&InstanceFilter::AsgName("dcos-private-agents".into()))
            .await
            .unwrap();
        assert_eq!(members.len(), 5);
        for (i, m) in members.iter().enumerate() {
            assert_eq!(m.state, InstanceState::Running);
            assert!(m.id.as_str().starts_with("i-") && m.id.as_str().len() == 19);
            assert_eq!(m.launch_time, m.launch_time.floor_to_second());
            assert_eq!(m.asg_name.as_deref(), Some("dcos-private-agents"));
            assert!(
                m.tags
                    .contains(&("chaos-harness/opt-in".to_string(), "true".to_string()))
            );
            let subnet = ["10.0.1.", "10.0.2.", "10.0.3."][i % 3];
            assert!(m.private_ip.as_deref().unwrap().starts_with(subnet));
            assert!(m.private_ip.as_deref().unwrap() == &*agents[i].hostname);
        }

        let recovery = c.plan(SVC, "recovery").await.unwrap();
        assert_eq!(recovery.status, PlanStatus::Complete);
        assert!(recovery.phases.is_empty());
        let deploy = c.plan(SVC, "deploy").await.unwrap();
        assert_eq!(deploy.status, PlanStatus::Complete);
        assert!(deploy.steps().any(|s| &*s.name == "node-4:[server]"));

        // The group was created more than six weeks ago: no activity history is left.
        let acts = c
            .describe_scaling_activities("dcos-private-agents", Timestamp::from_millis(0))
            .await
            .unwrap();
        assert!(acts.is_empty());
    });
    assert!(c.truth().is_empty());
}

#[test]
fn errors_name_what_is_missing() {
    let mut c = SimCluster::new(&Profile::default_profile(), 1, start());
    block_on(async {
        let e = c.pod_info(SVC, &pod("node-9")).await.unwrap_err();
        assert_eq!(
            e,
            ClusterError::NotFound {
                api: Api::Scheduler,
                message: "Pod node-9 not found".into()
            }
        );
        let e = c.pod_replace(SVC, &pod("node-9")).await.unwrap_err();
        assert!(
            matches!(&e, ClusterError::NotFound { message, .. } if message == "Pod node-9 not found")
        );
        let e = c.plan(SVC, "x").await.unwrap_err();
        assert!(
            matches!(&e, ClusterError::NotFound { message, .. } if message == "Plan x not found")
        );
        let e = c.pod_statuses("kafka").await.unwrap_err();
        assert!(
            matches!(&e, ClusterError::NotFound { message, .. } if message == "404 Not Found: service not found.")
        );
        assert!(c.plan("kafka", "deploy").await.is_err());
        let ghost = InstanceId::new("i-00000000000000000");
        let e = c
            .inject(FaultKind::TerminateInstance, &ghost)
            .await
            .unwrap_err();
        assert!(matches!(e, ClusterError::NotFound { api: Api::Ec2, .. }));
        assert!(
            c.describe_instances(&InstanceFilter::Ids(vec![ghost]))
                .await
                .is_err()
        );
        assert!(
            c.describe_scaling_activities("nope", Timestamp::from_millis(0))
                .await
                .unwrap_err()
                .to_string()
                .contains("nope")
        );
    });
    assert!(c.truth().is_empty(), "failed calls change nothing");
}

/// What a hand-driven terminate drill saw, each first time it was seen.
#[derive(Debug, Default)]
struct Seen {
    terminated: Option<Timestamp>,
    terminating_activity: Option<Timestamp>,
    launched: Option<(InstanceId, Timestamp)>,
    in_service: Option<Timestamp>,
    agent_inactive: Option<Timestamp>,
    agent_removed: Option<Timestamp>,
    task_lost: Option<Timestamp>,
    new_agent: Option<AgentId>,
    running: Option<(TaskId, AgentId, Timestamp)>,
    complete: Option<Timestamp>,
}

#[test]
fn terminate_drill_by_hand() {
    let mut c = SimCluster::new(&Profile::default_profile(), 1, start());
    let poll = Dur::from_secs(5);
    let seen =
        block_on(async {
            let (old_task, _, old_agent, _) = server(&mut c, "node-4").await;
            let victim = host_of(&mut c, "node-4").await;
            let old_ip = victim.private_ip.clone().unwrap();
            let old_agents: Vec<AgentId> = c
                .agents()
                .await
                .unwrap()
                .into_iter()
                .map(|a| a.id)
                .collect();
            let t0 = c.now();
            c.inject(FaultKind::TerminateInstance, &victim.id)
                .await
                .unwrap();
            let v = instance(&mut c, &victim.id).await;
            assert_eq!(v.state, InstanceState::ShuttingDown);
            assert_eq!(
                &*v.state_transition_reason,
                "User initiated (2026-01-05 10:00:00 GMT)"
            );
            // Terminating twice is a no-op, as on EC2.
            c.inject(FaultKind::TerminateInstance, &victim.id)
                .await
                .unwrap();

            let mut s = Seen::default();
            let mut replaced = false;
            for _ in 0..(40 * 12) {
                c.sleep(poll).await;
                let now = c.now();
                let v = instance(&mut c, &victim.id).await;
                if v.state == InstanceState::Terminated && s.terminated.is_none() {
                    assert!(v.private_ip.is_none(), "a terminated instance has no IP");
                    s.terminated = Some(now);
                }
                let acts = c
                    .describe_scaling_activities("dcos-private-agents", Timestamp::from_millis(0))
                    .await
                    .unwrap();
                for a in &acts {
                    if a.terminated_instance().as_ref() == Some(&victim.id) {
                        assert!(a.cause.contains(
                            "EC2 health check indicating it has been terminated or stopped"
                        ));
                        s.terminating_activity.get_or_insert(a.start_time);
                    }
                    if let Some(new) = a.launched_instance()
                        && a.start_time > t0
                    {
                        assert!(
                            a.cause.contains("increasing the capacity from 4 to 5"),
                            "{}",
                            a.cause
                        );
                        assert_ne!(new, victim.id);
                        if s.launched.is_none() {
                            s.launched = Some((new.clone(), a.start_time));
                        }
                        if a.status == ActivityStatus::Successful {
                            assert!(a.end_time.unwrap() >= a.start_time.floor_to_second());
                        }
                    }
                }
                let asg = c
                    .describe_asgs(&AsgLookup::Name("dcos-private-agents".into()))
                    .await
                    .unwrap()
                    .remove(0);
                if let Some((new, _)) = &s.launched
                    && asg
                        .instances
                        .iter()
                        .any(|m| m.id == *new && m.lifecycle == LifecycleState::InService)
                {
                    s.in_service.get_or_insert(now);
                }
                let victim_member = asg.instances.iter().find(|m| m.id == victim.id);
                if s.terminating_activity.is_some() && s.terminated.is_some() {
                    assert!(
                        victim_member.is_none(),
                        "a terminated victim leaves the group"
                    );
                } else if let Some(m) = victim_member
                    && s.terminating_activity.is_some()
                {
                    assert_eq!(m.lifecycle, LifecycleState::Terminating);
                    assert!(!m.healthy);
                }

                let agents = c.agents().await.unwrap();
                match agents.iter().find(|a| a.id == old_agent) {
                    Some(a) if !a.active => {
                        s.agent_inactive.get_or_insert(now);
                    }
                    Some(_) => assert!(s.agent_inactive.is_none()),
                    None => {
                        assert!(s.agent_inactive.is_some(), "inactive before removed");
                        s.agent_removed.get_or_insert(now);
                    }
                }
                for a in &agents {
                    if !old_agents.contains(&a.id) {
                        assert_ne!(a.hostname, old_ip);
                        assert!(a.active && a.registered_time > t0);
                        s.new_agent.get_or_insert(a.id.clone());
                    }
                }

                let (id, state, agent, time) = server(&mut c, "node-4").await;
                if !replaced {
                    assert_eq!(id, old_task);
                    if s.agent_removed.is_none() {
                        assert_eq!(state, Some(TaskState::Running), "RUNNING until unreachable");
                    } else {
                        assert_eq!(state, Some(TaskState::Lost));
                        assert!(time > t0 && time <= now);
                        s.task_lost.get_or_insert(time);
                        assert_eq!(
                            step_status(&mut c, "node-4:[server]").await,
                            Some(("node-4:[server]".to_string(), PlanStatus::Pending))
                        );
                        let recovery = c.plan(SVC, "recovery").await.unwrap();
                        assert_ne!(recovery.status, PlanStatus::Complete);
                        assert!(s.new_agent.is_none(), "this seed loses the task first");
                        c.pod_replace(SVC, &pod("node-4")).await.unwrap();
                        replaced = true;
                        // No free agent yet: the permanent step waits.
                        c.sleep(Dur::from_mins(1)).await;
                        assert_eq!(
                            step_status(&mut c, "node-4:[server]").await,
                            Some((
                                "permanent-node-failure-recovery".to_string(),
                                PlanStatus::Pending
                            ))
                        );
                        let (id, state, _, _) = server(&mut c, "node-4").await;
                        assert_eq!((id, state), (old_task.clone(), Some(TaskState::Lost)));
                    }
                } else if state == Some(TaskState::Running) && id != old_task {
                    let new_agent = s.new_agent.clone().expect("placed on a registered agent");
                    assert_eq!(agent, new_agent, "the only free agent is the replacement");
                    s.running.get_or_insert((id, agent, time));
                    if step_status(&mut c, "node-4:[server]").await.map(|x| x.1)
                        == Some(PlanStatus::Complete)
                    {
                        s.complete = Some(now);
                        let recovery = c.plan(SVC, "recovery").await.unwrap();
                        assert_eq!(recovery.status, PlanStatus::Complete);
                        assert_eq!(recovery.phases.len(), 1, "completed phases stay");
                        break;
                    }
                }
            }
            s
        });
    let t0 = start();
    let s = &seen;
    let terminated = s.terminated.expect("terminated");
    assert!(
        (0.3..=1.6).contains(&mins(terminated, t0)),
        "{}",
        mins(terminated, t0)
    );
    assert!(s.terminating_activity.unwrap() > t0);
    let (new_inst, launch) = s.launched.clone().expect("a launch");
    assert!(launch >= s.terminating_activity.unwrap());
    let in_service = s.in_service.expect("InService");
    assert!((1.0..=6.0).contains(&mins(in_service, t0)));
    assert!(mins(s.agent_inactive.unwrap(), t0) <= 0.6);
    let removed = s.agent_removed.unwrap();
    assert!((4.5..=8.1).contains(&mins(removed, t0)));
    let lost = s.task_lost.unwrap();
    assert!(lost <= removed && removed.since(lost) <= Dur::from_secs(5));
    let (_, _, running) = s.running.clone().expect("node-4 RUNNING again");
    assert!(
        (9.0..=22.0).contains(&mins(running, t0)),
        "{}",
        mins(running, t0)
    );
    assert!(s.complete.unwrap() > running);

    // The truth log agrees with what was polled, within one poll interval.
    let truth = c.truth();
    let first = |kind: TruthKind, subject: &str| {
        truth
            .iter()
            .find(|e| e.kind == kind && e.subject == subject)
            .unwrap_or_else(|| panic!("no {kind:?} for {subject}"))
            .at
    };
    let victim = truth
        .iter()
        .find(|e| e.kind == TruthKind::FaultInjected)
        .unwrap();
    assert_eq!(victim.at, t0);
    assert_eq!(victim.state.as_deref(), Some("terminate-instance"));
    let t_term = first(TruthKind::InstanceTerminated, &victim.subject);
    assert!(t_term <= terminated && terminated.since(t_term) < Dur::from_secs(5));
    let t_in = first(TruthKind::ReplacementInService, new_inst.as_str());
    assert!(t_in <= in_service && in_service.since(t_in) < Dur::from_secs(5));
    let t_launch = first(TruthKind::ReplacementLaunchStarted, new_inst.as_str());
    assert_eq!(
        t_launch, launch,
        "StartTime is the true launch start, to the ms"
    );
    let running_truth = truth
        .iter()
        .find(|e| {
            e.kind == TruthKind::TaskStatus
                && e.subject == "node-4-server"
                && e.state.as_deref() == Some("RUNNING")
        })
        .unwrap();
    assert_eq!(running_truth.at, running);
    assert_eq!(
        running_truth.id.as_deref(),
        Some(s.running.as_ref().unwrap().0.as_str())
    );
    assert!(
        truth
            .iter()
            .any(|e| e.kind == TruthKind::AsgMemberRemoved && e.subject == victim.subject)
    );
    // Truth is in time order.
    assert!(truth.windows(2).all(|w| w[0].at <= w[1].at));
    // The log serialises (JSONL later).
    let line = serde_json::to_string(&truth[0]).unwrap();
    assert!(line.contains("\"kind\":\"fault_injected\""), "{line}");
}

/// One raw drill on the model: kill node-4's host, `pod replace` once the task is lost, until
/// node-4-server is RUNNING with a new id. Returns (InService − kill, RUNNING − kill).
fn raw_drill(profile: &Profile, seed: u64) -> (Dur, Dur) {
    let mut sim = Sim::new(profile, seed, start());
    let t0 = sim.now();
    let info = sim.pod_info(SVC, &pod("node-4")).unwrap();
    let old = info.task("server").unwrap().clone();
    let host = sim
        .agents()
        .into_iter()
        .find(|a| Some(&a.id) == old.agent.as_ref())
        .unwrap()
        .hostname
        .to_string();
    let victim = sim
        .describe_instances(&InstanceFilter::PrivateIp(host))
        .unwrap()
        .remove(0)
        .id;
    sim.inject(FaultKind::TerminateInstance, &victim).unwrap();
    let mut replaced = false;
    let mut t = t0;
    loop {
        t = t.saturating_add(Dur::from_secs(5));
        assert!(t.since(t0) < Dur::from_mins(60), "seed {seed}: no recovery");
        sim.advance_to(t);
        let info = sim.pod_info(SVC, &pod("node-4")).unwrap();
        let s = info.task("server").unwrap();
        if !replaced && s.state == Some(TaskState::Lost) {
            sim.pod_replace(SVC, &pod("node-4")).unwrap();
            replaced = true;
        }
        if replaced && s.state == Some(TaskState::Running) && s.id != old.id {
            break;
        }
    }
    let truth = sim.truth();
    let in_service = truth
        .iter()
        .find(|e| e.kind == TruthKind::ReplacementInService)
        .unwrap()
        .at;
    let running = truth
        .iter()
        .rev()
        .find(|e| e.kind == TruthKind::TaskStatus && e.state.as_deref() == Some("RUNNING"))
        .unwrap()
        .at;
    (in_service.since(t0), running.since(t0))
}

fn percentile(v: &mut [u64], p: usize) -> f64 {
    v.sort_unstable();
    v[(v.len() - 1) * p / 100] as f64 / 60_000.0
}

#[test]
fn default_timings_match_the_documented_ranges() {
    let profile = scheduler_elsewhere();
    let (mut asg, mut cass): (Vec<u64>, Vec<u64>) = (0..200)
        .map(|seed| {
            let (a, c) = raw_drill(&profile, seed);
            (a.as_millis(), c.as_millis())
        })
        .unzip();
    let asg_p50 = percentile(&mut asg, 50);
    let (asg_min, asg_max) = (percentile(&mut asg, 0), percentile(&mut asg, 100));
    assert!(
        (2.5..=3.5).contains(&asg_p50),
        "ASG InService p50 {asg_p50:.2} min"
    );
    assert!(
        asg_min >= 1.0 && asg_max <= 8.5,
        "{asg_min:.2}..{asg_max:.2}"
    );
    let p50 = percentile(&mut cass, 50);
    let p10 = percentile(&mut cass, 10);
    let p90 = percentile(&mut cass, 90);
    assert!((12.5..=15.0).contains(&p50), "RUNNING p50 {p50:.2} min");
    assert!(
        p10 >= 10.5 && p90 <= 18.0,
        "RUNNING p10 {p10:.2}, p90 {p90:.2}"
    );
}

#[test]
fn same_seed_same_world_different_seed_different_world() {
    let profile = Profile::default_profile();
    let run = |seed: u64| {
        let mut c = SimCluster::new(&profile, seed, start());
        let obs = block_on(async {
            let victim = host_of(&mut c, "node-4").await;
            c.inject(FaultKind::TerminateInstance, &victim.id)
                .await
                .unwrap();
            let mut seen = Vec::new();
            for i in 0..240 {
                c.sleep(Dur::from_secs(5)).await;
                if i == 70 {
                    c.pod_replace(SVC, &pod("node-4")).await.unwrap();
                }
                seen.push(format!(
                    "{:?}{:?}{:?}",
                    c.pod_info(SVC, &pod("node-4")).await.unwrap(),
                    c.agents().await.unwrap(),
                    c.describe_scaling_activities("dcos-private-agents", Timestamp::from_millis(0))
                        .await
                        .unwrap()
                ));
            }
            seen
        });
        (c.truth().to_vec(), obs)
    };
    let (a, obs_a) = run(42);
    let (b, obs_b) = run(42);
    assert!(a.len() > 15);
    assert_eq!(a, b);
    assert_eq!(obs_a, obs_b);
    let (c, _) = run(43);
    assert_ne!(a, c);
}

#[test]
fn reboot_relaunches_in_place_without_a_replacement() {
    let mut c = SimCluster::new(&Profile::default_profile(), 3, start());
    block_on(async {
        let (old_task, _, agent, _) = server(&mut c, "node-4").await;
        let victim = host_of(&mut c, "node-4").await;
        let t0 = c.now();
        c.inject(FaultKind::RebootInstance, &victim.id)
            .await
            .unwrap();
        let mut went_inactive = false;
        let mut running = None;
        for _ in 0..(20 * 12) {
            c.sleep(Dur::from_secs(5)).await;
            let v = instance(&mut c, &victim.id).await;
            assert_eq!(
                v.state,
                InstanceState::Running,
                "a reboot keeps the instance running"
            );
            let acts = c
                .describe_scaling_activities("dcos-private-agents", Timestamp::from_millis(0))
                .await
                .unwrap();
            assert!(
                acts.iter().all(|a| a.start_time < t0),
                "no scaling activity"
            );
            let agents = c.agents().await.unwrap();
            assert_eq!(agents.len(), 6, "no agent is removed or added");
            let a = agents.iter().find(|a| a.id == agent).unwrap();
            if !a.active {
                went_inactive = true;
            }
            let (id, state, on, _) = server(&mut c, "node-4").await;
            if state == Some(TaskState::Running) && id != old_task {
                assert_eq!(on, agent, "relaunched in place");
                assert!(a.active && a.reregistered_time.unwrap() > t0);
                running = Some(c.now());
            }
            if running.is_some()
                && step_status(&mut c, "node-4:[server]").await
                    == Some(("node-4:[server]".to_string(), PlanStatus::Complete))
            {
                break;
            }
        }
        assert!(went_inactive);
        let running = running.expect("node-4 RUNNING again");
        assert!(mins(running, t0) < 7.0, "{}", mins(running, t0));
    });
    let truth = c.truth();
    assert!(!truth.iter().any(|e| matches!(
        e.kind,
        TruthKind::ReplacementLaunchStarted | TruthKind::AsgUnhealthy | TruthKind::AgentUnreachable
    )));
    let task_states: Vec<&str> = truth
        .iter()
        .filter(|e| e.kind == TruthKind::TaskStatus)
        .map(|e| e.state.as_deref().unwrap())
        .collect();
    assert_eq!(task_states, ["LOST", "STAGING", "STARTING", "RUNNING"]);
    let step_states: Vec<&str> = truth
        .iter()
        .filter(|e| e.kind == TruthKind::RecoveryStep)
        .map(|e| e.state.as_deref().unwrap())
        .collect();
    assert_eq!(step_states, ["PENDING", "STARTING", "STARTED", "COMPLETE"]);
    assert!(truth.iter().any(|e| e.kind == TruthKind::AgentReregistered));
}

#[test]
fn reboot_with_a_new_agent_id_needs_a_replace() {
    let mut profile = scheduler_elsewhere();
    profile.reboot_keeps_agent_id = false;
    profile.task_lost_status = LostStatus::Unreachable;
    let mut c = SimCluster::new(&profile, 5, start());
    block_on(async {
        let (old_task, _, old_agent, _) = server(&mut c, "node-4").await;
        let victim = host_of(&mut c, "node-4").await;
        let ip = victim.private_ip.clone().unwrap();
        c.inject(FaultKind::RebootInstance, &victim.id)
            .await
            .unwrap();
        c.sleep(Dur::from_mins(10)).await;
        let agents = c.agents().await.unwrap();
        assert!(agents.iter().all(|a| a.id != old_agent), "old id removed");
        let new_agent = agents.iter().find(|a| a.hostname == ip).unwrap().id.clone();
        let (id, state, _, _) = server(&mut c, "node-4").await;
        assert_eq!(
            (id, state),
            (old_task.clone(), Some(TaskState::Unreachable))
        );
        assert_eq!(
            step_status(&mut c, "node-4:[server]").await.unwrap().1,
            PlanStatus::Pending,
            "the in-place relaunch never gets an offer"
        );
        c.pod_replace(SVC, &pod("node-4")).await.unwrap();
        c.sleep(Dur::from_mins(3)).await;
        let (id, state, on, _) = server(&mut c, "node-4").await;
        assert_ne!(id, old_task);
        assert_eq!(state, Some(TaskState::Running));
        assert_eq!(
            on, new_agent,
            "the rebooted host's new agent is the free one"
        );
    });
    assert!(
        !c.truth()
            .iter()
            .any(|e| e.kind == TruthKind::ReplacementLaunchStarted)
    );
}

#[test]
fn spare_agent_takes_the_replaced_pod_at_once() {
    let profile = Profile::builtin("spare-agent").unwrap();
    let mut c = SimCluster::new(&profile, 9, start());
    block_on(async {
        let agents = c.agents().await.unwrap();
        assert_eq!(agents.len(), 7);
        let mut busy = Vec::new();
        for p in 0..5 {
            busy.push(server(&mut c, &format!("node-{p}")).await.2);
        }
        let spare = agents
            .iter()
            .find(|a| !a.public && !busy.contains(&a.id))
            .unwrap()
            .id
            .clone();
        let (old_task, _, _, _) = server(&mut c, "node-4").await;
        let victim = host_of(&mut c, "node-4").await;
        let t0 = c.now();
        c.inject(FaultKind::TerminateInstance, &victim.id)
            .await
            .unwrap();
        c.sleep(Dur::from_secs(5)).await;
        c.pod_replace(SVC, &pod("node-4")).await.unwrap();
        // The old task's agent is disconnected, not yet unreachable: its status stays.
        let (id, state, _, _) = server(&mut c, "node-4").await;
        assert_eq!((id, state), (old_task.clone(), Some(TaskState::Running)));
        let mut running = None;
        for _ in 0..(10 * 12) {
            c.sleep(Dur::from_secs(5)).await;
            let (id, state, on, _) = server(&mut c, "node-4").await;
            if id != old_task && state == Some(TaskState::Running) {
                assert_eq!(on, spare);
                running = Some(c.now());
                break;
            }
        }
        let running = running.expect("node-4 RUNNING on the spare");
        assert!(mins(running, t0) < 3.0, "{}", mins(running, t0));
        // Long before the ASG's replacement joins Mesos.
        assert_eq!(c.agents().await.unwrap().len(), 7);
        // When the old agent is finally removed, the replaced task's status is untouched.
        c.sleep(Dur::from_mins(10)).await;
        let (id, state, on, _) = server(&mut c, "node-4").await;
        assert_eq!((state, on), (Some(TaskState::Running), spare));
        assert_ne!(id, old_task);
    });
}

#[test]
fn stop_is_replaced_like_a_terminate() {
    let mut c = SimCluster::new(&Profile::default_profile(), 11, start());
    block_on(async {
        let victim = host_of(&mut c, "node-2").await;
        c.inject(FaultKind::StopInstance, &victim.id).await.unwrap();
        assert_eq!(
            instance(&mut c, &victim.id).await.state,
            InstanceState::Stopping
        );
        let mut states = vec![InstanceState::Stopping];
        for _ in 0..(10 * 12) {
            c.sleep(Dur::from_secs(5)).await;
            let s = instance(&mut c, &victim.id).await.state;
            if states.last() != Some(&s) {
                states.push(s);
            }
        }
        // `stopped` may last less than a poll when the group was already waiting for it.
        states.retain(|s| *s != InstanceState::Stopped);
        assert_eq!(
            states,
            [
                InstanceState::Stopping,
                InstanceState::ShuttingDown,
                InstanceState::Terminated
            ]
        );
        let mut kinds: Vec<TruthKind> = c
            .truth()
            .iter()
            .filter(|e| e.subject == victim.id.as_str())
            .map(|e| e.kind)
            .collect();
        // The group notices while the instance stops or once it is stopped, and terminates it
        // when it is stopped.
        let unhealthy = kinds
            .iter()
            .position(|k| *k == TruthKind::AsgUnhealthy)
            .unwrap();
        kinds.remove(unhealthy);
        assert!(unhealthy <= 3, "{kinds:?}");
        assert_eq!(
            kinds,
            [
                TruthKind::FaultInjected,
                TruthKind::InstanceStopping,
                TruthKind::InstanceStopped,
                TruthKind::InstanceShuttingDown,
                TruthKind::InstanceTerminated,
                TruthKind::AsgMemberRemoved,
            ]
        );
        let v = instance(&mut c, &victim.id).await;
        assert!(
            v.state_transition_reason.starts_with("Service initiated ("),
            "{}",
            v.state_transition_reason
        );
        let acts = c
            .describe_scaling_activities("dcos-private-agents", Timestamp::from_millis(0))
            .await
            .unwrap();
        assert!(acts[0].launched_instance().is_some());
        assert_eq!(acts[1].terminated_instance(), Some(victim.id.clone()));
        assert!(acts.iter().all(|a| a.status == ActivityStatus::Successful));
        // Stopping a terminated instance is refused.
        let e = c
            .inject(FaultKind::StopInstance, &victim.id)
            .await
            .unwrap_err();
        assert!(matches!(e, ClusterError::Fatal { api: Api::Ec2, .. }));
    });
}

#[test]
fn replace_of_a_healthy_pod_kills_it_and_reuses_the_freed_agent() {
    // No spare agent: the only agent that becomes free is the pod's own, once its old task
    // is KILLED.
    let mut c = SimCluster::new(&Profile::default_profile(), 2, start());
    block_on(async {
        let (old_task, _, old_agent, _) = server(&mut c, "node-3").await;
        c.pod_replace(SVC, &pod("node-3")).await.unwrap();
        let (id, state, _, _) = server(&mut c, "node-3").await;
        assert_eq!((id, state), (old_task.clone(), Some(TaskState::Running)));
        c.sleep(Dur::from_mins(5)).await;
        let (id, state, on, _) = server(&mut c, "node-3").await;
        assert_ne!(id, old_task);
        assert_eq!((state, on), (Some(TaskState::Running), old_agent));
        // Only node-3 (no seed) was touched.
        for p in ["node-0", "node-1", "node-2", "node-4"] {
            assert_eq!(server(&mut c, p).await.1, Some(TaskState::Running));
        }
    });
    let states: Vec<&str> = c
        .truth()
        .iter()
        .filter(|e| e.kind == TruthKind::TaskStatus)
        .map(|e| e.state.as_deref().unwrap())
        .collect();
    assert_eq!(states, ["KILLED", "STAGING", "STARTING", "RUNNING"]);
    let steps: Vec<(&str, &str)> = c
        .truth()
        .iter()
        .filter(|e| e.kind == TruthKind::RecoveryStep)
        .map(|e| (e.detail.as_deref().unwrap(), e.state.as_deref().unwrap()))
        .collect();
    assert_eq!(steps[0], ("permanent-node-failure-recovery", "PENDING"));
    assert_eq!(steps[1].1, "STARTING");
}

#[test]
fn consecutive_drills_in_one_cluster() {
    let mut c = SimCluster::new(&scheduler_elsewhere(), 21, start());
    block_on(async {
        let mut victims = Vec::new();
        let mut seen_agents: Vec<AgentId> = c
            .agents()
            .await
            .unwrap()
            .into_iter()
            .map(|a| a.id)
            .collect();
        for round in 0..3 {
            let victim = host_of(&mut c, "node-4").await;
            victims.push(victim.id.clone());
            polled_drill_from(&mut c, &victim.id).await;
            // Back to steady state: a full group InService, every pod RUNNING, recovery done.
            c.sleep(Dur::from_mins(2)).await;
            let asg = c
                .describe_asgs(&AsgLookup::Name("dcos-private-agents".into()))
                .await
                .unwrap()
                .remove(0);
            assert_eq!(asg.instances.len(), 5, "round {round}");
            assert!(
                asg.instances
                    .iter()
                    .all(|m| m.lifecycle == LifecycleState::InService)
            );
            assert!(!asg.instances.iter().any(|m| victims.contains(&m.id)));
            for p in c.pod_statuses(SVC).await.unwrap() {
                assert_eq!(p.task("server").unwrap().state, Some(TaskState::Running));
            }
            assert_eq!(
                c.plan(SVC, "recovery").await.unwrap().status,
                PlanStatus::Complete
            );
            let agents = c.agents().await.unwrap();
            assert_eq!(agents.len(), 6);
            seen_agents.extend(agents.into_iter().map(|a| a.id));
        }
        // Agent ids are never reused: S0…S5, then one new id per replacement.
        seen_agents.sort();
        seen_agents.dedup();
        assert_eq!(seen_agents.len(), 6 + 3);
        assert!(seen_agents.iter().any(|a| a.as_str().ends_with("-S8")));
        // EC2 forgets a terminated instance after about an hour.
        let last = InstanceFilter::Ids(vec![victims[2].clone()]);
        assert!(c.describe_instances(&last).await.is_ok());
        c.sleep(Dur::from_mins(61)).await;
        assert!(matches!(
            c.describe_instances(&last).await,
            Err(ClusterError::NotFound { .. })
        ));
        let listed = c
            .describe_instances(&InstanceFilter::AsgName("dcos-private-agents".into()))
            .await
            .unwrap();
        assert_eq!(listed.len(), 5);
        assert!(listed.iter().all(|i| i.state == InstanceState::Running));
    });
}

#[test]
fn the_cluster_can_move_between_threads() {
    fn is_send<T: Send>() {}
    is_send::<SimCluster>();
    is_send::<Sim>();
}

/// A drill as the runner polls it: every 5 s, the victim instance, the group, its latest
/// activities, the agents and the pod; `pod replace` once the task is lost; until the
/// recovery step is COMPLETE. Returns the number of polls.
async fn polled_drill(c: &mut SimCluster) -> u32 {
    let victim = host_of(c, "node-4").await.id;
    polled_drill_from(c, &victim).await
}

async fn polled_drill_from(c: &mut SimCluster, victim: &InstanceId) -> u32 {
    let victim = victim.clone();
    let old = server(c, "node-4").await.0;
    let asg = AsgLookup::Name("dcos-private-agents".into());
    let ids = InstanceFilter::Ids(vec![victim.clone()]);
    c.inject(FaultKind::TerminateInstance, &victim)
        .await
        .unwrap();
    let mut replaced = false;
    let mut polls = 0;
    loop {
        c.sleep(Dur::from_secs(5)).await;
        polls += 1;
        std::hint::black_box(c.describe_instances(&ids).await.unwrap());
        std::hint::black_box(c.describe_asgs(&asg).await.unwrap());
        std::hint::black_box(
            c.describe_scaling_activities("dcos-private-agents", Timestamp::from_millis(0))
                .await
                .unwrap(),
        );
        std::hint::black_box(c.agents().await.unwrap());
        let info = c.pod_info(SVC, &pod("node-4")).await.unwrap();
        let s = info.task("server").unwrap();
        if !replaced && s.state == Some(TaskState::Lost) {
            c.pod_replace(SVC, &pod("node-4")).await.unwrap();
            replaced = true;
        }
        if replaced && s.id != old && s.state == Some(TaskState::Running) {
            let plan = c.plan(SVC, "recovery").await.unwrap();
            if plan.status == PlanStatus::Complete {
                return polls;
            }
        }
    }
}

/// Throughput of whole polled drills; run with
/// `cargo test --release --lib cluster::sim::tests::throughput -- --ignored --nocapture`.
#[test]
#[ignore = "a measurement, not a check; run in release"]
fn throughput() {
    let profile = Profile::default_profile();
    let n = 20_000u64;
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    let mut polls = 0u64;
    for seed in 0..n {
        let mut c = SimCluster::new(&profile, seed, start());
        polls += u64::from(rt.block_on(polled_drill(&mut c)));
    }
    let secs = t.elapsed().as_secs_f64();
    eprintln!(
        "{n} drills in {secs:.2}s: {:.0} drills/s, {:.0} polls per drill, {:.0} ns per poll",
        n as f64 / secs,
        polls as f64 / n as f64,
        secs * 1e9 / polls as f64
    );
}

#[test]
#[ignore = "a measurement, not a check; run in release"]
fn throughput_breakdown() {
    let profile = Profile::default_profile();
    let n = 20_000u64;
    let time = |label: &str, f: &mut dyn FnMut(&mut Sim)| {
        let mut sims: Vec<Sim> = (0..1000).map(|s| Sim::new(&profile, s, start())).collect();
        let t = std::time::Instant::now();
        for i in 0..n {
            f(&mut sims[(i % 1000) as usize]);
        }
        eprintln!(
            "{label}: {:.0} ns",
            t.elapsed().as_secs_f64() * 1e9 / n as f64
        );
    };
    let t = std::time::Instant::now();
    for seed in 0..n {
        std::hint::black_box(Sim::new(&profile, seed, start()));
    }
    eprintln!(
        "Sim::new: {:.0} ns",
        t.elapsed().as_secs_f64() * 1e9 / n as f64
    );
    let ids = InstanceFilter::Ids(vec![
        Sim::new(&profile, 0, start())
            .describe_instances(&InstanceFilter::AsgName("dcos-private-agents".into()))
            .unwrap()[4]
            .id
            .clone(),
    ]);
    let asg = AsgLookup::Name("dcos-private-agents".into());
    time("describe_instances", &mut |s| {
        std::hint::black_box(s.describe_instances(&ids).ok());
    });
    time("describe_asgs", &mut |s| {
        std::hint::black_box(s.describe_asgs(&asg));
    });
    time("activities(10)", &mut |s| {
        std::hint::black_box(
            s.describe_scaling_activities("dcos-private-agents", Timestamp::from_millis(0))
                .unwrap(),
        );
    });
    time("agents", &mut |s| {
        std::hint::black_box(s.agents());
    });
    time("pod_info", &mut |s| {
        std::hint::black_box(s.pod_info(SVC, &pod("node-4")).unwrap());
    });
    time("pod_statuses", &mut |s| {
        std::hint::black_box(s.pod_statuses(SVC).unwrap());
    });
    time("plan recovery", &mut |s| {
        std::hint::black_box(s.plan(SVC, "recovery").unwrap());
    });
}

// ----- API faults ------------------------------------------------------------------------

/// Calls until the call succeeds, waiting `backoff` between attempts (zero: no time passes),
/// keeping every error.
macro_rules! ride_out {
    ($errors:expr, $c:ident, $backoff:expr, $call:expr) => {
        loop {
            match $call.await {
                Ok(v) => break v,
                Err(e) => {
                    assert!($errors.len() < 100_000, "the call never succeeds: {e}");
                    if !$backoff.is_zero() {
                        $c.sleep($backoff).await;
                    }
                    assert!(
                        matches!(
                            e,
                            ClusterError::Throttled { .. }
                                | ClusterError::Transient { .. }
                                | ClusterError::Unauthorized { .. }
                        ),
                        "{e}"
                    );
                    $errors.push(e);
                }
            }
        }
    };
}

/// `polled_drill`, riding out every API error; returns the errors met.
async fn faulty_drill(c: &mut SimCluster, backoff: Dur) -> Vec<ClusterError> {
    let mut errors = Vec::new();
    let info = ride_out!(errors, c, backoff, c.pod_info(SVC, &pod("node-4")));
    let t = info.task("server").unwrap().clone();
    let agents = ride_out!(errors, c, backoff, c.agents());
    let host = agents
        .iter()
        .find(|a| Some(&a.id) == t.agent.as_ref())
        .unwrap()
        .hostname
        .to_string();
    let victim = ride_out!(
        errors,
        c,
        backoff,
        c.describe_instances(&InstanceFilter::PrivateIp(host.clone()))
    )
    .remove(0)
    .id;
    let asg = AsgLookup::Name("dcos-private-agents".into());
    let ids = InstanceFilter::Ids(vec![victim.clone()]);
    ride_out!(
        errors,
        c,
        backoff,
        c.inject(FaultKind::TerminateInstance, &victim)
    );
    let mut replaced = false;
    loop {
        c.sleep(Dur::from_secs(5)).await;
        ride_out!(errors, c, backoff, c.describe_instances(&ids));
        ride_out!(errors, c, backoff, c.describe_asgs(&asg));
        ride_out!(
            errors,
            c,
            backoff,
            c.describe_scaling_activities("dcos-private-agents", Timestamp::from_millis(0))
        );
        ride_out!(errors, c, backoff, c.agents());
        let info = ride_out!(errors, c, backoff, c.pod_info(SVC, &pod("node-4")));
        let s = info.task("server").unwrap();
        if !replaced && s.state == Some(TaskState::Lost) {
            ride_out!(errors, c, backoff, c.pod_replace(SVC, &pod("node-4")));
            replaced = true;
        }
        if replaced && s.id != t.id && s.state == Some(TaskState::Running) {
            let plan = ride_out!(errors, c, backoff, c.plan(SVC, "recovery"));
            if plan.status == PlanStatus::Complete {
                return errors;
            }
        }
    }
}

/// `flaky` without these kinds and without scheduler outages (which a retry at the same
/// instant cannot ride out).
fn flaky_without(kinds: &[ApiFaultKind]) -> Profile {
    let mut p = Profile::builtin("flaky").unwrap();
    let f = p.api_faults.as_mut().unwrap();
    f.kinds.retain(|k| !kinds.contains(k));
    f.scheduler_outage = None;
    p
}

#[test]
fn api_faults_do_not_change_the_world() {
    // Without slow answers no virtual time passes on a faulty call, so the drill's actions
    // land at the same instants with or without faults: the world must not differ at all.
    let flaky = flaky_without(&[ApiFaultKind::Slow]);
    for seed in [1, 2, 3] {
        let mut clean = SimCluster::new(&Profile::default_profile(), seed, start());
        let mut faulty = SimCluster::new(&flaky, seed, start());
        let none = block_on(faulty_drill(&mut clean, Dur::ZERO));
        let errors = block_on(faulty_drill(&mut faulty, Dur::ZERO));
        assert!(none.is_empty());
        assert!(clean.injected_api_faults().is_empty());
        assert_eq!(clean.truth(), faulty.truth(), "seed {seed}");
        assert!(errors.len() > 50, "seed {seed}: {}", errors.len());
        // Every error the drill met is an injected fault, and each injected fault was met
        // (none is slow here).
        assert_eq!(errors.len(), faulty.injected_api_faults().len());
    }
}

#[test]
fn a_throttled_terminate_terminates_nothing() {
    let mut p = Profile::default_profile();
    p.api_faults = Some(ApiFaults {
        rate: api_faults::Rate::new(1.0).unwrap(),
        kinds: vec![ApiFaultKind::Throttle],
        ..ApiFaults::default()
    });
    let mut c = SimCluster::new(&p, 4, start());
    let victim = c.sim().all_instances()[0].id.clone();
    for _ in 0..10 {
        let e = block_on(c.inject(FaultKind::TerminateInstance, &victim)).unwrap_err();
        assert!(
            matches!(e, ClusterError::Throttled { api: Api::Ec2, .. }),
            "{e}"
        );
        assert!(e.to_string().contains("RequestLimitExceeded"), "{e}");
    }
    block_on(c.sleep(Dur::from_mins(30)));
    assert!(
        c.truth().iter().all(|t| t.kind != TruthKind::FaultInjected),
        "nothing was terminated"
    );
    assert_eq!(c.sim().all_instances()[0].state, InstanceState::Running);
    assert_eq!(c.api_faults()[&(Api::Ec2, ApiFault::Throttle)], 10);
    assert_eq!(c.api_requests()[&Api::Ec2], 10);
}

#[test]
fn faults_at_a_fifth_of_requests_are_counted_by_api_and_kind() {
    let flaky = Profile::builtin("flaky").unwrap();
    let mut c = SimCluster::new(&flaky, 8, start());
    let errors = block_on(faulty_drill(&mut c, Dur::from_secs(1)));
    let counts = c.api_faults();
    let requests = c.api_requests();
    let total_requests: u64 = requests.values().sum();
    let total_faults: u64 = counts.values().sum();
    let share = total_faults as f64 / total_requests as f64;
    assert!((0.15..0.30).contains(&share), "{share}: {counts:?}");
    // Slow answers succeed; every other fault was an error the drill met.
    let slow: u64 = counts
        .iter()
        .filter(|((_, f), _)| *f == ApiFault::Slow)
        .map(|(_, n)| n)
        .sum();
    assert!(slow > 0);
    assert_eq!(errors.len() as u64, total_faults - slow);
    // Every family met faults; the DC/OS-only kinds stayed on DC/OS.
    for api in [Api::Ec2, Api::AutoScaling, Api::Mesos, Api::Scheduler] {
        assert!(counts.keys().any(|(a, _)| *a == api), "{api}: {counts:?}");
    }
    for (api, fault) in counts.keys() {
        match fault {
            ApiFault::Unauthorized | ApiFault::TokenExpired => {
                assert!(matches!(api, Api::Mesos | Api::Scheduler));
            }
            ApiFault::SchedulerUnreachable | ApiFault::SchedulerOutage => {
                assert_eq!(*api, Api::Scheduler);
            }
            _ => {}
        }
    }
    // A drill of ~15 simulated minutes meets the 10-minute token expiry and some outages.
    assert!(
        counts.keys().any(|(_, f)| *f == ApiFault::TokenExpired),
        "{counts:?}"
    );
    assert!(
        counts.keys().any(|(_, f)| *f == ApiFault::SchedulerOutage),
        "{counts:?}"
    );
    // The same seed injects the same faults.
    let mut again = SimCluster::new(&flaky, 8, start());
    block_on(faulty_drill(&mut again, Dur::from_secs(1)));
    assert_eq!(again.injected_api_faults(), c.injected_api_faults());
}

#[test]
fn slow_answers_let_virtual_time_pass() {
    let mut p = Profile::default_profile();
    p.api_faults = Some(ApiFaults {
        rate: api_faults::Rate::new(1.0).unwrap(),
        kinds: vec![ApiFaultKind::Slow],
        ..ApiFaults::default()
    });
    let mut c = SimCluster::new(&p, 4, start());
    let t0 = c.now();
    block_on(c.agents()).unwrap();
    let waited = c.now().since(t0);
    let f = &c.injected_api_faults()[0];
    assert_eq!(f.fault, ApiFault::Slow);
    assert_eq!(Some(waited), f.delay);
    assert!((1_000..=3_000).contains(&waited.as_millis()));
}
