//! `chaos-harness sim serve`: the simulated cluster served over HTTP in real time, speaking
//! the real wire protocols so the `aws` backend (aws-sdk-ec2, aws-sdk-autoscaling, a reqwest
//! DC/OS client) can be tested end to end against it.
//!
//! - [`query`]: the AWS query protocol's request side (form, flattened lists, SigV4 scope);
//! - [`ec2`], [`autoscaling`]: the two query APIs on `POST /`, told apart by the credential
//!   scope of the `Authorization` header;
//! - [`dcos`]: Admin Router's view of the cluster: ACS login, the Mesos master's `/slaves`,
//!   the dcos-commons scheduler under `/service/<name>/v1/…`;
//! - [`xml`]: the escaping XML writer;
//! - [`faults`]: the profile's API faults on the wire (throttling, 5xx, resets, slow answers,
//!   refused tokens, an unreachable scheduler);
//! - here: configuration, the shared world (a [`Sim`] advanced to the wall clock on every
//!   request and every ~100 ms), the truth log and the server's lifecycle.
//!
//! Every injected API fault is also written to the truth log, as a line of kind `api_fault`
//! (see [`InjectedFault::truth`]), and [`SimServer::api_faults`] returns them in-process.

mod autoscaling;
mod dcos;
mod ec2;
mod faults;
mod query;
mod xml;

use std::fs::File;
use std::future::{Future, IntoFuture};
use std::io::{self, BufWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, HeaderName, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};
use tokio::task::JoinHandle;

use crate::cluster::ClusterError;
use crate::cluster::jwt::{self, Claims, VerifyingKey};
use crate::cluster::sim::{ApiFaultInjector, InjectedFault, Profile, Sim, TruthEvent};
use crate::time::{Clock, Dur, Timestamp};
use query::{Params, Scope, Service};

/// The DC/OS token the server hands out and accepts unless told otherwise.
pub const DEFAULT_TOKEN: &str = "sim-token";

/// How often the world is advanced when no request arrives, so the truth log follows the
/// wall clock.
const TICK: Duration = Duration::from_millis(100);

/// How long a stopping server waits for open requests before it drops them.
const DRAIN: Duration = Duration::from_secs(5);

/// What to serve.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub profile: Profile,
    pub seed: u64,
    /// The DC/OS auth token: `POST /acs/api/v1/auth/login` returns it and every other DC/OS
    /// endpoint requires it.
    pub token: String,
    /// Every [`TruthEvent`] as one JSON line, written as it happens (the file is truncated
    /// first: one world per file).
    pub truth_log: Option<PathBuf>,
    /// The server stops by itself after this long (tests use it so no server outlives them).
    pub lifetime: Option<Duration>,
    /// The world's clock: the wall clock, or a sped-up one shared with the client (benchmarks).
    pub clock: Clock,
    /// DC/OS service accounts (uid, public key): a `{uid, token}` login must carry an RS256
    /// token of one of them, signed with its key and not expired; with none configured, any
    /// credentials are accepted.
    pub service_accounts: Vec<(String, VerifyingKey)>,
    /// Tokens issued by a login expire this long after it (their `exp` claim says when); the
    /// configured `token` never does.
    pub token_lifetime: Option<Dur>,
}

impl ServeConfig {
    /// Seed 0, the default token, no truth log, no lifetime.
    pub fn new(profile: Profile) -> Self {
        Self {
            profile,
            seed: 0,
            token: DEFAULT_TOKEN.to_string(),
            truth_log: None,
            lifetime: None,
            clock: Clock::wall(),
            service_accounts: Vec::new(),
            token_lifetime: None,
        }
    }
}

/// The truth log file and how much of the model's truth is in it.
struct TruthLog {
    path: PathBuf,
    out: BufWriter<File>,
    written: usize,
    faults_written: usize,
    failed: Option<io::Error>,
}

