//! DC/OS as Admin Router serves it: the ACS login, the Mesos master's `/slaves` (under
//! `/mesos/`) and the dcos-commons scheduler (under `/service/<name>/v1/`), with Admin
//! Router's 401/404 answers and the scheduler's status codes and bodies
//! (`reference/dcos-cassandra-api.md` §1, §2, §4.2, §6).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{Shared, TokenCheck, World, admin_router_page, text_response};
use crate::cluster::sim::profile::{Topology, parse_cidr};
use crate::cluster::sim::{ApiFault, InjectedFault, SCHEDULER_DOWN};
use crate::cluster::{
    AgentObs, Api, ClusterError, PlanObs, PlanStatus, PodName, PodObs, TaskObs, TaskState,
};

/// What Admin Router (openresty) answers without a valid token.
const UNAUTHORIZED_HTML: &str = "<html>\r\n<head><title>401 Authorization Required</title></head>\r\n\
<body>\r\n<center><h1>401 Authorization Required</h1></center>\r\n<hr><center>openresty</center>\r\n\
</body>\r\n</html>\r\n";

const SERVICE_NOT_FOUND: &str = "404 Not Found: service not found.";

/// The tokens a request presents: `Authorization: token=<T>` or `Bearer <T>`, and the
/// `dcos-acs-auth-cookie` cookie.
pub(super) fn presented_tokens(headers: &HeaderMap) -> Vec<&str> {
    let header = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .and_then(|v| {
            v.strip_prefix("token=")
                .or_else(|| v.strip_prefix("Bearer "))
        })
        .map(str::trim);
    let cookies = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .filter(|(k, _)| *k == "dcos-acs-auth-cookie")
        .map(|(_, v)| v);
    header.into_iter().chain(cookies).collect()
}

/// Admin Router's token check: a 401 for a missing, unknown or expired token. An expired one
/// is an injected API fault (`token_expires_after`) and is recorded as such.
fn admit(
    w: &mut World,
    headers: &HeaderMap,
    api: Api,
    operation: impl FnOnce() -> String,
) -> Option<Response> {
    let now = w.sim.now();
    // With service accounts the cluster is Enterprise, whose Admin Router says `acsjwt`.
    let scheme = if w.accounts.is_empty() {
        "oauthjwt"
    } else {
        "acsjwt"
    };
    match w.check_token(&presented_tokens(headers), now) {
        TokenCheck::Accepted => None,
        TokenCheck::Refused => Some(unauthorized_as(scheme)),
        TokenCheck::Expired => {
            if let Some(f) = &mut w.faults {
                f.record(InjectedFault {
                    at: now,
                    api,
                    operation: operation(),
                    fault: ApiFault::TokenExpired,
                    status: Some(401),
                    delay: None,
                });
            }
            Some(unauthorized_as(scheme))
        }
    }
}

pub(super) fn unauthorized() -> Response {
    unauthorized_as("oauthjwt")
}

/// A 401 naming the auth scheme: `oauthjwt` (DC/OS Open) or `acsjwt` (Enterprise).
fn unauthorized_as(scheme: &'static str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, scheme), (CONTENT_TYPE, "text/html")],
        UNAUTHORIZED_HTML,
    )
        .into_response()
}

fn model_error(e: &ClusterError) -> Response {
    match e {
        ClusterError::NotFound { message, .. } => text_response(StatusCode::NOT_FOUND, message),
        ClusterError::Throttled { message, .. } => {
            text_response(StatusCode::TOO_MANY_REQUESTS, message)
        }
        // No scheduler listens (its agent died): Admin Router's own 502 page.
        ClusterError::Transient { message, .. } if message == SCHEDULER_DOWN => {
            admin_router_page(StatusCode::BAD_GATEWAY)
        }
        ClusterError::Transient { message, .. } => {
            text_response(StatusCode::SERVICE_UNAVAILABLE, message)
        }
        ClusterError::Unauthorized { .. } => unauthorized(),
        ClusterError::Fatal { message, .. } => {
            text_response(StatusCode::INTERNAL_SERVER_ERROR, message)
        }
    }
}

