//! Before a run: is the cluster in steady state (and what does it look like), and which
//! instances does the scenario aim at. Target resolution walks the layers: pod → agent (the
//! pod's `slaveId`) → agent hostname (= private IP) → EC2 instance → its ASG.

use std::collections::BTreeSet;

use rand::RngExt;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::RunError;
use super::observe::Baseline;
use crate::cluster::{
    AgentObs, AsgLookup, AsgObs, CFN_LOGICAL_ID_TAG, Cluster, ClusterError, InstanceFilter,
    InstanceId, InstanceObs, InstanceState, LifecycleState, MASTER_LOGICAL_ID,
    PRIVATE_AGENTS_LOGICAL_ID, PUBLIC_AGENTS_LOGICAL_ID, PlanStatus, PodName, TaskState,
};
use crate::journal::Victim;
use crate::scenario::Scenario;

/// The cluster as preflight found it.
#[derive(Clone, Debug)]
pub(crate) struct Steady {
    pub(crate) asg: Option<AsgObs>,
    pub(crate) agents: Vec<AgentObs>,
    pub(crate) baseline: Baseline,
}

/// Why the cluster is not in steady state (each a reason to wait, then to refuse).
pub(crate) fn unsteady_reason(
    scenario: &Scenario,
    agents: &[AgentObs],
    asg: Option<&AsgObs>,
    pods: Option<&[crate::cluster::PodObs]>,
    recovery: Option<&crate::cluster::PlanObs>,
) -> Option<String> {
    if let Some(asg) = asg {
        let in_service = asg
            .instances
            .iter()
            .filter(|m| m.lifecycle == LifecycleState::InService && m.healthy)
            .count();
        if asg.instances.len() != in_service || in_service as u32 != asg.desired_capacity {
            return Some(format!(
                "ASG {} has {in_service} healthy InService of {} desired ({} members)",
                asg.name,
                asg.desired_capacity,
                asg.instances.len()
            ));
        }
    }
    if let (Some(svc), Some(pods)) = (&scenario.service, pods) {
        for pod in pods {
            match pod.task(&svc.task) {
                Some(t) if t.state == Some(TaskState::Running) => {}
                Some(t) => {
                    return Some(format!(
                        "{} is {}",
                        t.name,
                        t.state.map_or("<UNKNOWN>", TaskState::as_str)
                    ));
                }
                None => return Some(format!("{} has no {} task", pod.name, svc.task)),
            }
        }
    }
    if let Some(plan) = recovery
        && plan.status != PlanStatus::Complete
    {
        return Some(format!("the recovery plan is {}", plan.status));
    }
    // Another fault in flight: an agent the master has lost touch with.
    if let Some(a) = agents.iter().find(|a| !a.active) {
        return Some(format!("agent {} ({}) is inactive", a.id, a.hostname));
    }
    None
}

/// The scenario's ASG lookup, if it names one.
pub(crate) fn asg_lookup(scenario: &Scenario) -> Option<AsgLookup> {
    let asg = scenario.asg.as_ref()?;
    match (&asg.name, &asg.tag, &asg.stack) {
        (Some(name), _, _) => Some(AsgLookup::Name(name.clone())),
        (None, Some(tag), _) => Some(AsgLookup::Tag {
            key: tag.key.clone(),
            value: tag.value.clone(),
        }),
        (None, None, Some(stack)) => Some(AsgLookup::Stack {
            stack: stack.clone(),
            logical_id: asg
                .logical_id
                .clone()
                .unwrap_or_else(|| PRIVATE_AGENTS_LOGICAL_ID.to_string()),
        }),
        (None, None, None) => None,
    }
}

/// Describes the one ASG a lookup names. No group, or several (a tag such as
/// `role=mesos-slave` that the private and the public agents' groups both carry), is a
/// refusal naming the candidates: waiting cannot make a selector unambiguous.
pub(crate) async fn find_asg<C: Cluster>(
    cluster: &mut C,
    lookup: &AsgLookup,
) -> Result<AsgObs, RunError> {
    let groups = cluster.describe_asgs(lookup).await?;
    one_group(lookup, groups)
}

