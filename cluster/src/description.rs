//! The cluster description `cluster.toml`: its types ([`Cluster`], [`Network`],
//! [`Node`], [`FailoverDomain`], [`Cidr`]), loading, and validation with
//! line-accurate diagnostics. A node's fence device is `fence.rs`.

use crate::error::{ClusterError, Diagnostic};
use crate::fence::{FenceDevice, RawFence};
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use toml::Spanned;

/// Default locations searched by [`Cluster::find_default`], in order.
pub const DEFAULT_PATHS: &[&str] = &["cluster.toml", "/etc/srbuild/cluster.toml"];

/// An IP address with a prefix length, e.g. `10.77.0.11/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Cidr {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Cidr {
    fn mask_bits(&self) -> u128 {
        let width: u32 = if self.addr.is_ipv4() { 32 } else { 128 };
        let prefix = u32::from(self.prefix).min(width);
        let all: u128 = if width == 32 {
            u128::from(u32::MAX)
        } else {
            u128::MAX
        };
        if prefix == 0 {
            0
        } else {
            (all << (width - prefix)) & all
        }
    }

    /// The netmask in dotted form (`255.255.255.0`); for IPv6 the mask as an
    /// IPv6 address (`ffff:ffff::`).
    pub fn netmask(&self) -> String {
        match self.addr {
            IpAddr::V4(_) => Ipv4Addr::from(self.mask_bits() as u32).to_string(),
            IpAddr::V6(_) => Ipv6Addr::from(self.mask_bits()).to_string(),
        }
    }

    /// The network address (host bits cleared), e.g. `10.77.0.0`.
    pub fn network(&self) -> IpAddr {
        match self.addr {
            IpAddr::V4(a) => IpAddr::V4(Ipv4Addr::from(u32::from(a) & self.mask_bits() as u32)),
            IpAddr::V6(a) => IpAddr::V6(Ipv6Addr::from(u128::from(a) & self.mask_bits())),
        }
    }

    /// Whether `ip` lies inside this network (same family, same prefix bits).
    pub fn contains(&self, ip: &IpAddr) -> bool {
        let mask = self.mask_bits();
        match (self.addr, ip) {
            (IpAddr::V4(a), IpAddr::V4(b)) => {
                (u128::from(u32::from(a)) & mask) == (u128::from(u32::from(*b)) & mask)
            }
            (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a) & mask) == (u128::from(*b) & mask),
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

impl FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (addr, prefix) = s
            .split_once('/')
            .ok_or_else(|| format!("'{s}' is not in ADDRESS/PREFIX form (e.g. 10.77.0.11/24)"))?;
        let addr: IpAddr = addr
            .parse()
            .map_err(|_| format!("'{addr}' in '{s}' is not an IP address"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix: u8 = prefix
            .parse()
            .ok()
            .filter(|p| *p <= max)
            .ok_or_else(|| format!("prefix '/{prefix}' in '{s}' must be a number 0..={max}"))?;
        Ok(Cidr { addr, prefix })
    }
}

/// A network the nodes live on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    pub name: String,
    pub cidr: Cidr,
    pub gateway: Option<IpAddr>,
    pub dns: Vec<IpAddr>,
}

/// One cluster node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub name: String,
    /// 1..=255, unique (corosync/o2cb/dlm node id).
    pub id: u32,
    /// Lowercase, colon-separated (`52:54:00:77:00:11`).
    pub macs: Vec<String>,
    /// The first one is the primary address.
    pub addresses: Vec<Cidr>,
    pub kernel_args: Vec<String>,
    /// Free-form role names (for the site's own tools; srbuild does not interpret them).
    pub roles: Vec<String>,
    /// A member of the cluster stack (`member = true`, the default): rendered into
    /// `corosync.conf` and the o2cb `cluster.conf`. A service node that serves the cluster
    /// (a file server, a seed) says `member = false`.
    pub member: bool,
    /// The BMC that powers the node off when dlm fences it (`[node.fence]`).
    pub fence: Option<FenceDevice>,
    /// The node's iSCSI initiator name (`iscsi_initiator`), checked by
    /// [`valid_iscsi_name`] and unique; without it, the image makes one from the node name.
    pub iscsi_initiator: Option<String>,
}

impl Node {
    /// Whether the node is a member of the cluster stack (`member`, default true).
    pub fn is_member(&self) -> bool {
        self.member
    }

