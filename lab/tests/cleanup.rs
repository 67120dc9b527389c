//! VMs must not outlive their `Vm` value (drop, panic), and detached VMs
//! must survive it until `kill_from_pidfile`.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{build_initramfs, host_or_skip, Host, TestResult};
use srbuild_lab::process::{pid_alive, read_pidfile};
use srbuild_lab::qemu::{kill_from_pidfile, Vm, VmSpec};
use srbuild_lab::{accel, Accel};

fn spec(host: &Host, initrd: &Path, dir: &Path, name: &str) -> VmSpec {
    let mut s = VmSpec::new(name, &host.kernel, initrd, &dir.join(name));
    s.qemu = host.qemu.clone();
    s.memory_mb = 128;
    s
}

fn accel_for(host: &Host) -> Accel {
    accel::detect(&host.qemu)
}

#[test]
fn drop_and_panic_kill_qemu() -> TestResult {
    let Some(host) = host_or_skip("drop_and_panic_kill_qemu") else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let initrd = tmp.path().join("initrd.cpio");
    build_initramfs(&host, &initrd)?;
    let accel = accel_for(&host);

    // Plain drop.
    let s = spec(&host, &initrd, tmp.path(), "dropped");
    let vm = Vm::start(&s, accel, None)?;
    let pid = read_pidfile(&s.pidfile())?;
    assert_eq!(pid as u32, vm.pid());
    assert!(pid_alive(pid));
    // The serial console can be attached to while the log is written.
    // QEMU may write its pidfile a moment before it creates the console socket.
    let sock = s.dir.join("console.sock");
    let deadline =
        std::time::Instant::now() + srbuild_lab::timeout::scaled(Duration::from_secs(10));
    let mut console = loop {
        match std::os::unix::net::UnixStream::connect(&sock) {
            Ok(c) => break c,
            Err(e) if std::time::Instant::now() >= deadline => return Err(e.into()),
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    console.set_read_timeout(Some(srbuild_lab::timeout::scaled(Duration::from_secs(20))))?;
    let mut byte = [0u8; 1];
    std::io::Read::read_exact(&mut console, &mut byte)?;
    drop(console);
    drop(vm);
    assert!(!pid_alive(pid), "QEMU {pid} survived drop");
    assert!(!s.pidfile().exists());

    // Panic in a thread holding the Vm.
    let s = spec(&host, &initrd, tmp.path(), "panicked");
    let (tx, rx) = std::sync::mpsc::channel();
    let s2 = s.clone();
    let t = std::thread::spawn(move || {
        let vm = Vm::start(&s2, accel, None).expect("start VM in thread");
        let _ = tx.send(vm.pid());
        std::thread::sleep(Duration::from_millis(300));
        panic!("simulated failure while holding a VM");
    });
    let pid = rx.recv_timeout(Duration::from_secs(30))? as i32;
    assert!(t.join().is_err(), "thread should have panicked");
    assert!(!pid_alive(pid), "QEMU {pid} survived a panic");
    Ok(())
}

#[test]
fn detached_vm_survives_drop_until_killed_by_pidfile() -> TestResult {
    let Some(host) = host_or_skip("detached_vm_survives_drop_until_killed_by_pidfile") else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let initrd = tmp.path().join("initrd.cpio");
    build_initramfs(&host, &initrd)?;
    // A detached spec that is dropped before `detach()` (a `lab up` failing half-way) dies.
    let mut early = spec(&host, &initrd, tmp.path(), "early");
    early.detached = true;
    let vm = Vm::start(&early, accel_for(&host), None)?;
    let early_pid = vm.pid() as i32;
    drop(vm);
    assert!(
        !pid_alive(early_pid),
        "a detached-spec QEMU outlived its Vm before detach()"
    );

    let mut s = spec(&host, &initrd, tmp.path(), "detached");
    s.detached = true;
    let vm = Vm::start(&s, accel_for(&host), None)?;
    let pid = vm.detach() as i32;
    std::thread::sleep(Duration::from_millis(200));
    let alive = pid_alive(pid);
    let killed = kill_from_pidfile(&s.dir)?;
    assert!(alive, "detached QEMU {pid} died with its Vm");
    assert!(killed);
    assert!(!pid_alive(pid));
    assert!(!kill_from_pidfile(&s.dir)?);
    Ok(())
}

#[test]
fn start_failure_names_node_and_stderr() -> TestResult {
    let Some(host) = host_or_skip("start_failure_names_node_and_stderr") else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let s = spec(
        &host,
        &tmp.path().join("missing-initrd"),
        tmp.path(),
        "broken",
    );
    let err = match Vm::start(&s, Accel::Tcg, None) {
        Ok(_) => return Err("QEMU started without an initrd".into()),
        Err(e) => e.to_string(),
    };
    eprintln!("{err}");
    assert!(err.contains("node broken"), "{err}");
    assert!(err.contains("missing-initrd"), "{err}");
    Ok(())
}
