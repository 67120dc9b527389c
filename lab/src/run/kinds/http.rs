//! The HTTP root: the lab makes a root image of the tree (`srbuild rootimage`) onto the
//! server node's data disk, the server serves it with nginx from its initramfs, and every
//! client fetches it into RAM (`root=http://SERVER/root.img`), checked against the hash
//! the image was made with (`srbuild.root_sha256=`). A hybrid root keeps its network paths
//! on NFS: the image leaves them out, and the server exports the tree as well.

use super::{Check, HybridFrom, Role, RoleDisk, RootArgs, RootKind, Sizes, Storage};
use crate::run::plan::ROOT_SHA256;
use crate::run::scenarios::Scenario;
use crate::timeout::scaled;
use std::time::Duration;

pub const KIND: RootKind = RootKind {
    name: "http",
    doc: "A server node serves a root image of the tree with nginx; every client fetches it into RAM over HTTP, checked against its SHA-256.",
    // The http profile holds nfs too (the network paths of srbuild.rootmode=hybrid):
    // needing both makes this kind, not nfs, the one that profile boots.
    modules: &["http", "nfs"],
    client_profile: "http",
    client_memory_mb: 384,
    // Each client's root is its own tmpfs, unpacked from the image.
    fstype: "tmpfs",
    shared: false,
    fencing: false,
    storage: Storage::ServerImage {
        dir: "www",
        file: "root.img",
    },
    networks: 1,
    sizes: Sizes {
        disk_mb: 256,
        source_mb: 0,
    },
    debian: None,
    seed: None,
    server: Some(Role {
        node: "server",
        profile: "lab-http-server",
        memory_mb: 256,
        append: &["srbuild.data=LABEL=labroot", "srbuild.http.dir=/www"],
        ready: "LAB-SERVER-READY",
        role: Some("http-server"),
        cpus: 1,
        disks: &[RoleDisk::Data],
    }),
    checks: &[Check::Ram],
    scenarios: &[
        Scenario::Normal,
        Scenario::LateServer,
        Scenario::BadHash,
        Scenario::HybridRoot,
    ],
    death_seen: None,
    recovery_seen: None,
    client_input: None,
    // The server's data disk holds the tree beside the image (under /root): the NFS
    // server exports it (its default srbuild.export=/srv/root, the NFSv4 root) and serves
    // the image with nginx (srbuild.http.dir=/www, as above).
    hybrid_from: Some(HybridFrom {
        fstype: "nfs",
        server_profile: "lab-nfs-http-server",
        client_args: &["srbuild.hybrid_from=nfs:{server_ip}:/:vers=4.2,lookupcache=positive"],
    }),
    options: &[],
    root_args,
};

fn root_args(a: &RootArgs) -> Vec<String> {
    let path = if a.wrong_root {
        "/no-such-root.img"
    } else {
        "/root.img"
    };
    vec![
        format!("root=http://{}{path}", a.server_ip),
        format!("srbuild.root_sha256={ROOT_SHA256}"),
        // Clients retry until the server serves (it may boot after them).
        format!(
            "srbuild.mount_timeout={}",
            scaled(Duration::from_secs(150)).as_secs()
        ),
    ]
}

#[cfg(test)]
mod tests {
    use crate::run::nodes::Expect;
    use crate::run::plan::{plan, ROOT_SHA256};
    use crate::run::recipe::Recipe;
    use crate::run::scenarios::Scenario;
    use crate::run::LabOptions;
    use std::path::PathBuf;

    fn opts(scenario: Scenario, nodes: usize) -> LabOptions {
        LabOptions {
            root: Some("http".into()),
            profile: None,
            nodes,
            slots: None,
            dir: PathBuf::from("RUN"),
            initrd: None,
            junit: None,
            scenario,
            kind_opts: vec![],
            kver: None,
            sysroot: crate::run::sysroots::Sysroot::Host,
            distro: None,
            append: vec![],
            detached: false,
            rootfs: crate::run::rootfs::RootFs::Busybox,
            server_first: false,
            together: false,
            bzimage: false,
        }
    }