    /// The primary address, if the node has any.
    pub fn primary(&self) -> Option<&Cidr> {
        self.addresses.first()
    }
}

/// A failover domain: a named set of nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailoverDomain {
    pub name: String,
    pub nodes: Vec<String>,
}

/// A validated cluster description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cluster {
    pub name: String,
    /// corosync's knet crypto (`none` without an authkey).
    pub crypto: Crypto,
    pub networks: Vec<Network>,
    pub nodes: Vec<Node>,
    pub failover_domains: Vec<FailoverDomain>,
    /// `[iscsi]`: the CHAP account of the root's iSCSI sessions, if the targets require one.
    pub iscsi: Option<crate::iscsi::IscsiAuth>,
    /// corosync's totem `token` timeout in milliseconds (`token_ms`), within [`TOKEN_MS`];
    /// None keeps corosync's default (3000 ms, plus 650 ms per member past two).
    pub token_ms: Option<u32>,
    /// The file it was loaded from (as resolved by [`Cluster::load`]).
    pub source: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    cluster: Option<Spanned<RawClusterSection>>,
    #[serde(default)]
    network: Vec<Spanned<RawNetwork>>,
    #[serde(default)]
    node: Vec<Spanned<RawNode>>,
    #[serde(default)]
    failover_domain: Vec<Spanned<RawDomain>>,
    iscsi: Option<crate::iscsi::RawIscsi>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawClusterSection {
    name: Spanned<String>,
    crypto_cipher: Option<Spanned<String>>,
    crypto_hash: Option<Spanned<String>>,
    authkey: Option<Spanned<String>>,
    token_ms: Option<Spanned<i64>>,
}

/// The `token_ms` a description may set: from a fast LAN's 1 s to the 5 minutes an
/// emulated or heavily loaded machine may need.
pub const TOKEN_MS: std::ops::RangeInclusive<u32> = 1000..=300_000;

/// corosync knet crypto settings of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Crypto {
    /// `none`, `aes256`, `aes192` or `aes128`.
    pub cipher: String,
    /// `none`, `md5`, `sha1`, `sha256`, `sha384` or `sha512`.
    pub hash: String,
    /// The shared key (`corosync-keygen`), relative paths taken from the description's
    /// directory. Required when the cipher or hash is not `none`.
    pub authkey: Option<PathBuf>,
}

impl Default for Crypto {
    fn default() -> Self {
        Crypto {
            cipher: "none".into(),
            hash: "none".into(),
            authkey: None,
        }
    }
}

const CIPHERS: &[&str] = &["none", "aes256", "aes192", "aes128"];
const HASHES: &[&str] = &["none", "md5", "sha1", "sha256", "sha384", "sha512"];

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    name: Spanned<String>,
    cidr: Spanned<String>,
    gateway: Option<Spanned<String>>,
    #[serde(default)]
    dns: Vec<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNode {
    name: Spanned<String>,
    id: Spanned<i64>,
    macs: Spanned<Vec<Spanned<String>>>,
    #[serde(default)]
    addresses: Vec<Spanned<String>>,
    #[serde(default)]
    kernel_args: Vec<String>,
    #[serde(default)]
    roles: Vec<String>,
    member: Option<bool>,
    fence: Option<Spanned<RawFence>>,
    iscsi_initiator: Option<Spanned<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDomain {
    name: Spanned<String>,
    #[serde(default)]
    nodes: Vec<Spanned<String>>,
}

/// Whether `s` is an iSCSI name as RFC 3720 (3.2.6) writes one, and as `/init` checks it
/// (`lib/iscsi.sh`, `sr_iqn`): `iqn.YYYY-MM.` then a lower-case reversed domain and an
/// optional `:name`, of `[a-z0-9.:-]`; or `eui.` and 16 upper-case hex digits; at most 223
/// bytes.
pub fn valid_iscsi_name(s: &str) -> bool {
    if s.len() > 223 {
        return false;
    }
    if let Some(rest) = s.strip_prefix("eui.") {
        return rest.len() == 16
            && rest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b));
    }
    let Some(rest) = s.strip_prefix("iqn.") else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() > 8
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'.'
        && (b[8].is_ascii_lowercase() || b[8].is_ascii_digit())
        && b[8..].iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b':' | b'-')
        })
}

