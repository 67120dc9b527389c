//! The nfs image's systemd-root hook names systemd mount units as `systemd-escape --path` does: the
//! drop-ins that keep the CDSL bind mount and the service chroot's mounts through a
//! systemd shutdown only work under the exact unit name. The function is taken from the
//! built image and run by busybox sh, as on a node.

mod common;
use common::*;

/// Paths and their unit name prefixes, as systemd-escape 252 prints them.
const CASES: &[(&str, &str)] = &[
    ("/.cdsl.local", r"\x2ecdsl.local"),
    (
        "/run/srbuild/svc/sys/kernel/config",
        "run-srbuild-svc-sys-kernel-config",
    ),
    ("/run/a-b/c d/.x", r"run-a\x2db-c\x20d-.x"),
    ("/run/ü\\x", r"run-\xc3\xbc\x5cx"),
    ("/run/srbuild/svc/dev//pts/", "run-srbuild-svc-dev-pts"),
    ("/", "-"),
];

/// The text of `sr_unit_path` in the image's switch hook of the systemd-root module.
fn unit_path_function() -> String {
    let (_d, x) = extracted("nfs");
    let init =
        std::fs::read_to_string(x.join("usr/lib/srbuild/hooks/switch/90-systemd-root.sh")).unwrap();
    let start = init
        .find("\nsr_unit_path() {\n")
        .expect("the systemd-root hook defines sr_unit_path");
    let end = start + init[start..].find("\n}\n").expect("the function ends") + 3;
    init[start..end].to_string()
}

fn escaped(function: &str, path: &str) -> String {
    let o = std::process::Command::new("/bin/busybox")
        .args([
            "sh",
            "-euc",
            &format!("{function}\nsr_unit_path \"$1\""),
            "sh",
            path,
        ])
        .output()
        .unwrap();
    assert!(o.status.success() && o.stderr.is_empty(), "{}", stderr(&o));
    stdout(&o).trim_end_matches('\n').to_string()
}

#[test]
fn unit_names_match_systemd_escape() {
    let f = unit_path_function();
    for (path, want) in CASES {
        assert_eq!(escaped(&f, path), *want, "path {path:?}");
    }
    // Where systemd is installed, it is the judge as well.
    if std::path::Path::new("/usr/bin/systemd-escape").exists() {
        for (path, _) in CASES {
            let o = std::process::Command::new("systemd-escape")
                .args(["--path", "--", path])
                .output()
                .unwrap();
            assert!(o.status.success(), "{}", stderr(&o));
            assert_eq!(escaped(&f, path), stdout(&o).trim_end(), "path {path:?}");
        }
    }
}
