//! The server in-process on 127.0.0.1, driven with reqwest and with the real AWS SDK clients.
//! Every server is stopped by its test (and bounded by a lifetime in case the test fails).

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::*;
use crate::cluster::aws::{AwsClients, DcosClient};
use crate::cluster::jwt::{self, VerifyingKey};
use crate::cluster::sim::{ApiFault, TruthKind};

const LIFETIME: Duration = Duration::from_secs(120);

fn config(profile: &str) -> ServeConfig {
    ServeConfig {
        lifetime: Some(LIFETIME),
        ..ServeConfig::new(Profile::builtin(profile).expect("built-in profile"))
    }
}

async fn start(profile: &str) -> SimServer {
    SimServer::start(config(profile))
        .await
        .expect("server starts")
}

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("client")
}

/// A DC/OS GET with the default token.
async fn dcos_get(s: &SimServer, path: &str) -> reqwest::Response {
    http()
        .get(format!("{}{path}", s.url()))
        .header("Authorization", format!("token={DEFAULT_TOKEN}"))
        .send()
        .await
        .expect("request")
}

/// A signed-looking query request for `service` (`ec2` / `autoscaling`).
async fn query(s: &SimServer, service: &str, body: &str) -> (StatusCode, String) {
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential=testing/20261124/us-east-1/{service}/aws4_request, \
         SignedHeaders=content-type;host;x-amz-date, Signature=0000"
    );
    let r = http()
        .post(format!("{}/", s.url()))
        .header("Authorization", auth)
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded; charset=utf-8",
        )
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = r.status();
    (status, r.text().await.expect("body"))
}

/// The set of `path: type` of every value in a JSON document (array elements merged), so two
/// documents can be compared by shape regardless of values and element counts.
fn shape(v: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, path: &str, out: &mut BTreeSet<String>) {
        let kind = match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        out.insert(format!("{path}: {kind}"));
        match v {
            Value::Array(items) => items
                .iter()
                .for_each(|i| walk(i, &format!("{path}[]"), out)),
            Value::Object(map) => map
                .iter()
                .for_each(|(k, v)| walk(v, &format!("{path}.{k}"), out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(v, "", &mut out);
    out
}

fn fixture(name: &str) -> Value {
    let text = match name {
        "pod-status-healthy" => include_str!("../../tests/fixtures/dcos/pod-status-healthy.json"),
        "mesos-slaves" => include_str!("../../tests/fixtures/dcos/mesos-slaves.json"),
        other => panic!("no fixture {other}"),
    };
    serde_json::from_str(text).expect("fixture parses")
}

/// Every `<tag>text</tag>` in `xml`, in order.
fn texts(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split_once(&close).map(|(t, _)| t.to_string()))
        .collect()
}

#[tokio::test]
async fn dcos_endpoints_require_the_token() {
    let s = start("default").await;
    let url = format!("{}/mesos/master/slaves", s.url());
    let r = http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "oauthjwt");
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("401 Authorization Required")
    );
    let wrong = http()
        .get(format!("{}/service/cassandra/v1/pod/status", s.url()))
        .header("Authorization", "token=not-it")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    for auth in [
        format!("token={DEFAULT_TOKEN}"),
        format!("Bearer {DEFAULT_TOKEN}"),
    ] {
        let r = http()
            .get(&url)
            .header("Authorization", auth)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
    }
    s.stop().await.unwrap();
}

#[tokio::test]
async fn login_returns_the_token() {
    let s = start("default").await;
    let url = format!("{}/acs/api/v1/auth/login", s.url());
    for body in [
        r#"{"uid": "bootstrapuser", "password": "deleteme"}"#,
        r#"{"uid": "chaos-harness", "token": "eyJhbGciOiJSUzI1NiJ9.e30.sig"}"#,
    ] {
        let r = http()
            .post(&url)
            .header("Content-Type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v, serde_json::json!({"token": DEFAULT_TOKEN}));
    }
    for body in ["not json", r#"{"uid": "someone"}"#, "{}"] {
        let r = http().post(&url).body(body).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["title"], "Bad Request");
        assert!(v["description"].as_str().is_some_and(|d| !d.is_empty()));
    }
    s.stop().await.unwrap();
}

