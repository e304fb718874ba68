//! The ground truth: every real transition of the simulated world, in order, with its true
//! time, so that tests and `verify-truth` can check what the harness measured.

use serde::{Deserialize, Serialize};

use crate::time::Timestamp;

/// One real transition in the simulated world.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TruthEvent {
    pub at: Timestamp,
    pub kind: TruthKind,
    /// What changed: an instance id, an agent id, a task name, a step name or a pod name.
    pub(crate) subject: String,
    /// The task id of a task event, the step id of a recovery-step event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) id: Option<String>,
    /// The new task state or step status, or the fault of a `fault_injected` event.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) state: Option<String>,
    /// Context: the agent a task is on, an agent's hostname, the phase of a step, the zone
    /// of a launched instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) detail: Option<String>,
}

/// The kinds of transition the truth log records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TruthKind {
    /// A terminate/stop/reboot call was accepted (`state` names the fault).
    FaultInjected,
    InstanceRunning,
    InstanceShuttingDown,
    InstanceTerminated,
    InstanceStopping,
    InstanceStopped,
    /// The group's health check marked the instance Unhealthy (Terminating activity starts).
    AsgUnhealthy,
    /// The group dropped a terminated instance from its members.
    AsgMemberRemoved,
    /// The group started launching a replacement (`subject` = the new instance).
    ReplacementLaunchStarted,
    ReplacementInService,
    /// Mesos marked the agent inactive.
    AgentDisconnected,
    /// Mesos marked the agent unreachable and removed it from `/slaves`.
    AgentUnreachable,
    /// A new agent id registered.
    AgentRegistered,
    /// A known agent id registered again (after a host reboot).
    AgentReregistered,
    /// The scheduler accepted `pod replace` (`subject` = the pod).
    PodReplaced,
    /// A task's status changed (`subject` = task name, `id` = task id, `state`, `detail` = agent).
    TaskStatus,
    /// A recovery step's status changed (`subject` = step name, `id` = step id, `detail` =
    /// phase name).
    RecoveryStep,
    /// Every step of a recovery phase is COMPLETE (`subject` = phase name, `id` = phase id,
    /// `state` = `COMPLETE`, `detail` = its step names, comma-separated, in order): for a
    /// seed's replace, the end of the ring restart.
    RecoveryPhase,
    /// The service's scheduler stopped listening: its agent died (`subject` = the service,
    /// `detail` = the agent). Admin Router answers 502 from now on.
    SchedulerDown,
    /// A relaunched scheduler's API listens again, from its state store (`detail` = its
    /// agent).
    SchedulerListening,
    /// The relaunched scheduler stored its reconciliation's answers.
    SchedulerReconciled,
    /// An API fault was injected (`subject` = the API family, `state` = the fault, `detail` =
    /// the call and the HTTP status or delay). Never made by the model itself: `sim serve`
    /// writes these to its truth log beside the model's events.
    ApiFault,
}
