//! The http module's hooks as `/init` runs them, from an image of the `http` profile under
//! busybox sh (the mount-root hook's functions, not its mounts), against a real HTTP server on loopback (a thread here, answering each
//! connection as the test scripts it): every bad `root=http://…` and
//! `srbuild.root_sha256=` is a `FAILED stage=cmdline` naming the value; a truncated
//! download is retried; a wrong hash fails `mount-root` naming both hashes; a redirect to
//! another server is refused before it is followed; an image of another format is refused
//! after its hash matched. And `srbuild rootimage` makes what the hook accepts.

mod common;
use common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::sync::{Arc, Mutex};

const RESCUE: &str = "sr_rescue() { echo \"rescue\"; exit 3; }\n";

/// The http profile's image, extracted, with the two hooks rewritten to read the fake
/// command line (`$CMDLINE`) and to keep their files in `$RUNDIR` instead of /run/srbuild.
fn hooks() -> (tempfile::TempDir, std::path::PathBuf) {
    let (d, x) = extracted("http");
    for (hook, name) in [
        ("cmdline/20-http.sh", "args.sh"),
        ("mount-root/60-http.sh", "root.sh"),
    ] {
        let text = std::fs::read_to_string(x.join("usr/lib/srbuild/hooks").join(hook))
            .unwrap_or_else(|e| panic!("{hook}: {e}"))
            .replace("/proc/cmdline", "\"$CMDLINE\"")
            .replace("/etc/srbuild/cmdline.default", "/nonexistent")
            .replace("/run/srbuild", "$RUNDIR");
        // The mount-root hook's functions only: its last lines mount /sysroot.
        let text = match text.find("\nif [ -n \"${SR_HTTP_URL-}\" ]; then") {
            Some(at) => text[..at].to_string(),
            None => {
                assert_eq!(
                    name, "args.sh",
                    "the mount-root hook changed its last lines"
                );
                text
            }
        };
        std::fs::write(d.path().join(name), text).unwrap();
    }
    (d, x)
}

/// Runs `script` under busybox sh after the library; returns (exit code, stdout+stderr).
fn run_sh(d: &Path, x: &Path, cmdline: &str, script: &str) -> (i32, String) {
    let file = d.join("cmdline");
    std::fs::write(&file, format!("{cmdline}\n")).unwrap();
    let run = d.join("run");
    let _ = std::fs::create_dir(&run);
    let prelude = format!(
        ". \"$X/usr/lib/srbuild/lib/core.sh\"\n. \"$X/usr/lib/srbuild/lib/cmdline.sh\"\n\
         {RESCUE}SR_STAGE=cmdline SR_SHELL=1 SR_MOUNT_TIMEOUT=8 SR_ROOTMODE=net SR_HYBRID='' \
         SR_RAMSIZE=''\nsr_cmdline_parse \"$CMDLINE\"\n. ./args.sh\n"
    );
    let o = std::process::Command::new("/bin/busybox")
        .args(["sh", "-c", &format!("{prelude}{script}")])
        .current_dir(d)
        .env("X", x)
        .env("CMDLINE", &file)
        .env("RUNDIR", &run)
        .env("PATH", "/bin:/usr/bin")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        format!("{}{}", stdout(&o), stderr(&o)),
    )
}