/// The initiator name `/init` gives a node without one (`iscsi-login.sh.hbs`): the node's
/// name in lower case, anything outside `[a-z0-9.-]` as `-`, after `iqn.2026-12.org.srbuild:`.
pub fn default_iscsi_name(node: &str) -> String {
    let tail: String = node
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("iqn.2026-12.org.srbuild:{tail}")
}

/// Normalises a MAC address written with `:` or `-` to lowercase `aa:bb:cc:dd:ee:ff`.
pub fn normalize_mac(mac: &str) -> Result<String, String> {
    let parts: Vec<&str> = mac.split([':', '-']).collect();
    let ok = parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()));
    if !ok {
        return Err(format!(
            "malformed MAC '{}'; write six hex pairs separated by ':' or '-' (e.g. 52:54:00:77:00:11)",
            mac.chars().take(40).collect::<String>()
        ));
    }
    let first = u8::from_str_radix(parts[0], 16).unwrap_or(0);
    if first & 1 == 1 || parts.iter().all(|p| *p == "00") {
        return Err(format!(
            "MAC '{mac}' is a multicast, broadcast or all-zero address, never a network card's; \
             use the card's own (unicast) address"
        ));
    }
    Ok(parts.join(":").to_ascii_lowercase())
}

fn valid_cluster_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// One kernel command-line word: printable, no whitespace, no quote characters, at most
/// 1024 bytes. It reaches boot loader scripts (iPXE, pxelinux) and `/init` as is, so a
/// newline or a quote could add lines or words of its own.
pub fn check_kernel_arg(arg: &str) -> Result<(), String> {
    let shown: String = arg
        .chars()
        .take(60)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if arg.is_empty() {
        return Err("an empty kernel argument".into());
    }
    if arg.len() > 1024 {
        return Err(format!(
            "kernel argument \"{shown}…\" is longer than 1024 bytes"
        ));
    }
    if let Some(c) = arg
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '\\'))
    {
        return Err(format!(
            "kernel argument \"{shown}\" contains {:?}, which a kernel command line or a boot \
             script cannot carry; give each argument as one word of printable characters",
            c
        ));
    }
    // iPXE expands `${name}` settings in a script's lines, and pxelinux has its own
    // substitutions: an argument must reach the kernel as written.
    if arg.contains("${") {
        return Err(format!(
            "kernel argument \"{shown}\" contains \"${{\", which iPXE would expand as a \
             setting; give the value itself"
        ));
    }
    Ok(())
}

/// Hostname-like: `[a-z0-9-]`, 1..=63 characters, not starting or ending with `-`.
pub fn valid_node_name(s: &str) -> bool {
    (1..=63).contains(&s.len())
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Translates a byte offset into 1-based (line, column).
/// 1-based line and column of a byte offset (shared by every TOML error srbuild reports).
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let col = before
        .rsplit('\n')
        .next()
        .map(|l| l.chars().count())
        .unwrap_or(0)
        + 1;
    (line, col)
}

struct Checker<'a> {
    text: &'a str,
    source: &'a Path,
    diags: Vec<Diagnostic>,
}

impl Checker<'_> {
    fn at(&mut self, span: Range<usize>, message: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.diags.push(Diagnostic {
            file: self.source.to_path_buf(),
            line,
            column,
            message: message.into(),
        });
    }
}

fn toml_hint(message: &str) -> String {
    let m = message.trim();
    if m.contains("unknown field") {
        format!("{m}; remove or rename the key (see the cluster.toml format)")
    } else if m.contains("missing field") {
        format!("{m}; add it")
    } else {
        m.to_string()
    }
}

impl Cluster {
    /// Reads and validates `path`. `source` is set to the path as given.
    pub fn load(path: &Path) -> Result<Cluster, ClusterError> {
        let text = std::fs::read_to_string(path).map_err(|e| ClusterError::io("read", path, e))?;
        Cluster::parse(&text, path)
    }

    /// Loads `--cluster FILE` if given, else the first default that exists.
    pub fn load_or_default(path: Option<&Path>) -> Result<Cluster, ClusterError> {
        match path {
            Some(p) => Cluster::load(p),
            None => Cluster::load(&Cluster::find_default().ok_or(ClusterError::NotFound)?),
        }
    }

    /// `./cluster.toml`, then `/etc/srbuild/cluster.toml`, whichever exists first.
    pub fn find_default() -> Option<PathBuf> {
        DEFAULT_PATHS
            .iter()
            .map(PathBuf::from)
            .find(|p| p.is_file())
    }