// ----- ACS login ---------------------------------------------------------------------------

#[derive(Deserialize)]
struct Login {
    uid: Option<String>,
    password: Option<String>,
    token: Option<String>,
}

fn bad_request(description: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"title": "Bad Request", "description": description.into()})),
    )
        .into_response()
}

/// What the IAM answers a refused service login (Enterprise's `acsjwt` scheme).
fn login_refused(description: &str) -> Response {
    (
        StatusCode::UNAUTHORIZED,
        [(WWW_AUTHENTICATE, "acsjwt")],
        Json(json!({"title": "Unauthorized", "description": description,
            "code": "ERR_INVALID_SERVICE_LOGIN_TOKEN"})),
    )
        .into_response()
}

/// A service login: `token` must be an RS256 token of the account `uid` (its public key
/// verifies the signature; its claims name `uid` and an `exp` still ahead of `now`).
fn check_service_login(w: &World, uid: &str, token: &str, now: i64) -> Result<(), &'static str> {
    let key = w
        .accounts
        .iter()
        .find(|(u, _)| u == uid)
        .map(|(_, k)| k)
        .ok_or("unknown service account")?;
    let claims = key.verify(token)?;
    if claims.uid.as_deref() != Some(uid) {
        return Err("the token's uid is not the login's");
    }
    match claims.exp {
        Some(exp) if exp > now => Ok(()),
        Some(_) => Err("the service login token has expired"),
        None => Err("the service login token has no exp"),
    }
}

/// `POST /acs/api/v1/auth/login`: `{uid, password}`, `{uid, token}` (service account) or
/// `{token}` (OIDC, DC/OS Open < 1.13) → `{"token": …}`. Any credentials are accepted, except
/// that with service accounts configured a `{uid, token}` login must verify (else 401).
pub(super) async fn login(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    let login: Login = match serde_json::from_slice(&body) {
        Ok(l) => l,
        Err(e) => return bad_request(format!("Request body is not valid JSON: {e}")),
    };
    let nonempty = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    let ok = match &login.uid {
        Some(uid) if !uid.is_empty() => nonempty(&login.password) || nonempty(&login.token),
        Some(_) => false,
        None => nonempty(&login.token),
    };
    if !ok {
        return bad_request(
            "Request body must carry `uid` with `password` or `token`, or an OIDC `token`",
        );
    }
    let service = login.uid.as_deref().zip(login.token.as_deref());
    shared.with_world(|w| {
        let now = w.sim.now();
        if let Some((uid, token)) = service.filter(|_| !w.accounts.is_empty()) {
            if let Err(why) = check_service_login(w, uid, token, now.as_millis() / 1000) {
                return login_refused(why);
            }
            eprintln!("sim serve: service account {uid} logged in");
        }
        let token = w.issue_token(now, login.uid.as_deref());
        Json(json!({"token": token})).into_response()
    })
}

// ----- Mesos master ------------------------------------------------------------------------

#[derive(Deserialize)]
pub(super) struct SlavesQuery {
    slave_id: Option<String>,
}

/// `GET /mesos/master/slaves` (and `/mesos/slaves`), optionally `?slave_id=…`.
pub(super) async fn slaves(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    Query(q): Query<SlavesQuery>,
) -> Response {
    shared.with_world(|w| {
        if let Some(refused) = admit(w, &headers, Api::Mesos, || {
            "GET /mesos/master/slaves".into()
        }) {
            return refused;
        }
        let busy = busy_agents(w);
        let region = w.sim.profile().topology.region.clone();
        let slaves: Vec<Value> = w
            .sim
            .agents()
            .iter()
            .filter(|a| q.slave_id.as_deref().is_none_or(|id| a.id.as_str() == id))
            .map(|a| {
                let zone = zone_of_ip(&w.sim.profile().topology, &a.hostname);
                agent_json(a, busy.contains(a.id.as_str()), &region, zone)
            })
            .collect();
        Json(json!({"slaves": slaves, "recovered_slaves": []})).into_response()
    })
}