const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn bad_urls_and_hashes_fail_stage_cmdline_naming_the_value() {
    let (d, x) = hooks();
    let show = "echo \"host=$SR_HTTP_HOST port=$SR_HTTP_PORT path=$SR_HTTP_PATH mode=$SR_ROOTMODE root=$SR_ROOT\"\n";
    let ok = format!(
        "root=http://10.77.0.1:8080/roots/a.img srbuild.root_sha256={}",
        HASH.to_uppercase()
    );
    let (rc, out) = run_sh(d.path(), &x, &ok, show);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("host=10.77.0.1 port=8080 path=/roots/a.img mode=ram root=http://10.77.0.1:8080/roots/a.img"),
        "{out}"
    );
    for (cmdline, want) in [
        (
            format!("root=https://10.77.0.1/a.img srbuild.root_sha256={HASH}"),
            "root=https://10.77.0.1/a.img: only http://",
        ),
        (
            format!("root=ftp://10.77.0.1/a.img srbuild.root_sha256={HASH}"),
            "root=ftp://10.77.0.1/a.img: only http://",
        ),
        (
            format!("root=http://u:pw@10.77.0.1/a.img srbuild.root_sha256={HASH}"),
            "root=http://u:pw@10.77.0.1/a.img: credentials",
        ),
        (
            format!("root=http://10.77.0.1:99999/a.img srbuild.root_sha256={HASH}"),
            "port '99999'",
        ),
        (
            format!("root=http://10.77.0.1 srbuild.root_sha256={HASH}"),
            "no path",
        ),
        (
            format!("root=http://10.77.0.1/a/../b srbuild.root_sha256={HASH}"),
            ". or .. parts",
        ),
        (
            format!("root=http://10.77.0.1/a$(x) srbuild.root_sha256={HASH}"),
            "the path may hold only",
        ),
        (
            "root=http://10.77.0.1/a.img".to_string(),
            "needs srbuild.root_sha256=",
        ),
        (
            "root=http://10.77.0.1/a.img srbuild.root_sha256=abc".to_string(),
            "srbuild.root_sha256=abc is not a SHA-256",
        ),
        (
            format!("root=http://10.77.0.1/a.img srbuild.root_sha256={HASH}0"),
            "is not a SHA-256",
        ),
        (
            format!(
                "root=http://10.77.0.1/a.img srbuild.root_sha256=g{}",
                &HASH[1..]
            ),
            "is not a SHA-256",
        ),
        (
            format!(
                "root=http://10.77.0.1/a.img srbuild.root_sha256={HASH} srbuild.rootmode=hybrid"
            ),
            "needs srbuild.hybrid_from=",
        ),
    ] {
        let (rc, out) = run_sh(d.path(), &x, &cmdline, show);
        assert_eq!(rc, 3, "{cmdline}: {out}");
        let first = out.lines().next().unwrap_or("");
        assert!(
            first.starts_with("srbuild: FAILED stage=cmdline: "),
            "{cmdline}: {out}"
        );
        assert!(first.contains(want), "{cmdline}: wanted {want:?} in {out}");
    }
    // Hybrid: the network root's hook mounts srbuild.hybrid_from first.
    let hybrid = format!("root=http://10.77.0.1/a.img srbuild.root_sha256={HASH} srbuild.rootmode=hybrid srbuild.hybrid_from=nfs:10.77.0.1:/");
    let (rc, out) = run_sh(d.path(), &x, &hybrid, show);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("mode=hybrid root=nfs:10.77.0.1:/"), "{out}");
}

/// What the test server does with one connection.
#[derive(Clone)]
enum Answer {
    /// 200 with the body; `cut` bytes of it left out, the Content-Length still whole.
    Body { body: Vec<u8>, cut: usize },
    /// A redirect to this Location.
    Redirect(String),
    /// Close without a word.
    Close,
    /// These bytes, as they are (a hostile server).
    Raw(Vec<u8>),
    /// 200 with the body, as nginx sends it: a client that half-closes the connection
    /// after its request is taken for gone, and gets only the first 64 kB.
    DropsHalfClosed(Vec<u8>),
}