/// The one group of a lookup's answer, or the refusal.
fn one_group(lookup: &AsgLookup, mut groups: Vec<AsgObs>) -> Result<AsgObs, RunError> {
    match groups.len() {
        1 => Ok(groups.remove(0)),
        0 => Err(RunError::Refused(format!(
            "no Auto Scaling group matches the scenario's `asg` ({lookup}); refusing to inject (hint: check the name, tag or stack; `aws autoscaling describe-auto-scaling-groups` lists them)"
        ))),
        n => {
            let mut names: Vec<&str> = groups.iter().map(|g| &*g.name).collect();
            names.sort_unstable();
            Err(RunError::Refused(format!(
                "{n} Auto Scaling groups match the scenario's `asg` ({lookup}): {}; refusing to guess (hint: name exactly one, e.g. `asg: {{name: {}}}` or `asg: {{stack: …, logical_id: SlaveServerGroup}}`)",
                names.join(", "),
                names[0]
            )))
        }
    }
}

/// Resolves the scenario's victims. `asg` is the scenario's group, when it names one.
pub(crate) async fn select_victims<C: Cluster>(
    cluster: &mut C,
    scenario: &Scenario,
    asg: Option<&AsgObs>,
    agents: &[AgentObs],
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Vec<Victim>, RunError> {
    let t = &scenario.target;
    let instances = if let Some(pod) = &t.pod {
        pod_host(cluster, scenario, pod, agents).await?
    } else if let Some(id) = &t.instance {
        let instances = cluster
            .describe_instances(&InstanceFilter::Ids(vec![InstanceId::new(id)]))
            .await?;
        if instances.is_empty() {
            return Err(RunError::Refused(format!("instance {id} does not exist")));
        }
        instances
    } else if t.random.is_some() {
        let asg = asg.ok_or_else(|| RunError::Refused("random needs an ASG".into()))?;
        random_members(cluster, t.count, asg, rng).await?
    } else {
        Vec::new()
    };
    let mut victims = Vec::new();
    for inst in instances {
        victims.push(victim_chain(cluster, scenario, asg, agents, inst).await?);
    }
    let pods = victims.iter().filter(|v| v.pod.is_some()).count();
    if pods > 1 && !t.allow_multiple_pods {
        return Err(RunError::Refused(format!(
            "this run would take down {pods} pods of the service at once; refusing (hint: set `target.allow_multiple_pods: true` if that is the point)"
        )));
    }
    Ok(victims)
}

/// The instance under the agent that runs the pod's task.
async fn pod_host<C: Cluster>(
    cluster: &mut C,
    scenario: &Scenario,
    pod: &str,
    agents: &[AgentObs],
) -> Result<Vec<InstanceObs>, RunError> {
    let svc = scenario
        .service
        .as_ref()
        .ok_or_else(|| RunError::Refused("a pod target needs a service".to_string()))?;
    let info = cluster.pod_info(&svc.name, &PodName::new(pod)).await?;
    let agent = info
        .task(&svc.task)
        .and_then(|task| task.agent.clone())
        .ok_or_else(|| {
            RunError::Refused(format!(
                "pod {pod} has no {} task placed on an agent; hint: is the service deployed?",
                svc.task
            ))
        })?;
    let host = agents
        .iter()
        .find(|a| a.id == agent)
        .map(|a| a.hostname.to_string())
        .ok_or_else(|| {
            RunError::Refused(format!("agent {agent} of pod {pod} is not registered"))
        })?;
    let instances = cluster
        .describe_instances(&InstanceFilter::PrivateIp(host.clone()))
        .await?;
    if instances.len() != 1 {
        return Err(RunError::Refused(format!(
            "{} EC2 instances have private IP {host} (agent {agent} of pod {pod}); hint: the agent hostname must be the instance's private IP",
            instances.len()
        )));
    }
    Ok(instances)
}

/// `count` InService members of the group, drawn at random, in the order drawn.
async fn random_members<C: Cluster>(
    cluster: &mut C,
    count: u32,
    asg: &AsgObs,
    rng: &mut Xoshiro256PlusPlus,
) -> Result<Vec<InstanceObs>, RunError> {
    let mut pool: Vec<InstanceId> = asg
        .instances
        .iter()
        .filter(|m| m.lifecycle == LifecycleState::InService)
        .map(|m| m.id.clone())
        .collect();
    pool.sort();
    if (pool.len() as u32) < count {
        return Err(RunError::Refused(format!(
            "ASG {} has {} InService instances, fewer than count {count}",
            asg.name,
            pool.len(),
        )));
    }
    let mut chosen = Vec::new();
    for _ in 0..count {
        let i = rng.random_range(0..pool.len());
        chosen.push(pool.remove(i));
    }
    let mut instances = cluster
        .describe_instances(&InstanceFilter::Ids(chosen.clone()))
        .await?;
    instances.sort_by_key(|i| chosen.iter().position(|c| c == &i.id));
    Ok(instances)
}

/// The safety guard, the one place that decides whether an instance may receive a fault.
/// It may only if it is running (or pending) and
/// - is a member of an Auto Scaling group, and of the scenario's group when it names one;
/// - is no master: neither it nor its group carries the masters' marks of the DC/OS
///   CloudFormation template (logical id `MasterServerGroup`, tag `role=mesos-master`) —
///   masters sit in an ASG of their own, so membership alone proves nothing;
/// - carries the scenario's opt-in tag, when it names one;
/// - is no public agent (Mesos says `public_ip:true`, or its group is the stack's
///   `PublicSlaveServerGroup`);
/// - whenever DC/OS is configured (the scenario has a `service`), its private IP is the
///   hostname of a private Mesos agent in `/slaves`: masters are not agents, public agents
///   carry `public_ip:true`.
///
/// Returns the instance's group and its agent (when DC/OS is configured).
pub(super) fn guard<'a>(
    scenario: &Scenario,
    asg: Option<&AsgObs>,
    agents: &'a [AgentObs],
    inst: &InstanceObs,
) -> Result<(String, Option<&'a AgentObs>), RunError> {
    let refuse = |why: String| {
        Err(RunError::Refused(format!(
            "safety guard: instance {} {why}; refusing to touch it",
            inst.id
        )))
    };
    let Some(member_of) = inst.asg_name.clone() else {
        return refuse("is in no Auto Scaling group (hint: chaos-harness only hits members of the scenario's group, never standalone hosts)".into());
    };
    if let Some(asg) = asg
        && (*asg.name != *member_of || !asg.instances.iter().any(|m| m.id == inst.id))
    {
        return refuse(format!(
            "belongs to ASG {member_of}, not to the scenario's ASG {}",
            asg.name
        ));
    }
    let master_mark = |tags: &[(String, String)]| {
        tags.iter().any(|(k, v)| {
            (k == CFN_LOGICAL_ID_TAG && v == MASTER_LOGICAL_ID)
                || (k == "role" && v == "mesos-master")
        })
    };
    if master_mark(&inst.tags) || asg.is_some_and(|g| master_mark(&g.tags)) {
        return refuse(format!(
            "is a DC/OS master (its group {member_of} is the stack's {MASTER_LOGICAL_ID} / role=mesos-master; hint: aim at the private agents' group, e.g. `asg: {{stack: …, logical_id: {PRIVATE_AGENTS_LOGICAL_ID}}}`)"
        ));
    }
    if !matches!(inst.state, InstanceState::Pending | InstanceState::Running) {
        return refuse(format!("is {}, not running", inst.state));
    }
    if let Some(tag) = scenario.asg.as_ref().and_then(|a| a.opt_in_tag.as_ref())
        && !inst
            .tags
            .iter()
            .any(|(k, v)| k == &tag.key && v == &tag.value)
    {
        return refuse(format!("lacks the opt-in tag {}={}", tag.key, tag.value));
    }
    let agent = inst
        .private_ip
        .as_ref()
        .and_then(|ip| agents.iter().find(|a| *a.hostname == **ip));
    let public_group = |tags: &[(String, String)]| {
        tags.iter()
            .any(|(k, v)| k == CFN_LOGICAL_ID_TAG && v == PUBLIC_AGENTS_LOGICAL_ID)
    };
    if agent.is_some_and(|a| a.public)
        || public_group(&inst.tags)
        || asg.is_some_and(|g| public_group(&g.tags))
    {
        return refuse("runs a public agent".into());
    }
    if scenario.service.is_some() && agent.is_none() {
        return refuse(format!(
            "(private IP {}) is no Mesos agent: a master, or a host outside the cluster (hint: only private agents listed by the Mesos master are ever hit)",
            inst.private_ip.as_deref().unwrap_or("none")
        ));
    }
    Ok((member_of.to_string(), agent))
}

