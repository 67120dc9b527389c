//! Finds the QEMU and BMC (`ipmi_sim`) processes that one CI run started: those whose
//! command line names a file under that run's lab directory. One that anything else on the
//! machine runs is neither counted nor touched.

use std::path::Path;

/// The pids of live `qemu-system-*` and `ipmi_sim` processes whose arguments name a path
/// under `dir`,
/// either absolute or relative to `root` (then the process must run in `root`).
pub fn qemus_under(root: &Path, dir: &Path) -> Vec<u32> {
    // /proc/PID/cwd is canonical; so must the root be (a symlinked checkout).
    let root = &root.canonicalize().unwrap_or_else(|_| root.to_path_buf());
    let abs = root.join(dir);
    let mut pids = Vec::new();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return pids;
    };
    for e in procs.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = raw
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let cwd = std::fs::read_link(e.path().join("cwd")).ok();
        if is_ours(&args, cwd.as_deref(), root, dir, &abs) {
            pids.push(pid);
        }
    }
    pids.sort();
    pids
}

fn is_ours(args: &[String], cwd: Option<&Path>, root: &Path, rel: &Path, abs: &Path) -> bool {
    let is_ours_kind = args
        .first()
        .and_then(|a| Path::new(a).file_name())
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("qemu-system") || n == "ipmi_sim");
    if !is_ours_kind {
        return false;
    }
    let (rel, abs) = (rel.to_string_lossy(), abs.to_string_lossy());
    let in_root = cwd.is_some_and(|c| c == root);
    args.iter().skip(1).any(|a| {
        // Option values such as "socket,id=ser0,path=target/lab-ci/x/..." name paths after '='.
        a.split([',', '=']).any(|v| {
            v.starts_with(&format!("{abs}/")) || (in_root && v.starts_with(&format!("{rel}/")))
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(xs: &[&str]) -> Vec<String> {
        xs.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn only_qemus_naming_this_runs_directory_are_ours() {
        let root = Path::new("/src/srbuild");
        let rel = Path::new("target/lab-ci");
        let abs = root.join(rel);
        let mine = v(&[
            "qemu-system-x86_64",
            "-pidfile",
            "target/lab-ci/nfs-3-clients/node1/qemu.pid",
        ]);
        assert!(is_ours(&mine, Some(root), root, rel, &abs));
        // The same relative path, run from another clone, is not ours.
        assert!(!is_ours(&mine, Some(Path::new("/other")), root, rel, &abs));
        let chardev = v(&[
            "/usr/bin/qemu-system-x86_64",
            "-chardev",
            "socket,id=ser0,path=/src/srbuild/target/lab-ci/a/node1/console.sock",
        ]);
        assert!(is_ours(&chardev, None, root, rel, &abs));
        let other = v(&["qemu-system-x86_64", "-pidfile", "/var/run/vm.pid"]);
        assert!(!is_ours(&other, Some(root), root, rel, &abs));
        // Not a QEMU at all, although it names the directory.
        let tail = v(&["tail", "-f", "target/lab-ci/a/node1/console.log"]);
        assert!(!is_ours(&tail, Some(root), root, rel, &abs));
        // A sibling directory with the same prefix is not ours.
        let sib = v(&[
            "qemu-system-x86_64",
            "-pidfile",
            "target/lab-ci2/a/qemu.pid",
        ]);
        assert!(!is_ours(&sib, Some(root), root, rel, &abs));
        // A lab BMC, as `BmcSim::start` runs it from the checkout.
        let bmc = v(&[
            "ipmi_sim",
            "-c",
            "target/lab-ci/gfs2-node-dies/bmc-node1/lan.conf",
            "-n",
        ]);
        assert!(is_ours(&bmc, Some(root), root, rel, &abs));
        let foreign = v(&["ipmi_sim", "-c", "/etc/ipmi/lan.conf"]);
        assert!(!is_ours(&foreign, Some(root), root, rel, &abs));
    }
}