/// A server on loopback answering the connections in order with `answers` (the last one
/// again and again); returns its port and the request lines it saw.
fn serve(answers: Vec<Answer>) -> (u16, Arc<Mutex<Vec<String>>>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        for (n, conn) in l.incoming().enumerate() {
            let Ok(mut c) = conn else { continue };
            let mut r = BufReader::new(c.try_clone().unwrap());
            let mut first = String::new();
            let _ = r.read_line(&mut first);
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                    break;
                }
            }
            log.lock().unwrap().push(first.trim_end().to_string());
            let a = answers[n.min(answers.len() - 1)].clone();
            let _ = match a {
                Answer::Body { body, cut } => c
                    .write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| c.write_all(&body[..body.len() - cut])),
                Answer::Redirect(to) => c.write_all(
                    format!("HTTP/1.1 302 Found\r\nLocation: {to}\r\nContent-Length: 0\r\n\r\n")
                        .as_bytes(),
                ),
                Answer::Close => Ok(()),
                Answer::Raw(bytes) => c.write_all(&bytes),
                Answer::DropsHalfClosed(body) => {
                    let _ = c.set_read_timeout(Some(std::time::Duration::from_millis(500)));
                    let half_closed = matches!(r.read(&mut [0u8; 1]), Ok(0));
                    let sent = if half_closed {
                        &body[..body.len().min(65536)]
                    } else {
                        &body[..]
                    };
                    c.write_all(
                        format!(
                            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        )
                        .as_bytes(),
                    )
                    .and_then(|_| c.write_all(sent))
                }
            };
        }
    });
    (port, seen)
}

/// Runs the fetch and checks of the mount-root hook (not the mounts) against `port`.
fn fetch(d: &Path, x: &Path, port: u16, hash: &str) -> (i32, String) {
    let cmdline = format!("root=http://127.0.0.1:{port}/root.img srbuild.root_sha256={hash}");
    let script =
        ". ./root.sh\nSR_STAGE=mount-root SR_HTTP_LIMIT=8\nsr_http_verified \"$RUNDIR/root.img\"\n\
                  echo \"verified cat=$SR_HTTP_CAT\"\n";
    run_sh(d, x, &cmdline, script)
}