/// The zone of the subnet an IP belongs to (an agent's hostname is its host's private IP).
fn zone_of_ip<'a>(topo: &'a Topology, ip: &str) -> Option<&'a str> {
    let ip = u32::from(ip.parse::<Ipv4Addr>().ok()?);
    topo.private_subnets
        .iter()
        .chain([&topo.public_subnet, &topo.master_subnet])
        .find(|s| parse_cidr(&s.cidr).is_ok_and(|(base, size)| ip >= base && ip - base < size))
        .map(|s| s.zone.as_str())
}

/// Agents holding a live task of the service (they carry its reservation).
fn busy_agents(w: &World) -> BTreeSet<String> {
    let service = w.sim.service().to_string();
    let Ok(pods) = w.sim.pod_statuses(&service) else {
        return BTreeSet::new();
    };
    pods.iter()
        .filter_map(|p| w.sim.pod_info(&service, &p.name).ok())
        .flat_map(|p| p.tasks.to_vec())
        .filter(|t| {
            matches!(
                t.state,
                Some(
                    TaskState::Staging
                        | TaskState::Starting
                        | TaskState::Running
                        | TaskState::Killing
                )
            )
        })
        .filter_map(|t| t.agent.map(|a| a.to_string()))
        .collect()
}

fn resources(cpus: f64, mem: f64, disk: f64, ports: Option<&str>) -> Value {
    let mut r = json!({"disk": disk, "mem": mem, "gpus": 0.0, "cpus": cpus});
    if let Some(p) = ports {
        r["ports"] = json!(p);
    }
    r
}

/// One agent in the shape of `fixtures/mesos-slaves.json`. Resources are constants (the
/// model does not measure them): a Cassandra node reserves the same on every private agent.
fn agent_json(a: &AgentObs, busy: bool, region: &str, zone: Option<&str>) -> Value {
    const CASSANDRA_PORTS: &str = "[7000-7001, 7199-7199, 9042-9042, 9160-9160]";
    let (total, used, reserved, unreserved, attributes) = if a.public {
        let all = resources(4.0, 14021.0, 35566.0, Some("[1-21, 23-5050, 5052-32000]"));
        (
            all.clone(),
            resources(0.0, 0.0, 0.0, None),
            json!({"slave_public": all}),
            resources(0.0, 0.0, 0.0, None),
            json!({"public_ip": "true"}),
        )
    } else {
        let total = resources(
            8.0,
            28829.0,
            71645.0,
            Some("[1025-2180, 2182-3887, 3889-5049, 5052-8079, 8082-8180, 8182-32000]"),
        );
        if busy {
            let node = resources(1.5, 5120.0, 10240.0, Some(CASSANDRA_PORTS));
            (
                total,
                node.clone(),
                json!({"cassandra-role": node}),
                resources(
                    6.5,
                    23709.0,
                    61405.0,
                    Some(
                        "[1025-2180, 2182-3887, 3889-5049, 5052-6999, 7002-7198, 7200-8079, 8082-8180, 8182-9041, 9043-9159, 9161-32000]",
                    ),
                ),
                json!({}),
            )
        } else {
            (
                total.clone(),
                resources(0.0, 0.0, 0.0, None),
                json!({}),
                total,
                json!({}),
            )
        }
    };
    let mut agent = json!({
        "id": a.id.as_str(),
        "hostname": a.hostname,
        "port": 5051,
        "attributes": attributes,
        "pid": format!("slave(1)@{}:5051", a.hostname),
        "registered_time": a.registered_time.as_unix_seconds_f64(),
        "resources": total,
        "used_resources": used,
        "offered_resources": resources(0.0, 0.0, 0.0, None),
        "reserved_resources": reserved,
        "unreserved_resources": unreserved,
        "active": a.active,
        "deactivated": false,
        "version": "1.9.0",
        "capabilities": [
            "MULTI_ROLE",
            "HIERARCHICAL_ROLE",
            "RESERVATION_REFINEMENT",
            "RESOURCE_PROVIDER",
            "RESIZE_VOLUME",
            "AGENT_OPERATION_FEEDBACK",
            "AGENT_DRAINING"
        ],
    });
    if let Some(z) = zone {
        agent["domain"] =
            json!({"fault_domain": {"region": {"name": region}, "zone": {"name": z}}});
    }
    if let Some(t) = a.reregistered_time {
        agent["reregistered_time"] = json!(t.as_unix_seconds_f64());
    }
    agent
}

