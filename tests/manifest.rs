//! `srbuild image --json`: the manifest is JSON on stdout (the summary on stderr), two
//! builds of the same inputs print the same bytes when SOURCE_DATE_EPOCH is set, every
//! file's SHA-256 is that of the image's content, and the corosync authkey is marked
//! secret with no hash.

mod common;
use common::*;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::Path;

fn build_json(profile: &str, out: &Path, extra: &[&str], epoch: Option<&str>) -> String {
    assert!(
        have_kernel(),
        "no kernel under /lib/modules: install linux-image-amd64"
    );
    let mut cmd = srbuild();
    cmd.args(["image", "--profile", profile, "--json", "-o"])
        .arg(out)
        .args(extra);
    match epoch {
        Some(e) => cmd.env("SOURCE_DATE_EPOCH", e),
        None => cmd.env_remove("SOURCE_DATE_EPOCH"),
    };
    let o = cmd.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("srbuild: wrote "),
        "the summary goes to stderr with --json: {}",
        stderr(&o)
    );
    stdout(&o)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// SHA-256 of every regular file's content in the image, hardlinks resolved.
fn image_hashes(img: &Path) -> BTreeMap<String, String> {
    let mut by_path = BTreeMap::new();
    let mut groups: BTreeMap<srbuild_archive::HardlinkKey, String> = BTreeMap::new();
    let mut members = Vec::new();
    srbuild_archive::for_each_entry_with_body(img, |v, body| {
        if v.entry.mode & 0o170000 == 0o100000 {
            let mut data = Vec::new();
            body.read_to_end(&mut data).unwrap();
            let sum = hex(&Sha256::digest(&data));
            if let Some(k) = v.hardlink {
                if !data.is_empty() {
                    groups.insert(k, sum.clone());
                }
                members.push((v.entry.path.clone(), Some(k), sum));
            } else {
                members.push((v.entry.path.clone(), None, sum));
            }
        }
        Ok(())
    })
    .unwrap();
    for (p, k, sum) in members {
        let sum = k.and_then(|k| groups.get(&k).cloned()).unwrap_or(sum);
        by_path.insert(p, sum);
    }
    by_path
}

#[test]
fn two_builds_print_the_same_manifest_and_its_hashes_are_the_images() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.img"), d.path().join("b.img"));
    let ja = build_json("nfs", &a, &["--kernel-arg", "quiet"], Some("1700000000"));
    let jb = build_json("nfs", &b, &["--kernel-arg", "quiet"], Some("1700000000"));
    assert!(
        ja == jb,
        "manifests differ between two builds of the same inputs"
    );
    assert!(!ja.contains("build_seconds"), "{ja}");
    let m: serde_json::Value = serde_json::from_str(&ja).unwrap();
    assert_eq!(m["format"], 2);
    let inputs = &m["inputs"];
    assert_eq!(inputs["profile"]["name"], "nfs");
    assert_eq!(inputs["profile"]["sha256"].as_str().unwrap().len(), 64);
    assert_eq!(inputs["kernel_version"], kver().as_str());
    assert_eq!(inputs["sysroot"], "/");
    assert_eq!(inputs["compression"], "zstd");
    assert_eq!(inputs["source_date_epoch"], 1700000000);
    assert!(inputs["cluster"].is_null());
    assert_eq!(inputs["module_inputs"], serde_json::json!([]));
    assert_eq!(inputs["kernel_args"], serde_json::json!(["quiet"]));
    let modules: Vec<&str> = inputs["modules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["name"].as_str().unwrap())
        .collect();
    assert!(
        modules.contains(&"nfs") && modules.contains(&"base"),
        "{modules:?}"
    );

    let files = m["files"].as_array().unwrap();
    let listed = listed_paths(&a);
    assert_eq!(files.len(), listed.len(), "one record per image entry");
    let hashes = image_hashes(&a);
    let mut checked = 0;
    for f in files {
        let path = f["path"].as_str().unwrap();
        if f["type"] == "file" {
            assert_eq!(
                f["sha256"].as_str(),
                hashes.get(path).map(String::as_str),
                "{path}"
            );
            assert!(f["source"].is_string(), "{f}");
            checked += 1;
        }
        assert!(f["by"].is_string() && f["mode"].is_string(), "{f}");
    }
    assert_eq!(checked, hashes.len());
    let mount = files
        .iter()
        .find(|f| f["path"] == "usr/sbin/mount.nfs")
        .unwrap();
    assert_eq!(mount["cause"]["list"], "binaries");
    assert!(mount["source"]
        .as_str()
        .unwrap()
        .ends_with("sbin/mount.nfs"));
    let init = files.iter().find(|f| f["path"] == "init").unwrap();
    assert_eq!(init["source"], "generated");
    assert!(files
        .iter()
        .any(|f| f["cause"]["via"] == "DT_NEEDED" && f["cause"]["parent"] == "usr/sbin/mount.nfs"));

    let kmods = m["kernel_modules"].as_array().unwrap();
    let nfsv4 = kmods.iter().find(|k| k["name"] == "nfsv4").unwrap();
    assert!(nfsv4["path"]
        .as_str()
        .unwrap()
        .ends_with("kernel/fs/nfs/nfsv4.ko"));
    assert!(nfsv4["size"].as_u64().unwrap() > 0);
    let sizes = &m["sizes"];
    assert_eq!(
        sizes["compressed_bytes"].as_u64().unwrap(),
        std::fs::metadata(&a).unwrap().len()
    );
    assert!(sizes["uncompressed_bytes"].as_u64() > sizes["compressed_bytes"].as_u64());
}

