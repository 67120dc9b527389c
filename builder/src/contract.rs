//! The boot contract: the files under `etc/srbuild` that the builder writes and `/init`
//! (or a hook, or a program in the booted root) reads. Each file has its path here, one
//! writer here, and its format documented on the writer; nothing else in the builder spells
//! these paths. ARCHITECTURE.md has the table (path, writer, format, reader), and
//! `builder/tests/boot_contract.rs` runs each shell reader against its writer's output.

use crate::error::{BuildError, Result};
use crate::plan::Plan;
use std::collections::BTreeSet;
use std::path::Path;

/// `name id mac[,mac] address/prefix gateway` per node ([`nodes_table`]).
pub const NODES: &str = "etc/srbuild/nodes";
/// The default kernel arguments, one line, read before `/proc/cmdline`.
pub const CMDLINE_DEFAULT: &str = "etc/srbuild/cmdline.default";
/// `profile=`, `kver=`, `modules=` lines: which build made the image.
pub const PROFILE: &str = "etc/srbuild/profile";
/// `NAME CLASS PATH NEEDS` per carried kernel module, in load order ([`LoadLine`]).
pub const MODULES_LOAD: &str = "etc/srbuild/modules.load";
/// The load list and the drivers' device aliases as shell, sourced at the modules stage
/// ([`write_modules_match`]).
pub const MODULES_MATCH: &str = "etc/srbuild/modules.match";
/// The buses the image's drivers name, one per line.
pub const MODULES_BUSES: &str = "etc/srbuild/modules.buses";
/// The cluster description, as given to `--cluster`.
pub const CLUSTER_TOML: &str = "etc/srbuild/cluster.toml";
/// The corosync authkey: a secret, never hashed or shown.
pub const AUTHKEY: &str = srbuild_archive::secret::COROSYNC_AUTHKEY;
/// The fence devices' passwords, `NODE.password` each: secrets, never hashed or shown.
pub const FENCE_DIR: &str = srbuild_archive::secret::FENCE_PASSWORD_DIR;

/// The CHAP secret of the root's iSCSI sessions: a secret, never hashed or shown.
pub const CHAP_SECRET: &str = srbuild_archive::secret::ISCSI_CHAP_SECRET;

/// Writes [`CHAP_SECRET`], mode 0400: the bytes `srbuild_cluster::Cluster::chap_secret`
/// read (one word of `srbuild_cluster::iscsi::chap_byte`), without a newline. The iscsi
/// module copies it into iscsid's configuration, the iscsi-target module into tgtd's
/// account.
pub fn write_chap_secret(plan: &mut Plan, secret: Vec<u8>) -> Result<()> {
    plan.insert_bytes(
        CHAP_SECRET,
        secret,
        0o400,
        "--cluster (iscsi.chap_secret_file)",
    )
}

/// The image path of member `node`'s fence password (under [`FENCE_DIR`]).
pub fn fence_password_path(node: &str) -> String {
    format!("{FENCE_DIR}/{node}.password")
}

/// Writes member `node`'s fence password ([`fence_password_path`]), mode 0400: the bytes
/// `srbuild_cluster::Cluster::fence_password` read, without a newline. The cluster-stack
/// hook copies it into the service chroot, where the fence agent reads it (`ipmitool -f`).
pub fn write_fence_password(plan: &mut Plan, node: &str, password: Vec<u8>) -> Result<()> {
    let by = format!("--cluster (fence password of node {node})");
    plan.insert_bytes(&fence_password_path(node), password, 0o400, &by)
}

/// Writes [`NODES`]: one line per node of `c`, `name id mac[,mac] address/prefix gateway`,
/// `-` for a missing address or gateway. `/init` finds its line by name or MAC.
pub fn write_nodes(plan: &mut Plan, c: &srbuild_cluster::Cluster) -> Result<()> {
    plan.insert_bytes(NODES, nodes_table(c).into_bytes(), 0o644, "--cluster")
}

/// The text of [`NODES`].
pub fn nodes_table(c: &srbuild_cluster::Cluster) -> String {
    let mut out = String::new();
    for n in &c.nodes {
        let addr = n.addresses.first();
        let gw = addr
            .and_then(|a| c.network_of(a))
            .and_then(|net| net.gateway)
            .map(|g| g.to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{} {} {} {} {}\n",
            n.name,
            n.id,
            n.macs.join(","),
            addr.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            gw
        ));
    }
    out
}

/// Writes [`CMDLINE_DEFAULT`]: `args` separated by spaces on one line (each was checked
/// to be one word by `check_kernel_arg`); `/init` splits it like `/proc/cmdline`.
pub fn write_cmdline_default(plan: &mut Plan, args: &[String], by: &str) -> Result<()> {
    let text = format!("{}\n", args.join(" "));
    plan.insert_bytes(CMDLINE_DEFAULT, text.into_bytes(), 0o644, by)
}

