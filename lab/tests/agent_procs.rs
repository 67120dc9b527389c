//! The lab agent's process lookup (`named_procs` in `lab/src/run/agent.sh`), run with the
//! two greps a root has, GNU grep (Debian roots) and busybox grep (busybox roots), against
//! real processes whose argv[0] is set with `exec -a`: argv[0] alone must match, a longer
//! name or a later argument must not.

use std::process::{Command, Stdio};

/// The function's text, cut out of the agent.
fn function() -> String {
    let agent = include_str!("../src/run/agent.sh");
    let start = agent
        .find("named_procs() {")
        .expect("named_procs in agent.sh");
    let end = start + agent[start..].find("\n}\n").expect("its end") + 3;
    agent[start..end].to_string()
}

/// Runs `named_procs PATTERN` with `grep` first on PATH as given, while three sleepers
/// run: `@NAME` (argv[0] exactly), `@NAME-x` (a longer name), and `sh` with an argument
/// `@NAME` (each test its own NAME: they run side by side). Returns the args of the processes it names.
fn run_with(path_dir: Option<&str>, name: &str, pattern: &str) -> Vec<String> {
    let script = format!(
        "{}\n\
         (exec -a @{name} sleep 20) & a=$!\n\
         (exec -a @{name}-x sleep 20) & b=$!\n\
         sh -c 'sleep 20; :' @{name} & c=$!\n\
         sleep 0.5\n\
         for p in $(named_procs '{pattern}'); do tr '\\0' ' ' </proc/$p/cmdline; echo; done\n\
         pkill -P $c 2>/dev/null; kill $a $b $c 2>/dev/null\n",
        function()
    );
    let mut cmd = Command::new("bash");
    cmd.args(["-c", &script]).stderr(Stdio::inherit());
    if let Some(dir) = path_dir {
        let path = format!("{dir}:{}", std::env::var("PATH").unwrap_or_default());
        cmd.env("PATH", path);
    }
    let out = cmd.output().expect("bash runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn gnu_grep_names_argv0_only() {
    assert_eq!(
        run_with(None, "srbtestg", "@srbtestg"),
        vec!["@srbtestg 20"]
    );
    assert_eq!(
        run_with(None, "srbtestg", "@?srbtestg-x"),
        vec!["@srbtestg-x 20"]
    );
}

#[test]
fn busybox_grep_names_argv0_only() {
    let Ok(busybox) = which("busybox") else {
        panic!("busybox is not installed: run `cargo xtask deps` (package busybox-static)");
    };
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(busybox, dir.path().join("grep")).unwrap();
    let d = dir.path().to_str().unwrap();
    assert_eq!(
        run_with(Some(d), "srbtestb", "@srbtestb"),
        vec!["@srbtestb 20"]
    );
    assert_eq!(
        run_with(Some(d), "srbtestb", "@?srbtestb-x"),
        vec!["@srbtestb-x 20"]
    );
}

fn which(name: &str) -> Result<std::path::PathBuf, ()> {
    std::env::var("PATH")
        .unwrap_or_default()
        .split(':')
        .map(|d| std::path::Path::new(d).join(name))
        .find(|p| p.is_file())
        .ok_or(())
}
