//! `cargo xtask bench --storm`: a boot storm against one server. For each root kind (nfs,
//! http, glusterfs) and each client count (4, 8, 16, or `--nodes 4,8`), one
//! `srbuild lab test --server-first --together` run: the server boots alone, then every
//! client starts paused and all are released at one moment. Per run it reads back the time
//! from that moment to each client's root's init (its `stage=agent` line on the lab's own
//! clock) and to its verdict (junit.xml; the agent passes only once it saw every peer's
//! files, so the verdicts of a run come close together), the bytes the lab's hub delivered
//! from the server to each client (`traffic.tsv`), the failed boots, the download retries
//! the consoles report, and the CPU time of the server's QEMU process over the storm
//! (sampled from `/proc/PID/stat` while the run goes on). That last figure is TCG's: to
//! bound it, the same root image is then served natively on this host by nginx to a
//! series of fetches, and that nginx's own CPU time per byte served is recorded beside it
//! ([`native_http`]). Prints a table and records it (`bench: storm`).

use super::record::{fig, Figure};
use anyhow::{bail, Context, Result};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use xshell::Shell;

const DIR: &str = "target/bench/storm";
/// The kinds a storm boots by default: the NFS root, the HTTP RAM root, the GlusterFS root.
const KINDS: &[&str] = &["nfs", "http", "glusterfs"];
const NODES: &[usize] = &[4, 8, 16];
/// How often the server's CPU time is sampled.
const SAMPLE: Duration = Duration::from_millis(250);

/// What one (kind, clients) run measured.
#[derive(Debug, Default)]
struct Storm {
    kind: String,
    clients: usize,
    /// Seconds from the release to each client's verdict.
    times: Vec<f64>,
    /// Seconds from the release to each client's root's init (its `stage=agent` line, as
    /// the lab saw it on its own clock: guest clocks run off under a starved TCG).
    booted: Vec<f64>,
    failed: usize,
    /// Bytes the hub delivered from the server to each client.
    served: Vec<u64>,
    retries: usize,
    /// CPU seconds of the server's QEMU from the release to the last verdict.
    server_cpu: f64,
    /// The server's CPU seconds per wall second while idle (ready, clients not yet released).
    idle_rate: Option<f64>,
    /// Other QEMU processes (not this run's) were seen during the run.
    busy: bool,
}

/// The median (upper of the two middle values for an even count) and the maximum; `None`
/// for no values.
fn median_max(v: &[f64]) -> Option<(f64, f64)> {
    let max = v.iter().copied().reduce(f64::max)?;
    Some((super::median(v), max))
}

/// The bytes `from` sent to each node of `to` in a `traffic.tsv` (`from to frames bytes`,
/// under a header); a node it sent nothing to counts 0. A malformed line is an error.
fn served(tsv: &str, from: &str, to: &[String]) -> Result<Vec<u64>> {
    let mut out = vec![0u64; to.len()];
    for (i, line) in tsv.lines().enumerate().skip(1) {
        let f: Vec<&str> = line.split('\t').collect();
        let [src, dst, frames, bytes] = f[..] else {
            bail!(
                "traffic.tsv line {}: want 4 tab-separated fields, got {line:?}",
                i + 1
            );
        };
        frames
            .parse::<u64>()
            .with_context(|| format!("traffic.tsv line {}: frames {frames:?}", i + 1))?;
        let bytes: u64 = bytes
            .parse()
            .with_context(|| format!("traffic.tsv line {}: bytes {bytes:?}", i + 1))?;
        if src == from {
            if let Some(k) = to.iter().position(|n| n == dst) {
                out[k] += bytes;
            }
        }
    }
    Ok(out)
}

/// utime + stime of a `/proc/PID/stat` line, in clock ticks (fields 14 and 15; the command
/// name in parentheses may hold spaces and parentheses, so fields count from its last `)`).
fn cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state is field 3, so utime (14) and stime (15) are at 11 and 12.
    Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
}

/// A line of `lab test`'s output on its own clock: `[  87.2s] rest` gives (87.2, rest).
fn lab_clock(line: &str) -> Option<(f64, &str)> {
    let rest = line.trim_start().strip_prefix('[')?;
    let (t, rest) = rest.split_once("s]")?;
    Some((t.trim().parse().ok()?, rest.trim_start()))
}

