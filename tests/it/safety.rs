//! The safety guard through `sim serve` and the aws backend (the real AWS SDK, the DC/OS HTTP
//! client): the master sits in a CloudFormation group of its own, and a scenario aimed at it —
//! or at a group a tag does not single out — is refused (exit 4) with nothing injected. The
//! seed's private agents are found by their stack.

use std::path::Path;

use crate::aws_e2e::{Server, fast_drill};
use crate::{read_json, scenario};

/// One Auto Scaling query to the server (it reads the service from the credential scope and
/// does not check signatures); returns the XML body.
fn autoscaling_query(server: &Server, body: &str) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/", server.url))
            .header(
                "Authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDE2ETESTING/20261124/us-west-2/autoscaling/aws4_request, SignedHeaders=host, Signature=0",
            )
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
        r.text().await.unwrap()
    })
}

/// The text of every `<tag>` element, in order.
fn texts(xml: &str, tag: &str) -> Vec<String> {
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    xml.split(&open)
        .skip(1)
        .filter_map(|rest| rest.split(&close).next())
        .map(str::to_string)
        .collect()
}

/// The masters' group of the served stack and its one instance.
fn master_group(server: &Server) -> (String, String) {
    let xml = autoscaling_query(
        server,
        "Action=DescribeAutoScalingGroups&Version=2011-01-01\
         &Filters.member.1.Name=tag%3Aaws%3Acloudformation%3Alogical-id\
         &Filters.member.1.Values.member.1=MasterServerGroup",
    );
    let names = texts(&xml, "AutoScalingGroupName");
    let ids = texts(&xml, "InstanceId");
    assert_eq!(names.len(), 1, "{xml}");
    assert_eq!(ids.len(), 1, "{xml}");
    assert!(xml.contains("<Key>role</Key>") && xml.contains("<Value>mesos-master</Value>"));
    // The masters' group lives in the masters' subnet only.
    let subnets = texts(&xml, "VPCZoneIdentifier");
    assert!(subnets.len() == 1 && !subnets[0].contains(','), "{xml}");
    (names[0].clone(), ids[0].clone())
}

/// `run --target aws --yes` of `body`: must exit 4; returns what it printed (stdout, stderr).
fn refused_run(server: &Server, dir: &Path, name: &str, body: &str) -> String {
    let file = scenario(dir, name, body);
    let out = server
        .harness(dir)
        .args(["run", "--target", "aws", "--yes", "--out"])
        .arg(dir.join(format!("out-{name}")))
        .arg(&file)
        .assert()
        .code(4);
    let o = out.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn nothing_injected(server: &Server) {
    let faults: Vec<_> = server
        .truth()
        .into_iter()
        .filter(|t| {
            let kind = format!("{:?}", t.kind);
            kind == "FaultInjected" || kind.starts_with("Instance")
        })
        .collect();
    assert!(faults.is_empty(), "something was hit: {faults:?}");
}

#[test]
fn the_master_in_its_own_group_is_never_hit_through_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "fast");
    let (group, master) = master_group(&server);
    assert!(group.starts_with("dcos-MasterServerGroup-"), "{group}");
    for (name, asg) in [
        ("master-group", format!("{{name: {group}}}")),
        ("agents-group", "{name: dcos-private-agents}".to_string()),
        (
            "master-stack",
            "{stack: dcos, logical_id: MasterServerGroup}".to_string(),
        ),
    ] {
        let body = format!(
            "name: {name}\nservice: {{name: cassandra}}\nasg: {asg}\ntarget: {{instance: {master}}}\nfault: terminate-instance\nruns: 1\n"
        );
        let stderr = refused_run(&server, dir.path(), name, &body);
        assert!(stderr.contains("safety guard"), "{name}: {stderr}");
        assert!(stderr.contains(&master), "{name}: {stderr}");
    }
    // An untagged member (no opt-in) is refused the same way.
    let stderr = refused_run(
        &server,
        dir.path(),
        "untagged",
        "name: untagged\nservice: {name: cassandra}\nasg: {name: dcos-private-agents, opt_in_tag: {key: chaos-harness/opt-in, value: \"no\"}}\ntarget: {random: private-agent}\nfault: terminate-instance\n",
    );
    assert!(stderr.contains("lacks the opt-in tag"), "{stderr}");
    // `plan` refuses the master the same way.
    let file = scenario(
        dir.path(),
        "plan-master",
        &format!(
            "name: plan-master\nasg: {{name: {group}}}\ntarget: {{instance: {master}}}\nfault: reboot-instance\n"
        ),
    );
    server
        .harness(dir.path())
        .args(["plan", "--target", "aws"])
        .arg(&file)
        .assert()
        .code(4);
    nothing_injected(&server);
}

