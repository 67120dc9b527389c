//! Every profile builds from this host's Debian packages, carries its cluster tools and
//! kernel modules, has an `/init` that parses, and lists the same under GNU cpio.

mod common;
use common::*;

fn expect(profile: &str) -> &'static [&'static str] {
    match profile {
        "nfs" => &[
            "usr/sbin/mount.nfs",
            "kernel/fs/nfs/nfsv4.ko",
            "kernel/fs/nfs/nfs.ko",
            "kernel/net/sunrpc/sunrpc.ko",
            "etc/netconfig",
            "virtio_net.ko",
        ],
        "gfs2" => &[
            "usr/sbin/corosync",
            "usr/sbin/dlm_controld",
            "usr/sbin/mkfs.gfs2",
            "usr/sbin/fsck.gfs2",
            "kernel/fs/gfs2/gfs2.ko",
            "kernel/fs/dlm/dlm.ko",
            "kronosnet/crypto_nss.so",
            "usr/bin/ipmitool",
            "usr/sbin/fence_srbuild_ipmi",
            "etc/srbuild/fence/n1.password",
        ],
        "ocfs2" => &[
            "usr/sbin/mount.ocfs2",
            "usr/sbin/o2cb",
            "usr/sbin/fsck.ocfs2",
            "kernel/fs/ocfs2/ocfs2.ko",
            "ocfs2_dlmfs.ko",
            "ocfs2_stack_o2cb.ko",
        ],
        "glusterfs" => &[
            "usr/sbin/glusterfs",
            "usr/sbin/mount.glusterfs",
            "kernel/fs/fuse/fuse.ko",
            "xlator/protocol/client.so",
            "xlator/mount/fuse.so",
            "rpc-transport/socket.so",
        ],
        "ext3" => &[
            "usr/sbin/e2fsck",
            "kernel/fs/ext4/ext4.ko",
            "kernel/fs/jbd2/jbd2.ko",
            "virtio_blk.ko",
        ],
        "lab-nfs-server" => &[
            "usr/sbin/rpcbind",
            "usr/sbin/rpc.nfsd",
            "usr/sbin/rpc.mountd",
            "usr/sbin/exportfs",
            "kernel/fs/nfsd/nfsd.ko",
        ],
        "lab-gluster-server" => &[
            "usr/sbin/glusterfsd",
            "usr/sbin/gluster",
            "xlator/mgmt/glusterd.so",
            "xlator/storage/posix.so",
            "etc/glusterfs/glusterd.vol",
        ],
        "lab-http-server" => &[
            "usr/sbin/nginx",
            "kernel/fs/ext4/ext4.ko",
            "usr/lib/srbuild/hooks/cluster/50-http-server.sh",
        ],
        "lab-seed" => &[
            "usr/sbin/mount.ocfs2",
            "kernel/fs/gfs2/gfs2.ko",
            "kernel/fs/ocfs2/ocfs2.ko",
            "usr/lib/srbuild/hooks/cluster/50-lab-seed.sh",
        ],
        _ => unreachable!(),
    }
}

#[test]
fn all_five_profiles_build_with_their_tools_and_modules() {
    if !have_kernel() {
        panic!("no kernel under /lib/modules: install linux-image-amd64 (the README's test command does)");
    }
    let dir = tempfile::tempdir().unwrap();
    for profile in [
        "nfs",
        "gfs2",
        "ocfs2",
        "glusterfs",
        "ext3",
        "lab-nfs-server",
        "lab-seed",
        "lab-gluster-server",
        "lab-http-server",
    ] {
        let img = build(profile, dir.path(), &[]);
        let paths = listed_paths(&img);
        for want in expect(profile) {
            assert!(
                paths.iter().any(|p| p.ends_with(want)),
                "{profile}: {want} missing from the image"
            );
        }
        assert!(paths.iter().any(|p| p == "init"), "{profile}: no /init");
        // The glusterfs image must not drag in the server side (libicudata via glusterd.so).
        if profile == "glusterfs" {
            assert!(!paths
                .iter()
                .any(|p| p.contains("glusterd.so") || p.contains("libicudata")));
        }
        // /init and every hook parse as POSIX sh.
        let x = dir.path().join(format!("x-{profile}"));
        let o = run(&["extract", img.to_str().unwrap(), x.to_str().unwrap()]);
        assert!(o.status.success(), "{}", stderr(&o));
        let mut scripts = vec![x.join("init")];
        for e in walkdir(&x.join("usr/lib/srbuild/hooks")) {
            scripts.push(e);
        }
        for s in scripts {
            for shell in ["sh", "/bin/busybox"] {
                let mut c = std::process::Command::new(shell);
                if shell.ends_with("busybox") {
                    c.arg("sh");
                }
                let o = c.arg("-n").arg(&s).output().unwrap();
                assert!(
                    o.status.success(),
                    "{shell} -n {}: {}",
                    s.display(),
                    stderr(&o)
                );
            }
        }
    }
}

