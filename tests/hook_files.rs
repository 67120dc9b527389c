//! The files `srbuild kernel-hook` touches, attacked (issue 24): a linked log file or log
//! directory is refused and never written through, an old log's loose mode is tightened,
//! a profile name cannot forge log lines, and `remove` works with a broken configuration.
//! These runs need no kernel: an unknown profile fails fast, after the log is written.

mod common;

use common::{srbuild, stderr};
use srbuild_archive::{write_image, Compression, Entry, EntryKind};
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::Output;

const KVER: &str = "6.1.0-99-amd64";

/// `srbuild kernel-hook VERB KVER --output OUT` with `config` and `log_dir`.
fn hook(verb: &str, config: &Path, log_dir: &Path, out: &Path) -> Output {
    srbuild()
        .args(["kernel-hook", verb, KVER, "--output"])
        .arg(out)
        .arg("--config")
        .arg(config)
        .arg("--log-dir")
        .arg(log_dir)
        .env("SOURCE_DATE_EPOCH", "0")
        .output()
        .unwrap()
}

fn failing_config(d: &Path) -> std::path::PathBuf {
    let c = d.join("srbuild.toml");
    std::fs::write(&c, "profile = \"no-such-profile\"\n").unwrap();
    c
}

fn victim(d: &Path) -> std::path::PathBuf {
    let v = d.join("victim");
    std::fs::write(&v, "root-only\n").unwrap();
    std::fs::set_permissions(&v, std::fs::Permissions::from_mode(0o600)).unwrap();
    v
}

#[test]
fn a_linked_log_file_is_refused_and_not_written_through() {
    let d = tempfile::tempdir().unwrap();
    let config = failing_config(d.path());
    let logs = d.path().join("log");
    std::fs::create_dir(&logs).unwrap();
    let v = victim(d.path());
    symlink(&v, logs.join(format!("{KVER}.log"))).unwrap();
    let o = hook("add", &config, &logs, &d.path().join("initrd"));
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("symbolic link") && err.contains(&format!("{KVER}.log")),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&v).unwrap(), "root-only\n");
    assert_eq!(std::fs::metadata(&v).unwrap().mode() & 0o7777, 0o600);
}

#[test]
fn a_linked_log_directory_is_refused() {
    let d = tempfile::tempdir().unwrap();
    let config = failing_config(d.path());
    let elsewhere = d.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let logs = d.path().join("log");
    symlink(&elsewhere, &logs).unwrap();
    let o = hook("add", &config, &logs, &d.path().join("initrd"));
    let err = stderr(&o);
    assert!(
        err.contains("symbolic link") && err.contains("directory"),
        "{err}"
    );
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "{err}");
}

#[test]
fn an_old_logs_loose_mode_is_tightened_to_0640() {
    let d = tempfile::tempdir().unwrap();
    let config = failing_config(d.path());
    let logs = d.path().join("log");
    std::fs::create_dir(&logs).unwrap();
    let log = logs.join(format!("{KVER}.log"));
    std::fs::write(
        &log,
        "an old log, much longer than the new one will be ".repeat(100),
    )
    .unwrap();
    std::fs::set_permissions(&log, std::fs::Permissions::from_mode(0o666)).unwrap();
    hook("add", &config, &logs, &d.path().join("initrd"));
    assert_eq!(std::fs::metadata(&log).unwrap().mode() & 0o7777, 0o640);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.starts_with("srbuild kernel-hook add"), "{text}");
    assert!(!text.contains("an old log"), "{text}");
}

#[test]
fn a_profile_name_with_a_newline_cannot_forge_log_lines() {
    let d = tempfile::tempdir().unwrap();
    let config = d.path().join("srbuild.toml");
    std::fs::write(&config, "profile = \"x\\nresult: ok\\n\\u001b[2J\"\n").unwrap();
    let logs = d.path().join("log");
    let o = hook("add", &config, &logs, &d.path().join("initrd"));
    assert!(!o.status.success());
    let text = std::fs::read_to_string(logs.join(format!("{KVER}.log"))).unwrap();
    assert!(
        text.lines()
            .all(|l| l != "result: ok" && !l.contains('\x1b')),
        "{text}"
    );
    assert!(
        text.contains("profile: x\\nresult: ok\\n\\033[2J"),
        "{text}"
    );
    assert!(
        text.lines().any(|l| l.starts_with("result: failed")),
        "{text}"
    );
}

#[test]
fn remove_works_with_a_broken_configuration() {
    let d = tempfile::tempdir().unwrap();
    let config = d.path().join("srbuild.toml");
    std::fs::write(&config, "profile = \"nfs\"\nthis is not toml\n").unwrap();
    let out = d.path().join("initrd");
    let entries = [
        Entry {
            path: "etc".into(),
            mode: 0o755,
            kind: EntryKind::Dir,
            hardlink_group: None,
        },
        Entry {
            path: "etc/srbuild".into(),
            mode: 0o755,
            kind: EntryKind::Dir,
            hardlink_group: None,
        },
        Entry {
            path: "etc/srbuild/profile".into(),
            mode: 0o644,
            kind: EntryKind::Bytes(b"nfs\n".to_vec()),
            hardlink_group: None,
        },
    ];
    write_image(&out, &entries, Compression::Gzip, 0).unwrap();
    let o = hook("remove", &config, &d.path().join("log"), &out);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(!out.exists(), "{err}");
    assert!(
        err.contains("warning") && err.contains("srbuild.toml:2"),
        "{err}"
    );
}