// ----- the dcos-commons scheduler ----------------------------------------------------------

/// `"cassandra/v1/pod/status"` → `("cassandra", "pod/status")`; folders are allowed
/// (`"dev/cassandra/v1/plans"`).
pub(super) fn split_service(rest: &str) -> Option<(&str, &str)> {
    if let Some(i) = rest.find("/v1/") {
        return Some((&rest[..i], &rest[i + 4..]));
    }
    rest.strip_suffix("/v1").map(|svc| (svc, ""))
}

pub(super) async fn service_get(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    scheduler(&shared, Method::GET, &rest, &headers)
}

pub(super) async fn service_post(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    scheduler(&shared, Method::POST, &rest, &headers)
}

fn scheduler(shared: &Shared, method: Method, rest: &str, headers: &HeaderMap) -> Response {
    shared.with_world(|w| {
        let call = || {
            let call = split_service(rest).map_or(rest, |(_, call)| call);
            format!("{method} {call}")
        };
        if let Some(refused) = admit(w, headers, Api::Scheduler, call) {
            return refused;
        }
        let own = w.sim.service().to_string();
        let Some((svc, path)) = split_service(rest) else {
            return if rest.trim_matches('/') == own {
                text_response(StatusCode::NOT_FOUND, "Not Found")
            } else {
                text_response(StatusCode::NOT_FOUND, SERVICE_NOT_FOUND)
            };
        };
        if svc.trim_matches('/') != own {
            return text_response(StatusCode::NOT_FOUND, SERVICE_NOT_FOUND);
        }
        let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
        let result = match (&method, segments.as_slice()) {
            (&Method::GET, ["pod"]) => pod_list(w, &own),
            (&Method::GET, ["pod", "status"]) => pod_statuses(w, &own),
            (&Method::GET, ["pod", pod, "status"]) => pod_status(w, &own, pod),
            (&Method::GET, ["pod", pod, "info"]) => pod_info(w, &own, pod),
            (&Method::POST, ["pod", pod, "replace"]) => pod_replace(w, &own, pod),
            (&Method::GET, ["plans"]) => Ok(Json(json!(["deploy", "recovery"])).into_response()),
            (&Method::GET, ["plans", name]) => plan(w, &own, name),
            (_, ["pod" | "plans", ..]) => Ok(text_response(
                StatusCode::METHOD_NOT_ALLOWED,
                "HTTP 405 Method Not Allowed",
            )),
            _ => Ok(text_response(StatusCode::NOT_FOUND, "HTTP 404 Not Found")),
        };
        result.unwrap_or_else(|e| model_error(&e))
    })
}

type Reply = Result<Response, ClusterError>;

fn pod_list(w: &World, svc: &str) -> Reply {
    // The SDK sorts pod names as strings (a TreeSet): `node-10` before `node-2`.
    let names: BTreeSet<String> = w
        .sim
        .pod_statuses(svc)?
        .into_iter()
        .map(|p| p.name.to_string())
        .collect();
    Ok(Json(names).into_response())
}

/// A task of `GET /v1/pod/status`: `status` is absent when the scheduler has none.
#[derive(Serialize)]
struct TaskStatusJson {
    id: String,
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'static str>,
}

#[derive(Serialize)]
struct InstanceJson {
    name: String,
    tasks: Vec<TaskStatusJson>,
}

#[derive(Serialize)]
struct PodTypeJson {
    name: String,
    instances: Vec<InstanceJson>,
}

#[derive(Serialize)]
struct ServiceJson {
    service: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pods: Vec<PodTypeJson>,
}

fn instance_json(p: &PodObs) -> InstanceJson {
    let mut tasks: Vec<TaskStatusJson> = p
        .tasks
        .iter()
        .map(|t| TaskStatusJson {
            id: t.id.to_string(),
            name: t.name.to_string(),
            status: t.state.map(TaskState::as_str),
        })
        .collect();
    tasks.sort_by(|a, b| a.name.cmp(&b.name));
    InstanceJson {
        name: p.name.to_string(),
        tasks,
    }
}

