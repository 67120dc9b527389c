//! `srbuild cluster netboot`: per-node iPXE scripts, PXELINUX configs and a
//! dnsmasq snippet for booting every node of a [`Cluster`] over the network. With
//! `--http-base URL` ([`crate::http_base`]), TFTP serves only the first-stage `boot.ipxe`
//! (`tftp/`), and the nodes' scripts, the kernel and the initrd are written into `http/`
//! for an HTTP server to serve at URL; no PXELINUX files then.

use crate::description::{Cidr, Cluster, Node};
use crate::error::ClusterError;
use crate::http_base::{check_http_base, HttpBase};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

/// File name of the kernel inside the output directory.
pub const KERNEL_NAME: &str = "vmlinuz";
/// File name of the initrd inside the output directory.
pub const INITRD_NAME: &str = "initrd.img";
/// Mode of the kernel and initrd in the output: TFTP servers serve world-readable files only.
pub const SERVED_MODE: u32 = 0o644;
/// The iPXE script dnsmasq hands to iPXE clients; it chains to `ipxe/<hostname>.ipxe`.
pub const IPXE_BOOT_NAME: &str = "boot.ipxe";
/// With `--http-base`: the directory of the output TFTP serves (only `boot.ipxe`).
pub const TFTP_DIR: &str = "tftp";
/// With `--http-base`: the directory of the output to serve at the base URL (the nodes'
/// scripts under `ipxe/`, the kernel and the initrd).
pub const HTTP_DIR: &str = "http";

/// What `netboot` writes and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetbootOptions {
    pub outdir: PathBuf,
    pub kernel: PathBuf,
    pub initrd: PathBuf,
    /// Arguments for every node, before `srbuild.node=<name>`.
    pub append: Option<String>,
    /// The `tftp-root=` in dnsmasq.conf (default: `outdir`, or `outdir/tftp` with
    /// `http_base`).
    pub tftp_root: Option<PathBuf>,
    /// `--http-base URL`: the kernel, the initrd and the nodes' scripts come over HTTP
    /// from URL, which serves `outdir/http`; TFTP serves only `boot.ipxe`.
    pub http_base: Option<String>,
}

/// What [`check_options`] found good: the TFTP root and the checked base URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    pub tftp_root: PathBuf,
    pub http_base: Option<HttpBase>,
}

/// The kernel command line for `node`: `append` + `srbuild.node=<name>` + its kernel_args.
pub fn kernel_args(node: &Node, append: Option<&str>) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(a) = append {
        if !a.trim().is_empty() {
            parts.push(a.trim().to_string());
        }
    }
    parts.push(format!("srbuild.node={}", node.name));
    parts.extend(node.kernel_args.iter().cloned());
    parts.join(" ")
}

/// The iPXE script of one node: the kernel and the initrd from the TFTP root, or with
/// `base` over HTTP from it.
pub fn ipxe_script(
    cluster: &Cluster,
    node: &Node,
    append: Option<&str>,
    base: Option<&HttpBase>,
) -> String {
    let from = base.map(HttpBase::as_str).unwrap_or("");
    format!(
        "#!ipxe\n# srbuild: node {} (id {}) of cluster {}\nkernel {from}/{KERNEL_NAME} initrd={INITRD_NAME} {}\ninitrd {from}/{INITRD_NAME}\nboot\n",
        node.name,
        node.id,
        cluster.name,
        kernel_args(node, append)
    )
}

/// `boot.ipxe`: chains to the node's script, named by the hostname DHCP gave, from the
/// TFTP root or with `base` over HTTP.
pub fn ipxe_boot_script(base: Option<&HttpBase>) -> String {
    match base {
        None => "#!ipxe\n# srbuild: chain to this node's script (hostname from DHCP)\nchain /ipxe/${hostname}.ipxe || shell\n".to_string(),
        Some(b) => format!(
            "#!ipxe\n# srbuild: chain to this node's script over HTTP (hostname from DHCP)\nchain {} || shell\n",
            b.join("ipxe/${hostname}.ipxe")
        ),
    }
}

