//! The DC/OS client against a canned HTTP server on 127.0.0.1: the reference fixtures, and the
//! status codes that must not be mistaken (202/417 plans, scheduler vs Admin Router 404s, 5xx,
//! 401), and redirects (followed within the configured host only, so the token stays there).

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use chaos_harness::cluster::aws::dcos::{DcosClient, DcosConfig, Secret, SslVerify};
use chaos_harness::cluster::{ClusterError, PlanStatus, PodName, TaskState};

use crate::root;

const TOKEN: &str = "canned-token";

fn fixture(name: &str) -> String {
    std::fs::read_to_string(root().join("tests/fixtures/dcos").join(name)).unwrap()
}

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("token={TOKEN}"))
}

fn json(h: HeaderMap, code: StatusCode, body: String) -> axum::response::Response {
    if !authorized(&h) {
        return (
            StatusCode::UNAUTHORIZED,
            [("www-authenticate", "oauthjwt")],
            "<html>401</html>",
        )
            .into_response();
    }
    (code, [("content-type", "application/json")], body).into_response()
}

fn text(code: StatusCode, body: &'static str) -> axum::response::Response {
    (code, [("content-type", "text/plain")], body).into_response()
}

const PLAN_IN_PROGRESS: &str = r#"{"phases": [{"id": "p", "name": "permanent-node-failure-recovery",
  "strategy": "serial", "status": "STARTING", "steps": [{"id": "s", "name": "node-4:[server]",
  "status": "STARTING", "message": ""}]}], "errors": [], "status": "STARTING", "strategy": "parallel"}"#;

fn canned() -> Router {
    Router::new()
        .route(
            "/service/cassandra/v1/pod/status",
            get(|h: HeaderMap| async move { json(h, StatusCode::OK, fixture("pod-status-node4-lost.json")) }),
        )
        .route(
            "/mesos/master/slaves",
            get(|h: HeaderMap| async move { json(h, StatusCode::OK, fixture("mesos-slaves.json")) }),
        )
        .route(
            "/service/cassandra/v1/plans/recovery",
            get(|h: HeaderMap| async move { json(h, StatusCode::ACCEPTED, PLAN_IN_PROGRESS.into()) }),
        )
        .route(
            "/service/cassandra/v1/plans/deploy",
            get(|h: HeaderMap| async move {
                json(h, StatusCode::EXPECTATION_FAILED, PLAN_IN_PROGRESS.replace(r#""errors": []"#, r#""errors": ["bad config"]"#))
            }),
        )
        .route(
            "/service/cassandra/v1/pod/node-9/info",
            get(|| async { text(StatusCode::NOT_FOUND, "Pod node-9 not found") }),
        )
        .route(
            "/service/cassandra/v1/pod/node-4/replace",
            post(|h: HeaderMap| async move {
                json(h, StatusCode::OK, r#"{"pod": "node-4", "tasks": ["node-4-repair", "node-4-server"]}"#.into())
            }),
        )
        .route(
            "/service/gone/v1/pod/status",
            get(|| async { text(StatusCode::NOT_FOUND, "404 Not Found: service not found.") }),
        )
        .route(
            "/service/flaky/v1/pod/status",
            get(|| async { text(StatusCode::SERVICE_UNAVAILABLE, "503 Service Unavailable: invalid Marathon svcapps cache") }),
        )
}

fn with_server(token: &str, test: impl AsyncFnOnce(DcosClient)) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move { axum::serve(listener, canned()).await });
        let cfg = DcosConfig {
            url: format!("http://{addr}"),
            token: Some(Secret::new(token)),
            ssl_verify: SslVerify::System,
            origin: "test".into(),
            login: None,
            service_account: None,
        };
        test(DcosClient::new(&cfg).unwrap()).await;
        server.abort();
    });
}

#[test]
fn fixture_bodies_map_to_the_port_types() {
    with_server(TOKEN, async |c| {
        let pods = c.pod_statuses("cassandra").await.unwrap();
        assert_eq!(pods.len(), 5);
        let node4 = &pods[4];
        assert_eq!(node4.name, PodName::new("node-4"));
        assert_eq!(node4.task("server").unwrap().state, Some(TaskState::Lost));
        // The status-less stub is `<UNKNOWN>`, not RUNNING.
        assert_eq!(node4.task("repair").unwrap().state, None);
        let agents = c.agents().await.unwrap();
        assert_eq!(agents.len(), 6);
        assert_eq!(agents.iter().filter(|a| a.public).count(), 1);
        c.pod_replace("cassandra", &PodName::new("node-4"))
            .await
            .unwrap();
    });
}

#[test]
fn plans_answer_202_and_417_with_a_body() {
    with_server(TOKEN, async |c| {
        let p = c.plan("cassandra", "recovery").await.unwrap();
        assert_eq!(p.status, PlanStatus::Starting);
        assert_eq!(&*p.steps().next().unwrap().name, "node-4:[server]");
        let d = c.plan("cassandra", "deploy").await.unwrap();
        assert_eq!(d.errors, vec!["bad config".to_string()]);
    });
}