/// Completes the chain of one instance (ASG, agent, pod, task) once the [`guard`] lets it
/// through.
async fn victim_chain<C: Cluster>(
    cluster: &mut C,
    scenario: &Scenario,
    asg: Option<&AsgObs>,
    agents: &[AgentObs],
    inst: InstanceObs,
) -> Result<Victim, RunError> {
    let (member_of, agent) = guard(scenario, asg, agents, &inst)?;
    let agent = agent.filter(|a| a.active);
    let (mut pod, mut task) = (None, None);
    if let (Some(svc), Some(agent)) = (&scenario.service, agent) {
        let wanted = scenario.target.pod.as_ref().map(PodName::new);
        let names: Vec<PodName> = match wanted {
            Some(p) => vec![p],
            None => cluster
                .pod_statuses(&svc.name)
                .await?
                .into_iter()
                .map(|p| p.name)
                .collect(),
        };
        for name in names {
            let info = cluster.pod_info(&svc.name, &name).await?;
            if let Some(t) = info.task(&svc.task)
                && t.agent.as_ref() == Some(&agent.id)
            {
                task = Some(t.id.clone());
                // The name as the scheduler gives it: a simulated one is the very name its
                // later answers carry, found by pointer.
                pod = Some(info.name.clone());
                break;
            }
        }
    }
    Ok(Victim {
        instance: inst.id,
        private_ip: inst.private_ip.as_deref().map(str::to_string),
        asg: Some(member_of),
        agent: agent.map(|a| a.id.clone()),
        pod,
        task,
    })
}

