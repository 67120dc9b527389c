//! Helpers shared by the CLI integration tests: run the built binary, build images once.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn srbuild() -> Command {
    Command::new(env!("CARGO_BIN_EXE_srbuild"))
}

pub fn run(args: &[&str]) -> Output {
    srbuild().args(args).output().expect("run srbuild")
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Whether this machine has a kernel with modules (the CI installs linux-image-amd64).
pub fn have_kernel() -> bool {
    std::fs::read_dir("/lib/modules")
        .map(|rd| rd.flatten().any(|e| e.path().join("modules.dep").exists()))
        .unwrap_or(false)
}

pub fn kver() -> String {
    let mut v: Vec<String> = std::fs::read_dir("/lib/modules")
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("modules.dep").exists())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v.pop().unwrap()
}

/// A 2-member cluster description (plus an NFS server) in `dir`, each member with a fence
/// device and its password file (mode 0400) beside it.
pub fn sample_cluster(dir: &Path) -> PathBuf {
    let p = dir.join("sample-cluster.toml");
    std::fs::write(
        &p,
        "[cluster]\nname = \"t\"\n\n[[network]]\nname = \"n\"\ncidr = \"10.9.0.0/24\"\n\n\
         [[node]]\nname = \"srv\"\nid = 100\nmacs = [\"52:54:00:09:00:64\"]\naddresses = [\"10.9.0.100/24\"]\nroles = [\"nfs-server\"]\nmember = false\n\n\
         [[node]]\nname = \"n1\"\nid = 1\nmacs = [\"52:54:00:09:00:01\"]\naddresses = [\"10.9.0.1/24\"]\n\
         [node.fence]\nagent = \"ipmilan\"\naddress = \"10.9.0.201\"\nuser = \"admin\"\npassword_file = \"bmc-n1.password\"\n\n\
         [[node]]\nname = \"n2\"\nid = 2\nmacs = [\"52:54:00:09:00:02\"]\naddresses = [\"10.9.0.2/24\"]\n\
         [node.fence]\nagent = \"ipmilan\"\naddress = \"10.9.0.202\"\nuser = \"admin\"\npassword_file = \"bmc-n2.password\"\n",
    )
    .unwrap();
    // The members' BMC passwords, private as the builder demands.
    for n in ["n1", "n2"] {
        use std::os::unix::fs::PermissionsExt;
        let pw = dir.join(format!("bmc-{n}.password"));
        let _ = std::fs::remove_file(&pw);
        std::fs::write(&pw, format!("pw-{n}\n")).unwrap();
        std::fs::set_permissions(&pw, std::fs::Permissions::from_mode(0o400)).unwrap();
    }
    p
}

/// Builds `profile` into `dir` with [`sample_cluster`] built in (unless `extra` names
/// another) and returns the image path; panics with srbuild's stderr.
pub fn build(profile: &str, dir: &Path, extra: &[&str]) -> PathBuf {
    let out = dir.join(format!("{profile}.img"));
    let cluster = sample_cluster(dir);
    let mut args = vec!["image", "--profile", profile, "-o", out.to_str().unwrap()];
    if !extra.contains(&"--cluster") {
        args.extend_from_slice(&["--cluster", cluster.to_str().unwrap()]);
    }
    args.extend_from_slice(extra);
    let o = run(&args);
    assert!(o.status.success(), "build {profile} failed: {}", stderr(&o));
    out
}

/// Builds `profile` (as [`build`]) and extracts it with `srbuild extract`; returns the
/// temporary directory that keeps it alive and the extracted tree.
pub fn extracted(profile: &str) -> (tempfile::TempDir, PathBuf) {
    assert!(
        have_kernel(),
        "no kernel under /lib/modules: install linux-image-amd64"
    );
    let d = tempfile::tempdir().unwrap();
    let img = build(profile, d.path(), &[]);
    let x = d.path().join("x");
    let o = run(&["extract", img.to_str().unwrap(), x.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));
    (d, x)
}

/// Paths listed by `srbuild ls` (last column, symlink targets stripped).
pub fn listed_paths(img: &Path) -> Vec<String> {
    let o = run(&["ls", img.to_str().unwrap()]);
    assert!(o.status.success(), "ls failed: {}", stderr(&o));
    stdout(&o)
        .lines()
        .map(|l| {
            let l = l.split(" -> ").next().unwrap();
            l.split_whitespace().nth(4).unwrap_or("").to_string()
        })
        .collect()
}

/// One hand-made newc member, for images `write_image` would not write (odd spellings,
/// owners, repeated paths).
pub struct Raw<'a> {
    pub name: &'a str,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub body: &'a [u8],
}

/// A regular file member owned by root.
pub fn raw<'a>(name: &'a str, mode: u32, body: &'a [u8]) -> Raw<'a> {
    Raw {
        name,
        mode: 0o100000 | mode,
        uid: 0,
        gid: 0,
        body,
    }
}

/// A directory member owned by root.
pub fn raw_dir(name: &str) -> Raw<'_> {
    Raw {
        name,
        mode: 0o040755,
        uid: 0,
        gid: 0,
        body: b"",
    }
}

/// An uncompressed newc archive of `members`, in the order given, with its trailer.
pub fn newc(members: &[Raw]) -> Vec<u8> {
    let mut out = Vec::new();
    for (i, m) in members.iter().enumerate() {
        newc_member(&mut out, i as u32 + 1, m).unwrap();
    }
    newc_trailer(&mut out).unwrap();
    out
}

/// Writes one newc member (header, name, body, padding) with inode number `ino`.
pub fn newc_member(out: &mut impl std::io::Write, ino: u32, m: &Raw) -> std::io::Result<()> {
    let namesize = m.name.len() + 1;
    let fields = [
        ino,
        m.mode,
        m.uid,
        m.gid,
        1,
        0,
        m.body.len() as u32,
        0,
        0,
        0,
        0,
        namesize as u32,
        0,
    ];
    let mut head = b"070701".to_vec();
    for f in fields {
        head.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    head.extend_from_slice(m.name.as_bytes());
    head.push(0);
    head.resize(head.len().next_multiple_of(4), 0);
    head.extend_from_slice(m.body);
    head.resize(head.len().next_multiple_of(4), 0);
    out.write_all(&head)
}

/// Writes the TRAILER!!! member that ends a newc archive.
pub fn newc_trailer(out: &mut impl std::io::Write) -> std::io::Result<()> {
    let t = Raw {
        name: "TRAILER!!!",
        mode: 0,
        uid: 0,
        gid: 0,
        body: b"",
    };
    newc_member(out, 0, &t)
}
