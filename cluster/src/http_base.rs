//! `--http-base URL` of `srbuild cluster netboot`: the one check of the URL that iPXE
//! scripts fetch the kernel, the initrd and the nodes' scripts from, and the joining of
//! file names onto it. A URL that passes goes into an iPXE script as written: `http://`
//! only, no credentials, no query or fragment, a host that is an IP address or a DNS
//! name, a numeric port, and a path of plain characters (nothing iPXE would expand or
//! split: no `$`, quotes, whitespace, `&`, `|`).

use crate::error::ClusterError;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A checked `--http-base`: `http://HOST[:PORT][/PATH]`, kept without a trailing `/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpBase {
    url: String,
}

impl HttpBase {
    /// The URL, without a trailing `/` (`http://10.77.0.1`, `http://boot:8080/netboot`).
    pub fn as_str(&self) -> &str {
        &self.url
    }

    /// `rel` (a relative path the caller made of checked parts, such as `ipxe/node1.ipxe`
    /// or `ipxe/${hostname}.ipxe`) under the base.
    pub fn join(&self, rel: &str) -> String {
        format!("{}/{}", self.url, rel.trim_start_matches('/'))
    }
}

impl std::fmt::Display for HttpBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.url)
    }
}

/// Longer than any boot URL a site needs; iPXE's own line buffer is larger.
const MAX_LEN: usize = 512;

/// Checks `value` as the base URL of netboot over HTTP; every refusal names the value (its
/// control characters escaped) and says what to give instead.
pub fn check_http_base(value: &str) -> Result<HttpBase, ClusterError> {
    let shown = crate::error::shown(value);
    let refuse = |why: String| {
        ClusterError::Usage(format!(
            "--http-base {shown}: {why}; give it as http://HOST[:PORT][/PATH], such as \
             http://10.77.0.1 or http://boot.example.org:8080/netboot"
        ))
    };
    if value.is_empty() {
        return Err(refuse("the URL is empty".into()));
    }
    if value.len() > MAX_LEN {
        return Err(refuse(format!("the URL is longer than {MAX_LEN} bytes")));
    }
    // Whatever would end or split an iPXE script line, or be expanded in it, first: the
    // URL goes into every node's script as written.
    if let Some(c) = value
        .chars()
        .find(|c| c.is_control() || c.is_whitespace() || !c.is_ascii())
    {
        return Err(refuse(format!(
            "it contains {c:?}, which an iPXE script cannot carry (a control character or \
             whitespace ends or splits the line); write the URL without it, percent-encoded \
             (%20) where a path needs it"
        )));
    }
    if value.contains('$') {
        return Err(refuse(
            "it contains '$', which iPXE expands as a setting (${name}); give the address \
             itself"
                .into(),
        ));
    }
    if let Some(c) = value
        .chars()
        .find(|c| matches!(c, '"' | '\'' | '`' | '\\' | '|' | '&' | ';' | '<' | '>'))
    {
        return Err(refuse(format!(
            "it contains {c:?}, which an iPXE or shell line would read as quoting or as an \
             operator; write the URL without it"
        )));
    }
    let Some((scheme, rest)) = value.split_once("://") else {
        return Err(refuse(
            "it has no scheme; netboot over HTTP needs an http:// URL".into(),
        ));
    };
    if scheme != "http" {
        let hint = if scheme.eq_ignore_ascii_case("https") {
            "https:// is not taken: QEMU's iPXE and many NIC firmwares have no TLS, and what \
             netboot serves is public to the boot network anyway; use http://"
        } else if scheme.eq_ignore_ascii_case("http") {
            "write the scheme in lower case, http://"
        } else {
            "only http:// is taken (TFTP serves only boot.ipxe; without --http-base it serves \
             everything)"
        };
        return Err(refuse(format!(
            "the scheme \"{scheme}\" is not http: {hint}"
        )));
    }
    if let Some(c) = rest.chars().find(|c| matches!(c, '?' | '#')) {
        let what = if c == '?' { "a query" } else { "a fragment" };
        return Err(refuse(format!(
            "it has {what} ('{c}'), which the file names netboot appends would follow; \
             give the base without it"
        )));
    }
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    if authority.contains('@') {
        return Err(refuse(
            "it carries credentials (user@ or user:password@): every machine on the boot \
             network reads the iPXE scripts that would hold them; serve the files without a \
             password on a private boot network instead"
                .into(),
        ));
    }
    let (host, port) = split_host_port(authority).map_err(&refuse)?;
    check_host(host).map_err(&refuse)?;
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refuse(format!(
                "the port \"{p}\" is not a number; write it in digits, such as :8080"
            )));
        }
        match p.parse::<u32>() {
            Ok(n) if (1..=65535).contains(&n) => {}
            _ => return Err(refuse(format!("the port {p} is not from 1 to 65535"))),
        }
    }
    check_path(path).map_err(&refuse)?;
    Ok(HttpBase {
        url: format!("http://{authority}{}", path.trim_end_matches('/')),
    })
}