/// From `lab test`'s output: the lab-clock time of the release, and of each node's first
/// `NODE: stage=agent` line (the root's init started), by node name.
fn agent_times(lines: &[String]) -> (Option<f64>, Vec<(String, f64)>) {
    let mut released = None;
    let mut agent: Vec<(String, f64)> = Vec::new();
    for l in lines {
        let Some((t, rest)) = lab_clock(l) else {
            continue;
        };
        if rest.starts_with("lab: released") {
            released = Some(t);
        } else if let Some((node, what)) = rest.split_once(": ") {
            if what.starts_with("stage=agent ") && !agent.iter().any(|(n, _)| n == node) {
                agent.push((node.to_string(), t));
            }
        }
    }
    (released, agent)
}

/// Each testcase's (name, seconds, passed) in a junit.xml.
pub(super) fn junit_cases(xml: &str) -> Vec<(String, f64, bool)> {
    let mut out = Vec::new();
    for tc in xml.split("<testcase ").skip(1) {
        let attr = |k: &str| {
            tc.split(&format!(" {k}=\""))
                .nth(1)
                .and_then(|r| r.split('"').next())
                .map(str::to_string)
        };
        let (Some(name), Some(t)) = (attr("name"), attr("time")) else {
            continue;
        };
        let Ok(t) = t.parse::<f64>() else { continue };
        let end = tc.find("</testcase>").unwrap_or(tc.len());
        out.push((name, t, !tc[..end].contains("<failure")));
    }
    out
}

fn clock_ticks() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

/// The CPU seconds of the QEMU whose pidfile is `pidfile`, if it runs.
fn qemu_cpu(pidfile: &Path) -> Option<f64> {
    let pid = std::fs::read_to_string(pidfile).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{}/stat", pid.trim())).ok()?;
    Some(cpu_ticks(&stat)? as f64 / clock_ticks())
}

/// Whether someone else uses the machine: a QEMU whose command line does not name `ours`
/// (other VMs), or a compiler (the benchmark builds nothing while it boots).
fn others_running(ours: &Path) -> bool {
    let ours = ours.to_string_lossy();
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        let comm = std::fs::read_to_string(p.path().join("comm")).unwrap_or_default();
        let comm = comm.trim();
        if matches!(comm, "rustc" | "cc1" | "cc1plus" | "ld" | "mold") {
            return true;
        }
        if !comm.starts_with("qemu-system") {
            return false;
        }
        let cmdline = std::fs::read(p.path().join("cmdline")).unwrap_or_default();
        !String::from_utf8_lossy(&cmdline).contains(ours.as_ref())
    })
}

/// The CPU seconds in `samples` (time, cpu) at the first sample at or after `at`, or the
/// last one before it when the run ended sooner.
fn cpu_at(samples: &[(f64, f64)], at: f64) -> Option<f64> {
    samples
        .iter()
        .find(|(t, _)| *t >= at)
        .or_else(|| samples.iter().rev().find(|(t, _)| *t < at))
        .map(|(_, c)| *c)
}