    /// Parses and validates `text`; `source` names the file in diagnostics.
    pub fn parse(text: &str, source: &Path) -> Result<Cluster, ClusterError> {
        let mut ck = Checker {
            text,
            source,
            diags: Vec::new(),
        };
        let raw: RawFile = match toml::from_str(text) {
            Ok(r) => r,
            Err(e) => {
                ck.at(e.span().unwrap_or(0..0), toml_hint(e.message()));
                return Err(ClusterError::Invalid(ck.diags));
            }
        };

        let name = match &raw.cluster {
            None => {
                ck.at(
                    0..0,
                    "missing [cluster] table; add `[cluster]` with `name = \"...\"` at the top",
                );
                String::new()
            }
            Some(c) => {
                let n = c.get_ref().name.get_ref();
                if !valid_cluster_name(n) {
                    ck.at(
                        c.get_ref().name.span(),
                        format!(
                            "invalid cluster name '{n}'; use 1-32 characters from A-Z a-z 0-9 _ -"
                        ),
                    );
                }
                n.clone()
            }
        };
        let mut crypto = Crypto::default();
        let mut token_ms = None;
        if let Some(c) = &raw.cluster {
            let c = c.get_ref();
            if let Some(t) = &c.token_ms {
                match u32::try_from(*t.get_ref()) {
                    Ok(v) if TOKEN_MS.contains(&v) => token_ms = Some(v),
                    _ => ck.at(
                        t.span(),
                        format!(
                            "token_ms = {} is out of range; corosync's token timeout is given in milliseconds, from {} to {} (the default is corosync's 3000)",
                            t.get_ref(),
                            TOKEN_MS.start(),
                            TOKEN_MS.end()
                        ),
                    ),
                }
            }
            for (field, allowed, into) in [
                (&c.crypto_cipher, CIPHERS, &mut crypto.cipher),
                (&c.crypto_hash, HASHES, &mut crypto.hash),
            ] {
                if let Some(v) = field {
                    if allowed.contains(&v.get_ref().as_str()) {
                        *into = v.get_ref().clone();
                    } else {
                        ck.at(
                            v.span(),
                            format!(
                                "unknown value {:?}; use one of: {}",
                                v.get_ref().chars().take(40).collect::<String>(),
                                allowed.join(", ")
                            ),
                        );
                    }
                }
            }
            if crypto.cipher != "none" && crypto.hash == "none" {
                let span = c.crypto_cipher.as_ref().map(|v| v.span()).unwrap_or(0..0);
                ck.at(
                    span,
                    "crypto_cipher needs a crypto_hash too (corosync refuses a cipher without one); add crypto_hash = \"sha256\"",
                );
            }
            if let Some(k) = &c.authkey {
                if k.get_ref().is_empty() || k.get_ref().chars().any(char::is_control) {
                    ck.at(k.span(), "authkey must be a path to the key file");
                }
                crypto.authkey = Some(crate::secret_file::beside(source, k.get_ref()));
            } else if crypto.cipher != "none" || crypto.hash != "none" {
                let span = c
                    .crypto_cipher
                    .as_ref()
                    .or(c.crypto_hash.as_ref())
                    .map(|v| v.span())
                    .unwrap_or(0..0);
                ck.at(
                    span,
                    "corosync crypto needs the shared key: add authkey = \"authkey\" (made with corosync-keygen, readable only by root)",
                );
            }
        }

        let mut networks = Vec::new();
        let mut net_names: HashMap<String, ()> = HashMap::new();
        for rn in &raw.network {
            let rn = rn.get_ref();
            let nname = rn.name.get_ref().clone();
            if nname.is_empty() {
                ck.at(
                    rn.name.span(),
                    "empty network name; give the network a name",
                );
            } else if net_names.insert(nname.clone(), ()).is_some() {
                ck.at(
                    rn.name.span(),
                    format!("duplicate network name '{nname}'; give each network its own name"),
                );
            }
            let cidr = match rn.cidr.get_ref().parse::<Cidr>() {
                Ok(c) => Some(c),
                Err(e) => {
                    ck.at(rn.cidr.span(), format!("malformed network CIDR: {e}"));
                    None
                }
            };
            let gateway = match &rn.gateway {
                None => None,
                Some(g) => match g.get_ref().parse::<IpAddr>() {
                    Ok(ip) => Some(ip),
                    Err(_) => {
                        ck.at(
                            g.span(),
                            format!(
                                "malformed gateway '{}'; write a plain IP address",
                                g.get_ref()
                            ),
                        );
                        None
                    }
                },
            };
            let mut dns = Vec::new();
            for d in &rn.dns {
                match d.get_ref().parse::<IpAddr>() {
                    Ok(ip) => dns.push(ip),
                    Err(_) => ck.at(
                        d.span(),
                        format!(
                            "malformed DNS server '{}'; write a plain IP address",
                            d.get_ref()
                        ),
                    ),
                }
            }
            if let Some(cidr) = cidr {
                networks.push(Network {
                    name: nname,
                    cidr,
                    gateway,
                    dns,
                });
            }
        }
        let networks_declared = !raw.network.is_empty();

        let mut nodes = Vec::new();
        let mut names: HashMap<String, usize> = HashMap::new();
        let mut ids: HashMap<i64, String> = HashMap::new();
        let mut macs: HashMap<String, String> = HashMap::new();
        let mut ips: HashMap<IpAddr, String> = HashMap::new();
        let mut bmcs: HashMap<(Ipv4Addr, u16), String> = HashMap::new();
        let mut initiators: HashMap<String, String> = HashMap::new();
        for (index, rn) in raw.node.iter().enumerate() {
            let rn = rn.get_ref();
            let nname = rn.name.get_ref().clone();
            if !valid_node_name(&nname) {
                ck.at(
                    rn.name.span(),
                    format!(
                        "invalid node name '{}{}'; use 1-63 characters from a-z 0-9 - (hostname-like, no leading/trailing '-')",
                        nname.chars().take(64).collect::<String>(),
                        if nname.chars().count() > 64 { "…" } else { "" }
                    ),
                );
            }
            for a in &rn.kernel_args {
                if let Err(e) = check_kernel_arg(a) {
                    ck.at(rn.name.span(), format!("node '{nname}': {e}"));
                }
            }
            for r in &rn.roles {
                if !valid_node_name(r) {
                    ck.at(
                        rn.name.span(),
                        format!(
                            "node '{nname}': invalid role {:?}; use a-z 0-9 - (e.g. nfs-server)",
                            r.chars().take(60).collect::<String>()
                        ),
                    );
                }
            }
            if let Some(&first) = names.get(&nname) {
                let _ = first;
                ck.at(
                    rn.name.span(),
                    format!("duplicate node name '{nname}'; give each node its own name"),
                );
            } else {
                names.insert(nname.clone(), index);
            }
            let id = *rn.id.get_ref();
            if !(1..=255).contains(&id) {
                ck.at(
                    rn.id.span(),
                    format!("node id {id} out of range; use 1..=255 (corosync/o2cb/dlm need it)"),
                );
            } else if let Some(other) = ids.get(&id) {
                ck.at(
                    rn.id.span(),
                    format!("duplicate node id {id} (also on {other}); give each node its own id"),
                );
            } else {
                ids.insert(id, nname.clone());
            }
            if rn.macs.get_ref().is_empty() {
                ck.at(
                    rn.macs.span(),
                    format!("node '{nname}' has no MAC; list at least one in macs = [...]"),
                );
            }
            let mut node_macs = Vec::new();
            for m in rn.macs.get_ref() {
                match normalize_mac(m.get_ref()) {
                    Ok(mac) => {
                        if let Some(other) = macs.get(&mac) {
                            ck.at(
                                m.span(),
                                format!("duplicate MAC {mac} (also on {other}); give each node its own MAC"),
                            );
                        } else {
                            macs.insert(mac.clone(), nname.clone());
                        }
                        node_macs.push(mac);
                    }
                    Err(e) => ck.at(m.span(), e),
                }
            }
            let mut addresses = Vec::new();
            for a in &rn.addresses {
                match a.get_ref().parse::<Cidr>() {
                    Ok(c) => {
                        if let Some(other) = ips.get(&c.addr) {
                            ck.at(
                                a.span(),
                                format!("duplicate IP address {} (also on {other}); give each node its own address", c.addr),
                            );
                        } else {
                            ips.insert(c.addr, nname.clone());
                        }
                        if networks_declared && !networks.iter().any(|n| n.cidr.contains(&c.addr)) {
                            let nets: Vec<String> = networks
                                .iter()
                                .map(|n| format!("{} {}", n.name, n.cidr))
                                .collect();
                            ck.at(
                                a.span(),
                                format!(
                                    "address {c} is outside every declared network ({}); fix the address or declare its [[network]]",
                                    nets.join(", ")
                                ),
                            );
                        }
                        if let (IpAddr::V4(ip), true) = (c.addr, c.prefix < 31) {
                            let host_bits = !(c.mask_bits() as u32);
                            let h = u32::from(ip) & host_bits;
                            if h == 0 || h == host_bits {
                                ck.at(
                                    a.span(),
                                    format!(
                                        "address {c} is the {} address of its network, not a host's",
                                        if h == 0 { "network" } else { "broadcast" }
                                    ),
                                );
                            }
                        }
                        addresses.push(c);
                    }
                    Err(e) => ck.at(a.span(), format!("malformed address: {e}")),
                }
            }
            let fence = rn.fence.as_ref().and_then(|f| {
                let text = ck.text;
                let contains = |ip: &IpAddr| networks.iter().any(|n| n.cidr.contains(ip));
                let nets = crate::fence::Networks {
                    contains: &contains,
                    shown: networks
                        .iter()
                        .map(|n| format!("{} {}", n.name, n.cidr))
                        .collect::<Vec<_>>()
                        .join(", "),
                };
                let dev = crate::fence::check(
                    f.get_ref(),
                    &nname,
                    &nets,
                    source,
                    |o| line_col(text, o),
                    |span, m| ck.at(span, m),
                )?;
                let key = (dev.address, dev.port);
                if let Some(other) = bmcs.get(&key) {
                    ck.at(
                        f.get_ref().address_span(),
                        format!(
                            "node '{nname}': fence.address {} is also the fence device of node \
                             '{other}'; each node needs its own BMC (a BMC powers off one machine)",
                            dev.endpoint()
                        ),
                    );
                    return None;
                }
                bmcs.insert(key, nname.clone());
                Some(dev)
            });
            let iscsi_initiator = rn.iscsi_initiator.as_ref().and_then(|i| {
                let v = i.get_ref();
                if !valid_iscsi_name(v) {
                    ck.at(
                        i.span(),
                        format!(
                            "node '{nname}': iscsi_initiator: \"{}\" is not an iSCSI name; write \
                             iqn.YYYY-MM.reversed.domain[:name] (lower case letters, digits, . : -; \
                             at most 223 bytes) or eui. and 16 hex digits",
                            v.chars().take(60).collect::<String>().escape_debug()
                        ),
                    );
                    return None;
                }
                if let Some(other) = initiators.insert(v.clone(), nname.clone()) {
                    ck.at(
                        i.span(),
                        format!(
                            "node '{nname}': iscsi_initiator {v} is also the initiator name of \
                             node '{other}'; a target tells its initiators apart by name, give \
                             each node its own"
                        ),
                    );
                    return None;
                }
                Some(v.clone())
            });
            nodes.push(Node {
                name: nname,
                id: u32::try_from(id).unwrap_or(0),
                macs: node_macs,
                addresses,
                kernel_args: rn.kernel_args.clone(),
                roles: rn.roles.clone(),
                member: rn.member.unwrap_or(true),
                fence,
                iscsi_initiator,
            });
        }

        // An initiator name is also refused when it is the one /init makes up for another
        // node that has none (modules/iscsi/iscsi-login.sh.hbs), and on a node that is not
        // a member: only members are rendered into the images' login hook.
        for (rn, n) in raw.node.iter().zip(&nodes) {
            let (Some(i), Some(v)) = (
                rn.get_ref().iscsi_initiator.as_ref(),
                n.iscsi_initiator.as_ref(),
            ) else {
                continue;
            };
            if !n.is_member() {
                ck.at(
                    i.span(),
                    format!(
                        "node '{}': iscsi_initiator: the node is not a member (member = false), \
                         and only members' names go into the images; remove the key, or give \
                         the name with rd.iscsi.initiator= on that node's command line",
                        n.name
                    ),
                );
            } else if let Some(other) = nodes
                .iter()
                .find(|o| o.iscsi_initiator.is_none() && default_iscsi_name(&o.name) == *v)
            {
                ck.at(
                    i.span(),
                    format!(
                        "node '{}': iscsi_initiator {v} is the name node '{}' gets when it has \
                         none; give node '{}' an iscsi_initiator of its own, or choose another",
                        n.name, other.name, other.name
                    ),
                );
            }
        }

        // A fence device at a node's own address is the node, not its BMC: a fence through
        // it would ask the failed node to power itself off.
        for (rn, n) in raw.node.iter().zip(&nodes) {
            let (Some(f), Some(dev)) = (rn.get_ref().fence.as_ref(), n.fence.as_ref()) else {
                continue;
            };
            let ip = IpAddr::V4(dev.address);
            if let Some(owner) = nodes
                .iter()
                .find(|o| o.addresses.iter().any(|c| c.addr == ip))
            {
                ck.at(
                    f.get_ref().address_span(),
                    format!(
                        "node '{}': fence.address {} is the address of node '{}' itself, not \
                         of a BMC; dlm must fence through the node's BMC (its own address, on \
                         a management network), never through the node's own system",
                        n.name, dev.address, owner.name
                    ),
                );
            }
        }

        let mut failover_domains = Vec::new();
        for rd in &raw.failover_domain {
            let rd = rd.get_ref();
            let mut members = Vec::new();
            for n in &rd.nodes {
                if !names.contains_key(n.get_ref()) {
                    let mut known: Vec<&str> = names.keys().map(String::as_str).collect();
                    known.sort();
                    ck.at(
                        n.span(),
                        format!(
                            "failover domain '{}' names unknown node '{}'; known nodes: {}",
                            rd.name.get_ref(),
                            n.get_ref(),
                            if known.is_empty() {
                                "(none)".to_string()
                            } else {
                                known.join(", ")
                            }
                        ),
                    );
                }
                members.push(n.get_ref().clone());
            }
            failover_domains.push(FailoverDomain {
                name: rd.name.get_ref().clone(),
                nodes: members,
            });
        }

        let iscsi = raw.iscsi.as_ref().and_then(|r| {
            crate::iscsi::check(r, source, |o| line_col(text, o), |span, m| ck.at(span, m))
        });

        if !ck.diags.is_empty() {
            return Err(ClusterError::Invalid(ck.diags));
        }
        Ok(Cluster {
            name,
            crypto,
            networks,
            nodes,
            failover_domains,
            iscsi,
            token_ms,
            source: source.to_path_buf(),
        })
    }