/// The pods beyond the victims whose task is not RUNNING.
pub(crate) fn pods_down(
    task: &str,
    victims: &[Victim],
    pods: &[crate::cluster::PodObs],
) -> Vec<PodName> {
    pods.iter()
        .filter(|p| {
            p.task(task)
                .is_none_or(|t| t.state != Some(TaskState::Running))
        })
        .filter(|p| !victims.iter().any(|v| v.pod.as_ref() == Some(&p.name)))
        .map(|p| p.name.clone())
        .collect()
}

/// What a read of every pod showed beyond the victims: the pods whose task is not RUNNING
/// ([`pods_down`], in the read's order), and those of them the run's own recovery plan
/// restarts (neither damage nor counted).
#[derive(Debug, Default)]
pub(crate) struct PodsDown {
    pub(crate) down: Vec<PodName>,
    pub(crate) restarted: Vec<PodName>,
}

/// A stop condition: something beyond the victims degraded during the run (another pod's task
/// left RUNNING, another group member left InService). The suite must stop at once. `down`
/// is what `pods`, the read of every pod, showed (empty without one).
pub(crate) fn collateral(
    task: &str,
    victims: &[Victim],
    down: &PodsDown,
    baseline: &Baseline,
    asg: Option<&AsgObs>,
    pods: Option<&[crate::cluster::PodObs]>,
    user: Option<&crate::scenario::StopWhen>,
) -> Option<String> {
    if let Some(why) = user.and_then(|w| user_stop(task, &down.restarted, asg, pods, w)) {
        return Some(why);
    }
    let damaged = down.down.iter().find(|p| !down.restarted.contains(p));
    if let (Some(name), Some(pods)) = (damaged, pods) {
        let pod = crate::cluster::find_of(pods, &name.0, |p| &p.name.0);
        if let Some(pod) = pod {
            match pod.task(task) {
                Some(t) => {
                    return Some(format!(
                        "{} left RUNNING ({}) although the fault was not aimed at it",
                        t.name,
                        t.state.map_or("<UNKNOWN>", TaskState::as_str)
                    ));
                }
                None => return Some(format!("{} lost its {task} task", pod.name)),
            }
        }
    }
    if let Some(asg) = asg {
        for id in &baseline.asg_members {
            let member = crate::cluster::find_of(&asg.instances, &id.0, |m| &m.id.0);
            if member.is_some_and(|m| m.lifecycle == LifecycleState::InService)
                || victims.iter().any(|v| &v.instance == id)
            {
                continue;
            }
            match member {
                Some(m) => {
                    return Some(format!(
                        "{id} of ASG {} left InService ({}) although the fault was not aimed at it",
                        asg.name, m.lifecycle
                    ));
                }
                None => {
                    return Some(format!(
                        "{id} left ASG {} although the fault was not aimed at it",
                        asg.name
                    ));
                }
            }
        }
    }
    None
}

