//! The lab process dying must take its VMs along: SIGTERM goes through the
//! cleanup signal thread, SIGKILL through PR_SET_PDEATHSIG.  The test
//! re-runs its own binary as the "lab process".

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{build_initramfs, host_or_skip, TestResult};
use srbuild_lab::process::{pid_alive, wait_gone};
use srbuild_lab::qemu::{Vm, VmSpec};
use srbuild_lab::Accel;

const CHILD_ENV: &str = "SRBUILD_LAB_TEST_CHILD_DIR";

/// In the child role: start a VM, print its pid, wait to be killed.
#[test]
fn child_role() -> TestResult {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return Ok(());
    };
    let Some(host) = host_or_skip("child_role") else {
        return Ok(());
    };
    let dir = std::path::PathBuf::from(dir);
    let initrd = dir.join("initrd.cpio");
    build_initramfs(&host, &initrd)?;
    let mut spec = VmSpec::new("victim", &host.kernel, &initrd, &dir.join("victim"));
    spec.qemu = host.qemu.clone();
    spec.memory_mb = 128;
    let vm = Vm::start(&spec, Accel::Tcg, None)?;
    println!("QEMU-PID {}", vm.pid());
    std::thread::sleep(Duration::from_secs(120));
    Ok(())
}

fn run_and_kill(signal: i32) -> TestResult {
    let tmp = tempfile::tempdir()?;
    let mut child = Command::new(std::env::current_exe()?)
        .args(["--exact", "child_role", "--nocapture", "--test-threads=1"])
        .env(CHILD_ENV, tmp.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let out = child.stdout.take().ok_or("no stdout")?;
    let mut qemu_pid = None;
    for line in BufReader::new(out).lines() {
        // libtest may put "test child_role ... " in front of our output.
        let line = line?;
        if let Some((_, p)) = line.split_once("QEMU-PID ") {
            qemu_pid = Some(p.split_whitespace().next().unwrap_or("").parse::<i32>()?);
            break;
        }
    }
    let Some(qemu_pid) = qemu_pid else {
        let _ = child.kill();
        let _ = child.wait();
        return Err("child never reported a QEMU pid".into());
    };
    assert!(pid_alive(qemu_pid));
    // SAFETY: plain kill(2) of our own child.
    unsafe { libc::kill(child.id() as i32, signal) };
    let _ = child.wait();
    assert!(
        wait_gone(qemu_pid, Duration::from_secs(5)),
        "QEMU {qemu_pid} survived signal {signal} to the lab process"
    );
    Ok(())
}

#[test]
fn sigterm_to_lab_process_kills_vms() -> TestResult {
    if std::env::var(CHILD_ENV).is_ok() || host_or_skip("sigterm").is_none() {
        return Ok(());
    }
    run_and_kill(libc::SIGTERM)
}

#[test]
fn sigkill_to_lab_process_kills_vms() -> TestResult {
    if std::env::var(CHILD_ENV).is_ok() || host_or_skip("sigkill").is_none() {
        return Ok(());
    }
    run_and_kill(libc::SIGKILL)
}