#[test]
fn an_ambiguous_tag_is_refused_and_a_stack_finds_the_private_agents() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "fast");
    let stderr = refused_run(
        &server,
        dir.path(),
        "by-role",
        "name: by-role\nservice: {name: cassandra}\nasg: {tag: {key: role, value: mesos-slave}}\ntarget: {random: private-agent}\nfault: terminate-instance\n",
    );
    assert!(stderr.contains("2 Auto Scaling groups match"), "{stderr}");
    assert!(
        stderr.contains("dcos-private-agents") && stderr.contains("dcos-PublicSlaveServerGroup-"),
        "the candidates are listed: {stderr}"
    );
    nothing_injected(&server);

    let file = scenario(
        dir.path(),
        "by-stack",
        "name: by-stack\nservice: {name: cassandra}\nasg: {stack: dcos, logical_id: SlaveServerGroup}\ntarget: {random: private-agent}\nfault: terminate-instance\nheal: replace-on-task-lost\n",
    );
    let out = server
        .harness(dir.path())
        .args(["plan", "--target", "aws"])
        .arg(&file)
        .assert()
        .code(0);
    let stdout = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    assert!(stdout.contains("dcos-private-agents"), "{stdout}");
    assert!(stdout.contains("node-"), "the victim runs a pod: {stdout}");
    nothing_injected(&server);
}

#[test]
fn a_drill_on_the_group_found_by_its_stack_through_the_wire() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), "fast");
    let drill = std::fs::read_to_string(fast_drill(dir.path())).unwrap();
    assert!(drill.contains("  name: dcos-private-agents\n"));
    let body = drill
        .replace(
            "  name: dcos-private-agents\n",
            "  stack: dcos\n  logical_id: SlaveServerGroup\n",
        )
        .replace("name: fast-drill", "name: by-stack");
    let file = scenario(dir.path(), "by-stack", &body);
    let out = dir.path().join("o");
    let run = server
        .harness(dir.path())
        .args([
            "run", "--target", "aws", "--runs", "1", "--yes", "--seed", "3", "--out",
        ])
        .arg(&out)
        .arg(&file)
        .assert();
    let output = run.get_output();
    // One run is too few for the SLOs' min_runs: inconclusive (3), not aborted.
    assert_eq!(
        output.status.code(),
        Some(3),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let r = read_json(&out.join("report.json"));
    let run = &r["scenarios"][0]["runs"][0];
    assert_eq!(run["victims"][0]["asg"], "dcos-private-agents");
    assert_eq!(run["phases"].as_array().unwrap().len(), 12, "{run}");
    let injected = server
        .truth()
        .into_iter()
        .filter(|t| format!("{:?}", t.kind) == "FaultInjected")
        .count();
    assert_eq!(injected, 1);
}

#[test]
fn the_simulated_master_is_refused_by_the_cli_too() {
    let dir = tempfile::tempdir().unwrap();
    let file = scenario(
        dir.path(),
        "sim-master",
        "name: sim-master\nservice: {name: cassandra}\nasg: {stack: dcos, logical_id: MasterServerGroup}\ntarget: {random: private-agent}\nfault: terminate-instance\nruns: 2\n",
    );
    let out = dir.path().join("o");
    let run = crate::bin()
        .args(["run", "--seed", "5", "--out"])
        .arg(&out)
        .arg(&file)
        .assert()
        .code(4);
    let o = run.get_output();
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(printed.contains("safety guard"), "{printed}");
    assert!(printed.contains("DC/OS master"), "{printed}");
    let events = chaos_harness::journal::read(&out).unwrap().events;
    let journal = serde_json::to_string(&events).unwrap();
    assert!(!journal.contains("fault_injected"), "{journal}");
    assert!(journal.contains("safety guard"), "the journal says why");
}
