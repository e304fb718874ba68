//! Arbitrary bytes as a simulation profile: parsing and validation never panic or hang, every
//! diagnostic renders, and a profile that is accepted builds a working simulated cluster (the
//! world, its API-fault injector, a drill's first minutes).

#![no_main]

use std::path::Path;

use chaos_harness::cluster::sim::{Profile, SimCluster};
use chaos_harness::cluster::{Api, Cluster, InstanceFilter};
use chaos_harness::vocab::FaultKind;
use chaos_harness::time::Dur;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match Profile::parse_bytes(data, Path::new("fuzz.yaml")) {
        Ok(profile) => drive(&profile),
        Err(e) => {
            let text = e.render();
            assert!(text.starts_with("error: fuzz.yaml:"), "{text}");
            for d in e.diagnostics() {
                assert!(d.line >= 1 && d.column >= 1, "{d:?}");
            }
        }
    }
});

/// A few minutes of a drill on the profile's world: nothing may panic.
fn drive(profile: &Profile) {
    let start = chaos_harness::cluster::sim::EPOCH;
    let mut c = SimCluster::new(profile, 1, start);
    let rt = tokio_rt();
    rt.block_on(async {
        let asg = profile.topology.asg.name.clone();
        let victim = match c.describe_instances(&InstanceFilter::AsgName(asg)).await {
            Ok(found) => found.into_iter().next().map(|i| i.id),
            Err(_) => None,
        };
        if let Some(v) = victim {
            let _ = c.inject(FaultKind::TerminateInstance, &v).await;
        }
        for _ in 0..12 {
            c.sleep(Dur::from_secs(20)).await;
            let _ = c.agents().await;
            let _ = c.pod_statuses(&profile.topology.service).await;
            let _ = c.plan(&profile.topology.service, "recovery").await;
        }
    });
    let counts = c.api_faults();
    let requests: u64 = c.api_requests().values().sum();
    let faults: u64 = counts.values().sum();
    assert!(faults <= requests, "{faults} faults in {requests} requests");
    let _ = counts.get(&(Api::Ec2, chaos_harness::cluster::sim::ApiFault::Throttle));
}

fn tokio_rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime")
}