#[test]
fn without_source_date_epoch_the_build_time_is_in_its_own_field() {
    let d = tempfile::tempdir().unwrap();
    let j = build_json("ext3", &d.path().join("e.img"), &[], None);
    let m: serde_json::Value = serde_json::from_str(&j).unwrap();
    assert!(m["build_seconds"].as_f64().unwrap() > 0.0, "{j}");
    assert_eq!(m["inputs"]["source_date_epoch"], 0);
}

#[test]
fn the_corosync_authkey_is_secret_and_never_hashed() {
    use std::os::unix::fs::PermissionsExt;
    let d = tempfile::tempdir().unwrap();
    let key = d.path().join("authkey");
    let secret = [0x5au8; 256];
    std::fs::write(&key, secret).unwrap();
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
    let plain = std::fs::read_to_string(sample_cluster(d.path())).unwrap();
    let cluster = d.path().join("crypto.toml");
    std::fs::write(
        &cluster,
        plain.replacen(
            "name = \"t\"\n",
            "name = \"t\"\ncrypto_cipher = \"aes256\"\ncrypto_hash = \"sha256\"\nauthkey = \"authkey\"\n",
            1,
        ),
    )
    .unwrap();
    let j = build_json(
        "gfs2",
        &d.path().join("g.img"),
        &["--cluster", cluster.to_str().unwrap()],
        Some("0"),
    );
    let m: serde_json::Value = serde_json::from_str(&j).unwrap();
    let key_rec = m["files"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "etc/srbuild/corosync-authkey")
        .expect("the authkey is in the image");
    assert_eq!(key_rec["secret"], true, "{key_rec}");
    assert!(key_rec.get("sha256").is_none(), "{key_rec}");
    assert_eq!(key_rec["mode"], "0400");
    // Neither the key's hash nor its bytes appear anywhere in the manifest.
    assert!(!j.contains(&hex(&Sha256::digest(secret))));
    assert!(!j.contains(&hex(&secret)));
    let c = &m["inputs"]["cluster"];
    assert_eq!(c["path"], cluster.to_str().unwrap());
    assert_eq!(
        c["sha256"].as_str().unwrap(),
        hex(&Sha256::digest(std::fs::read(&cluster).unwrap()))
    );
}
