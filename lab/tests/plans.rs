//! The whole plan of every CI matrix entry, as text, against a checked-in snapshot
//! (`lab/tests/plans/<entry>.txt`), without QEMU or any host state. `SRBUILD_BLESS=1`
//! rewrites the snapshots; otherwise a difference fails with a diff.

use srbuild_lab::run::{kinds, matrix::MATRIX, plan, LabOptions};
use std::path::{Path, PathBuf};

fn options(m: &srbuild_lab::run::matrix::MatrixEntry) -> LabOptions {
    // What `cargo xtask ci` passes for each entry.
    LabOptions {
        root: Some(m.kind.to_string()),
        profile: None,
        nodes: m.nodes,
        slots: None,
        dir: PathBuf::from("RUN"),
        initrd: None,
        junit: None,
        scenario: m.scenario,
        kind_opts: Vec::new(),
        kver: None,
        sysroot: match m.distro {
            Some(r) => srbuild_lab::run::sysroots::Sysroot::Release(r),
            None => srbuild_lab::run::sysroots::Sysroot::Host,
        },
        distro: m.distro,
        append: Vec::new(),
        detached: false,
        rootfs: m.rootfs,
        server_first: false,
        together: false,
        bzimage: false,
    }
}

#[test]
fn every_matrix_plan_matches_its_snapshot() {
    assert!(
        std::env::var_os(srbuild_lab::timeout::ENV).is_none(),
        "unset {} for the snapshot tests: it scales the planned timeouts",
        srbuild_lab::timeout::ENV
    );
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/plans");
    let bless = std::env::var_os("SRBUILD_BLESS").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    for m in MATRIX {
        let kind = kinds::by_name(m.kind).unwrap();
        let text = plan::plan(&options(m), kind)
            .unwrap_or_else(|e| panic!("{}: {e}", m.name))
            .render();
        assert!(
            text.contains("kernel {kernel}"),
            "{}: host kernel in the plan",
            m.name
        );
        let file = dir.join(format!("{}.txt", m.name));
        if bless {
            std::fs::write(&file, &text).unwrap();
            continue;
        }
        let want = std::fs::read_to_string(&file).unwrap_or_default();
        if want != text {
            let diff = similar::TextDiff::from_lines(&want, &text)
                .unified_diff()
                .header(&file.display().to_string(), "planned now")
                .to_string();
            failures.push(diff);
        }
    }
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut want: Vec<String> = MATRIX.iter().map(|m| format!("{}.txt", m.name)).collect();
    want.sort();
    assert_eq!(names, want, "one snapshot per matrix entry, no stale ones");
    assert!(
        failures.is_empty(),
        "plans differ from their snapshots (rerun with SRBUILD_BLESS=1 if intended):\n{}",
        failures.join("\n")
    );
}