    /// The node called `name`.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// The node that owns `mac` (any case, `:` or `-`).
    pub fn node_by_mac(&self, mac: &str) -> Option<&Node> {
        let mac = normalize_mac(mac).ok()?;
        self.nodes.iter().find(|n| n.macs.contains(&mac))
    }

    /// The network whose CIDR contains `addr`.
    pub fn network_of(&self, addr: &Cidr) -> Option<&Network> {
        self.networks.iter().find(|n| n.cidr.contains(&addr.addr))
    }

    /// The password of `node`'s fence device ([`FenceDevice::read_password`]), `None`
    /// without one; an unusable file is an error at the `password_file` key.
    pub fn fence_password(&self, node: &Node) -> Result<Option<Vec<u8>>, ClusterError> {
        let Some(f) = &node.fence else {
            return Ok(None);
        };
        f.read_password().map(Some).map_err(|m| {
            self.error_at(
                f.password_file_at,
                format!("node '{}': fence.password_file: {m}", node.name),
            )
        })
    }

    /// The CHAP secret of `[iscsi]` ([`crate::iscsi::IscsiAuth::read_secret`]), `None`
    /// without the table; an unusable file is an error at the `chap_secret_file` key.
    pub fn chap_secret(&self) -> Result<Option<Vec<u8>>, ClusterError> {
        let Some(a) = &self.iscsi else {
            return Ok(None);
        };
        a.read_secret().map(Some).map_err(|m| {
            self.error_at(
                a.chap_secret_file_at,
                format!("iscsi.chap_secret_file: {m}"),
            )
        })
    }

    /// One problem at `(line, column)` of the description.
    fn error_at(&self, (line, column): (usize, usize), message: String) -> ClusterError {
        ClusterError::Invalid(vec![Diagnostic {
            file: self.source.clone(),
            line,
            column,
            message,
        }])
    }

    /// The node or an error listing the known node names.
    pub fn require_node(&self, name: &str) -> Result<&Node, ClusterError> {
        self.node(name).ok_or_else(|| ClusterError::UnknownNode {
            file: self.source.clone(),
            name: name.to_string(),
            known: self.node_names_joined(),
        })
    }

    pub(crate) fn node_names_joined(&self) -> String {
        if self.nodes.is_empty() {
            "(none)".to_string()
        } else {
            self.nodes
                .iter()
                .map(|n| n.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        }
    }
}