#[tokio::test]
async fn pod_status_has_the_shape_of_the_fixture() {
    let s = start("default").await;
    let r = dcos_get(&s, "/service/cassandra/v1/pod/status").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        r.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let body: Value = r.json().await.unwrap();
    assert_eq!(shape(&body), shape(&fixture("pod-status-healthy")));
    let names: Vec<&str> = body["pods"][0]["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["node-0", "node-1", "node-2", "node-3", "node-4"]);
    let node4 = &body["pods"][0]["instances"][4]["tasks"];
    assert_eq!(
        node4[0],
        serde_json::json!({"id": "", "name": "node-4-repair"})
    );
    assert_eq!(node4[1]["status"], "RUNNING");
    assert!(
        node4[1]["id"]
            .as_str()
            .unwrap()
            .starts_with("cassandra__node-4-server__")
    );

    let one: Value = dcos_get(&s, "/service/cassandra/v1/pod/node-4/status")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one, body["pods"][0]["instances"][4]);

    let list: Value = dcos_get(&s, "/service/cassandra/v1/pod")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        list,
        serde_json::json!(["node-0", "node-1", "node-2", "node-3", "node-4"])
    );

    let info: Value = dcos_get(&s, "/service/cassandra/v1/pod/node-4/info")
        .await
        .json()
        .await
        .unwrap();
    let info = info.as_array().unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!(info[0]["info"]["name"], "node-4-repair");
    assert_eq!(info[0]["info"]["taskId"]["value"], "");
    assert_eq!(info[0]["status"], Value::Null);
    let server = &info[1];
    assert_eq!(server["info"]["taskId"], server["status"]["taskId"]);
    assert_eq!(server["status"]["state"], "TASK_RUNNING");
    assert!(server["status"]["timestamp"].is_f64());
    assert!(
        server["info"]["slaveId"]["value"]
            .as_str()
            .unwrap()
            .contains("-S")
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn slaves_are_the_agents_with_private_ips_as_hostnames() {
    let s = start("default").await;
    let r = dcos_get(&s, "/mesos/master/slaves").await;
    assert_eq!(r.status(), StatusCode::OK);
    let body: Value = r.json().await.unwrap();
    assert_eq!(shape(&body), shape(&fixture("mesos-slaves")));
    let slaves = body["slaves"].as_array().unwrap();
    let topo = Profile::default_profile().topology;
    assert_eq!(
        slaves.len() as u32,
        topo.private_agents + topo.public_agents
    );
    let public: Vec<&Value> = slaves
        .iter()
        .filter(|a| a["attributes"]["public_ip"] == "true")
        .collect();
    assert_eq!(public.len() as u32, topo.public_agents);
    for a in slaves {
        let host = a["hostname"].as_str().unwrap();
        assert_eq!(a["pid"], format!("slave(1)@{host}:5051"));
        assert_eq!(a["port"], 5051);
        // The hostname is the private IP of exactly one running EC2 instance.
        let (status, xml) = query(
            &s,
            "ec2",
            &format!(
                "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=private-ip-address&Filter.1.Value.1={host}"
            ),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{xml}");
        assert_eq!(texts(&xml, "privateIpAddress"), [host]);
    }
    let one: Value = dcos_get(
        &s,
        &format!(
            "/mesos/slaves?slave_id={}",
            slaves[0]["id"].as_str().unwrap()
        ),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(one["slaves"].as_array().unwrap().len(), 1);
    assert_eq!(one["slaves"][0]["id"], slaves[0]["id"]);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn plans_answer_200_when_complete_and_202_while_recovering() {
    let s = start("default").await;
    let plans: Value = dcos_get(&s, "/service/cassandra/v1/plans")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(plans, serde_json::json!(["deploy", "recovery"]));
    let deploy = dcos_get(&s, "/service/cassandra/v1/plans/deploy").await;
    assert_eq!(deploy.status(), StatusCode::OK);
    let deploy: Value = deploy.json().await.unwrap();
    assert_eq!(deploy["status"], "COMPLETE");
    assert_eq!(deploy["errors"], serde_json::json!([]));
    let step = &deploy["phases"][0]["steps"][0];
    for key in ["id", "name", "status", "message"] {
        assert!(step[key].is_string(), "{key} in {step}");
    }
    let recovery = dcos_get(&s, "/service/cassandra/v1/plans/recovery").await;
    assert_eq!(
        recovery.status(),
        StatusCode::OK,
        "an empty recovery plan is COMPLETE"
    );

    let replaced = http()
        .post(format!(
            "{}/service/cassandra/v1/pod/node-4/replace",
            s.url()
        ))
        .header("Authorization", format!("token={DEFAULT_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(
        replaced,
        serde_json::json!({"pod": "node-4", "tasks": ["node-4-repair", "node-4-server"]})
    );
    // The default profile takes minutes to place the new node: the plan is in progress.
    let recovery = dcos_get(&s, "/service/cassandra/v1/plans/recovery").await;
    assert_eq!(recovery.status(), StatusCode::ACCEPTED);
    let recovery: Value = recovery.json().await.unwrap();
    assert_ne!(recovery["status"], "COMPLETE");
    assert_eq!(recovery["strategy"], "parallel");
    assert_eq!(
        recovery["phases"][0]["name"],
        "permanent-node-failure-recovery"
    );
    assert_eq!(recovery["phases"][0]["steps"][0]["name"], "node-4:[server]");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn unknown_pods_plans_and_services_are_404_text() {
    let s = start("default").await;
    for (path, text) in [
        (
            "/service/cassandra/v1/pod/node-9/status",
            "Pod node-9 not found",
        ),
        (
            "/service/cassandra/v1/pod/node-9/info",
            "Pod node-9 not found",
        ),
        ("/service/cassandra/v1/plans/x", "Plan x not found"),
        (
            "/service/kafka/v1/pod/status",
            "404 Not Found: service not found.",
        ),
        (
            "/service/dev/cassandra/v1/plans",
            "404 Not Found: service not found.",
        ),
    ] {
        let r = dcos_get(&s, path).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(r.text().await.unwrap(), text, "{path}");
    }
    let r = http()
        .post(format!(
            "{}/service/cassandra/v1/pod/node-9/replace",
            s.url()
        ))
        .header("Authorization", format!("token={DEFAULT_TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(r.text().await.unwrap(), "Pod node-9 not found");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn ec2_and_autoscaling_share_the_root_path() {
    let s = start("default").await;
    let (status, xml) = query(&s, "ec2", "Action=DescribeInstances&Version=2016-11-15").await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(xml.starts_with("<?xml"));
    assert!(xml.contains("<instanceId>i-"));
    assert!(xml.contains("<instanceState><code>16</code><name>running</name></instanceState>"));
    // 1 master + 5 private + 1 public agent.
    assert_eq!(texts(&xml, "reservationId").len(), 7);

    let (status, xml) = query(
        &s,
        "ec2",
        "Action=DescribeInstances&Version=2016-11-15\
         &Filter.1.Name=tag%3Aaws%3Aautoscaling%3AgroupName&Filter.1.Value.1=dcos-private-agents\
         &Filter.2.Name=instance-state-name&Filter.2.Value.1=running",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    let private = texts(&xml, "privateIpAddress");
    assert_eq!(private.len(), 5);

    let (status, xml) = query(
        &s,
        "autoscaling",
        "Action=DescribeAutoScalingGroups&Version=2011-01-01&AutoScalingGroupNames.member.1=dcos-private-agents",
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    assert!(xml.contains("<DescribeAutoScalingGroupsResult><AutoScalingGroups><member>"));
    assert_eq!(texts(&xml, "AutoScalingGroupName"), ["dcos-private-agents"]);
    assert_eq!(texts(&xml, "LifecycleState"), vec!["InService"; 5]);
    assert_eq!(texts(&xml, "DesiredCapacity"), ["5"]);
    assert!(xml.contains("<ResponseMetadata><RequestId>"));

    let (_, xml) = query(
        &s,
        "autoscaling",
        "Action=DescribeAutoScalingGroups&Version=2011-01-01\
         &Filters.member.1.Name=tag%3Achaos-harness%2Fopt-in&Filters.member.1.Values.member.1=false",
    )
    .await;
    assert!(texts(&xml, "AutoScalingGroupName").is_empty(), "{xml}");
    s.stop().await.unwrap();
}

#[tokio::test]
async fn errors_use_each_services_envelope() {
    let s = start("default").await;
    let (status, xml) = query(&s, "ec2", "Action=LaunchMissiles&Version=2016-11-15").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        xml.contains("<Response><Errors><Error><Code>InvalidAction</Code>"),
        "{xml}"
    );
    assert_eq!(texts(&xml, "RequestID").len(), 1);

    let (status, xml) = query(
        &s,
        "autoscaling",
        "Action=LaunchMissiles&Version=2011-01-01",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(xml.contains("<ErrorResponse xmlns=\"http://autoscaling.amazonaws.com/doc/2011-01-01/\"><Error><Type>Sender</Type><Code>InvalidAction</Code>"), "{xml}");

    let (status, xml) = query(
        &s,
        "ec2",
        "Action=DescribeInstances&Version=2016-11-15&InstanceId.1=i-0000000000000dead",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(texts(&xml, "Code"), ["InvalidInstanceID.NotFound"]);

    let (status, xml) = query(
        &s,
        "ec2",
        "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=flavour&Filter.1.Value.1=x",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(texts(&xml, "Code"), ["InvalidParameterValue"]);

    let (status, xml) = query(
        &s,
        "autoscaling",
        "Action=DescribeScalingActivities&Version=2011-01-01&AutoScalingGroupName=nope",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(texts(&xml, "Code"), ["ValidationError"]);
    s.stop().await.unwrap();
}

#[tokio::test]
async fn truth_log_follows_a_terminate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("truth.jsonl");
    let s = SimServer::start(ServeConfig {
        truth_log: Some(path.clone()),
        ..config("default")
    })
    .await
    .unwrap();
    let (_, xml) = query(
        &s,
        "ec2",
        "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Aaws%3Aautoscaling%3AgroupName&Filter.1.Value.1=dcos-private-agents",
    )
    .await;
    let victim = texts(&xml, "instanceId").remove(0);
    let xml = terminate(&s, &victim).await;
    assert!(xml.contains(
        "<currentState><code>32</code><name>shutting-down</name></currentState><previousState><code>16</code><name>running</name></previousState>"
    ));
    // The events of the terminate are in the file by the time the response is sent.
    let read = || -> Vec<TruthEvent> {
        std::fs::read_to_string(&path)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("a TruthEvent per line"))
            .collect()
    };
    let live = read();
    let kinds: Vec<(TruthKind, &str)> = live.iter().map(|t| (t.kind, t.subject.as_str())).collect();
    // (The agent may be marked inactive at once too: the default profile allows 0 s.)
    assert_eq!(
        kinds[..2],
        [
            (TruthKind::FaultInjected, victim.as_str()),
            (TruthKind::InstanceShuttingDown, victim.as_str())
        ]
    );
    assert_eq!(live[0].state.as_deref(), Some("terminate-instance"));
    s.stop().await.unwrap();
    let after = read();
    assert!(after.len() >= live.len());
    assert_eq!(after[..live.len()], live[..]);
}

#[tokio::test]
async fn the_server_stops_by_itself_after_its_lifetime() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let cfg = ServeConfig {
        lifetime: Some(Duration::from_millis(200)),
        ..config("fast")
    };
    let served = tokio::time::timeout(
        Duration::from_secs(20),
        serve(listener, cfg, std::future::pending()),
    )
    .await;
    assert!(matches!(served, Ok(Ok(()))), "{served:?}");
}

/// The real SDK clients parse what the server writes: the XML is right.
#[tokio::test]
async fn aws_sdk_clients_round_trip() {
    use aws_sdk_autoscaling::types::LifecycleState as SdkLifecycle;
    use aws_sdk_ec2::error::ProvideErrorMetadata;
    use aws_sdk_ec2::types::{Filter as SdkFilter, InstanceStateName};

    let s = start("fast").await;
    let AwsClients { ec2, asg, .. } = AwsClients::for_endpoint(&s.url());

    let out = ec2
        .describe_instances()
        .filters(
            SdkFilter::builder()
                .name("tag:aws:autoscaling:groupName")
                .values("dcos-private-agents")
                .build(),
        )
        .send()
        .await
        .expect("DescribeInstances");
    let instances: Vec<_> = out
        .reservations()
        .iter()
        .flat_map(|r| r.instances())
        .collect();
    assert_eq!(instances.len(), 5);
    for i in &instances {
        assert!(i.instance_id().unwrap().starts_with("i-"));
        assert_eq!(
            i.state().and_then(|s| s.name()),
            Some(&InstanceStateName::Running)
        );
        assert_eq!(i.state().and_then(|s| s.code()), Some(16));
        assert!(i.private_ip_address().is_some());
        assert_eq!(i.launch_time().unwrap().subsec_nanos(), 0, "whole seconds");
        assert!(i.placement().and_then(|p| p.availability_zone()).is_some());
        assert!(
            i.tags()
                .iter()
                .any(|t| t.key() == Some("aws:autoscaling:groupName")
                    && t.value() == Some("dcos-private-agents"))
        );
    }
    let victim = instances[0].instance_id().unwrap().to_string();

    let groups = asg
        .describe_auto_scaling_groups()
        .auto_scaling_group_names("dcos-private-agents")
        .send()
        .await
        .expect("DescribeAutoScalingGroups");
    let g = &groups.auto_scaling_groups()[0];
    assert_eq!(g.auto_scaling_group_name(), Some("dcos-private-agents"));
    assert_eq!(
        (g.min_size(), g.max_size(), g.desired_capacity()),
        (Some(5), Some(5), Some(5))
    );
    assert!(g.created_time().is_some());
    assert_eq!(g.availability_zones().len(), 3);
    assert_eq!(g.instances().len(), 5);
    for m in g.instances() {
        assert_eq!(m.lifecycle_state(), Some(&SdkLifecycle::InService));
        assert_eq!(m.health_status(), Some("Healthy"));
        assert_eq!(m.protected_from_scale_in(), Some(false));
    }
    assert!(
        g.tags()
            .iter()
            .any(|t| t.key() == Some("chaos-harness/opt-in"))
    );

    let members = asg
        .describe_auto_scaling_instances()
        .instance_ids(&victim)
        .send()
        .await
        .expect("DescribeAutoScalingInstances");
    let m = &members.auto_scaling_instances()[0];
    assert_eq!(m.instance_id(), Some(victim.as_str()));
    assert_eq!(m.lifecycle_state(), Some("InService"));

    // A dry run is refused with EC2's DryRunOperation and changes nothing.
    let dry = ec2
        .terminate_instances()
        .instance_ids(&victim)
        .dry_run(true)
        .send()
        .await
        .expect_err("dry run");
    assert_eq!(dry.code(), Some("DryRunOperation"));

    let terminated = ec2
        .terminate_instances()
        .instance_ids(&victim)
        .send()
        .await
        .expect("TerminateInstances");
    let change = &terminated.terminating_instances()[0];
    assert_eq!(change.instance_id(), Some(victim.as_str()));
    assert_eq!(
        change.current_state().and_then(|s| s.name()),
        Some(&InstanceStateName::ShuttingDown)
    );
    assert_eq!(
        change.previous_state().and_then(|s| s.name()),
        Some(&InstanceStateName::Running)
    );

    // The fast profile's group notices within seconds: poll for the activities (a deadline,
    // not a guess).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let activities = loop {
        let out = asg
            .describe_scaling_activities()
            .auto_scaling_group_name("dcos-private-agents")
            .max_records(10)
            .send()
            .await
            .expect("DescribeScalingActivities");
        let acts = out.activities().to_vec();
        let launched = acts.iter().any(|a| {
            a.description()
                .is_some_and(|d| d.starts_with("Launching a new EC2 instance: "))
        });
        if launched {
            break acts;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no launch activity within 30 s: {acts:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let terminating = activities
        .iter()
        .find(|a| a.description() == Some(&format!("Terminating EC2 instance: {victim}")))
        .expect("a Terminating activity for the victim");
    assert!(terminating.activity_id().is_some());
    assert_eq!(
        terminating.auto_scaling_group_name(),
        Some("dcos-private-agents")
    );
    assert!(terminating.cause().unwrap().starts_with("At "));
    assert!(terminating.status_code().is_some());
    let start = terminating.start_time().expect("StartTime");
    let truth = s.truth();
    let unhealthy = truth
        .iter()
        .find(|t| t.kind == TruthKind::AsgUnhealthy && t.subject == victim)
        .expect("the truth has the detection");
    let start_ms = start.secs() * 1000 + i64::from(start.subsec_nanos() / 1_000_000);
    assert_eq!(
        start_ms,
        unhealthy.at.as_millis(),
        "StartTime carries milliseconds"
    );
    if let Some(end) = terminating.end_time() {
        assert_eq!(end.subsec_nanos(), 0, "EndTime is whole seconds");
    }
    assert!(activities[0].start_time() >= activities[activities.len() - 1].start_time());

    let missing = ec2
        .describe_instances()
        .instance_ids("i-0000000000000dead")
        .send()
        .await
        .expect_err("unknown instance");
    assert_eq!(missing.code(), Some("InvalidInstanceID.NotFound"));
    drop((ec2, asg));
    s.stop().await.unwrap();
}

/// `DescribeScalingActivities` of the private agents' group, with `extra` parameters.
/// `TerminateInstances` of `id` over the wire; it must succeed. The answer's XML.
async fn terminate(s: &SimServer, id: &str) -> String {
    let (status, xml) = query(
        s,
        "ec2",
        &format!("Action=TerminateInstances&Version=2016-11-15&InstanceId.1={id}"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{xml}");
    xml
}

async fn activities(s: &SimServer, extra: &str) -> (StatusCode, String) {
    query(
        s,
        "autoscaling",
        &format!(
            "Action=DescribeScalingActivities&Version=2011-01-01\
             &AutoScalingGroupName=dcos-private-agents{extra}"
        ),
    )
    .await
}

#[tokio::test]
async fn scaling_activities_page_with_a_next_token() {
    let s = start("fast").await;
    let (_, xml) = query(
        &s,
        "ec2",
        "Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3Aaws%3Aautoscaling%3AgroupName&Filter.1.Value.1=dcos-private-agents",
    )
    .await;
    let victim = texts(&xml, "instanceId").remove(0);
    terminate(&s, &victim).await;

    // The fast profile's group terminates and launches within seconds: poll for both
    // activities (a deadline, not a guess).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let all = loop {
        let (status, xml) = activities(&s, "").await;
        assert_eq!(status, StatusCode::OK, "{xml}");
        if texts(&xml, "ActivityId").len() >= 2 {
            break xml;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no second activity within 30 s: {xml}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    // One page holds the whole history: no token.
    assert!(texts(&all, "NextToken").is_empty(), "{all}");
    let ids = texts(&all, "ActivityId");
    let starts = texts(&all, "StartTime");
    assert!(
        texts(&all, "Description")
            .iter()
            .any(|d| d == &format!("Terminating EC2 instance: {victim}")),
        "{all}"
    );

    // One record per page, newest first; each token leads to the next older one.
    let (status, first) = activities(&s, "&MaxRecords=1").await;
    assert_eq!(status, StatusCode::OK, "{first}");
    assert_eq!(texts(&first, "ActivityId"), ids[..1]);
    let token = texts(&first, "NextToken");
    assert_eq!(
        token.len(),
        1,
        "a first page of {} needs a token: {first}",
        ids.len()
    );
    assert!(!token[0].is_empty());

    let (status, second) = activities(&s, &format!("&MaxRecords=1&NextToken={}", token[0])).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(texts(&second, "ActivityId"), ids[1..2]);
    assert_ne!(ids[0], ids[1]);
    assert!(starts[1] <= starts[0], "older second: {starts:?}");
    // The second page is the last one exactly when the group has two activities.
    assert_eq!(
        texts(&second, "NextToken").is_empty(),
        ids.len() == 2,
        "{second}"
    );

    // Following every token walks the whole history once, in order.
    let mut walked = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..=ids.len() {
        let extra = match &next {
            Some(t) => format!("&MaxRecords=1&NextToken={t}"),
            None => "&MaxRecords=1".to_string(),
        };
        let (status, page) = activities(&s, &extra).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        walked.extend(texts(&page, "ActivityId"));
        next = texts(&page, "NextToken").pop();
        if next.is_none() {
            break;
        }
    }
    assert_eq!(walked, ids);

    // A token the server never handed out is refused in Auto Scaling's words.
    for bad in ["bogus", "sim-activities-zz"] {
        let (status, xml) = activities(&s, &format!("&MaxRecords=1&NextToken={bad}")).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {xml}");
        assert_eq!(texts(&xml, "Code"), ["InvalidNextToken"], "{bad:?}: {xml}");
        assert!(texts(&xml, "ActivityId").is_empty());
    }
    s.stop().await.unwrap();
}

#[tokio::test]
async fn a_group_that_keeps_no_activities_lists_none_while_it_replaces() {
    let mut profile = Profile::builtin("fast").expect("built-in profile");
    profile.scaling_activities = crate::cluster::sim::profile::ScalingActivities::None;
    let s = SimServer::start(ServeConfig {
        lifetime: Some(LIFETIME),
        ..ServeConfig::new(profile)
    })
    .await
    .expect("server starts");
    let group = "Action=DescribeAutoScalingGroups&Version=2011-01-01\
                 &AutoScalingGroupNames.member.1=dcos-private-agents";
    let (_, xml) = query(&s, "autoscaling", group).await;
    let before = texts(&xml, "InstanceId");
    let victim = before[0].clone();
    terminate(&s, &victim).await;
    // The group replaces the victim (the fast profile's group does so within seconds) and
    // never lists an activity.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (status, acts) = activities(&s, "").await;
        assert_eq!(status, StatusCode::OK, "{acts}");
        assert!(texts(&acts, "ActivityId").is_empty(), "{acts}");
        let (_, xml) = query(&s, "autoscaling", group).await;
        if texts(&xml, "InstanceId")
            .iter()
            .any(|i| !before.contains(i))
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no replacement within 30 s: {xml}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, acts) = activities(&s, "").await;
    assert_eq!(status, StatusCode::OK, "{acts}");
    assert!(texts(&acts, "ActivityId").is_empty(), "{acts}");
    s.stop().await.unwrap();
}

// ----- API faults --------------------------------------------------------------------------

/// `default` with this `api_faults` section (YAML).
async fn start_faulty(section: &str, truth_log: Option<std::path::PathBuf>) -> SimServer {
    let text = format!(
        "{}\napi_faults:\n{section}",
        include_str!("../../profiles/default.yaml")
    );
    let profile = Profile::parse(&text, "faulty.yaml").expect("valid profile");
    SimServer::start(ServeConfig {
        truth_log,
        ..ServeConfig::new(profile)
    })
    .await
    .expect("server starts")
}

#[tokio::test]
async fn every_api_answers_faults_in_its_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("truth.jsonl");
    let s = start_faulty(
        "  apis:\n\
         \x20   ec2: {rate: 1, kinds: [throttle]}\n\
         \x20   auto_scaling: {rate: 1, kinds: [throttle]}\n\
         \x20   mesos: {rate: 1, kinds: [unauthorized]}\n\
         \x20   scheduler: {rate: 1, kinds: [scheduler_unreachable]}\n",
        Some(log.clone()),
    )
    .await;
    let (status, xml) = query(&s, "ec2", "Action=DescribeInstances&Version=2016-11-15").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(texts(&xml, "Code"), ["RequestLimitExceeded"], "{xml}");
    assert!(
        xml.starts_with("<?xml") && xml.contains("<Response><Errors><Error>"),
        "{xml}"
    );
    let (status, xml) = query(
        &s,
        "autoscaling",
        "Action=DescribeAutoScalingGroups&Version=2011-01-01",
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(texts(&xml, "Code"), ["Throttling"], "{xml}");
    assert_eq!(texts(&xml, "Message"), ["Rate exceeded"], "{xml}");

    let r = dcos_get(&s, "/mesos/master/slaves").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "oauthjwt");
    let r = dcos_get(&s, "/service/cassandra/v1/pod/status").await;
    assert_eq!(r.status(), StatusCode::BAD_GATEWAY);
    assert!(r.text().await.unwrap().contains("<h1>502 Bad Gateway</h1>"));
    // A request without a token is Admin Router's own 401, not an injected fault.
    let r = http()
        .get(format!("{}/service/cassandra/v1/pod/status", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The login is never faulted.
    let r = http()
        .post(format!("{}/acs/api/v1/auth/login", s.url()))
        .body(r#"{"uid": "u", "password": "p"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);

    let injected: Vec<(&'static str, &'static str, String)> = s
        .api_faults()
        .iter()
        .map(|f| {
            (
                crate::cluster::sim::api_faults::api_name(f.api),
                f.fault.as_str(),
                f.operation.clone(),
            )
        })
        .collect();
    assert_eq!(
        injected,
        [
            ("ec2", "throttle", "DescribeInstances".to_string()),
            (
                "auto-scaling",
                "throttle",
                "DescribeAutoScalingGroups".to_string()
            ),
            (
                "mesos",
                "unauthorized",
                "GET /mesos/master/slaves".to_string()
            ),
            (
                "scheduler",
                "scheduler_unreachable",
                "GET pod/status".to_string()
            ),
        ]
    );
    s.stop().await.unwrap();
    let lines: Vec<TruthEvent> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a TruthEvent per line"))
        .collect();
    let faults: Vec<(&str, &str, &str)> = lines
        .iter()
        .filter(|t| t.kind == TruthKind::ApiFault)
        .map(|t| {
            (
                t.subject.as_str(),
                t.state.as_deref().unwrap(),
                t.detail.as_deref().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        faults,
        [
            ("ec2", "throttle", "DescribeInstances 503"),
            ("auto-scaling", "throttle", "DescribeAutoScalingGroups 400"),
            ("mesos", "unauthorized", "GET /mesos/master/slaves 401"),
            ("scheduler", "scheduler_unreachable", "GET pod/status 502"),
        ]
    );
}

#[tokio::test]
async fn a_reset_closes_the_connection_without_an_answer() {
    let s = start_faulty("  rate: 1\n  kinds: [reset]\n", None).await;
    let err = http()
        .get(format!("{}/mesos/master/slaves", s.url()))
        .header("Authorization", format!("token={DEFAULT_TOKEN}"))
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let chain = format!("{:?}", err);
    assert!(
        chain.contains("reset") || chain.contains("closed") || chain.contains("IncompleteMessage"),
        "{chain}"
    );
    // The server lives on: the next request is reset too, and the login is served.
    let err = http()
        .post(format!(
            "{}/?Action=DescribeInstances&Version=2016-11-15",
            s.url()
        ))
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_request() || err.is_connect(), "{err:?}");
    let r = http()
        .post(format!("{}/acs/api/v1/auth/login", s.url()))
        .body(r#"{"uid": "u", "password": "p"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let faults = s.api_faults();
    assert_eq!(faults.len(), 2);
    assert!(
        faults
            .iter()
            .all(|f| f.fault == ApiFault::Reset && f.status.is_none())
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn slow_answers_come_late_and_right() {
    let s = start_faulty(
        "  rate: 1\n  kinds: [slow]\n  slow: {constant: 400ms}\n",
        None,
    )
    .await;
    let t = std::time::Instant::now();
    let r = dcos_get(&s, "/service/cassandra/v1/pod/status").await;
    assert_eq!(r.status(), StatusCode::OK);
    assert!(
        t.elapsed() >= Duration::from_millis(400),
        "{:?}",
        t.elapsed()
    );
    let f = s.api_faults().remove(0);
    assert_eq!(
        (f.fault, f.delay),
        (ApiFault::Slow, Some(crate::time::Dur::from_millis(400)))
    );
    s.stop().await.unwrap();
}

#[tokio::test]
async fn tokens_expire_until_the_client_logs_in_again() {
    let s = start_faulty("  token_expires_after: 1s\n", None).await;
    assert_eq!(
        dcos_get(&s, "/mesos/master/slaves").await.status(),
        StatusCode::OK
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let r = dcos_get(&s, "/mesos/master/slaves").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "oauthjwt");
    let login: Value = http()
        .post(format!("{}/acs/api/v1/auth/login", s.url()))
        .body(r#"{"uid": "u", "password": "p"}"#)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let fresh = login["token"].as_str().unwrap().to_string();
    assert_ne!(fresh, DEFAULT_TOKEN);
    let r = http()
        .get(format!("{}/service/cassandra/v1/plans/recovery", s.url()))
        .header("Authorization", format!("token={fresh}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // The old token stays refused.
    let r = dcos_get(&s, "/service/cassandra/v1/pod/status").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let faults: Vec<(ApiFault, String)> = s
        .api_faults()
        .into_iter()
        .map(|f| (f.fault, f.operation))
        .collect();
    assert_eq!(
        faults,
        [
            (
                ApiFault::TokenExpired,
                "GET /mesos/master/slaves".to_string()
            ),
            (ApiFault::TokenExpired, "GET pod/status".to_string()),
        ]
    );
    s.stop().await.unwrap();
}

/// The aws backend reads each fault on the wire as the in-process backend returns it, so a
/// drill rides out the same errors against `sim` and against `sim serve`.
#[tokio::test]
async fn the_aws_backend_classifies_wire_faults_as_the_sim_does() {
    use crate::cluster::{AsgLookup, ClusterError, InstanceFilter, PodName};

    let s = start_faulty(
        "  apis:\n\
         \x20   ec2: {rate: 1, kinds: [throttle]}\n\
         \x20   auto_scaling: {rate: 1, kinds: [server_error]}\n\
         \x20   mesos: {rate: 1, kinds: [reset]}\n\
         \x20   scheduler: {rate: 1, kinds: [unauthorized, scheduler_unreachable, server_error, throttle]}\n",
        None,
    )
    .await;
    let aws = AwsClients::for_endpoint(&s.url());
    let dcos = DcosClient::for_url(&s.url(), DEFAULT_TOKEN);
    let kind = |e: &ClusterError| match e {
        ClusterError::Throttled { api, .. } => ("throttled", *api),
        ClusterError::Transient { api, .. } => ("transient", *api),
        ClusterError::Unauthorized { api, .. } => ("unauthorized", *api),
        ClusterError::NotFound { api, .. } => ("not found", *api),
        ClusterError::Fatal { api, .. } => ("fatal", *api),
    };
    let mut seen = Vec::new();
    seen.push(
        aws.describe_instances(&InstanceFilter::AsgName("dcos-private-agents".into()))
            .await
            .unwrap_err(),
    );
    seen.push(
        aws.describe_asgs(&AsgLookup::Name("dcos-private-agents".into()))
            .await
            .unwrap_err(),
    );
    seen.push(dcos.agents().await.unwrap_err());
    for _ in 0..12 {
        seen.push(
            dcos.pod_info("cassandra", &PodName::new("node-4"))
                .await
                .unwrap_err(),
        );
    }
    let injected = s.api_faults();
    assert_eq!(injected.len(), seen.len());
    for (wire, fault) in seen.iter().zip(&injected) {
        let in_process = fault
            .cluster_error()
            .expect("every fault here fails the call");
        // The port says a 429 is `Throttled`; the DC/OS client still files it as transient
        // (both are retried).
        let dcos_429 = fault.status == Some(429) && kind(wire) == ("transient", fault.api);
        if !dcos_429 {
            assert_eq!(
                kind(wire),
                kind(&in_process),
                "{fault:?}: {wire} / {in_process}"
            );
        }
        assert!(wire.is_retryable() == in_process.is_retryable());
    }
    s.stop().await.unwrap();
}

/// A server that accepts the service account `chaos-ci` (a key made here) and issues tokens
/// living `ttl`; returns it with the account's private key PEM.
async fn start_with_account(ttl: crate::time::Dur) -> (SimServer, String) {
    let (private, public) = jwt::generate_pem();
    let s = SimServer::start(ServeConfig {
        service_accounts: vec![("chaos-ci".into(), VerifyingKey::from_pem(&public).unwrap())],
        token_lifetime: Some(ttl),
        ..config("fast")
    })
    .await
    .unwrap();
    (s, private)
}

async fn post_login(s: &SimServer, uid: &str, token: &str) -> reqwest::Response {
    http()
        .post(format!("{}/acs/api/v1/auth/login", s.url()))
        .json(&serde_json::json!({"uid": uid, "token": token}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn service_logins_are_verified_and_their_tokens_expire() {
    use crate::cluster::jwt::{Claims, SigningKey};
    let (s, private) = start_with_account(crate::time::Dur::from_millis(1500)).await;
    let key = SigningKey::from_pem(&private).unwrap();
    let now = crate::time::Timestamp::now().as_millis() / 1000;
    let claims = |uid: &str, exp: i64| Claims {
        uid: Some(uid.into()),
        exp: Some(exp),
    };
    let good = key.sign(&claims("chaos-ci", now + 120)).unwrap();
    let r = post_login(&s, "chaos-ci", &good).await;
    assert_eq!(r.status(), StatusCode::OK);
    let token = r.json::<Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    let exp = jwt::claims(&token).and_then(|c| c.exp).unwrap();
    assert!((now..=now + 3).contains(&exp), "{exp} vs {now}");
    let get = |t: String| {
        let url = format!("{}/mesos/master/slaves", s.url());
        async move {
            http()
                .get(url)
                .header("Authorization", format!("token={t}"))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(get(token.clone()).await, StatusCode::OK);

    // Another key, an unknown uid, a token naming someone else, an expired one: 401 acsjwt.
    let (other, _) = jwt::generate_pem();
    let forged = SigningKey::from_pem(&other)
        .unwrap()
        .sign(&claims("chaos-ci", now + 120))
        .unwrap();
    for (uid, t) in [
        ("chaos-ci", forged),
        (
            "intruder",
            key.sign(&claims("intruder", now + 120)).unwrap(),
        ),
        ("chaos-ci", key.sign(&claims("root", now + 120)).unwrap()),
        ("chaos-ci", key.sign(&claims("chaos-ci", now - 1)).unwrap()),
        ("chaos-ci", "not.a.jwt".to_string()),
    ] {
        let r = post_login(&s, uid, &t).await;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{uid}");
        assert_eq!(r.headers()["www-authenticate"], "acsjwt");
        let v: Value = r.json().await.unwrap();
        assert_eq!(v["code"], "ERR_INVALID_SERVICE_LOGIN_TOKEN");
    }

    // Past its lifetime the issued token is refused (Enterprise's `acsjwt`: log in again);
    // the configured one never expires.
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let r = http()
        .get(format!("{}/mesos/master/slaves", s.url()))
        .header("Authorization", format!("token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(r.headers()["www-authenticate"], "acsjwt");
    assert_eq!(get(DEFAULT_TOKEN.into()).await, StatusCode::OK);
    s.stop().await.unwrap();
}

/// The aws backend's DC/OS client logs in with the service account, renews its token before
/// it expires, and after a 401 (`refresh_auth`).
#[tokio::test]
async fn the_dcos_client_renews_a_service_account_login() {
    use crate::cluster::ClusterError;
    use crate::cluster::aws::dcos::{DcosConfig, ServiceAccount, SslVerify};
    let (s, private) = start_with_account(crate::time::Dur::from_millis(1500)).await;
    let cfg = DcosConfig {
        url: s.url(),
        token: None,
        ssl_verify: SslVerify::System,
        origin: "test".into(),
        login: None,
        service_account: Some(ServiceAccount::from_pem("chaos-ci", &private).unwrap()),
    };
    let c = DcosClient::new(&cfg).unwrap();
    let issued = || s.shared.with_world(|w| w.tokens.len() - 1);
    for _ in 0..12 {
        c.agents()
            .await
            .expect("never refused: renewed before expiry");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // 3 s with tokens of 1.5 s (`exp` in whole seconds, so 0.5 to 1.5 s left at issue)
    // renewed at four fifths: the first login and two to six renewals.
    assert!((3..=8).contains(&issued()), "{} logins", issued());

    // Tokens revoked behind the client's back: a 401, then a login, then served again.
    assert!(c.login().await);
    s.shared.with_world(|w| w.tokens.truncate(1));
    assert!(matches!(
        c.agents().await,
        Err(ClusterError::Unauthorized { .. })
    ));
    assert!(c.login().await);
    c.agents().await.unwrap();

    // A key the cluster does not know: the first request says so, naming the uid only.
    let (other, _) = jwt::generate_pem();
    let stranger = DcosClient::new(&DcosConfig {
        service_account: Some(ServiceAccount::from_pem("chaos-ci", &other).unwrap()),
        ..cfg
    })
    .unwrap();
    let e = stranger.agents().await.unwrap_err().to_string();
    assert!(
        e.contains("refused the login of service account \"chaos-ci\""),
        "{e}"
    );
    assert!(!stranger.login().await);
    s.stop().await.unwrap();
}