/// `node-4` → (`node`, 4).
fn pod_type(name: &str) -> (&str, u64) {
    match name.rsplit_once('-') {
        Some((ty, n)) => match n.parse() {
            Ok(n) => (ty, n),
            Err(_) => (name, 0),
        },
        None => (name, 0),
    }
}

fn pod_statuses(w: &World, svc: &str) -> Reply {
    let mut by_type: BTreeMap<String, Vec<(u64, InstanceJson)>> = BTreeMap::new();
    for p in w.sim.pod_statuses(svc)? {
        let (ty, index) = pod_type(p.name.as_str());
        by_type
            .entry(ty.to_string())
            .or_default()
            .push((index, instance_json(&p)));
    }
    let pods = by_type
        .into_iter()
        .map(|(name, mut instances)| {
            instances.sort_by_key(|(i, _)| *i);
            PodTypeJson {
                name,
                instances: instances.into_iter().map(|(_, i)| i).collect(),
            }
        })
        .collect();
    Ok(Json(ServiceJson {
        service: w.sim.profile().topology.service.clone(),
        pods,
    })
    .into_response())
}

fn pod_status(w: &World, svc: &str, pod: &str) -> Reply {
    let p = w.sim.pod_info(svc, &PodName::new(pod))?;
    Ok(Json(instance_json(&p)).into_response())
}

/// One `{info, status}` element of `GET /v1/pod/<pod>/info` (protobuf JSON, lowerCamelCase).
fn task_info_json(w: &World, t: &TaskObs) -> Value {
    let slave = t.agent.as_ref().map(|a| json!({"value": a.as_str()}));
    let mut info = json!({"name": t.name, "taskId": {"value": t.id.as_str()}});
    if let Some(s) = &slave {
        info["slaveId"] = s.clone();
    }
    let status = match (t.state, t.status_time) {
        (Some(state), Some(time)) => {
            let mut s = json!({
                "taskId": {"value": t.id.as_str()},
                "state": format!("TASK_{}", state.as_str()),
                "timestamp": time.as_unix_seconds_f64(),
            });
            if let Some(slave) = slave {
                s["slaveId"] = slave;
            }
            if let Some(source) = t.cause.source {
                s["source"] = json!(source.as_str());
            }
            if let Some(r) = t.cause.reason {
                s["reason"] = json!(r.as_str());
            }
            // protobuf `TimeInfo` as jackson-datatype-protobuf writes it.
            if let Some(u) = t.cause.unreachable_time {
                s["unreachableTime"] = json!({"nanoseconds": u.as_millis() * 1_000_000});
            }
            if let Some(ip) = t.agent.as_ref().and_then(|a| w.sim.agent_hostname(a)) {
                s["containerStatus"] =
                    json!({"networkInfos": [{"ipAddresses": [{"ipAddress": ip}]}]});
            }
            s
        }
        _ => Value::Null,
    };
    json!({"info": info, "status": status})
}

fn pod_info(w: &World, svc: &str, pod: &str) -> Reply {
    let p = w.sim.pod_info(svc, &PodName::new(pod))?;
    let mut tasks: Vec<&TaskObs> = p.tasks.iter().collect();
    tasks.sort_by(|a, b| a.name.cmp(&b.name));
    let body: Vec<Value> = tasks.into_iter().map(|t| task_info_json(w, t)).collect();
    Ok(Json(body).into_response())
}

fn pod_replace(w: &mut World, svc: &str, pod: &str) -> Reply {
    let name = PodName::new(pod);
    let p = w.sim.pod_info(svc, &name)?;
    w.sim.pod_replace(svc, &name)?;
    let tasks: BTreeSet<String> = p.tasks.iter().map(|t| t.name.to_string()).collect();
    Ok(Json(json!({"pod": pod, "tasks": tasks})).into_response())
}

#[derive(Serialize)]
struct StepJson {
    id: String,
    name: String,
    status: &'static str,
    message: String,
}