/// `HOST[:PORT]`, or `[V6][:PORT]`.
fn split_host_port(authority: &str) -> Result<(&str, Option<&str>), String> {
    if let Some(rest) = authority.strip_prefix('[') {
        let Some(end) = rest.find(']') else {
            return Err(format!(
                "the host \"{authority}\" opens an IPv6 address with '[' but never closes it"
            ));
        };
        let after = &rest[end + 1..];
        let port = match after {
            "" => None,
            a => match a.strip_prefix(':') {
                Some(p) => Some(p),
                None => {
                    return Err(format!(
                        "\"{a}\" follows the IPv6 address; only :PORT may follow it"
                    ))
                }
            },
        };
        return Ok((&authority[..end + 2], port));
    }
    Ok(match authority.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (authority, None),
    })
}

/// An IPv4 address, an IPv6 address in brackets, or a DNS name.
fn check_host(host: &str) -> Result<(), String> {
    if host.is_empty() {
        return Err("it names no host".into());
    }
    if let Some(v6) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return v6
            .parse::<Ipv6Addr>()
            .map(drop)
            .map_err(|_| format!("the host [{v6}] is not an IPv6 address"));
    }
    if host.parse::<Ipv4Addr>().is_ok() {
        return Ok(());
    }
    let name = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = name.split('.').collect();
    // A name whose last label is all digits would be read as an address: 10.77.0.256.
    let numeric_last = labels
        .last()
        .is_some_and(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_digit()));
    let bad_label = labels.iter().find(|l| {
        l.is_empty()
            || l.len() > 63
            || l.starts_with('-')
            || l.ends_with('-')
            || !l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    });
    if numeric_last || bad_label.is_some() || name.len() > 253 {
        return Err(format!(
            "the host \"{host}\" is neither an IP address nor a DNS name (labels of letters, \
             digits and '-', joined by '.')"
        ));
    }
    Ok(())
}