impl TruthLog {
    /// Appends the model's new events, then the new API faults (which happened at the
    /// current instant, after every event the model has processed).
    fn write_new(&mut self, truth: &[TruthEvent], faults: &[InjectedFault]) {
        if self.written >= truth.len() && self.faults_written >= faults.len() {
            return;
        }
        let new = truth[self.written.min(truth.len())..]
            .iter()
            .cloned()
            .chain(
                faults[self.faults_written.min(faults.len())..]
                    .iter()
                    .map(InjectedFault::truth),
            );
        self.written = truth.len();
        self.faults_written = faults.len();
        if self.failed.is_some() {
            return;
        }
        let result = new
            .into_iter()
            .try_for_each(|ev| {
                serde_json::to_writer(&mut self.out, &ev).map_err(io::Error::other)?;
                self.out.write_all(b"\n")
            })
            .and_then(|()| self.out.flush());
        if let Err(e) = result {
            eprintln!(
                "error: cannot write the truth log {}: {e}",
                self.path.display()
            );
            self.failed = Some(e);
        }
    }
}

/// The simulated world and what the server keeps beside it.
pub(crate) struct World {
    pub(crate) sim: Sim,
    log: Option<TruthLog>,
    requests: u64,
    /// The Auto Scaling group's `CreatedTime` (before its first instance launched).
    pub(crate) asg_created: Timestamp,
    /// The profile's API faults, if any.
    pub(crate) faults: Option<ApiFaultInjector>,
    /// Every DC/OS token issued, with when, and until when with a `token_lifetime`: the
    /// configured one at start, one per login when tokens expire.
    tokens: Vec<(String, Timestamp, Option<Timestamp>)>,
    /// The service accounts a `{uid, token}` login is checked against (none: any login).
    pub(crate) accounts: Vec<(String, VerifyingKey)>,
    token_lifetime: Option<Dur>,
}

/// Whether a request's DC/OS token is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenCheck {
    Accepted,
    /// An issued token, past `token_expires_after`.
    Expired,
    /// No token, or one never issued.
    Refused,
}

impl World {
    fn new(
        profile: &Profile,
        seed: u64,
        start: Timestamp,
        log: Option<TruthLog>,
        cfg: &ServeConfig,
    ) -> World {
        let sim = Sim::new(profile, seed, start);
        let first_launch = sim
            .all_instances()
            .iter()
            .filter(|i| i.asg_name.is_some())
            .map(|i| i.launch_time)
            .min()
            .unwrap_or(start);
        World {
            asg_created: Timestamp::from_millis(first_launch.as_millis() - 41_337),
            sim,
            log,
            requests: 0,
            faults: profile
                .api_faults
                .as_ref()
                .map(|f| ApiFaultInjector::new(f, seed, start)),
            tokens: vec![(cfg.token.clone(), start, None)],
            accounts: cfg.service_accounts.clone(),
            token_lifetime: cfg.token_lifetime,
        }
    }

    /// Checks the tokens a request presents (header and cookie) at `now`.
    pub(crate) fn check_token(&self, presented: &[&str], now: Timestamp) -> TokenCheck {
        let mut expired = false;
        for (token, issued, until) in &self.tokens {
            // Past its own `exp`: Admin Router refuses it like any invalid token.
            if presented.contains(&token.as_str()) && until.is_none_or(|u| now < u) {
                match &self.faults {
                    Some(f) if f.token_expired(*issued, now) => expired = true,
                    _ => return TokenCheck::Accepted,
                }
            }
        }
        if expired {
            TokenCheck::Expired
        } else {
            TokenCheck::Refused
        }
    }

    /// Whether the request's token is accepted now.
    pub(crate) fn token_accepted(&self, headers: &HeaderMap, now: Timestamp) -> bool {
        self.check_token(&dcos::presented_tokens(headers), now) == TokenCheck::Accepted
    }

    /// The token a login returns: the configured one, or a fresh one when tokens expire (with
    /// a `token_lifetime`, shaped like a DC/OS token whose `exp` claim the client can read).
    pub(crate) fn issue_token(&mut self, now: Timestamp, uid: Option<&str>) -> String {
        if let Some(ttl) = self.token_lifetime {
            let until = now.saturating_add(ttl);
            let claims = Claims {
                uid: uid.map(str::to_string),
                exp: Some(until.as_millis() / 1000),
            };
            let sig = format!("{}.{}", self.tokens[0].0, self.tokens.len());
            let token = jwt::unsigned(&claims, &sig);
            self.tokens.push((token.clone(), now, Some(until)));
            return token;
        }
        let expiring = self
            .faults
            .as_ref()
            .is_some_and(|f| f.spec().token_expires_after.is_some());
        if !expiring {
            return self.tokens[0].0.clone();
        }
        let token = format!("{}.{}", self.tokens[0].0, self.tokens.len());
        self.tokens.push((token.clone(), now, None));
        token
    }