fn sha256(b: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

#[test]
fn a_truncated_download_is_retried_and_a_wrong_hash_names_both() {
    let (d, x) = hooks();
    // A real root image, from srbuild rootimage.
    let tree = d.path().join("tree");
    std::fs::create_dir_all(tree.join("sbin")).unwrap();
    std::fs::write(tree.join("sbin/init"), b"#!/bin/sh\n").unwrap();
    let img = d.path().join("root.img");
    let o = run(&[
        "rootimage",
        tree.to_str().unwrap(),
        "-o",
        img.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let body = std::fs::read(&img).unwrap();
    let hash = sha256(&body);
    assert!(
        stdout(&o).contains(&format!("srbuild.root_sha256={hash}")),
        "{}",
        stdout(&o)
    );

    // Closed, then cut short, then whole: fetched on the third attempt.
    let (port, seen) = serve(vec![
        Answer::Close,
        Answer::Body {
            body: body.clone(),
            cut: 100,
        },
        Answer::Body {
            body: body.clone(),
            cut: 0,
        },
    ]);
    let (rc, out) = fetch(d.path(), &x, port, &hash);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("verified cat=zcat"), "{out}");
    assert!(out.contains("(interrupted)"), "{out}");
    assert!(out.contains("after 3 attempts"), "{out}");
    assert_eq!(seen.lock().unwrap().len(), 3);
    assert_eq!(std::fs::read(d.path().join("run/root.img")).unwrap(), body);

    // A wrong hash: both named, the download removed.
    let (port, _) = serve(vec![Answer::Body {
        body: body.clone(),
        cut: 0,
    }]);
    let (rc, out) = fetch(d.path(), &x, port, HASH);
    assert_eq!(rc, 3, "{out}");
    assert!(
        out.contains(&format!("FAILED stage=mount-root: the image at http://127.0.0.1:{port}/root.img has SHA-256 {hash}, but srbuild.root_sha256={HASH}")),
        "{out}"
    );
    assert!(!d.path().join("run/root.img").exists());

    // Not a root image, though its hash matches.
    let junk = b"#!/bin/sh\nrm -rf /\n".to_vec();
    let (port, _) = serve(vec![Answer::Body {
        body: junk.clone(),
        cut: 0,
    }]);
    let (rc, out) = fetch(d.path(), &x, port, &sha256(&junk));
    assert_eq!(rc, 3, "{out}");
    assert!(
        out.contains("is not a root image (first bytes 23212f62696e"),
        "{out}"
    );

    // Redirects: the same server is followed, another one refused without a connection.
    let (port, seen) = serve(vec![
        Answer::Redirect("/other.img".into()),
        Answer::Body {
            body: body.clone(),
            cut: 0,
        },
    ]);
    let (rc, out) = fetch(d.path(), &x, port, &hash);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(seen.lock().unwrap()[1], "GET /other.img HTTP/1.0");
    let (port, seen) = serve(vec![Answer::Redirect("http://10.1.2.3/root.img".into())]);
    let (rc, out) = fetch(d.path(), &x, port, &hash);
    assert_eq!(rc, 3, "{out}");
    assert!(out.contains("redirects to 'http://10.1.2.3/root.img': a redirect to another server or scheme is refused"), "{out}");
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[test]
fn a_hostile_server_gets_a_failed_attempt_and_no_control_bytes_on_the_console() {
    let (d, x) = hooks();
    let tree = d.path().join("tree");
    std::fs::create_dir_all(tree.join("sbin")).unwrap();
    std::fs::write(tree.join("sbin/init"), b"#!/bin/sh\n").unwrap();
    let img = d.path().join("root.img");
    let o = run(&[
        "rootimage",
        tree.to_str().unwrap(),
        "-o",
        img.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let body = std::fs::read(&img).unwrap();
    let hash = sha256(&body);
    // 70 header lines, then an error whose status line carries an escape sequence, then
    // the image: fetched on the third attempt, the escape never printed.
    let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
    for n in 0..70 {
        many.extend_from_slice(format!("X-Pad-{n}: x\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    many.extend_from_slice(&body);
    let (port, seen) = serve(vec![
        Answer::Raw(many),
        Answer::Raw(b"HTTP/1.1 500 \x1b[2Jgone\r\n\r\n".to_vec()),
        Answer::Body {
            body: body.clone(),
            cut: 0,
        },
    ]);
    let (rc, out) = fetch(d.path(), &x, port, &hash);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("header too long"), "{out}");
    assert!(out.contains("HTTP/1.1 500 [2Jgone"), "{out}");
    assert!(!out.contains('\x1b'), "{out:?}");
    assert!(out.contains("after 3 attempts"), "{out}");
    assert_eq!(seen.lock().unwrap().len(), 3);
}

#[test]
fn the_request_does_not_half_close_the_connection_so_nginx_sends_the_whole_image() {
    let (d, x) = hooks();
    // An image larger than a socket buffer: 400 kB that gzip cannot shrink.
    let tree = d.path().join("tree");
    std::fs::create_dir_all(tree.join("sbin")).unwrap();
    std::fs::write(tree.join("sbin/init"), b"#!/bin/sh\n").unwrap();
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let noise: Vec<u8> = (0..400_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    std::fs::write(tree.join("noise"), &noise).unwrap();
    let img = d.path().join("root.img");
    let o = run(&[
        "rootimage",
        tree.to_str().unwrap(),
        "-o",
        img.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let body = std::fs::read(&img).unwrap();
    assert!(body.len() > 300_000, "{}", body.len());
    let (port, seen) = serve(vec![Answer::DropsHalfClosed(body.clone())]);
    let (rc, out) = fetch(d.path(), &x, port, &sha256(&body));
    assert_eq!(rc, 0, "{out}");
    assert!(!out.contains("failed (attempt"), "fetched at once: {out}");
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(std::fs::read(d.path().join("run/root.img")).unwrap(), body);
}
