//! API faults on the wire (the profile's `api_faults`): a middleware in front of every EC2,
//! Auto Scaling, Mesos and scheduler route asks the world's [`ApiFaultInjector`] what happens
//! to the request and answers as the real service would — EC2 `RequestLimitExceeded` (503),
//! Auto Scaling `Throttling` (400), Admin Router's 401/429/5xx pages — or answers late, or
//! resets the connection: the socket is closed with `SO_LINGER` 0 before any byte of the
//! response is written, so the client sees `ECONNRESET` (a TCP RST), not an HTTP answer.
//!
//! The ACS login and unknown routes are never faulted.
//!
//! [`ApiFaultInjector`]: crate::cluster::sim::ApiFaultInjector

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use super::query::Service;
use super::{
    AwsError, Shared, admin_router_page, autoscaling, dcos, ec2, query_service, text_response,
};
use crate::cluster::Api;
use crate::cluster::sim::api_faults::{ApiFault, InjectedFault, Verdict};

/// The largest request body the middleware buffers (query API forms are tiny).
const MAX_BODY: usize = 1 << 20;

/// A TCP listener whose connections a handler can reset.
pub(super) struct ResetListener(pub(super) TcpListener);

impl Listener for ResetListener {
    type Io = Resettable;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Resettable, SocketAddr) {
        let (stream, addr) = Listener::accept(&mut self.0).await;
        let io = Resettable {
            stream,
            reset: Arc::new(AtomicBool::new(false)),
        };
        (io, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.0.local_addr()
    }
}

/// A connection that fails every read and write once its handler asked for a reset; the
/// first failing write sets `SO_LINGER` 0, so closing it sends a RST.
pub(super) struct Resettable {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl Resettable {
    fn check(&self) -> io::Result<()> {
        if self.reset.load(Ordering::Relaxed) {
            // Best effort: without it the close is a FIN, which clients also see as a
            // connection closed before the answer.
            let _ = self.stream.set_zero_linger();
            Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "reset by the api_faults injector",
            ))
        } else {
            Ok(())
        }
    }
}

impl AsyncRead for Resettable {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Resettable {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

/// The handle a request carries to reset its own connection.
#[derive(Clone, Debug)]
pub(super) struct ConnHandle(Arc<AtomicBool>);

impl Connected<IncomingStream<'_, ResetListener>> for ConnHandle {
    fn connect_info(stream: IncomingStream<'_, ResetListener>) -> Self {
        Self(stream.io().reset.clone())
    }
}

/// Which API family and call a request is, if it is one that faults apply to.
fn classify(parts: &Parts, body: &[u8]) -> Option<(Api, String)> {
    let path = parts.uri.path();
    if path == "/" {
        let (params, service) = query_service(&parts.uri, &parts.headers, body);
        let api = match service.ok()? {
            Service::Ec2 => Api::Ec2,
            Service::AutoScaling => Api::AutoScaling,
        };
        return Some((api, params.get("Action").unwrap_or("?").to_string()));
    }
    if path.starts_with("/mesos/") {
        return Some((Api::Mesos, format!("{} {path}", parts.method)));
    }
    let rest = path.strip_prefix("/service/")?;
    let call = dcos::split_service(rest).map_or(rest, |(_, call)| call);
    Some((Api::Scheduler, format!("{} {call}", parts.method)))
}

/// The middleware: classify, ask the injector, then serve, serve late, or fail.
pub(super) async fn inject(
    State(shared): State<Arc<Shared>>,
    req: Request,
    next: Next,
) -> Response {
    if !shared.api_faults {
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
        return text_response(StatusCode::PAYLOAD_TOO_LARGE, "request body too large");
    };
    let rebuild = |parts: Parts, bytes: Bytes| Request::from_parts(parts, Body::from(bytes));
    let Some((api, operation)) = classify(&parts, &bytes) else {
        return next.run(rebuild(parts, bytes)).await;
    };
    let decided = shared.with_world(|w| {
        let now = w.sim.now();
        // Admin Router checks the token first: a refused token is the handler's 401.
        if matches!(api, Api::Mesos | Api::Scheduler) && !w.token_accepted(&parts.headers, now) {
            return None;
        }
        let verdict = w.faults.as_mut()?.decide(api, &operation, now);
        let rid = w.request_id();
        Some((verdict, rid))
    });
    match decided {
        None | Some((Verdict::Pass, _)) => next.run(rebuild(parts, bytes)).await,
        Some((Verdict::Slow(d), _)) => {
            shared.clock.sleep(d).await;
            next.run(rebuild(parts, bytes)).await
        }
        Some((Verdict::Fail(f), rid)) => {
            if f.fault == ApiFault::Reset
                && let Some(ConnectInfo(conn)) = parts.extensions.get::<ConnectInfo<ConnHandle>>()
            {
                conn.0.store(true, Ordering::Relaxed);
            }
            failure(&f, &rid)
        }
    }
}

/// The answer of a failed request, as each service words it.
fn failure(f: &InjectedFault, rid: &str) -> Response {
    let status = f
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::SERVICE_UNAVAILABLE);
    match f.api {
        Api::Ec2 => {
            let (code, message) = match f.fault {
                ApiFault::Throttle => ("RequestLimitExceeded", "Request limit exceeded."),
                _ if status == StatusCode::INTERNAL_SERVER_ERROR => {
                    ("InternalError", "An internal error has occurred")
                }
                _ => (
                    "Unavailable",
                    "The service is unavailable. Please try again shortly.",
                ),
            };
            ec2::error_response(&AwsError::new(status, code, message), rid)
        }
        Api::AutoScaling => {
            let (code, message) = match f.fault {
                ApiFault::Throttle => ("Throttling", "Rate exceeded"),
                _ if status == StatusCode::INTERNAL_SERVER_ERROR => {
                    ("InternalFailure", "An internal error occurred")
                }
                _ => ("ServiceUnavailable", "Service is unavailable"),
            };
            autoscaling::error_response(&AwsError::new(status, code, message), rid)
        }
        Api::Mesos | Api::Scheduler if status == StatusCode::UNAUTHORIZED => dcos::unauthorized(),
        Api::Mesos | Api::Scheduler => admin_router_page(status),
    }
}
