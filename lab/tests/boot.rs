//! Two real VMs on one hub ping each other: proves QEMU start-up, the
//! dgram hub, console watching and reporting end to end.

mod common;

use std::time::{Duration, Instant};

use common::{build_initramfs, host_or_skip, TestResult};
use srbuild_lab::console::{ConsoleEvent, ConsoleWatcher};
use srbuild_lab::qemu::{mac_for, Nic, Vm, VmSpec};
use srbuild_lab::report::{self, NodeResult};
use srbuild_lab::{accel, hub, timeout};

#[test]
fn two_nodes_ping_through_hub() -> TestResult {
    let Some(host) = host_or_skip("two_nodes_ping_through_hub") else {
        return Ok(());
    };
    let tmp = tempfile::tempdir()?;
    let initrd = tmp.path().join("initrd.cpio");
    build_initramfs(&host, &initrd)?;
    let (accel, why) = accel::detect_with_reason(&host.qemu);
    eprintln!("accelerator: {accel} ({why})");

    let hub = hub::spawn_thread(&tmp.path().join("net"))?;
    let start = Instant::now();
    let mut vms = Vec::new();
    for (me, peer) in [(1u16, 2u16), (2, 1)] {
        let name = format!("node{me}");
        let mut spec = VmSpec::new(&name, &host.kernel, &initrd, &tmp.path().join(&name));
        spec.qemu = host.qemu.clone();
        spec.memory_mb = 256;
        spec.append = format!("panic=-1 lab.self={me} lab.peer={peer}");
        spec.nics.push(Nic::new(&mac_for(me, 0)));
        let vm = Vm::start(&spec, accel, Some(hub.dir()))?;
        vms.push(vm);
    }

    let limit = timeout::scaled(Duration::from_secs(90));
    let mut results = Vec::new();
    for vm in &mut vms {
        let mut w = ConsoleWatcher::new(&vm.log_path());
        let left = limit.saturating_sub(start.elapsed());
        let verdict = vm.wait_console(
            &mut w,
            |l| {
                matches!(
                    srbuild_lab::console::parse_line(l),
                    Some(ConsoleEvent::Pass | ConsoleEvent::Fail(_))
                )
            },
            left,
        );
        let took = start.elapsed();
        let (passed, message) = match &verdict {
            Ok(line) => (line == "LAB-PASS", line.clone()),
            Err(e) => (false, e.to_string()),
        };
        eprintln!(
            "{}: {message} after {:.1}s; kernel ran /init at {:?}s; stages {:?}",
            vm.name(),
            took.as_secs_f64(),
            w.kernel_init(),
            w.stages()
        );
        results.push(NodeResult {
            name: vm.name().to_string(),
            passed,
            message,
            log: vm.log_path(),
            duration: took,
            stages: w.stages(),
            kernel_init: w.kernel_init(),
        });
    }
    let junit = tmp.path().join("junit.xml");
    let svg = tmp.path().join("timeline.svg");
    report::write_junit(&junit, "boot", &results)?;
    report::write_timeline_svg(&svg, &results)?;
    for r in &results {
        if !r.passed {
            let tail = report::last_lines(&r.log, 30).join("\n");
            return Err(format!(
                "{} failed: {}\n--- console tail ---\n{tail}",
                r.name, r.message
            )
            .into());
        }
        assert!(r.kernel_init.is_some(), "{}: no 'Run /init' line", r.name);
        assert!(
            r.stages.iter().any(|(s, _)| s == "done"),
            "{}: stages {:?}",
            r.name,
            r.stages
        );
    }
    assert!(std::fs::read_to_string(&junit)?.contains("<testcase"));
    assert!(std::fs::read_to_string(&svg)?.contains("<rect"));
    drop(vms);
    drop(hub);
    Ok(())
}
