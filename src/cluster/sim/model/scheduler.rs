//! The service's scheduler as a Marathon task on a private agent ([`super::super::marathon`]):
//! down with its agent, relaunched by Marathon, reconciling with the master when it is back.
//!
//! While it is down the API answers 502 (Admin Router), the master drops the status updates it
//! sends (the model keeps them as `missed`: the truth log has them at their real time), and
//! nothing the scheduler drives moves (offers, readiness checks: `deferred`). When the new
//! instance listens it serves the state store as it was; once reconciled, every live task's
//! stored status is the master's answer, with `REASON_RECONCILIATION` and the
//! reconciliation's time (plus the agent's `unreachable_time` for a task on an unreachable
//! agent), and the recovery goes on from there.

use rand::{RngExt, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{AgentKey, Ev, Inst, Sim, is_active_task};
use crate::cluster::sim::marathon::Placement;
use crate::cluster::sim::truth::TruthKind;
use crate::cluster::{
    Api, ClusterError, StatusCause, StatusReason, StatusSource, TaskId, TaskState,
};
use crate::time::Timestamp;

/// Mixed into the suite's seed for the scheduler's own random stream.
const STREAM: u64 = 0x5c4e_d01e_u64;

/// How long Marathon waits before trying again when no agent can take the scheduler.
const NO_AGENT_RETRY_MS: u64 = 30_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Up {
    /// Registered and reconciled: updates are delivered.
    Connected,
    /// The API answers from the state store; reconciliation not done yet.
    Listening,
    /// Not listening: Admin Router answers 502.
    Down,
}

/// A status update the master sent while the scheduler was down.
struct Missed {
    pod: usize,
    task: TaskId,
    state: TaskState,
    unreachable: Option<Timestamp>,
    /// The task failed (recovery wants it back), rather than moving on in a launch.
    failed: bool,
}

pub(super) struct Scheduler {
    rng: Xoshiro256PlusPlus,
    /// The agent it runs on, or is being launched on.
    pub(super) agent: Option<AgentKey>,
    pub(super) up: Up,
    /// Marathon has decided to launch a new instance.
    relaunching: bool,
    /// Bumped when an instance dies: its pending events are stale.
    epoch: u32,
    missed: Vec<Missed>,
    deferred: Vec<Ev>,
}

impl Scheduler {
    pub(super) fn new(seed: u64) -> Self {
        Self {
            rng: Xoshiro256PlusPlus::seed_from_u64(seed ^ STREAM),
            agent: None,
            up: Up::Connected,
            relaunching: false,
            epoch: 0,
            missed: Vec::new(),
            deferred: Vec::new(),
        }
    }

    /// Whether status updates reach the scheduler and it acts on offers.
    pub(super) fn connected(&self) -> bool {
        self.up == Up::Connected
    }
}

impl Sim {
    /// Puts the scheduler on its agent at install (`private`: the private agents' instances).
    pub(super) fn place_scheduler(&mut self, private: &[Inst]) {
        let host = match self.profile.scheduler.agent {
            Placement::Elsewhere => None,
            Placement::Pod(n) => self.pods.get(n as usize).map(|p| p.task.agent),
            Placement::Random => {
                let i = self.sched.rng.random_range(0..private.len().max(1));
                private.get(i).and_then(|&inst| self.instances[inst].agent)
            }
        };
        self.sched.agent = host;
    }

    /// Admin Router's answer while no scheduler listens.
    pub(super) fn check_scheduler(&self) -> Result<(), ClusterError> {
        match self.sched.up {
            Up::Down => Err(ClusterError::Transient {
                api: Api::Scheduler,
                message: crate::cluster::sim::SCHEDULER_DOWN.to_string(),
            }),
            Up::Listening | Up::Connected => Ok(()),
        }
    }

    /// The scheduler's host died (or is rebooting): the scheduler with it.
    pub(super) fn scheduler_host_down(&mut self, agent: AgentKey) {
        if self.sched.agent != Some(agent) || self.sched.up == Up::Down && !self.sched.relaunching {
            return;
        }
        let was_up = self.sched.up != Up::Down;
        self.sched.up = Up::Down;
        self.sched.relaunching = false;
        self.sched.epoch += 1;
        if was_up {
            let id = self.agents[agent].id.to_string();
            self.record(
                TruthKind::SchedulerDown,
                self.service.clone(),
                None,
                None,
                Some(id),
            );
        }
    }

    /// Marathon hears that the scheduler's task is unreachable (`gone`: gone for good, its
    /// agent came back without it) and launches another after its unreachable strategy.
    pub(super) fn marathon_task_lost(&mut self, agent: AgentKey, gone: bool) {
        if self.sched.agent != Some(agent) || self.sched.up != Up::Down || self.sched.relaunching {
            return;
        }
        self.sched.relaunching = true;
        let wait = if gone {
            0
        } else {
            self.profile
                .scheduler
                .unreachable_inactive_after
                .as_millis()
        };
        let epoch = self.sched.epoch;
        self.schedule(wait, Ev::SchedulerLaunch { epoch });
    }

    /// Marathon launches the new instance on a usable private agent.
    pub(super) fn on_scheduler_launch(&mut self, epoch: u32) {
        if epoch != self.sched.epoch || !self.sched.relaunching {
            return;
        }
        let usable: Vec<AgentKey> = self
            .listed_agents
            .iter()
            .copied()
            .filter(|&a| !self.agents[a].public && self.agent_usable(a))
            .collect();
        if usable.is_empty() {
            self.schedule(NO_AGENT_RETRY_MS, Ev::SchedulerLaunch { epoch });
            return;
        }
        let host = usable[self.sched.rng.random_range(0..usable.len())];
        self.sched.agent = Some(host);
        let d = self
            .profile
            .scheduler
            .relaunch
            .sample_ms(&mut self.sched.rng);
        self.schedule(d, Ev::SchedulerListening { epoch });
    }

    /// The new instance's API listens (from the state store as it was).
    pub(super) fn on_scheduler_listening(&mut self, epoch: u32) {
        if epoch != self.sched.epoch || self.sched.up != Up::Down {
            return;
        }
        self.sched.up = Up::Listening;
        self.sched.relaunching = false;
        let host = self.sched.agent.map(|a| self.agents[a].id.to_string());
        self.record(
            TruthKind::SchedulerListening,
            self.service.clone(),
            None,
            None,
            host,
        );
        let d = self
            .profile
            .scheduler
            .reconcile
            .sample_ms(&mut self.sched.rng);
        self.schedule(d, Ev::SchedulerReconciled { epoch });
    }

    /// The explicit reconciliation's answers are stored; the recovery goes on.
    pub(super) fn on_scheduler_reconciled(&mut self, epoch: u32) {
        if epoch != self.sched.epoch || self.sched.up != Up::Listening {
            return;
        }
        self.sched.up = Up::Connected;
        self.record(
            TruthKind::SchedulerReconciled,
            self.service.clone(),
            None,
            None,
            None,
        );
        let missed = std::mem::take(&mut self.sched.missed);
        let reconciled = |unreachable| StatusCause {
            source: Some(StatusSource::Master),
            reason: Some(StatusReason::Reconciliation),
            unreachable_time: unreachable,
        };
        for p in 0..self.pods.len() {
            let last = missed
                .iter()
                .rev()
                .find(|m| m.pod == p && m.task == self.pods[p].task.id);
            let failed = missed
                .iter()
                .any(|m| m.pod == p && m.task == self.pods[p].task.id && m.failed);
            match last {
                Some(m) if m.state == TaskState::Running => {
                    let epoch = self.pods[p].epoch;
                    self.pods[p].task.state = TaskState::Starting;
                    self.on_task_running(p, epoch);
                    self.pods[p].task.cause = reconciled(None);
                }
                Some(m) => {
                    let task = &mut self.pods[p].task;
                    task.state = m.state;
                    task.time = self.now;
                    task.cause = reconciled(m.unreachable);
                    if failed {
                        self.task_failed(p);
                    }
                }
                None if is_active_task(self.pods[p].task.state) => {
                    let task = &mut self.pods[p].task;
                    task.time = self.now;
                    task.cause = reconciled(None);
                }
                None => {}
            }
        }
        for ev in std::mem::take(&mut self.sched.deferred) {
            self.handle(ev);
        }
        self.schedule_offers();
    }

    /// A status update of `pod`'s task from the master: `true` when the scheduler receives it;
    /// otherwise it is dropped (the truth still has it, at its real time).
    pub(super) fn deliver(
        &mut self,
        pod: usize,
        state: TaskState,
        unreachable: Option<Timestamp>,
        failed: bool,
    ) -> bool {
        if self.sched.connected() {
            return true;
        }
        let task = self.pods[pod].task.id.clone();
        let agent = self.agents[self.pods[pod].task.agent].id.to_string();
        self.record(
            TruthKind::TaskStatus,
            self.pods[pod].server_name.to_string(),
            Some(task.to_string()),
            Some(state.as_str()),
            Some(agent),
        );
        self.sched.missed.push(Missed {
            pod,
            task,
            state,
            unreachable,
            failed,
        });
        false
    }

    /// Keeps `ev` (an offer, a readiness check) for when the scheduler is back; `true` when
    /// it was kept.
    pub(super) fn defer(&mut self, ev: &Ev) -> bool {
        if self.sched.connected() {
            return false;
        }
        self.sched.deferred.push(ev.clone());
        true
    }
}