/// The PXELINUX config of one node.
pub fn pxelinux_config(cluster: &Cluster, node: &Node, append: Option<&str>) -> String {
    format!(
        "# srbuild: node {} (id {}) of cluster {}\nDEFAULT srbuild\nLABEL srbuild\n  KERNEL {KERNEL_NAME}\n  INITRD {INITRD_NAME}\n  APPEND {}\n",
        node.name,
        node.id,
        cluster.name,
        kernel_args(node, append)
    )
}

/// `pxelinux.cfg/` file name for a MAC: `01-aa-bb-cc-dd-ee-ff`.
pub fn pxelinux_name(mac: &str) -> String {
    format!("01-{}", mac.replace(':', "-"))
}

/// The dnsmasq configuration snippet. With `http` (netboot over HTTP) only iPXE clients
/// get a boot file: there are no PXELINUX files.
pub fn dnsmasq_conf(cluster: &Cluster, tftp_root: &Path, http: bool) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "# srbuild: netboot for cluster {}", cluster.name);
    let _ = writeln!(s, "enable-tftp");
    let _ = writeln!(s, "tftp-root={}", tftp_root.display());
    if cluster.networks.is_empty() {
        // No declared networks: one static range per primary-address network.
        let nets: BTreeSet<(String, String)> = cluster
            .nodes
            .iter()
            .filter_map(|n| n.primary())
            .filter(|c| c.addr.is_ipv4())
            .map(|c| (c.network().to_string(), c.netmask()))
            .collect();
        for (net, mask) in nets {
            let _ = writeln!(s, "dhcp-range={net},static,{mask}");
        }
    }
    for net in &cluster.networks {
        if !net.cidr.addr.is_ipv4() {
            continue;
        }
        let tag = tag_name(&net.name);
        let _ = writeln!(
            s,
            "dhcp-range=set:{tag},{},static,{}",
            net.cidr.network(),
            net.cidr.netmask()
        );
        if let Some(gw) = net.gateway {
            let _ = writeln!(s, "dhcp-option=tag:{tag},option:router,{gw}");
        }
        let dns: Vec<String> = net
            .dns
            .iter()
            .filter(|d| d.is_ipv4())
            .map(IpAddr::to_string)
            .collect();
        if !dns.is_empty() {
            let _ = writeln!(
                s,
                "dhcp-option=tag:{tag},option:dns-server,{}",
                dns.join(",")
            );
        }
    }
    for node in &cluster.nodes {
        let v4: Vec<&Cidr> = node.addresses.iter().filter(|a| a.addr.is_ipv4()).collect();
        for (i, mac) in node.macs.iter().enumerate() {
            match v4.get(i) {
                Some(a) => {
                    let _ = writeln!(s, "dhcp-host={mac},{},{}", a.addr, node.name);
                }
                None => {
                    let _ = writeln!(s, "dhcp-host={mac},{}", node.name);
                }
            }
        }
    }
    let _ = writeln!(s, "dhcp-match=set:ipxe,175");
    if http {
        let _ = writeln!(
            s,
            "# netboot over HTTP: firmware without iPXE gets no boot file (chainload iPXE)"
        );
    } else {
        let _ = writeln!(s, "dhcp-boot=tag:!ipxe,pxelinux.0");
    }
    let _ = writeln!(s, "dhcp-boot=tag:ipxe,{IPXE_BOOT_NAME}");
    s
}

fn tag_name(name: &str) -> String {
    let t: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("net_{t}")
}

/// Every file goes in by rename: a symlink already in OUTDIR is replaced, never written
/// through, and so is a symlinked subdirectory.
fn write(path: &Path, text: &str) -> Result<(), ClusterError> {
    crate::fsutil::replace_file(path, text.as_bytes())
}

fn mkdir(path: &Path) -> Result<(), ClusterError> {
    crate::fsutil::real_dir(path)
}