    /// Moves the model to `t` (never backwards).
    fn advance(&mut self, t: Timestamp) {
        self.sim.advance_to(t);
    }

    fn write_truth(&mut self) {
        if let Some(log) = &mut self.log {
            let faults = self.faults.as_ref().map_or(&[][..], |f| f.injected());
            log.write_new(self.sim.truth(), faults);
        }
    }

    /// A fresh request id, uuid-shaped like AWS's.
    pub(crate) fn request_id(&mut self) -> String {
        self.requests += 1;
        format!("5e1d0c2a-0000-4000-8000-{:012x}", self.requests)
    }
}

/// State shared by every handler.
pub(crate) struct Shared {
    world: Mutex<World>,
    /// The profile has `api_faults` (read without the lock).
    api_faults: bool,
    pub(crate) clock: Clock,
}

impl Shared {
    /// Runs `f` on the world advanced to the wall clock, then appends what happened to the
    /// truth log. The lock is never held across an `.await`.
    pub(crate) fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut w = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        w.advance(self.clock.now());
        let r = f(&mut w);
        w.write_truth();
        r
    }

    /// Flushes the truth log and reports whether it was written completely.
    fn close_log(&self) -> io::Result<()> {
        let mut w = self.world.lock().unwrap_or_else(PoisonError::into_inner);
        match w.log.as_mut() {
            None => Ok(()),
            Some(log) => match log.failed.take() {
                Some(e) => Err(io::Error::new(
                    e.kind(),
                    format!("the truth log {} is incomplete: {e}", log.path.display()),
                )),
                None => log.out.flush(),
            },
        }
    }
}

/// A simulated cluster ready to be served: the world is built and the truth log is open.
pub(crate) struct SimService {
    shared: Arc<Shared>,
    lifetime: Option<Duration>,
}

impl SimService {
    /// Builds the world at the current wall-clock time and opens (truncates) the truth log.
    pub(crate) fn new(cfg: ServeConfig) -> io::Result<SimService> {
        let log = match &cfg.truth_log {
            None => None,
            Some(path) => Some(TruthLog {
                out: BufWriter::new(File::create(path).map_err(|e| {
                    io::Error::new(
                        e.kind(),
                        format!("cannot create the truth log {}: {e}", path.display()),
                    )
                })?),
                path: path.clone(),
                written: 0,
                faults_written: 0,
                failed: None,
            }),
        };
        let world = World::new(&cfg.profile, cfg.seed, cfg.clock.now(), log, &cfg);
        Ok(SimService {
            shared: Arc::new(Shared {
                world: Mutex::new(world),
                api_faults: cfg.profile.api_faults.is_some(),
                clock: cfg.clock,
            }),
            lifetime: cfg.lifetime,
        })
    }

    fn router(&self) -> Router {
        Router::new()
            .route("/", post(aws_query).get(aws_query))
            .route("/acs/api/v1/auth/login", post(dcos::login))
            .route("/mesos/master/slaves", get(dcos::slaves))
            .route("/mesos/slaves", get(dcos::slaves))
            .route(
                "/service/{*rest}",
                get(dcos::service_get).post(dcos::service_post),
            )
            .fallback(not_found)
            .layer(axum::middleware::from_fn_with_state(
                self.shared.clone(),
                faults::inject,
            ))
            .with_state(self.shared.clone())
    }

