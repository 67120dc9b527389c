//! The accelerator probe must finish quickly both ways: succeed under TCG
//! and return (success or failure, never hang) under KVM.

mod common;

use std::time::{Duration, Instant};

use common::{host_or_skip, TestResult};
use srbuild_lab::accel::{self, Accel};

#[test]
fn tcg_probe_succeeds_quickly() -> TestResult {
    let Some(host) = host_or_skip("tcg_probe_succeeds_quickly") else {
        return Ok(());
    };
    let took = accel::probe(&host.qemu, Accel::Tcg, Duration::from_secs(20))?;
    eprintln!("TCG probe took {:.2}s", took.as_secs_f64());
    assert!(took < Duration::from_secs(20));
    Ok(())
}

#[test]
fn kvm_probe_never_hangs() -> TestResult {
    let Some(host) = host_or_skip("kvm_probe_never_hangs") else {
        return Ok(());
    };
    let start = Instant::now();
    let r = accel::probe(&host.qemu, Accel::Kvm, Duration::from_secs(5));
    eprintln!(
        "KVM probe: {r:?} after {:.2}s",
        start.elapsed().as_secs_f64()
    );
    assert!(start.elapsed() < Duration::from_secs(10));
    let (a, why) = accel::detect_with_reason(&host.qemu);
    eprintln!("detected: {a} ({why})");
    if r.is_err() {
        assert_eq!(a, Accel::Tcg);
    }
    // With the generic CPU model a broken KVM hangs instead of aborting:
    // the probe must give up at its limit.
    let start = Instant::now();
    let r = accel::probe_cpu(&host.qemu, Accel::Kvm, "qemu64", Duration::from_secs(3));
    eprintln!(
        "KVM probe (qemu64): {r:?} after {:.2}s",
        start.elapsed().as_secs_f64()
    );
    assert!(start.elapsed() < Duration::from_secs(8));
    Ok(())
}