/// Refuses an initrd that holds a secret (`srbuild_archive::SECRET_PATHS` and
/// `SECRET_DIRS`: the corosync authkey, the fence passwords) unless `allow`: netboot serves it world-readable to the boot network. Returns
/// a note for the command's output (empty when there is nothing to say): the secrets
/// published with `allow`. An image that cannot be read to look is refused too, unless
/// `allow`.
pub fn check_secrets(initrd: &Path, allow: bool) -> Result<String, ClusterError> {
    let found = match srbuild_archive::secrets_in_image(initrd) {
        Ok(f) => f,
        // What cannot be read cannot be shown to hold no secret.
        Err(e) if allow => {
            return Ok(format!(
                "\nwarning: {} could not be read as an initramfs to look for secrets ({e}); \
                 published as --allow-secrets says",
                initrd.display()
            ))
        }
        Err(e) => {
            return Err(ClusterError::Usage(format!(
                "{} could not be read as an initramfs to look for secrets ({e}); netboot \
                 publishes it world-readable, so give an image srbuild can read (zstd, gzip, \
                 xz, lz4 or none), or pass --allow-secrets if only trusted machines share the \
                 boot network",
                initrd.display()
            )))
        }
    };
    let Some((name, what)) = found.first() else {
        return Ok(String::new());
    };
    let named = format!(
        "{} holds a secret, {what} ({}), which netboot would publish world-readable to any \
         machine on the boot network",
        initrd.display(),
        srbuild_archive::escape_name(name)
    );
    if allow {
        return Ok(format!("\nwarning: {named} (--allow-secrets)"));
    }
    Err(ClusterError::Usage(format!(
        "{named}; build the netboot image without it, or pass --allow-secrets if only \
         trusted machines share the boot network"
    )))
}

/// Writes all netboot files into `opts.outdir`; returns the files written.
pub fn write_netboot(
    cluster: &Cluster,
    opts: &NetbootOptions,
) -> Result<Vec<PathBuf>, ClusterError> {
    let checked = check_options(opts)?;
    match &checked.http_base {
        None => write_tftp(cluster, opts, &checked.tftp_root),
        Some(base) => write_http(cluster, opts, &checked.tftp_root, base),
    }
}

/// Everything over TFTP from `opts.outdir`: scripts, PXELINUX configs, kernel, initrd.
fn write_tftp(
    cluster: &Cluster,
    opts: &NetbootOptions,
    tftp_root: &Path,
) -> Result<Vec<PathBuf>, ClusterError> {
    let out = &opts.outdir;
    let append = opts.append.as_deref();
    let mut written = Vec::new();
    mkdir(&out.join("ipxe"))?;
    mkdir(&out.join("pxelinux.cfg"))?;
    for node in &cluster.nodes {
        let p = out.join("ipxe").join(format!("{}.ipxe", node.name));
        write(&p, &ipxe_script(cluster, node, append, None))?;
        written.push(p);
        for mac in &node.macs {
            let p = out.join("pxelinux.cfg").join(pxelinux_name(mac));
            write(&p, &pxelinux_config(cluster, node, append))?;
            written.push(p);
        }
    }
    write_boot_files(cluster, opts, tftp_root, (out, out), None, &mut written)?;
    Ok(written)
}

/// TFTP serves `outdir/tftp/boot.ipxe` only; `outdir/http` holds the nodes' scripts, the
/// kernel and the initrd for the HTTP server at `base`; `outdir/dnsmasq.conf` beside them.
fn write_http(
    cluster: &Cluster,
    opts: &NetbootOptions,
    tftp_root: &Path,
    base: &HttpBase,
) -> Result<Vec<PathBuf>, ClusterError> {
    let out = &opts.outdir;
    let append = opts.append.as_deref();
    let (tftp, http) = (out.join(TFTP_DIR), out.join(HTTP_DIR));
    let mut written = Vec::new();
    mkdir(&tftp)?;
    mkdir(&http)?;
    mkdir(&http.join("ipxe"))?;
    for node in &cluster.nodes {
        let p = http.join("ipxe").join(format!("{}.ipxe", node.name));
        write(&p, &ipxe_script(cluster, node, append, Some(base)))?;
        written.push(p);
    }
    write_boot_files(
        cluster,
        opts,
        tftp_root,
        (&tftp, &http),
        Some(base),
        &mut written,
    )?;
    Ok(written)
}