    /// Serves on `listener` until `shutdown` completes or the lifetime ends, then flushes the
    /// truth log. Requests still open after a few seconds are dropped.
    pub(crate) async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> io::Result<()> {
        let (stop_tick, tick_stopped) = watch::channel(false);
        let ticker = tokio::spawn(tick(self.shared.clone(), tick_stopped));
        let (drain, drained) = oneshot::channel::<()>();
        let app = self
            .router()
            .into_make_service_with_connect_info::<faults::ConnHandle>();
        let server = axum::serve(faults::ResetListener(listener), app)
            .with_graceful_shutdown(async move {
                let _ = drained.await;
            })
            .into_future();
        tokio::pin!(server);
        let lifetime = self.lifetime;
        let stop = async move {
            match lifetime {
                Some(d) => {
                    tokio::select! {
                        () = shutdown => {}
                        () = tokio::time::sleep(d) => {}
                    }
                }
                None => shutdown.await,
            }
        };
        let served = tokio::select! {
            r = &mut server => r,
            () = stop => {
                let _ = drain.send(());
                tokio::time::timeout(DRAIN, &mut server).await.unwrap_or(Ok(()))
            }
        };
        let _ = stop_tick.send(true);
        let _ = ticker.await;
        // The world up to the moment the server stopped is in the log.
        self.shared.with_world(|_| ());
        let closed = self.shared.close_log();
        served.and(closed)
    }
}

/// Advances the world every [`TICK`] so the truth log keeps up without requests.
async fn tick(shared: Arc<Shared>, mut stop: watch::Receiver<bool>) {
    let mut interval = tokio::time::interval(TICK);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = interval.tick() => shared.with_world(|_| ()),
            _ = stop.changed() => break,
        }
    }
}

/// Serves `cfg` on `listener` until `shutdown` completes (or the configured lifetime ends).
#[cfg(test)]
pub(crate) async fn serve(
    listener: TcpListener,
    cfg: ServeConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    SimService::new(cfg)?.serve(listener, shutdown).await
}