/// A path of unreserved characters, `/` and `%XX`, without `.` or `..` parts.
fn check_path(path: &str) -> Result<(), String> {
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3);
            if !hex.is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit)) {
                return Err(format!(
                    "the path \"{path}\" has a '%' that does not start a %XX escape"
                ));
            }
            i += 3;
            continue;
        }
        if !(b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/')) {
            return Err(format!(
                "the path \"{path}\" contains '{}'; a path may hold letters, digits, \
                 -._~/ and %XX escapes",
                b as char
            ));
        }
        i += 1;
    }
    if path.split('/').any(|p| p == "." || p == "..") {
        return Err(format!(
            "the path \"{path}\" has a . or .. part; give the directory itself"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &str) -> String {
        check_http_base(v)
            .unwrap_or_else(|e| panic!("{v}: {e}"))
            .as_str()
            .to_string()
    }

    fn err(v: &str) -> String {
        match check_http_base(v) {
            Ok(b) => panic!("{v:?} was taken as {b}"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn good_urls_are_kept_without_a_trailing_slash() {
        assert_eq!(ok("http://10.77.0.1"), "http://10.77.0.1");
        assert_eq!(ok("http://10.77.0.1/"), "http://10.77.0.1");
        assert_eq!(ok("http://10.77.0.1:8080/"), "http://10.77.0.1:8080");
        assert_eq!(
            ok("http://boot.example.org/net-boot/v1_2~x/"),
            "http://boot.example.org/net-boot/v1_2~x"
        );
        assert_eq!(ok("http://boot./a%20b"), "http://boot./a%20b");
        assert_eq!(ok("http://[fd00::1]:80/nb"), "http://[fd00::1]:80/nb");
        assert_eq!(ok("http://localhost"), "http://localhost");
        let b = check_http_base("http://10.77.0.1/nb/").unwrap();
        assert_eq!(
            b.join("ipxe/${hostname}.ipxe"),
            "http://10.77.0.1/nb/ipxe/${hostname}.ipxe"
        );
        assert_eq!(b.join("/vmlinuz"), "http://10.77.0.1/nb/vmlinuz");
    }

    #[test]
    fn every_refusal_names_the_value_and_the_form() {
        for (v, why) in [
            ("", "is empty"),
            ("10.77.0.1/boot", "no scheme"),
            ("https://10.77.0.1", "https:// is not taken"),
            ("HTTP://10.77.0.1", "lower case"),
            ("tftp://10.77.0.1", "only http://"),
            ("ftp://10.77.0.1", "only http://"),
            ("http://user:pw@10.77.0.1/", "credentials"),
            ("http://user@10.77.0.1/", "credentials"),
            ("http://10.77.0.1/x?a=b", "a query"),
            ("http://10.77.0.1/#frag", "a fragment"),
            ("http://10.77.0.1:http/", "is not a number"),
            ("http://10.77.0.1:/", "is not a number"),
            ("http://10.77.0.1:-1/", "is not a number"),
            ("http://10.77.0.1:0/", "not from 1 to 65535"),
            ("http://10.77.0.1:65536/", "not from 1 to 65535"),
            (
                "http://10.77.0.256/",
                "neither an IP address nor a DNS name",
            ),
            ("http://bad_host/", "neither an IP address nor a DNS name"),
            ("http://-boot/", "neither an IP address nor a DNS name"),
            ("http://a..b/", "neither an IP address nor a DNS name"),
            ("http:///nohost", "names no host"),
            ("http://:80/", "names no host"),
            ("http://[fd00::1/", "never closes"),
            ("http://[zz::1]/", "not an IPv6 address"),
            ("http://[fd00::1]x/", "only :PORT"),
            ("http://10.77.0.1/a b", "' '"),
            ("http://10.77.0.1/a\tb", "'\\t'"),
            ("http://10.77.0.1/\nchain http://evil/x", "'\\n'"),
            ("http://10.77.0.1/\r", "'\\r'"),
            ("http://${next-server}/", "'$'"),
            ("http://10.77.0.1/$x", "'$'"),
            ("http://10.77.0.1/\"x\"", "'\"'"),
            ("http://10.77.0.1/'x'", "'\\''"),
            ("http://10.77.0.1/a`b`", "'`'"),
            ("http://10.77.0.1/a||shell", "'|'"),
            ("http://10.77.0.1/a&&shell", "'&'"),
            ("http://10.77.0.1/a;b", "';'"),
            ("http://10.77.0.1/a\\b", "'\\\\'"),
            ("http://10.77.0.1/bäd", "'ä'"),
            ("http://10.77.0.1/a%zz", "%XX"),
            ("http://10.77.0.1/a%2", "%XX"),
            ("http://10.77.0.1/a,b", "','"),
            ("http://10.77.0.1/../etc", ".. part"),
            ("http://10.77.0.1/a/./b", ". or .. part"),
        ] {
            let e = err(v);
            let shown = v.escape_debug().to_string();
            assert!(e.starts_with(&format!("--http-base '{shown}': ")), "{e}");
            assert!(e.contains(why), "{v:?}: wanted {why:?} in: {e}");
            assert!(e.contains("http://HOST[:PORT][/PATH]"), "{e}");
            assert!(!e.contains('\n'), "one line: {e:?}");
        }
        let long = format!("http://10.77.0.1/{}", "a".repeat(600));
        assert!(err(&long).contains("longer than 512 bytes"));
    }
}
