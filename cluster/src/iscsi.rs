//! The description's `[iscsi]` table: the CHAP account every member logs in to the root's
//! iSCSI targets with, and the target requires ([`IscsiAuth`]). The secret lives in a
//! root-only file the table names, read only when an image is built
//! ([`IscsiAuth::read_secret`]).

use serde::Deserialize;
use std::ops::Range;
use std::path::{Path, PathBuf};
use toml::Spanned;

/// The longest CHAP user name srbuild accepts.
pub const MAX_CHAP_USER: usize = 64;
/// The shortest CHAP secret: RFC 3720 (8.2.1) asks for at least 96 bits when the link is
/// not protected by IPsec.
pub const MIN_CHAP_SECRET: usize = 12;
/// The longest CHAP secret srbuild accepts.
pub const MAX_CHAP_SECRET: usize = 64;

/// One-way CHAP for the root's iSCSI sessions: the target knows the account, and every
/// member logs in with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IscsiAuth {
    /// `chap_user`: 1..=64 bytes of [`chap_user_byte`].
    pub chap_user: String,
    /// `chap_secret_file` (relative paths taken from the description's directory). Checked
    /// only when read: the copy of the description inside an image parses without it.
    pub chap_secret_file: PathBuf,
    /// Line and column of `chap_secret_file`, for errors about the file.
    pub chap_secret_file_at: (usize, usize),
}

/// `[iscsi]` as written.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawIscsi {
    chap_user: Spanned<String>,
    chap_secret_file: Spanned<String>,
}

/// Whether `b` may be part of a CHAP user name or secret: ASCII letters and digits and
/// `. _ - + / = @ : ~` (what base64 and hex keys are made of). None of them means anything
/// to iscsid's or tgtd's configuration.
pub fn chap_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'.' | b'_' | b'-' | b'+' | b'/' | b'=' | b'@' | b':' | b'~'
        )
}

/// Whether `s` is a usable CHAP user name: 1..=[`MAX_CHAP_USER`] bytes of [`chap_byte`].
pub fn valid_chap_user(s: &str) -> bool {
    (1..=MAX_CHAP_USER).contains(&s.len()) && s.bytes().all(chap_byte)
}

/// What a CHAP secret file must hold.
const SECRET_RULE: crate::secret_file::SecretRule = crate::secret_file::SecretRule {
    what: "CHAP secret",
    min: MIN_CHAP_SECRET,
    max: MAX_CHAP_SECRET,
    limits_why: "RFC 3720 asks for at least 96 bits",
    byte_ok: chap_byte,
    bytes_doc: "ASCII letters, digits and . _ - + / = @ : ~",
    renew: "CHAP secret on the target and in the file",
};

/// Checks `[iscsi]`. `at(span, message)` records one problem; `line_col` turns a span's
/// start into the line and column stored for the secret file.
pub(crate) fn check(
    raw: &RawIscsi,
    source: &Path,
    line_col: impl Fn(usize) -> (usize, usize),
    mut at: impl FnMut(Range<usize>, String),
) -> Option<IscsiAuth> {
    let mut ok = true;
    let user = raw.chap_user.get_ref();
    if !valid_chap_user(user) {
        ok = false;
        at(
            raw.chap_user.span(),
            format!(
                "iscsi.chap_user: \"{}\" is not a usable CHAP user name; use 1-{MAX_CHAP_USER} \
                 characters from A-Z a-z 0-9 . _ - + / = @ : ~",
                user.chars().take(40).collect::<String>().escape_debug()
            ),
        );
    }
    let f = raw.chap_secret_file.get_ref();
    if f.is_empty() || f.chars().any(char::is_control) {
        ok = false;
        at(
            raw.chap_secret_file.span(),
            "iscsi.chap_secret_file: must be the path of the file holding the CHAP secret".into(),
        );
    }
    let chap_secret_file = crate::secret_file::beside(source, f);
    ok.then(|| IscsiAuth {
        chap_user: user.clone(),
        chap_secret_file,
        chap_secret_file_at: line_col(raw.chap_secret_file.span().start),
    })
}

impl IscsiAuth {
    /// The secret, read from [`IscsiAuth::chap_secret_file`] through one descriptor that
    /// does not follow a link: a regular file owned by root or by the one running srbuild,
    /// private to its owner, of [`MIN_CHAP_SECRET`] to [`MAX_CHAP_SECRET`] bytes of
    /// [`chap_byte`], with at most one trailing newline. Errors never show the content.
    pub fn read_secret(&self) -> Result<Vec<u8>, String> {
        crate::secret_file::read_secret(&self.chap_secret_file, &SECRET_RULE)
    }
}