#[derive(Serialize)]
struct PhaseJson {
    id: String,
    name: String,
    strategy: &'static str,
    status: &'static str,
    steps: Vec<StepJson>,
}

#[derive(Serialize)]
struct PlanJson {
    phases: Vec<PhaseJson>,
    errors: Vec<String>,
    status: &'static str,
    strategy: &'static str,
}

fn plan_json(name: &str, p: &PlanObs) -> PlanJson {
    let recovery = name == "recovery";
    PlanJson {
        phases: p
            .phases
            .iter()
            .map(|ph| {
                // Cassandra's replace phase is serial; the SDK's own recovery phases parallel.
                let permanent = recovery && &*ph.name == crate::cluster::PERMANENT_RECOVERY_PHASE;
                (ph, permanent)
            })
            .map(|(ph, permanent)| PhaseJson {
                id: ph.id.to_string(),
                name: ph.name.to_string(),
                strategy: if recovery && !permanent {
                    "parallel"
                } else {
                    "serial"
                },
                status: ph.status.as_str(),
                steps: ph
                    .steps
                    .iter()
                    .enumerate()
                    .map(|(i, s)| StepJson {
                        id: s.id.to_string(),
                        name: s.name.to_string(),
                        status: s.status.as_str(),
                        message: if recovery {
                            // The replace step comes first; a seed's restarts are transient.
                            let kind = if permanent && i == 0 {
                                "PERMANENT"
                            } else {
                                "TRANSIENT"
                            };
                            format!(
                                "com.mesosphere.sdk.scheduler.recovery.RecoveryStep: {} [{}] with status: {} RecoveryType: {kind}",
                                s.name, s.id, s.status
                            )
                        } else {
                            format!(
                                "com.mesosphere.sdk.scheduler.plan.DeploymentStep: '{} [{}]' has status: '{}'.",
                                s.name, s.id, s.status
                            )
                        },
                    })
                    .collect(),
            })
            .collect(),
        errors: p.errors.clone(),
        status: p.status.as_str(),
        strategy: if recovery { "parallel" } else { "serial" },
    }
}

/// `GET /v1/plans/<plan>`: 200 when COMPLETE, 202 otherwise, 417 with errors.
fn plan(w: &World, svc: &str, name: &str) -> Reply {
    let p = w.sim.plan(svc, name)?;
    let code = if !p.errors.is_empty() {
        StatusCode::EXPECTATION_FAILED
    } else if p.status == PlanStatus::Complete {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    Ok((code, Json(plan_json(name, &p))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn service_paths_split_at_v1() {
        assert_eq!(
            split_service("cassandra/v1/pod/status"),
            Some(("cassandra", "pod/status"))
        );
        assert_eq!(
            split_service("dev/cassandra/v1/plans/deploy"),
            Some(("dev/cassandra", "plans/deploy"))
        );
        assert_eq!(split_service("cassandra/v1"), Some(("cassandra", "")));
        assert_eq!(split_service("cassandra/v2/pod"), None);
    }

    #[test]
    fn tokens_in_header_or_cookie() {
        let mut h = HeaderMap::new();
        assert!(presented_tokens(&h).is_empty());
        h.insert(AUTHORIZATION, HeaderValue::from_static("token=t"));
        assert_eq!(presented_tokens(&h), ["t"]);
        h.insert(AUTHORIZATION, HeaderValue::from_static("Bearer t"));
        assert_eq!(presented_tokens(&h), ["t"]);
        h.insert(AUTHORIZATION, HeaderValue::from_static("token=other"));
        assert_eq!(presented_tokens(&h), ["other"]);
        h.remove(AUTHORIZATION);
        h.insert(
            COOKIE,
            HeaderValue::from_static("a=b; dcos-acs-auth-cookie=t"),
        );
        assert_eq!(presented_tokens(&h), ["t"]);
    }

    #[test]
    fn pod_types_and_indices() {
        assert_eq!(pod_type("node-4"), ("node", 4));
        assert_eq!(pod_type("node-12"), ("node", 12));
        assert_eq!(pod_type("UNKNOWN_POD"), ("UNKNOWN_POD", 0));
    }
}