fn walkdir(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            if e.path().is_dir() {
                out.extend(walkdir(&e.path()));
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

#[test]
fn gnu_cpio_lists_the_same_entries() {
    let dir = tempfile::tempdir().unwrap();
    let img = build("nfs", dir.path(), &["--compress", "none"]);
    let o = std::process::Command::new("cpio")
        .args(["-t", "--quiet"])
        .stdin(std::fs::File::open(&img).unwrap())
        .output()
        .expect("GNU cpio is installed by the README's test command");
    assert!(o.status.success(), "{}", stderr(&o));
    let mut gnu: Vec<String> = stdout(&o).lines().map(str::to_string).collect();
    let mut ours = listed_paths(&img);
    gnu.sort();
    ours.sort();
    assert_eq!(gnu, ours);
    assert!(ours.len() > 50);
}

#[test]
fn two_builds_are_byte_identical_and_source_date_epoch_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let a = build("nfs", dir.path(), &[]);
    let a_bytes = std::fs::read(&a).unwrap();
    let b = build("nfs", dir.path(), &[]);
    assert_eq!(a_bytes, std::fs::read(&b).unwrap(), "two builds differ");

    let out = dir.path().join("epoch.img");
    let o = srbuild()
        .env("SOURCE_DATE_EPOCH", "1000000000")
        .args([
            "image",
            "--profile",
            "ext3",
            "--compress",
            "none",
            "-o",
            out.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let raw = std::fs::read(&out).unwrap();
    // newc header: magic(6) ino(8) mode(8) uid(8) gid(8) nlink(8) mtime(8)
    assert_eq!(&raw[0..6], b"070701");
    assert!(
        raw[46..54].eq_ignore_ascii_case(b"3B9ACA00"),
        "mtime is not SOURCE_DATE_EPOCH"
    );
}

#[test]
fn every_library_ldd_reports_is_in_the_image() {
    let dir = tempfile::tempdir().unwrap();
    for profile in ["nfs", "gfs2"] {
        let img = build(profile, dir.path(), &[]);
        let paths: std::collections::HashSet<String> = listed_paths(&img).into_iter().collect();
        let files = regular_files(&img);
        let mut checked = 0;
        for p in &files {
            let host = std::path::Path::new("/").join(p);
            let Ok(meta) = std::fs::symlink_metadata(&host) else {
                continue;
            };
            if !meta.is_file() || p.ends_with(".ko") {
                continue;
            }
            let mut head = [0u8; 4];
            use std::io::Read;
            if std::fs::File::open(&host)
                .and_then(|mut f| f.read_exact(&mut head))
                .is_err()
                || &head != b"\x7fELF"
            {
                continue;
            }
            // The oracle: ldd on the host (the builder itself never runs it).
            let o = std::process::Command::new("ldd")
                .arg(&host)
                .output()
                .unwrap();
            for line in stdout(&o).lines() {
                let lib = match line.split("=>").nth(1) {
                    Some(rest) => rest.split_whitespace().next().unwrap_or(""),
                    None => line.split_whitespace().next().unwrap_or(""),
                };
                if !lib.starts_with('/') {
                    continue;
                }
                let real = std::fs::canonicalize(lib).unwrap();
                let rel = real.to_string_lossy().trim_start_matches('/').to_string();
                assert!(
                    paths.contains(&rel),
                    "{profile}: {p} needs {lib} ({rel}) per ldd, not in the image"
                );
                checked += 1;
            }
        }
        assert!(
            checked > 20,
            "{profile}: only {checked} library links checked"
        );
    }
}

#[test]
fn nfs_module_closure_equals_modprobe_show_depends() {
    let dir = tempfile::tempdir().unwrap();
    let img = build("nfs", dir.path(), &[]);
    let kver = kver();
    let ours: std::collections::BTreeSet<String> = listed_paths(&img)
        .into_iter()
        .filter(|p| p.ends_with(".ko"))
        .map(|p| {
            p.rsplit('/')
                .next()
                .unwrap()
                .trim_end_matches(".ko")
                .replace('-', "_")
        })
        .collect();
    let mut theirs = std::collections::BTreeSet::new();
    // The nfs profile's kernel_modules: base drivers + nfs.
    for m in [
        "virtio_pci",
        "virtio_net",
        "virtio_blk",
        "e1000",
        "e1000e",
        "nfs",
        "nfsv3",
        "nfsv4",
    ] {
        let o = std::process::Command::new("modprobe")
            .args(["--show-depends", "-S", &kver, m])
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "modprobe --show-depends {m}: {}",
            stderr(&o)
        );
        for line in stdout(&o).lines() {
            if let Some(path) = line.strip_prefix("insmod ") {
                let file = path
                    .split_whitespace()
                    .next()
                    .unwrap()
                    .rsplit('/')
                    .next()
                    .unwrap();
                theirs.insert(file.split(".ko").next().unwrap().replace('-', "_"));
            }
        }
    }
    assert_eq!(ours, theirs);
}

/// Regular files of an image (per `srbuild ls`), so applet links to busybox are not
/// mistaken for the host's programs of the same name.
fn regular_files(img: &std::path::Path) -> Vec<String> {
    let o = run(&["ls", img.to_str().unwrap()]);
    stdout(&o)
        .lines()
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().nth(4).map(str::to_string))
        .collect()
}

#[test]
fn a_gluster_volfile_chooses_the_client_xlators() {
    let dir = tempfile::tempdir().unwrap();
    let vol = dir.path().join("client.vol");
    std::fs::write(
        &vol,
        "volume root-client-0\n    type protocol/client\n    option transport-type tcp\nend-volume\n\
         volume root-dht\n    type cluster/distribute\n    subvolumes root-client-0\nend-volume\n\
         volume root-write-behind\n    type performance/write-behind\n    subvolumes root-dht\nend-volume\n",
    )
    .unwrap();
    let default = listed_paths(&build("glusterfs", dir.path(), &[]));
    let img = dir.path().join("vol.img");
    let o = run(&[
        "image",
        "--profile",
        "glusterfs",
        "--cluster",
        sample_cluster(dir.path()).to_str().unwrap(),
        "--gluster-volfile",
        vol.to_str().unwrap(),
        "-o",
        img.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let chosen = listed_paths(&img);
    let has = |paths: &[String], x: &str| paths.iter().any(|p| p.ends_with(x));
    for x in [
        "xlator/protocol/client.so",
        "xlator/cluster/distribute.so",
        "xlator/performance/write-behind.so",
        "xlator/mount/fuse.so",
        "xlator/meta.so",
        "rpc-transport/socket.so",
    ] {
        assert!(has(&chosen, x), "{x} missing from the volfile image");
    }
    // The default set has more than this volfile asks for; those stay out.
    for x in [
        "xlator/performance/nl-cache.so",
        "xlator/performance/io-threads.so",
    ] {
        assert!(has(&default, x), "{x} is in the default set");
        assert!(
            !has(&chosen, x),
            "{x} is not in the volfile but in the image"
        );
    }
}

#[test]
fn a_library_already_loaded_by_soname_satisfies_later_needs_as_in_ld_so() {
    // systemd-analyze's RUNPATH finds libsystemd-shared; libsystemd-core needs it too but
    // has another RUNPATH. ld.so takes the loaded copy; so must the resolver.
    let prog = std::path::Path::new("/usr/bin/systemd-analyze");
    if !prog.exists() {
        eprintln!("skipped: no {} on this machine", prog.display());
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("sa.toml");
    std::fs::write(
        &profile,
        "inherits = \"base\"\nbinaries = [\"/usr/bin/systemd-analyze\"]\n",
    )
    .unwrap();
    let img = build(profile.to_str().unwrap(), dir.path(), &[]);
    let paths = listed_paths(&img);
    let o = std::process::Command::new("ldd")
        .arg(prog)
        .output()
        .unwrap();
    let ldd = String::from_utf8_lossy(&o.stdout);
    let mut checked = 0;
    for line in ldd.lines() {
        let Some(path) = line
            .split("=>")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        else {
            continue;
        };
        let name = path.rsplit('/').next().unwrap();
        assert!(
            paths.iter().any(|p| p.ends_with(name)),
            "{name} (ldd: {path}) is not in the image"
        );
        checked += 1;
    }
    assert!(checked >= 3, "ldd listed libraries: {ldd}");
    assert!(paths
        .iter()
        .any(|p| p.ends_with("libsystemd-shared-252.so") || p.contains("libsystemd-shared-")));
}