/// What both modes write: the first-stage iPXE script in `tftp`, `dnsmasq.conf` in
/// `opts.outdir`, and the kernel and initrd in `served` (TFTP's or HTTP's tree).
fn write_boot_files(
    cluster: &Cluster,
    opts: &NetbootOptions,
    tftp_root: &Path,
    (tftp, served): (&Path, &Path),
    base: Option<&HttpBase>,
    written: &mut Vec<PathBuf>,
) -> Result<(), ClusterError> {
    let boot = tftp.join(IPXE_BOOT_NAME);
    write(&boot, &ipxe_boot_script(base))?;
    written.push(boot);
    let conf = opts.outdir.join("dnsmasq.conf");
    write(&conf, &dnsmasq_conf(cluster, tftp_root, base.is_some()))?;
    written.push(conf);
    for (src, name) in [(&opts.kernel, KERNEL_NAME), (&opts.initrd, INITRD_NAME)] {
        let dst = served.join(name);
        publish(src, &dst)?;
        written.push(dst);
    }
    Ok(())
}

/// Puts `src` at `dst`, world-readable (through `srbuild_fsio`, never through a link).
fn publish(src: &Path, dst: &Path) -> Result<(), ClusterError> {
    let same = match (src.canonicalize(), dst.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    // World-readable: dnsmasq's TFTP serves no other files (a private 0600 image gets
    // "Permission denied"), nginx's workers run as nobody, and the network hands them to
    // any client anyway. A link in the output is replaced by a copy, never chmod-ed
    // through: it may lead to a private image elsewhere (the source itself).
    let is_link = std::fs::symlink_metadata(dst).is_ok_and(|m| m.file_type().is_symlink());
    if same && !is_link {
        srbuild_fsio::chmod_nofollow(dst, SERVED_MODE)
            .map_err(|e| ClusterError::io("make world-readable", dst, e))
    } else {
        crate::fsutil::replace_with_copy(src, dst, SERVED_MODE)
    }
}

/// Checks `opts` before anything is read or written (the kernel and initrd are files,
/// `--append` holds kernel arguments only, the TFTP root fits `dnsmasq.conf`, the base
/// URL is one [`check_http_base`] takes); returns the TFTP root and the base URL.
pub fn check_options(opts: &NetbootOptions) -> Result<Checked, ClusterError> {
    for f in [&opts.kernel, &opts.initrd] {
        if !f.is_file() {
            return Err(ClusterError::Usage(format!(
                "{} is not a file; pass the kernel with --kernel and the initrd with --initrd",
                f.display()
            )));
        }
    }
    // What goes into dnsmasq.conf, iPXE and pxelinux files must not add lines of its own.
    if let Some(a) = &opts.append {
        for w in a.split(' ').filter(|w| !w.is_empty()) {
            crate::description::check_kernel_arg(w)
                .map_err(|e| ClusterError::Usage(format!("--append: {e}")))?;
        }
    }
    let http_base = opts.http_base.as_deref().map(check_http_base).transpose()?;
    let out = &opts.outdir;
    // dnsmasq.conf's `tftp-root=DIR[,INTERFACE]`: a comma would start a second field, a
    // control character a new line.
    let (tftp_root, source) = match &opts.tftp_root {
        Some(t) => (t.clone(), "--tftp-root"),
        None => {
            let abs = std::path::absolute(out).unwrap_or_else(|_| out.to_path_buf());
            match http_base {
                Some(_) => (abs.join(TFTP_DIR), "the output directory"),
                None => (abs, "the output directory"),
            }
        }
    };
    let text = tftp_root.to_string_lossy();
    if text.chars().any(|c| c.is_control() || c == ',') {
        return Err(ClusterError::Usage(format!(
            "{source} {:?} contains a comma or a control character, which dnsmasq.conf's \
             tftp-root= cannot carry (a comma starts a second field); use a directory \
             without one",
            tftp_root
        )));
    }
    Ok(Checked {
        tftp_root,
        http_base,
    })
}