    #[test]
    fn the_image_is_made_on_the_data_disk_and_its_hash_reaches_the_clients() {
        let kind = super::KIND;
        let mut p = plan(&opts(Scenario::Normal, 2), &super::KIND).unwrap();
        assert_eq!(kind.name, "http");
        let image = p
            .recipes
            .iter()
            .find_map(|r| match r {
                Recipe::RootImage { output, sum, .. } => Some((output.clone(), sum.clone())),
                _ => None,
            })
            .expect("a root image recipe");
        assert_eq!(image.0, PathBuf::from("RUN/artifacts/data/www/root.img"));
        assert_eq!(image.1, PathBuf::from("RUN/artifacts/root.img.sha256"));
        let clients = &p.phases.last().unwrap().nodes;
        assert!(clients.iter().all(|n| n.spec.append.contains(&format!(
            "root=http://10.77.0.1/root.img srbuild.root_sha256={ROOT_SHA256} "
        ))));
        let sum = "ab".repeat(32);
        p.fill(ROOT_SHA256, &sum);
        let a = &p.phases.last().unwrap().nodes[0].spec.append;
        assert!(a.contains(&format!("srbuild.root_sha256={sum} ")), "{a}");
        assert!(!a.contains(ROOT_SHA256), "{a}");
    }

    #[test]
    fn a_hybrid_root_leaves_usr_out_of_the_image_and_its_server_exports_the_tree() {
        let p = plan(&opts(Scenario::HybridRoot, 2), &super::KIND).unwrap();
        let exclude = p
            .recipes
            .iter()
            .find_map(|r| match r {
                Recipe::RootImage { exclude, .. } => Some(exclude.clone()),
                _ => None,
            })
            .expect("a root image recipe");
        assert_eq!(exclude, ["/usr"]);
        let server_image = |p: &crate::run::plan::LabPlan| {
            p.recipes
                .iter()
                .find_map(|r| match r {
                    Recipe::Image {
                        profile, output, ..
                    } if output.ends_with("initrd-server.img") => Some(profile.clone()),
                    _ => None,
                })
                .expect("a server image")
        };
        // nginx for the image, NFS for /usr, from the same data disk.
        assert_eq!(server_image(&p), "lab-nfs-http-server");
        let server = &p.phases[0].nodes[0].spec.append;
        assert!(server.contains("srbuild.http.dir=/www"), "{server}");
        // Without a hybrid root: nginx alone, and the whole tree in the image.
        let p = plan(&opts(Scenario::Normal, 2), &super::KIND).unwrap();
        assert_eq!(server_image(&p), "lab-http-server");
        assert!(p
            .recipes
            .iter()
            .any(|r| matches!(r, Recipe::RootImage { exclude, .. } if exclude.is_empty())));
    }

    #[test]
    fn a_bad_hash_comes_last_and_the_failure_must_name_both_hashes() {
        let mut p = plan(&opts(Scenario::BadHash, 1), &super::KIND).unwrap();
        let sum = "cd".repeat(32);
        p.fill(ROOT_SHA256, &sum);
        let n = &p.phases.last().unwrap().nodes[0];
        let zeros = "0".repeat(64);
        assert!(
            n.spec
                .append
                .ends_with(&format!("srbuild.root_sha256={zeros}")),
            "the wrong hash must come after the right one: {}",
            n.spec.append
        );
        let Expect::Verdict {
            fail_stage,
            why_has,
            ..
        } = &n.expect
        else {
            panic!("a client must reach a verdict");
        };
        assert_eq!(*fail_stage, Some("mount-root"));
        assert_eq!(
            why_has,
            &[format!(
                "the image at http://10.77.0.1/root.img has SHA-256 {sum}, but \
                 srbuild.root_sha256={zeros}; nothing of it was used (rebuild it, or give \
                 the hash srbuild rootimage printed)"
            )]
        );
    }
}