/// The scenario's own stop conditions (`stop_when`), counting the victims too but not the
/// pods the run's own recovery restarts.
fn user_stop(
    task: &str,
    restarted: &[PodName],
    asg: Option<&AsgObs>,
    pods: Option<&[crate::cluster::PodObs]>,
    w: &crate::scenario::StopWhen,
) -> Option<String> {
    let down = pods.map_or(0, |pods| {
        pods.iter()
            .filter(|p| !restarted.contains(&p.name))
            .filter(|p| {
                p.task(task)
                    .is_none_or(|t| t.state != Some(TaskState::Running))
            })
            .count() as u32
    });
    if let (Some(limit), Some(_)) = (w.pods_not_running, pods)
        && down >= limit
    {
        return Some(format!(
            "{down} pods are not RUNNING (stop_when.pods_not_running: {limit})"
        ));
    }
    let out = asg.map_or(0, |a| {
        a.instances
            .iter()
            .filter(|m| m.lifecycle != LifecycleState::InService)
            .count() as u32
    });
    if let (Some(limit), Some(_)) = (w.instances_not_in_service, asg)
        && out >= limit
    {
        return Some(format!(
            "{out} group members are not InService (stop_when.instances_not_in_service: {limit})"
        ));
    }
    None
}

/// The ids that exist before the fault.
pub(crate) fn baseline(
    asg: Option<&AsgObs>,
    agents: &[AgentObs],
    recovery: Option<&crate::cluster::PlanObs>,
) -> Baseline {
    Baseline {
        asg_members: asg
            .map(|a| a.instances.iter().map(|m| m.id.clone()).collect())
            .unwrap_or_default(),
        agents: agents.iter().map(|a| a.id.clone()).collect(),
        recovery_steps: recovery
            .map(|p| p.steps().map(|s| s.id.to_string()).collect::<BTreeSet<_>>())
            .unwrap_or_default(),
    }
}