#[test]
fn a_scheduler_404_is_not_found_but_an_admin_router_404_or_5xx_is_transient() {
    with_server(TOKEN, async |c| {
        let e = c
            .pod_info("cassandra", &PodName::new("node-9"))
            .await
            .unwrap_err();
        assert!(
            matches!(&e, ClusterError::NotFound { message, .. } if message == "Pod node-9 not found"),
            "{e}"
        );
        let e = c.pod_statuses("gone").await.unwrap_err();
        assert!(matches!(e, ClusterError::Transient { .. }), "{e}");
        assert!(e.is_retryable());
        let e = c.pod_statuses("flaky").await.unwrap_err();
        assert!(matches!(e, ClusterError::Transient { .. }), "{e}");
    });
}

#[test]
fn a_401_says_log_in_again_and_never_shows_the_token() {
    with_server("wrong-token-4411", async |c| {
        let e = c.agents().await.unwrap_err();
        assert!(matches!(e, ClusterError::Unauthorized { .. }), "{e}");
        let msg = e.to_string();
        assert!(msg.contains("log in again"), "{msg}");
        assert!(!msg.contains("wrong-token-4411"), "{msg}");
        assert!(!format!("{c:?}").contains("wrong-token-4411"));
    });
}

#[test]
fn an_unreachable_dcos_is_transient() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // Bind then drop: nothing listens on this port any more.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let cfg = DcosConfig {
            url: format!("http://127.0.0.1:{port}"),
            token: None,
            ssl_verify: SslVerify::Off,
            origin: "test".into(),
            login: None,
            service_account: None,
        };
        let e = DcosClient::new(&cfg).unwrap().agents().await.unwrap_err();
        assert!(e.is_retryable(), "{e}");
    });
}

/// Every request a server saw: its `Host` header and whether it carried the token.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, bool)>>>;

fn record(seen: &Seen, h: &HeaderMap) {
    let host = h
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    seen.lock().unwrap().push((host, authorized(h)));
}

/// Admin Router answering 307s: to another port, to another host name of the same address,
/// and within its own origin (the only one followed, with the token).
fn redirecting(elsewhere: String, localhost: String, seen: Seen) -> Router {
    fn moved(to: String) -> axum::response::Response {
        (StatusCode::TEMPORARY_REDIRECT, [("location", to)], "").into_response()
    }
    let (s1, s2, s3) = (seen.clone(), seen.clone(), seen);
    Router::new()
        .route(
            "/mesos/master/slaves",
            get(move |h: HeaderMap| {
                record(&s1, &h);
                let to = format!("{elsewhere}/mesos/master/slaves");
                async move { moved(to) }
            }),
        )
        .route(
            "/service/cassandra/v1/pod/status",
            get(move |h: HeaderMap| {
                record(&s2, &h);
                let to = format!("{localhost}/service/cassandra/v1/pod/status");
                async move { moved(to) }
            }),
        )
        .route(
            "/service/cassandra/v1/plans/recovery",
            get(|| async { moved("/service/cassandra/v1/plans/recovery-now".into()) }),
        )
        .route(
            "/service/cassandra/v1/plans/recovery-now",
            get(move |h: HeaderMap| {
                record(&s3, &h);
                async move { json(h, StatusCode::ACCEPTED, PLAN_IN_PROGRESS.into()) }
            }),
        )
}

#[test]
fn a_redirect_to_another_host_or_port_is_not_followed_and_the_token_stays_home() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (front_seen, other_seen) = (Seen::default(), Seen::default());
        let other = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let other_addr = other.local_addr().unwrap();
        let log = other_seen.clone();
        let catch_all = Router::new().fallback(move |h: HeaderMap| {
            record(&log, &h);
            async move { json(h, StatusCode::OK, fixture("mesos-slaves.json")) }
        });
        let other_server = tokio::spawn(async move { axum::serve(other, catch_all).await });
        let front = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = front.local_addr().unwrap();
        let app = redirecting(
            format!("http://{other_addr}"),
            format!("http://localhost:{}", addr.port()),
            front_seen.clone(),
        );
        let front_server = tokio::spawn(async move { axum::serve(front, app).await });
        let c = DcosClient::new(&DcosConfig {
            url: format!("http://{addr}"),
            token: Some(Secret::new(TOKEN)),
            ssl_verify: SslVerify::System,
            origin: "test".into(),
            login: None,
            service_account: None,
        })
        .unwrap();

        for e in [
            c.agents().await.unwrap_err(),
            c.pod_statuses("cassandra").await.unwrap_err(),
        ] {
            assert!(matches!(e, ClusterError::Fatal { .. }), "{e}");
            let msg = e.to_string();
            assert!(msg.contains("not followed"), "{msg}");
            assert!(!msg.contains(TOKEN), "{msg}");
        }
        // Within its own origin the redirect is followed, token and all.
        let plan = c.plan("cassandra", "recovery").await.unwrap();
        assert_eq!(plan.status, PlanStatus::Starting);

        assert!(
            other_seen.lock().unwrap().is_empty(),
            "the other port saw {:?}",
            other_seen.lock().unwrap()
        );
        let front = front_seen.lock().unwrap().clone();
        let home = format!("127.0.0.1:{}", addr.port());
        assert!(
            front.iter().all(|(host, _)| host == &home),
            "only the configured host may be asked: {front:?}"
        );
        assert_eq!(front.len(), 3, "{front:?}");
        assert!(front.iter().all(|(_, token)| *token));
        front_server.abort();
        other_server.abort();
    });
}
