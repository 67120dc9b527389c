//! A node's fence device, `[node.fence]` in `cluster.toml`: its type ([`FenceDevice`]),
//! the checks of each key when the description is parsed ([`check`]), and the reading of
//! its password file ([`FenceDevice::read_password`]), which refuses a file that anyone but
//! its owner could read or write. dlm fences a member through it (see `docs/fencing.md`).

use serde::Deserialize;
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The fence agents srbuild knows (`agent = "..."`).
pub const AGENTS: &[&str] = &["ipmilan"];
/// IPMI over LAN's port (RMCP), `port` when not given.
pub const DEFAULT_PORT: u16 = 623;
/// The RMCP+ cipher suite when not given: HMAC-SHA1 authentication and integrity,
/// AES-CBC-128 confidentiality (what every BMC, and OpenIPMI's simulator, offers).
pub const DEFAULT_CIPHER: u8 = 3;
/// The longest IPMI 2.0 password.
pub const MAX_PASSWORD: usize = 20;
/// What a BMC password file must hold ([`FenceDevice::read_password`]).
const PASSWORD_RULE: crate::secret_file::SecretRule = crate::secret_file::SecretRule {
    what: "password",
    min: 1,
    max: MAX_PASSWORD,
    limits_why: "IPMI 2.0's limit",
    byte_ok: |b| b.is_ascii_graphic(),
    bytes_doc: "printable ASCII",
    renew: "BMC password",
};
/// The longest IPMI user name.
pub const MAX_USER: usize = 16;

/// A node's fence device: the BMC that powers it off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FenceDevice {
    /// One of [`AGENTS`].
    pub agent: String,
    /// The BMC's IPv4 address, inside one of the description's networks.
    pub address: Ipv4Addr,
    /// UDP port, 1..=65535 ([`DEFAULT_PORT`]).
    pub port: u16,
    /// 1..=16 bytes of `[A-Za-z0-9._-]`.
    pub user: String,
    /// The file holding the password (relative paths are taken from the description's
    /// directory). Checked only when read ([`FenceDevice::read_password`]): the copy of
    /// the description inside an image parses without it.
    pub password_file: PathBuf,
    /// The RMCP+ cipher suite, 1..=17 ([`DEFAULT_CIPHER`]); 0 (no authentication) is refused.
    pub cipher: u8,
    /// Line and column of `password_file` in the description, for errors about the file.
    pub password_file_at: (usize, usize),
}

/// `[node.fence]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFence {
    agent: Spanned<String>,
    address: Spanned<String>,
    port: Option<Spanned<i64>>,
    user: Spanned<String>,
    password_file: Spanned<String>,
    cipher: Option<Spanned<i64>>,
}

/// At most 40 characters of `s`, escaped, for messages.
fn shown(s: &str) -> String {
    s.chars()
        .take(40)
        .collect::<String>()
        .escape_debug()
        .to_string()
}

/// Whether `s` is a usable IPMI user name: 1..=16 bytes of `[A-Za-z0-9._-]`.
pub fn valid_user(s: &str) -> bool {
    (1..=MAX_USER).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The description's networks as `check` sees them: whether an address lies inside one,
/// and how to name them in a message (`lan 10.77.0.0/24, ...`).
pub(crate) struct Networks<'a> {
    pub contains: &'a dyn Fn(&IpAddr) -> bool,
    pub shown: String,
}

/// Checks `[node.fence]` of node `node`. `at(span, message)` records one problem;
/// `line_col` turns a span's start into the line and column stored for the password file.
/// Returns the device when every key is usable.
pub(crate) fn check(
    raw: &RawFence,
    node: &str,
    networks: &Networks,
    source: &Path,
    line_col: impl Fn(usize) -> (usize, usize),
    mut at: impl FnMut(Range<usize>, String),
) -> Option<FenceDevice> {
    let mut ok = true;
    let mut bad = |span: Range<usize>, key: &str, message: String| {
        ok = false;
        at(span, format!("node '{node}': fence.{key}: {message}"));
    };
    let agent = raw.agent.get_ref();
    if !AGENTS.contains(&agent.as_str()) {
        bad(
            raw.agent.span(),
            "agent",
            format!(
                "unknown agent \"{}\"; known agents: {}",
                shown(agent),
                AGENTS.join(", ")
            ),
        );
    }
    let address = match raw.address.get_ref().parse::<Ipv4Addr>() {
        Err(_) => {
            bad(
                raw.address.span(),
                "address",
                format!(
                    "\"{}\" is not an IPv4 address; write the BMC's address (e.g. 10.77.0.201)",
                    shown(raw.address.get_ref())
                ),
            );
            None
        }
        Ok(a) => {
            if !(networks.contains)(&IpAddr::V4(a)) {
                bad(
                    raw.address.span(),
                    "address",
                    format!(
                        "{a} is outside every network of the description ({}); fix the \
                         address or declare the BMCs' [[network]]",
                        if networks.shown.is_empty() {
                            "none declared"
                        } else {
                            &networks.shown
                        }
                    ),
                );
            }
            Some(a)
        }
    };
    let mut port = DEFAULT_PORT;
    if let Some(p) = &raw.port {
        match u16::try_from(*p.get_ref()).ok().filter(|p| *p != 0) {
            Some(v) => port = v,
            None => bad(
                p.span(),
                "port",
                format!(
                    "{} is not a UDP port; use 1..=65535 (IPMI's is 623)",
                    p.get_ref()
                ),
            ),
        }
    }
    let user = raw.user.get_ref();
    if !valid_user(user) {
        bad(
            raw.user.span(),
            "user",
            format!(
                "\"{}\" is not a usable BMC user name; use 1-{MAX_USER} characters from \
                 A-Z a-z 0-9 . _ -",
                shown(user)
            ),
        );
    }
    let pf = raw.password_file.get_ref();
    if pf.is_empty() || pf.chars().any(char::is_control) {
        bad(
            raw.password_file.span(),
            "password_file",
            "must be the path of the file holding the BMC's password".into(),
        );
    }
    let mut cipher = DEFAULT_CIPHER;
    if let Some(c) = &raw.cipher {
        match *c.get_ref() {
            0 => bad(
                c.span(),
                "cipher",
                "cipher suite 0 has no authentication: a BMC offering it accepts any \
                 password; use 3 (or another suite from 1 to 17 the BMC supports)"
                    .into(),
            ),
            n @ 1..=17 => cipher = n as u8,
            n => bad(
                c.span(),
                "cipher",
                format!("{n} is not an RMCP+ cipher suite; use 1..=17 (3 is the default)"),
            ),
        }
    }
    let password_file = crate::secret_file::beside(source, pf);
    let address = address?;
    ok.then(|| FenceDevice {
        agent: agent.clone(),
        address,
        port,
        user: user.clone(),
        password_file,
        cipher,
        password_file_at: line_col(raw.password_file.span().start),
    })
}

impl RawFence {
    /// Where `address` is written.
    pub(crate) fn address_span(&self) -> Range<usize> {
        self.address.span()
    }
}

impl FenceDevice {
    /// `address:port`, as messages and `srbuild cluster show` print it.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.address, self.port)
    }

    /// The password, read from [`FenceDevice::password_file`] through one descriptor
    /// (never following a symlink): a regular file owned by root or by the one running
    /// srbuild, that neither group nor others may read or write, of 1 to 20 printable
    /// ASCII characters without spaces, with at most one trailing newline (which is not
    /// part of the password). The error says what is wrong without the file's content.
    pub fn read_password(&self) -> Result<Vec<u8>, String> {
        crate::secret_file::read_secret(&self.password_file, &PASSWORD_RULE)
    }
}