impl From<ClusterError> for RunError {
    fn from(e: ClusterError) -> Self {
        RunError::Cluster(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::{AsgMemberObs, PodObs, TaskId, TaskObs};

    fn pod(name: &str, state: TaskState) -> PodObs {
        PodObs {
            name: PodName::new(name),
            tasks: [TaskObs {
                name: format!("{name}-server").into(),
                id: TaskId::new(format!("t-{name}")),
                state: Some(state),
                agent: None,
                status_time: None,
                cause: Default::default(),
            }]
            .into(),
        }
    }

    fn victim() -> Victim {
        Victim {
            instance: InstanceId::new("i-1"),
            private_ip: None,
            asg: None,
            agent: None,
            pod: Some(PodName::new("node-4")),
            task: None,
        }
    }

    fn asg(states: &[(&str, LifecycleState)]) -> AsgObs {
        AsgObs {
            name: "g".into(),
            desired_capacity: states.len() as u32,
            min_size: 0,
            max_size: 9,
            tags: crate::cluster::Tags::default(),
            instances: states
                .iter()
                .map(|(id, l)| AsgMemberObs {
                    id: InstanceId::new(id),
                    lifecycle: *l,
                    healthy: true,
                })
                .collect(),
        }
    }

    #[test]
    fn the_victim_may_degrade_nothing_else_may() {
        let base = Baseline {
            asg_members: ["i-1", "i-2"].into_iter().map(InstanceId::new).collect(),
            ..Baseline::default()
        };
        let v = [victim()];
        let fine_pods = [
            pod("node-3", TaskState::Running),
            pod("node-4", TaskState::Lost),
        ];
        let fine_asg = asg(&[
            ("i-1", LifecycleState::Terminating),
            ("i-2", LifecycleState::InService),
        ]);
        let down = |pods: &[PodObs], restarted: &[PodName]| PodsDown {
            down: pods_down("server", &v, pods),
            restarted: restarted.to_vec(),
        };
        let none = PodsDown::default();
        let fine = down(&fine_pods, &[]);
        assert_eq!(
            collateral(
                "server",
                &v,
                &fine,
                &base,
                Some(&fine_asg),
                Some(&fine_pods),
                None
            ),
            None
        );
        // A user-given condition may be stricter than the built-in one.
        let strict = crate::scenario::StopWhen {
            pods_not_running: Some(1),
            instances_not_in_service: None,
        };
        let why = collateral(
            "server",
            &v,
            &fine,
            &base,
            None,
            Some(&fine_pods),
            Some(&strict),
        )
        .unwrap();
        assert!(why.contains("stop_when.pods_not_running"), "{why}");
        let group = crate::scenario::StopWhen {
            pods_not_running: None,
            instances_not_in_service: Some(2),
        };
        assert_eq!(
            collateral(
                "server",
                &v,
                &none,
                &base,
                Some(&fine_asg),
                None,
                Some(&group)
            ),
            None,
            "one member out of service is under the limit of two"
        );

        let bad_pods = [
            pod("node-3", TaskState::Lost),
            pod("node-4", TaskState::Lost),
        ];
        let bad = down(&bad_pods, &[]);
        let why = collateral("server", &v, &bad, &base, None, Some(&bad_pods), None).unwrap();
        assert!(why.contains("node-3-server left RUNNING (LOST)"), "{why}");
        // A pod the run's own recovery plan restarts is neither damage nor counted.
        let restarted = [PodName::new("node-3")];
        let two = crate::scenario::StopWhen {
            pods_not_running: Some(2),
            instances_not_in_service: None,
        };
        let pods = Some(&bad_pods[..]);
        assert_eq!(
            collateral(
                "server",
                &v,
                &down(&bad_pods, &restarted),
                &base,
                None,
                pods,
                Some(&two)
            ),
            None
        );

        let bad_asg = asg(&[
            ("i-1", LifecycleState::Terminating),
            ("i-2", LifecycleState::Terminating),
        ]);
        let why = collateral("server", &v, &none, &base, Some(&bad_asg), None, None).unwrap();
        assert!(why.contains("i-2"), "{why}");
        let gone = asg(&[("i-1", LifecycleState::InService)]);
        assert!(collateral("server", &v, &none, &base, Some(&gone), None, None).is_some());
    }
}