/// Writes [`PROFILE`]: `profile=NAME`, `kver=KVER`, `modules=A,B` (names are plain
/// words). The kernel hooks read it to tell srbuild's images from others.
pub fn write_profile(plan: &mut Plan, profile: &str, kver: &str, modules: &[String]) -> Result<()> {
    let text = format!(
        "profile={profile}\nkver={kver}\nmodules={}\n",
        modules.join(",")
    );
    plan.insert_bytes(PROFILE, text.into_bytes(), 0o644, "srbuild")
}

/// One line of [`MODULES_LOAD`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadLine {
    pub name: String,
    /// `driver`, `always` or `dep` (see `resolve::coldplug::Class`).
    pub class: &'static str,
    /// The plain `.ko` path under `lib/modules/KVER`.
    pub path: String,
    /// The module's closure in load order, without itself.
    pub needs: Vec<String>,
}

/// The text of [`MODULES_LOAD`]: `NAME CLASS PATH NEEDS` per line, NEEDS comma separated
/// or `-`; for programs and people (the lab's image check); the boot reads the same lines
/// from [`MODULES_MATCH`].
pub fn modules_load_text(lines: &[LoadLine]) -> String {
    lines
        .iter()
        .map(|l| {
            let needs = if l.needs.is_empty() {
                "-".to_string()
            } else {
                l.needs.join(",")
            };
            format!("{} {} {} {needs}\n", l.name, l.class, l.path)
        })
        .collect()
}

/// Writes [`MODULES_LOAD`] ([`modules_load_text`]).
pub fn write_modules_load(plan: &mut Plan, lines: &[LoadLine]) -> Result<()> {
    let text = modules_load_text(lines);
    plan.insert_bytes(MODULES_LOAD, text.into_bytes(), 0o644, "kernel modules")
}

/// Writes [`MODULES_MATCH`]: `text`, the load list and the drivers' device aliases as
/// shell (made by `resolve::modmatch::table_text` from the lines of [`MODULES_LOAD`]),
/// which `sr_modules_coldplug` (`templates/modules.sh`) sources.
pub fn write_modules_match(plan: &mut Plan, text: String) -> Result<()> {
    plan.insert_bytes(MODULES_MATCH, text.into_bytes(), 0o644, "kernel modules")
}

/// The text of [`MODULES_BUSES`]: one bus per line, sorted; read by `sr_modules_devices`.
pub fn modules_buses_text(buses: &BTreeSet<String>) -> String {
    buses.iter().map(|b| format!("{b}\n")).collect()
}

/// Writes [`MODULES_BUSES`] ([`modules_buses_text`]).
pub fn write_modules_buses(plan: &mut Plan, buses: &BTreeSet<String>) -> Result<()> {
    let text = modules_buses_text(buses);
    plan.insert_bytes(MODULES_BUSES, text.into_bytes(), 0o644, "kernel modules")
}

/// Writes [`CLUSTER_TOML`]: the description's bytes, unchanged (programs in the booted
/// root find it at `/etc/srbuild/cluster.toml`, `srbuild_cluster::DEFAULT_PATHS`).
pub fn write_cluster_toml(plan: &mut Plan, text: Vec<u8>) -> Result<()> {
    plan.insert_bytes(CLUSTER_TOML, text, 0o644, "--cluster")
}

/// Writes [`AUTHKEY`] from the key file at `path` ([`read_authkey`]), mode 0400.
pub fn write_authkey(plan: &mut Plan, path: &Path) -> Result<()> {
    plan.insert_bytes(AUTHKEY, read_authkey(path)?, 0o400, "--cluster (authkey)")
}

/// The corosync authkey: a secret, so it must be readable by its owner (root or the one
/// running srbuild) only, and the size corosync-keygen makes (128 to 4096 bytes).
pub fn read_authkey(path: &Path) -> Result<Vec<u8>> {
    use std::os::unix::fs::MetadataExt;
    let bad = |message: String| BuildError::Config {
        location: format!("authkey {}", path.display()),
        message,
    };
    if let Some(why) = crate::library::unsafe_reason(path) {
        return Err(bad(format!("refusing it: {why}")));
    }
    let m = std::fs::symlink_metadata(path).map_err(|e| BuildError::read(path, e))?;
    if !m.is_file() {
        return Err(bad(
            "not a regular file (a symlink?); name the key file itself".into(),
        ));
    }
    let me = unsafe { libc::geteuid() };
    if m.uid() != 0 && m.uid() != me {
        return Err(bad(format!(
            "owned by uid {}; it must belong to root (chown root)",
            m.uid()
        )));
    }
    if m.mode() & 0o077 != 0 {
        return Err(bad(format!(
            "mode {:o} lets group or others read it; chmod 0400 it (and make a new key: it may have leaked)",
            m.mode() & 0o7777
        )));
    }
    let key = std::fs::read(path).map_err(|e| BuildError::read(path, e))?;
    if !(128..=4096).contains(&key.len()) {
        return Err(bad(format!(
            "{} bytes; corosync wants 128 to 4096 (make one with corosync-keygen)",
            key.len()
        )));
    }
    Ok(key)
}