/// One storm: runs the lab, follows its output, reads its report.
fn one(kind: &str, clients: usize, kver: &str) -> Result<Storm> {
    let dir = std::path::absolute(PathBuf::from(format!("{DIR}/{kind}-{clients}")))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let n = clients.to_string();
    let mut child = Command::new("target/release/srbuild")
        .args(["lab", "test", "--root", kind, "--nodes", &n])
        .args(["--server-first", "--together", "--kver", kver, "--dir"])
        .arg(&dir)
        .stdout(Stdio::piped())
        .spawn()
        .context("starting target/release/srbuild lab test")?;
    let t0 = Instant::now();
    let samples: Arc<Mutex<Vec<(f64, f64)>>> = Arc::default();
    let busy = Arc::new(Mutex::new(false));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = {
        let (samples, busy, done) = (samples.clone(), busy.clone(), done.clone());
        let pidfile = dir.join("server/qemu.pid");
        let dir = dir.clone();
        std::thread::spawn(move || {
            let mut k = 0u32;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                if let Some(c) = qemu_cpu(&pidfile) {
                    samples
                        .lock()
                        .unwrap()
                        .push((t0.elapsed().as_secs_f64(), c));
                }
                // Other VMs: checked every 2 s.
                if k.is_multiple_of(8) && others_running(&dir) {
                    *busy.lock().unwrap() = true;
                }
                k += 1;
                std::thread::sleep(SAMPLE);
            }
        })
    };
    let (mut ready, mut released) = (None, None);
    let mut out = Vec::new();
    for line in BufReader::new(child.stdout.take().context("stdout pipe")?).lines() {
        let line = line?;
        println!("{line}");
        out.push(line.clone());
        let at = t0.elapsed().as_secs_f64();
        if line.contains("server: ready") {
            ready = Some(at);
        }
        if line.contains("lab: released") {
            released = Some(at);
        }
    }
    let status = child.wait()?;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = sampler.join();
    let junit = std::fs::read_to_string(dir.join("junit.xml"))
        .with_context(|| format!("{}/junit.xml (lab test: {status})", dir.display()))?;
    let cases = junit_cases(&junit);
    if cases.len() != clients {
        bail!(
            "{}/junit.xml: {} testcases for {clients} clients (lab test: {status})",
            dir.display(),
            cases.len()
        );
    }
    let names: Vec<String> = cases.iter().map(|c| c.0.clone()).collect();
    let tsv = std::fs::read_to_string(dir.join("traffic.tsv"))
        .with_context(|| format!("{}/traffic.tsv", dir.display()))?;
    let released = released.context("no `lab: released` line: was --together honoured?")?;
    let samples = samples.lock().unwrap().clone();
    let longest = cases.iter().map(|c| c.1).fold(0.0, f64::max);
    let server_cpu = match (
        cpu_at(&samples, released),
        cpu_at(&samples, released + longest),
    ) {
        (Some(a), Some(b)) => b - a,
        _ => bail!("no CPU samples of the server's QEMU ({})", dir.display()),
    };
    // Idle: from its ready line to the release, when at least 2 s long.
    let idle_rate = ready.filter(|r| released - r >= 2.0).and_then(|r| {
        let (a, b) = (cpu_at(&samples, r)?, cpu_at(&samples, released)?);
        Some((b - a) / (released - r))
    });
    let mut retries = 0;
    for name in &names {
        let log = std::fs::read(dir.join(name).join("console.log")).unwrap_or_default();
        retries += String::from_utf8_lossy(&log)
            .lines()
            .filter(|l| l.contains("retrying"))
            .count();
    }
    let busy = *busy.lock().unwrap();
    let booted = match agent_times(&out) {
        (Some(r), agent) => agent.iter().map(|(_, t)| t - r).collect(),
        (None, _) => Vec::new(),
    };
    Ok(Storm {
        booted,
        kind: kind.to_string(),
        clients,
        times: cases.iter().map(|c| c.1).collect(),
        failed: cases.iter().filter(|c| !c.2).count(),
        served: served(&tsv, "server", &names)?,
        retries,
        server_cpu,
        idle_rate,
        busy,
    })
}

/// Fetches of the image the native measurement makes (one curl, kept-alive connections).
const NATIVE_FETCHES: usize = 300;