/// A server running on a tokio task, for in-process tests: start it, point clients at
/// [`SimServer::url`], [`SimServer::stop`] it. Dropping it stops it too.
pub struct SimServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl SimServer {
    /// Serves `cfg` on `127.0.0.1` at a free port.
    pub async fn start(cfg: ServeConfig) -> io::Result<SimServer> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        Self::start_on(listener, cfg)
    }

    /// Serves `cfg` on `listener`.
    pub(crate) fn start_on(listener: TcpListener, cfg: ServeConfig) -> io::Result<SimServer> {
        let addr = listener.local_addr()?;
        let service = SimService::new(cfg)?;
        let shared = service.shared.clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(service.serve(listener, async move {
            let _ = stopped.await;
        }));
        Ok(SimServer {
            addr,
            shared,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, the endpoint for both AWS SDK clients and the DC/OS URL.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The model's truth so far (advanced to now).
    pub fn truth(&self) -> Vec<TruthEvent> {
        self.shared.with_world(|w| w.sim.truth().to_vec())
    }

    /// Every API fault injected so far, in order (empty without the profile's `api_faults`).
    #[cfg(test)]
    pub(crate) fn api_faults(&self) -> Vec<InjectedFault> {
        self.shared
            .with_world(|w| w.faults.as_ref().map(|f| f.injected().to_vec()))
            .unwrap_or_default()
    }

    /// Stops the server and waits until it has stopped and flushed its truth log.
    pub async fn stop(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.task.take() {
            Some(task) => task.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

impl Drop for SimServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

// ----- shared response helpers -------------------------------------------------------------

/// An error of an AWS query API, rendered by the API's own error format.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AwsError {
    pub(crate) status: StatusCode,
    pub(crate) code: String,
    pub(crate) message: String,
}

impl AwsError {
    pub(crate) fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        Self {
            status,
            code: code.to_string(),
            message: message.into(),
        }
    }

    pub(crate) fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    /// A model error whose message reads `Code: text` keeps that code; others get
    /// `default_code`.
    pub(crate) fn from_model(e: &ClusterError, default_code: &str) -> Self {
        let message = match e {
            ClusterError::Throttled { message, .. }
            | ClusterError::Transient { message, .. }
            | ClusterError::NotFound { message, .. }
            | ClusterError::Unauthorized { message, .. }
            | ClusterError::Fatal { message, .. } => message,
        };
        let (code, text) = split_code(message).unwrap_or((default_code, message));
        Self::bad_request(code, text)
    }
}

/// `InvalidInstanceID.NotFound: The instance …` → `("InvalidInstanceID.NotFound", "The …")`.
fn split_code(message: &str) -> Option<(&str, &str)> {
    let (code, text) = message.split_once(": ")?;
    let plausible = !code.is_empty()
        && code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '_');
    plausible.then_some((code, text))
}

pub(crate) fn xml_response(status: StatusCode, request_id: &str, body: String) -> Response {
    (
        status,
        [
            (CONTENT_TYPE, "text/xml;charset=UTF-8".to_string()),
            (
                HeaderName::from_static("x-amzn-requestid"),
                request_id.to_string(),
            ),
        ],
        body,
    )
        .into_response()
}

/// Admin Router's (openresty's) own error page.
pub(crate) fn admin_router_page(status: StatusCode) -> Response {
    let code = status.as_u16();
    let title = format!("{code} {}", crate::cluster::sim::api_faults::reason(code));
    let body = format!(
        "<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n<center><h1>{title}</h1></center>\r\n<hr><center>openresty</center>\r\n</body>\r\n</html>\r\n"
    );
    (status, [(CONTENT_TYPE, "text/html")], body).into_response()
}

pub(crate) fn text_response(status: StatusCode, body: impl Into<String>) -> Response {
    (
        status,
        [(CONTENT_TYPE, "text/plain;charset=utf-8")],
        body.into(),
    )
        .into_response()
}

/// ISO 8601 UTC with milliseconds, as both query APIs write timestamps.
pub(crate) fn iso(t: Timestamp) -> String {
    t.to_rfc3339()
}

/// FNV-1a: stable across runs and platforms, unlike the std hasher.
fn fnv(seed: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in seed.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// A stable AWS-style resource id (`subnet-0…`, 17 hex digits) derived from `seed`.
pub(crate) fn resource_id(prefix: &str, seed: &str) -> String {
    format!("{prefix}-0{:016x}", fnv(seed))
}

/// A stable version-4-shaped uuid derived from `seed`.
pub(crate) fn stable_uuid(seed: &str) -> String {
    let (a, b) = (fnv(seed), fnv(&format!("{seed}#")));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        0x8000 | ((b >> 48) & 0x3fff),
        b & 0xffff_ffff_ffff
    )
}

/// The AWS account every simulated resource belongs to.
pub(crate) const ACCOUNT: &str = "123456789012";

// ----- routes ------------------------------------------------------------------------------

/// `POST /` (and `GET /?Action=…`): EC2 or Auto Scaling, by the SigV4 credential scope, or by
/// `Version` for unsigned requests.
async fn aws_query(
    State(shared): State<Arc<Shared>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (params, service) = query_service(&uri, &headers, &body);
    shared.with_world(|w| {
        let rid = w.request_id();
        match service {
            Ok(Service::Ec2) => ec2::handle(w, &params, &rid),
            Ok(Service::AutoScaling) => autoscaling::handle(w, &params, &rid),
            Err(unknown) => {
                let e = if unknown.is_empty() {
                    AwsError::new(
                        StatusCode::FORBIDDEN,
                        "MissingAuthenticationToken",
                        "Request is missing Authentication Token",
                    )
                } else {
                    AwsError::bad_request(
                        "UnknownService",
                        format!(
                            "the simulated cluster serves the ec2 and autoscaling services, not `{unknown}`"
                        ),
                    )
                };
                ec2::error_response(&e, &rid)
            }
        }
    })
}

/// A query request's parameters (query string and form body) and its service: by the SigV4
/// credential scope, else by `Version`; `Err` holds an unknown scope's service name (empty
/// when nothing names one).
fn query_service(uri: &Uri, headers: &HeaderMap, body: &[u8]) -> (Params, Result<Service, String>) {
    let mut pairs = uri.query().map(query::decode_form).unwrap_or_default();
    pairs.extend(query::decode_form(&String::from_utf8_lossy(body)));
    let params = Params::new(pairs);
    let scope = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(Scope::parse);
    let service = match &scope {
        Some(s) => s.service().ok_or_else(|| s.service.clone()),
        None => params
            .get("Version")
            .and_then(Service::from_version)
            .ok_or_else(String::new),
    };
    (params, service)
}

async fn not_found() -> Response {
    text_response(StatusCode::NOT_FOUND, "404 Not Found")
}

#[cfg(test)]
mod tests;