/// Serves `image` with the host's nginx (one process, no master, `sendfile` on as in the
/// lab's server) on 127.0.0.1 to [`NATIVE_FETCHES`] fetches by one curl, and returns
/// nginx's CPU seconds per MB served (utime + stime from `/proc/PID/stat`).
fn native_http(image: &Path) -> Result<f64> {
    let dir = std::path::absolute(PathBuf::from(format!("{DIR}/native")))?;
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("www"))?;
    std::fs::copy(image, dir.join("www/root.img")).context("copying the root image")?;
    let size = std::fs::metadata(image)?.len() as f64;
    let port = 18000 + (std::process::id() % 1000) as u16;
    let d = dir.display();
    let conf = format!(
        "daemon off; master_process off; worker_processes 1; pid {d}/nginx.pid;\n\
         error_log stderr warn;\nevents {{ worker_connections 64; }}\n\
         http {{ types {{ }} default_type application/octet-stream; sendfile on; \
         tcp_nopush on; access_log off; client_body_temp_path {d}/t1; proxy_temp_path {d}/t2; \
         fastcgi_temp_path {d}/t3; uwsgi_temp_path {d}/t4; scgi_temp_path {d}/t5; \
         server {{ listen 127.0.0.1:{port}; root {d}/www; }} }}\n"
    );
    std::fs::write(dir.join("nginx.conf"), conf)?;
    let mut nginx = Command::new("nginx")
        .args(["-e", "stderr", "-p"])
        .arg(&dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .stdin(Stdio::null())
        .spawn()
        .context("starting the host's nginx (Debian package nginx)")?;
    let stat = format!("/proc/{}/stat", nginx.id());
    let cpu = || -> Option<f64> {
        Some(cpu_ticks(&std::fs::read_to_string(&stat).ok()?)? as f64 / clock_ticks())
    };
    let url = format!("http://127.0.0.1:{port}/root.img");
    let mut list = String::new();
    for _ in 0..NATIVE_FETCHES {
        list.push_str(&format!("url = \"{url}\"\noutput = \"/dev/null\"\n"));
    }
    std::fs::write(dir.join("curl.list"), list)?;
    let result = (|| -> Result<f64> {
        // Until it answers.
        let mut up = false;
        for _ in 0..50 {
            let ok = Command::new("curl")
                .args(["-sf", "-o", "/dev/null", &url])
                .status()
                .is_ok_and(|s| s.success());
            if ok {
                up = true;
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        // Ours must be the one that answered: with the port taken by another server,
        // nginx exits and the figures would be another process's.
        if !up || !matches!(nginx.try_wait(), Ok(None)) {
            bail!("the host's nginx did not serve {url} (is port {port} taken?)");
        }
        let before = cpu().context("nginx's /proc stat")?;
        let st = Command::new("curl")
            .args(["-sf", "-K"])
            .arg(dir.join("curl.list"))
            .status()
            .context("curl")?;
        if !st.success() {
            bail!("curl fetching {url} {NATIVE_FETCHES} times: {st}");
        }
        let after = cpu().context("nginx's /proc stat")?;
        if !matches!(nginx.try_wait(), Ok(None)) {
            bail!("the host's nginx exited while serving {url}");
        }
        Ok((after - before) / (size * NATIVE_FETCHES as f64 / 1e6))
    })();
    let _ = nginx.kill();
    let _ = nginx.wait();
    result
}

/// `--nodes 4,8`: the client counts; `--kinds nfs,http`: the kinds.
fn list<T: std::str::FromStr + Clone>(
    args: &[String],
    flag: &str,
    default: &[T],
) -> Result<Vec<T>> {
    let Some(i) = args.iter().position(|a| a == flag) else {
        return Ok(default.to_vec());
    };
    let v = args
        .get(i + 1)
        .with_context(|| format!("{flag} needs a comma-separated list, e.g. {flag} 4,8"))?;
    v.split(',')
        .map(|s| {
            s.trim()
                .parse::<T>()
                .map_err(|_| anyhow::anyhow!("{flag} {v}: {s:?} is not valid; e.g. {flag} 4,8"))
        })
        .collect()
}

pub fn run(sh: &Shell, kver: &str, args: &[String]) -> Result<()> {
    let nodes: Vec<usize> = list(args, "--nodes", NODES)?;
    if nodes.contains(&0) {
        bail!("--nodes: a storm needs at least one client per run");
    }
    let kinds: Vec<String> = list(
        args,
        "--kinds",
        &KINDS.iter().map(|k| k.to_string()).collect::<Vec<_>>(),
    )?;
    sh.create_dir(DIR)?;
    let scale = std::env::var("SRBUILD_LAB_TIMEOUT_X").ok();
    let mut runs = Vec::new();
    for kind in &kinds {
        for &n in &nodes {
            println!("\nxtask: storm: {kind} root, {n} clients released together");
            runs.push(one(kind, n, kver)?);
        }
    }
    let mb = |b: f64| b / 1e6;
    println!("\nBoot storm: clients released at one moment once the server serves, TCG:\n");
    println!(
        "| root | clients | to the root's init median | max | to LAB-PASS median | max | served per client median | max | failed | retries | server CPU | per client | idle server |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    let mut figures: Vec<Figure> = Vec::new();
    for s in &runs {
        let (tm, tx) = median_max(&s.times).unwrap_or((f64::NAN, f64::NAN));
        let (am, ax) = median_max(&s.booted).unwrap_or((f64::NAN, f64::NAN));
        let bytes: Vec<f64> = s.served.iter().map(|&b| b as f64).collect();
        let (bm, bx) = median_max(&bytes).unwrap_or((f64::NAN, f64::NAN));
        let idle = s
            .idle_rate
            .map(|r| format!("{:.0}% of a core", r * 100.0))
            .unwrap_or_else(|| "-".into());
        let busy = if s.busy { " (busy)" } else { "" };
        println!(
            "| {}{busy} | {} | {am:.1} s | {ax:.1} s | {tm:.1} s | {tx:.1} s | {:.2} MB | {:.2} MB | {} | {} | {:.1} s | {:.2} s | {idle} |",
            s.kind,
            s.clients,
            mb(bm),
            mb(bx),
            s.failed,
            s.retries,
            s.server_cpu,
            s.server_cpu / s.clients as f64,
        );
        let p = format!("{}, {} clients", s.kind, s.clients);
        figures.extend([
            fig(
                format!("{p}, release to the root's init, median / max"),
                format!("{am:.1} s / {ax:.1} s{busy}"),
            ),
            fig(
                format!("{p}, release to LAB-PASS, median / max"),
                format!("{tm:.1} s / {tx:.1} s{busy}"),
            ),
            fig(
                format!("{p}, served per client (hub), median / max"),
                format!("{:.2} MB / {:.2} MB", mb(bm), mb(bx)),
            ),
            fig(
                format!("{p}, failed boots / download retries"),
                format!("{} / {}", s.failed, s.retries),
            ),
            fig(
                format!("{p}, server QEMU CPU over the storm (per client)"),
                format!(
                    "{:.1} s ({:.2} s){busy}",
                    s.server_cpu,
                    s.server_cpu / s.clients as f64
                ),
            ),
            fig(format!("{p}, idle server QEMU CPU"), idle),
        ]);
    }
    // The native bound: the http run's own image served by the host's nginx.
    if let Some(h) = runs.iter().rev().find(|s| s.kind == "http") {
        let image = PathBuf::from(format!(
            "{DIR}/http-{}/artifacts/data/www/root.img",
            h.clients
        ));
        let per_mb = native_http(&image)?;
        let bytes: Vec<f64> = h.served.iter().map(|&b| b as f64).collect();
        let (bm, _) = median_max(&bytes).unwrap_or((f64::NAN, f64::NAN));
        let native = per_mb * mb(bm);
        let tcg = h.server_cpu / h.clients as f64;
        println!(
            "\nNative bound: the host's nginx served the same {:.2} MB image {NATIVE_FETCHES} times \
             at {:.2} ms CPU per MB: {:.3} ms per client, against {:.0} ms of the TCG server's QEMU \
             per client in the {}-client http storm ({:.0}x)",
            std::fs::metadata(&image)?.len() as f64 / 1e6,
            per_mb * 1e3,
            native * 1e3,
            tcg * 1e3,
            h.clients,
            tcg / native
        );
        figures.extend([
            fig(
                "native nginx on this host, CPU per MB served",
                format!("{:.2} ms", per_mb * 1e3),
            ),
            fig(
                format!(
                    "http, {} clients: TCG server CPU per client / native nginx per client",
                    h.clients
                ),
                format!("{:.0}x", tcg / native),
            ),
        ]);
    }
    if let Some(x) = &scale {
        figures.push(fig(
            "lab timeouts scaled (SRBUILD_LAB_TIMEOUT_X)",
            x.clone(),
        ));
    }
    super::record::write(sh, &crate::project_root(), "storm", &figures)?;
    let failed: usize = runs.iter().map(|s| s.failed).sum();
    if failed > 0 {
        bail!("{failed} client boots failed in the storm (must be 0); see {DIR}/*/junit.xml");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_is_the_middle_and_max_the_largest() {
        assert_eq!(median_max(&[3.0, 1.0, 2.0]), Some((2.0, 3.0)));
        assert_eq!(median_max(&[4.0, 1.0, 3.0, 2.0]), Some((3.0, 4.0)));
        assert_eq!(median_max(&[]), None);
    }

    #[test]
    fn served_bytes_are_the_servers_per_client() {
        let tsv = "from\tto\tframes\tbytes\n\
                   node1\tserver\t10\t900\n\
                   server\tnode1\t100\t150000\n\
                   server\tnode2\t90\t140000\n\
                   server\tnode1\t1\t60\n";
        let to = ["node1".to_string(), "node2".into(), "node3".into()];
        assert_eq!(served(tsv, "server", &to).unwrap(), [150060, 140000, 0]);
        let e = served("h\nserver\tnode1\t1\n", "server", &to).unwrap_err();
        assert!(e.to_string().contains("4 tab-separated"), "{e}");
        let e = served("h\nserver\tnode1\t1\tlots\n", "server", &to).unwrap_err();
        assert!(format!("{e:#}").contains("lots"), "{e:#}");
    }

    #[test]
    fn cpu_ticks_count_from_the_last_parenthesis() {
        let stat = "4242 (qemu-system-x86) S 1 4242 4242 0 -1 4194560 9 0 0 0 1234 56 0 0 20 0 3 0";
        assert_eq!(cpu_ticks(stat), Some(1290));
        let odd = "7 (a) b) (c) R 1 7 7 0 -1 0 0 0 0 0 10 5 0 0";
        assert_eq!(cpu_ticks(odd), Some(15));
        assert_eq!(cpu_ticks("7 (short) R 1"), None);
    }

    #[test]
    fn agent_times_are_on_the_labs_clock_from_the_release() {
        let out: Vec<String> = [
            "[   0.3s] lab: started server (10.77.0.1) log x",
            "[  20.3s] lab: released 2 nodes together",
            "[  80.1s] node2: stage=agent (guest t=120.50)",
            "[  81.0s] node1: stage=checks (guest t=99.00)",
            "[  82.4s] node1: stage=agent (guest t=131.00)",
            "[  83.0s] node1: stage=agent (guest t=132.00)",
            "srbuild: wrote x",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let (r, a) = agent_times(&out);
        assert_eq!(r, Some(20.3));
        assert_eq!(
            a,
            [("node2".to_string(), 80.1), ("node1".to_string(), 82.4)]
        );
        assert_eq!(lab_clock("no clock"), None);
        assert_eq!(agent_times(&out[2..]).0, None);
    }

    #[test]
    fn junit_cases_read_times_and_failures() {
        let xml = r#"<testsuites><testsuite>
    <testcase classname="s" name="node1" time="12.500">
      <system-out>x</system-out>
    </testcase>
    <testcase classname="s" name="node2" time="30.000">
      <failure message="m" type="LabFailure">no verdict</failure>
    </testcase>
</testsuite></testsuites>"#;
        let c = junit_cases(xml);
        assert_eq!(
            c,
            [("node1".into(), 12.5, true), ("node2".into(), 30.0, false)]
        );
    }

    #[test]
    fn cpu_is_read_at_the_first_sample_from_then() {
        let s = [(1.0, 10.0), (1.25, 10.5), (1.5, 11.0)];
        assert_eq!(cpu_at(&s, 1.1), Some(10.5));
        assert_eq!(cpu_at(&s, 9.0), Some(11.0));
        assert_eq!(cpu_at(&[], 1.0), None);
    }

    #[test]
    fn lists_parse_and_bad_values_are_named() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            list::<usize>(&a(&["--storm", "--nodes", "4,8"]), "--nodes", NODES).unwrap(),
            [4, 8]
        );
        assert_eq!(
            list::<usize>(&a(&["--storm"]), "--nodes", NODES).unwrap(),
            NODES
        );
        let e = list::<usize>(&a(&["--nodes", "4,x"]), "--nodes", NODES).unwrap_err();
        assert!(e.to_string().contains("\"x\""), "{e}");
    }
}
