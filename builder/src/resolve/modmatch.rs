//! The coldplug table (`etc/srbuild/modules.match`, written by `crate::contract`): the
//! image's load list and its drivers' device aliases as shell, sourced once by
//! `sr_modules_coldplug` (`templates/modules.sh`), so choosing the modules at boot runs no
//! program: the aliases are `case` patterns of a generated `sr_modules_match`, and each
//! module's line is a variable, `sr_mod_NAME` (searching one string for the lines took
//! 4 to 9 ms a module under TCG). Generated from the same lines as
//! `etc/srbuild/modules.load`.
//!
//! A `modules.alias` pattern is an fnmatch(3) pattern (`*`, `?`, `[...]`, `[!...]`, `\`
//! quoting one character), which is what a shell `case` pattern is: [`case_pattern`] keeps
//! the wildcards and brackets and quotes every other character with
//! [`crate::rendering::shell_quote`]. The patterns are filed by bus (the text before the
//! first `:`) and, inside a bus, by their first 14 literal characters (a PCI vendor,
//! `pci:v00008086d`), so a device is tried against few of them.

use crate::contract::LoadLine;
use crate::error::{BuildError, Result};
use crate::rendering::shell_quote;
use std::collections::BTreeMap;

/// The literal prefix length the patterns are filed by inside a bus.
const KEY: usize = 14;

/// One piece of an fnmatch pattern.
#[derive(Debug, PartialEq)]
enum Piece {
    Lit(char),
    Star,
    Any,
    /// A bracket expression: negated, and its members (`a-z` ranges kept as written).
    Class(bool, Vec<ClassItem>),
}

#[derive(Debug, PartialEq)]
enum ClassItem {
    Char(char),
    Range(char, char),
    /// `[:alpha:]` and the other POSIX classes, which a shell's bracket knows too.
    Posix(&'static str),
}

/// The character classes of POSIX brackets (`[:name:]`).
const POSIX_CLASSES: &[&str] = &[
    "alnum", "alpha", "blank", "cntrl", "digit", "graph", "lower", "print", "punct", "space",
    "upper", "xdigit",
];

/// Parses an fnmatch pattern as glibc does without flags: `\x` is a literal `x`, `[`
/// without a closing `]` is a literal `[`, `]` right after `[` or `[!` is a member, and
/// `[^` negates like `[!`.
fn pieces(pattern: &str) -> Vec<Piece> {
    let c: Vec<char> = pattern.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < c.len() {
        match c[i] {
            '*' => out.push(Piece::Star),
            '?' => out.push(Piece::Any),
            '\\' if i + 1 < c.len() => {
                i += 1;
                out.push(Piece::Lit(c[i]));
            }
            '[' => match class(&c[i + 1..]) {
                Some((piece, used)) => {
                    out.push(piece.unwrap_or(Piece::Any));
                    i += used;
                }
                None => out.push(Piece::Lit('[')),
            },
            ch => out.push(Piece::Lit(ch)),
        }
        i += 1;
    }
    out
}

/// The bracket expression at the start of `c` (just after its `[`), and how many
/// characters it used, its `]` included; None when it never closes. The piece is None
/// for a bracket this module does not translate (a collating symbol or equivalence class
/// of more than one character, an unknown `[:name:]`): it then matches any one character,
/// so a driver may load for a device that does not need it, never the other way round.
fn class(c: &[char]) -> Option<(Option<Piece>, usize)> {
    let mut i = 0;
    let negated = matches!(c.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let mut wide = false;
    let mut first = true;
    loop {
        let ch = *c.get(i)?;
        if ch == ']' && !first {
            let piece = (!wide).then_some(Piece::Class(negated, items));
            return Some((piece, i + 1));
        }
        first = false;
        // [:name:], [.x.], [=x=]: up to the closing ":]", ".]" or "=]".
        if ch == '[' && matches!(c.get(i + 1), Some(':' | '.' | '=')) {
            let kind = c[i + 1];
            let start = i + 2;
            let mut j = start;
            while !(c.get(j)? == &kind && c.get(j + 1) == Some(&']')) {
                j += 1;
            }
            let inner: String = c[start..j].iter().collect();
            match kind {
                ':' => match POSIX_CLASSES.iter().find(|n| **n == inner) {
                    Some(n) => items.push(ClassItem::Posix(n)),
                    None => wide = true,
                },
                _ if inner.chars().count() == 1 => {
                    items.push(ClassItem::Char(inner.chars().next().unwrap_or(' ')))
                }
                _ => wide = true,
            }
            i = j + 2;
            continue;
        }
        let ch = if ch == '\\' {
            i += 1;
            *c.get(i)?
        } else {
            ch
        };
        if c.get(i + 1) == Some(&'-') && c.get(i + 2).is_some_and(|&e| e != ']') {
            let mut end = c[i + 2];
            i += 2;
            if end == '\\' {
                i += 1;
                end = *c.get(i)?;
            }
            items.push(ClassItem::Range(ch, end));
        } else {
            items.push(ClassItem::Char(ch));
        }
        i += 1;
    }
}

/// A `modules.alias` pattern as a shell `case` pattern that matches the same strings:
/// `*`, `?` and bracket expressions as they are, every other character quoted.
pub fn case_pattern(pattern: &str) -> String {
    let mut out = String::new();
    let mut lit = String::new();
    let flush = |lit: &mut String, out: &mut String| {
        if !lit.is_empty() {
            out.push_str(&shell_quote(lit));
            lit.clear();
        }
    };
    // A bracket member: letters and digits as they are, anything else quoted (a quoted
    // character in a bracket expression is a member like any other), but `^` with a
    // backslash: busybox ash takes a quoted '^' first in a bracket for negation.
    let member = |ch: char| {
        if ch.is_ascii_alphanumeric() {
            ch.to_string()
        } else if ch == '^' {
            "\\^".to_string()
        } else {
            shell_quote(&ch.to_string())
        }
    };
    for p in pieces(pattern) {
        match p {
            Piece::Lit(ch) => lit.push(ch),
            Piece::Star => {
                flush(&mut lit, &mut out);
                out.push('*');
            }
            Piece::Any => {
                flush(&mut lit, &mut out);
                out.push('?');
            }
            Piece::Class(neg, items) => {
                flush(&mut lit, &mut out);
                out.push('[');
                if neg {
                    out.push('!');
                }
                for it in items {
                    match it {
                        ClassItem::Char(ch) => out.push_str(&member(ch)),
                        ClassItem::Range(a, b) => {
                            out.push_str(&member(a));
                            out.push('-');
                            out.push_str(&member(b));
                        }
                        ClassItem::Posix(name) => {
                            out.push_str("[:");
                            out.push_str(name);
                            out.push_str(":]");
                        }
                    }
                }
                out.push(']');
            }
        }
    }
    flush(&mut lit, &mut out);
    out
}

/// The literal characters a pattern starts with (up to its first wildcard).
fn literal_prefix(pattern: &str) -> String {
    pieces(pattern)
        .into_iter()
        .map_while(|p| match p {
            Piece::Lit(ch) => Some(ch),
            _ => None,
        })
        .collect()
}

/// A module name as the table holds it: letters, digits and `_` only (the shell searches
/// for it between spaces and newlines).
fn check_name(name: &str) -> Result<()> {
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(BuildError::ColdplugTable {
            module: format!("{name:?}"),
            message: "a name of letters, digits and _ only is expected".into(),
        });
    }
    Ok(())
}

/// The text of `etc/srbuild/modules.match`: `sr_mod_NAME='CLASS PATH NEED...'` per module
/// of `lines`,
/// `SR_MODULES_ORDER` and `SR_MODULES_ALWAYS` (names between spaces), and the function
/// `sr_modules_match MODALIAS`, which calls `sr_modules_want NAME` for each driver of
/// `lines` that one of its `aliases` (module, pattern) matches.
pub fn table_text(lines: &[LoadLine], aliases: &[(String, String)]) -> Result<String> {
    let mut table = String::new();
    let mut order = String::from(" ");
    let mut always = String::from(" ");
    for l in lines {
        check_name(&l.name)?;
        for n in &l.needs {
            check_name(n)?;
        }
        if l.path.is_empty() || l.path.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(BuildError::ColdplugTable {
                module: l.name.clone(),
                message: format!("path {:?} is empty or has white space", l.path),
            });
        }
        let mut line = format!("{} {}", l.class, l.path);
        for n in &l.needs {
            line.push(' ');
            line.push_str(n);
        }
        // The name was checked: letters, digits and _, so a variable name.
        table.push_str(&format!("sr_mod_{}={}\n", l.name, shell_quote(&line)));
        order.push_str(&format!("{} ", l.name));
        if l.class == "always" {
            always.push_str(&format!("{} ", l.name));
        }
    }
    let drivers: Vec<&str> = lines
        .iter()
        .filter(|l| l.class == "driver")
        .map(|l| l.name.as_str())
        .collect();
    // bus (None: a wildcard in the bus name) -> key (None: a shorter literal prefix) ->
    // module -> patterns; modules in load order.
    type Groups<'a> =
        BTreeMap<Option<String>, BTreeMap<Option<String>, Vec<(&'a str, Vec<String>)>>>;
    let mut groups: Groups = BTreeMap::new();
    for d in &drivers {
        for (m, pat) in aliases.iter().filter(|(m, _)| m == d) {
            let lit = literal_prefix(pat);
            let bus = pat
                .split_once(':')
                .filter(|(b, _)| lit.len() > b.len())
                .map(|(b, _)| b.to_string());
            let key = (bus.is_some() && lit.chars().count() >= KEY)
                .then(|| lit.chars().take(KEY).collect::<String>());
            let mods = groups.entry(bus).or_default().entry(key).or_default();
            match mods.iter_mut().find(|(n, _)| n == m) {
                Some((_, pats)) => pats.push(case_pattern(pat)),
                None => mods.push((d, vec![case_pattern(pat)])),
            }
        }
    }
    let mut f = String::new();
    f.push_str("sr_modules_match() {\n");
    let tries = |f: &mut String, mods: &[(&str, Vec<String>)], indent: &str| {
        for (m, pats) in mods {
            f.push_str(&format!(
                "{indent}case $1 in {}) sr_modules_want {m} ;; esac\n",
                pats.join(" | ")
            ));
        }
    };
    let by_bus: Vec<_> = groups.iter().filter(|(b, _)| b.is_some()).collect();
    if !by_bus.is_empty() {
        f.push_str("\tcase $1 in\n");
        for (bus, keys) in by_bus {
            let bus = bus.as_deref().unwrap_or_default();
            f.push_str(&format!("\t{}*)\n", shell_quote(&format!("{bus}:"))));
            let keyed: Vec<_> = keys.iter().filter(|(k, _)| k.is_some()).collect();
            if !keyed.is_empty() {
                f.push_str("\t\tcase $1 in\n");
                for (key, mods) in keyed {
                    f.push_str(&format!(
                        "\t\t{}*)\n",
                        shell_quote(key.as_deref().unwrap_or_default())
                    ));
                    tries(&mut f, mods, "\t\t\t");
                    f.push_str("\t\t\t;;\n");
                }
                f.push_str("\t\tesac\n");
            }
            if let Some(mods) = keys.get(&None) {
                tries(&mut f, mods, "\t\t");
            }
            f.push_str("\t\t;;\n");
        }
        f.push_str("\tesac\n");
    }
    if let Some(keys) = groups.get(&None) {
        for mods in keys.values() {
            tries(&mut f, mods, "\t");
        }
    }
    f.push_str("\treturn 0\n}\n");
    Ok(format!(
        "# shellcheck shell=sh\n\
         # Generated by srbuild (builder/src/resolve/modmatch.rs): the kernel modules of this\n\
         # image and the device aliases of its drivers, for sr_modules_select\n\
         # (usr/lib/srbuild/modules.sh).\n\
         # sr_mod_NAME: CLASS PATH NEED... of each module (sr_modules_line reads them).\n\
         # shellcheck disable=SC2034 # read by modules.sh\n\
         {}\
         # shellcheck disable=SC2034\n\
         SR_MODULES_ORDER={}\n\
         # shellcheck disable=SC2034\n\
         SR_MODULES_ALWAYS={}\n\
         # sr_modules_match MODALIAS: sr_modules_want NAME for each driver an alias of which\n\
         # matches MODALIAS.\n{f}",
        table,
        shell_quote(&order),
        shell_quote(&always),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;

    #[test]
    fn patterns_keep_wildcards_and_quote_the_rest() {
        assert_eq!(
            case_pattern("pci:v00001AF4d*sv*sd*bc*sc*i*"),
            "'pci:v00001AF4d'*'sv'*'sd'*'bc'*'sc'*'i'*"
        );
        assert_eq!(case_pattern("a?b"), "'a'?'b'");
        assert_eq!(case_pattern("d[!0-9A]F"), "'d'[!0-9A]'F'");
        assert_eq!(case_pattern("d[^AB]"), "'d'[!AB]");
        assert_eq!(case_pattern("x[,|)]y"), "'x'[',''|'')']'y'");
        assert_eq!(case_pattern("a[b"), "'a[b'");
        assert_eq!(case_pattern("a[]x]"), "'a'[']'x]");
        assert_eq!(case_pattern(r"a\*b"), "'a*b'");
        assert_eq!(case_pattern("it's"), r"'it'\''s'");
        assert_eq!(
            literal_prefix("pci:v00008086d000010D3sv*"),
            "pci:v00008086d000010D3sv"
        );
        assert_eq!(literal_prefix("acpi*:PNP0A03:*"), "acpi");
    }

    /// Runs `script` (`sh -c SCRIPT sh ARGS...`, in `dir`) with busybox sh when there is
    /// one and with /bin/sh; each shell's stdout. Fails the test when a shell fails or
    /// neither is there.
    fn each_shell(dir: &std::path::Path, script: &str, args: &[&str]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for sh in ["/bin/busybox", "/bin/sh"] {
            if !std::path::Path::new(sh).exists() {
                continue;
            }
            let mut c = Command::new(sh);
            if sh.ends_with("busybox") {
                c.arg("sh");
            }
            let o = c
                .current_dir(dir)
                .arg("-c")
                .arg(script)
                .arg("sh")
                .args(args)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{sh}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            out.push((
                sh.to_string(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
            ));
        }
        assert!(!out.is_empty());
        out
    }

    /// Whether `sh` (busybox sh when there is one, and /bin/sh) matches `value` against
    /// `pattern` rendered by [`case_pattern`].
    fn shells_match(pattern: &str, value: &str) -> Vec<(String, bool)> {
        let script = format!(
            "case $1 in {}) echo yes ;; *) echo no ;; esac",
            case_pattern(pattern)
        );
        each_shell(std::path::Path::new("/"), &script, &[value])
            .into_iter()
            .map(|(sh, out)| (sh, out.trim() == "yes"))
            .collect()
    }

    #[test]
    fn rendered_patterns_match_as_fnmatch_does() {
        let cases: &[(&str, &str, bool)] = &[
            (
                "pci:v00008086d0000153[AB]sv*",
                "pci:v00008086d0000153Bsv0",
                true,
            ),
            (
                "pci:v00008086d0000153[AB]sv*",
                "pci:v00008086d0000153Csv0",
                false,
            ),
            (
                "pci:v00008086d000015[!0-9A]F*",
                "pci:v00008086d000015EF",
                true,
            ),
            (
                "pci:v00008086d000015[!0-9A]F*",
                "pci:v00008086d0000150F",
                false,
            ),
            (
                "pci:v00008086d000015[!0-9A]F*",
                "pci:v00008086d000015AF",
                false,
            ),
            ("dmi*:rn*HERO(WI-FI)*:", "dmi:bvnX:rnROGHERO(WI-FI)X:", true),
            ("dmi*:rn*HERO(WI-FI)*:", "dmi:bvnX:rnROGHERO(WIFI)X:", false),
            ("ishtp:{33AECD58-B679}", "ishtp:{33AECD58-B679}", true),
            ("x[,|)]y", "x|y", true),
            ("x[,|)]y", "x)y", true),
            ("x[,|)]y", "xay", false),
            ("a[]x]", "a]", true),
            ("a[b", "a[b", true),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("of:N*T*Cfsl,imx6q-pcie", "of:NpcieTCfsl,imx6q-pcie", true),
            ("$(reboot)*", "$(reboot)x", true),
            ("$(reboot)*", "x", false),
        ];
        for (pat, value, want) in cases {
            assert_eq!(fnmatch(pat, value), *want, "libc: {pat} against {value}");
            for (sh, got) in shells_match(pat, value) {
                assert_eq!(got, *want, "{sh}: {pat} against {value}");
            }
        }
    }

    /// libc's fnmatch(3) without flags, as kmod matches modules.alias.
    fn fnmatch(pattern: &str, value: &str) -> bool {
        let p = std::ffi::CString::new(pattern).unwrap();
        let v = std::ffi::CString::new(value).unwrap();
        // SAFETY: two NUL-terminated strings that outlive the call.
        unsafe { libc::fnmatch(p.as_ptr(), v.as_ptr(), 0) == 0 }
    }

    #[test]
    fn brackets_the_shells_read_otherwise_match_as_libc_does() {
        // busybox ash takes a quoted '^' first in a bracket for negation; POSIX classes,
        // one-character collating symbols and equivalence classes are kept.
        for (pat, values) in [
            (r"x[\^a]", ["x^", "xa", "xb", "x!"]),
            ("x[!^a]", ["x^", "xa", "xb", "x!"]),
            ("x[a^]", ["x^", "xa", "xb", "x!"]),
            ("x[[:alpha:]]", ["xa", "xZ", "x1", "x:"]),
            ("x[![:digit:]_]", ["xa", "x_", "x1", "x:"]),
            ("x[[.a.]b]", ["xa", "xb", "xc", "x."]),
            ("x[[=a=]]", ["xa", "xb", "x=", "x["]),
        ] {
            for v in values {
                let want = fnmatch(pat, v);
                for (sh, got) in shells_match(pat, v) {
                    assert_eq!(got, want, "{sh}: {pat} against {v}");
                }
            }
        }
        // What is not translated matches any one character: a driver too many, never one
        // too few.
        assert_eq!(case_pattern("x[[:nosuch:]]y"), "'x'?'y'");
        assert_eq!(case_pattern("x[[.ab.]]y"), "'x'?'y'");
    }

    /// A value `pattern` matches, made from its pieces, or a near miss of it.
    fn value_of(pattern: &str, miss: bool) -> String {
        let mut v = String::new();
        for p in pieces(pattern) {
            match p {
                Piece::Lit(c) => v.push(c),
                Piece::Star => {}
                Piece::Any => v.push('Q'),
                Piece::Class(neg, items) => v.push(match (neg, items.first()) {
                    (false, Some(ClassItem::Char(c) | ClassItem::Range(c, _))) => *c,
                    (false, Some(ClassItem::Posix(_))) => '0',
                    _ => '~',
                }),
            }
        }
        if miss {
            // One character changed in the middle, where the prefix grouping cuts.
            let mut chars: Vec<char> = v.chars().collect();
            let k = chars.len().min(13).saturating_sub(1);
            if let Some(c) = chars.get_mut(k) {
                *c = if *c == 'Z' { 'Y' } else { 'Z' };
            }
            v = chars.into_iter().collect();
        }
        v
    }

    /// For each value, the drivers the generated `sr_modules_match` of `aliases` wants,
    /// per shell, as "value\x1fnames".
    fn table_wants(aliases: &[(String, String)], values: &[String]) -> Vec<(String, String)> {
        let mut names: Vec<&str> = aliases.iter().map(|(m, _)| m.as_str()).collect();
        names.sort();
        names.dedup();
        let lines: Vec<LoadLine> = names
            .iter()
            .map(|n| LoadLine {
                name: n.to_string(),
                class: "driver",
                path: format!("kernel/{n}.ko"),
                needs: vec![],
            })
            .collect();
        let table = table_text(&lines, aliases).unwrap();
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("table"), table).unwrap();
        std::fs::write(d.path().join("values"), values.join("\n") + "\n").unwrap();
        let script = "sr_modules_want() { w=\"$w $1\"; }\n. ./table\n\
                      while IFS= read -r v; do w=''; sr_modules_match \"$v\"; \
                      printf '%s\\037%s\\n' \"$v\" \"$w\"; done <values";
        each_shell(d.path(), script, &[])
    }

    /// Checks the generated matcher of `aliases` against libc's fnmatch over every alias,
    /// for a matching value and a near miss of each.
    fn table_agrees_with_fnmatch(aliases: &[(String, String)]) {
        let mut values: Vec<String> = aliases
            .iter()
            .flat_map(|(_, p)| [value_of(p, false), value_of(p, true)])
            .filter(|v| !v.contains('\n'))
            .collect();
        values.sort();
        values.dedup();
        for (sh, text) in table_wants(aliases, &values) {
            let got: Vec<&str> = text.lines().collect();
            assert_eq!(got.len(), values.len(), "{sh}: one line per value");
            for (line, v) in got.iter().zip(&values) {
                let (value, names) = line.split_once('\x1f').unwrap();
                assert_eq!(value, v, "{sh}");
                let mut got: Vec<&str> = names.split_whitespace().collect();
                got.sort();
                got.dedup();
                let mut want: Vec<&str> = aliases
                    .iter()
                    .filter(|(_, p)| fnmatch(p, v))
                    .map(|(m, _)| m.as_str())
                    .collect();
                want.sort();
                want.dedup();
                assert_eq!(got, want, "{sh}: the drivers for {v:?}");
            }
        }
    }

    #[test]
    fn the_table_wants_what_fnmatch_matches_whatever_the_grouping() {
        // Patterns filed by 14-character prefix, by bus only (short literal part), and
        // with a wildcard in the bus.
        let aliases: Vec<(String, String)> = [
            ("virtio_net", "virtio:d00000001v*"),
            ("virtio_any", "virtio:d*v*"),
            ("e1000e", "pci:v00008086d000010D3sv*sd*bc*sc*i*"),
            ("igb", "pci:v00008086d000010C9sv*sd*bc*sc*i*"),
            ("intel_any", "pci:v00008086d*sv*sd*bc02sc00i*"),
            ("any_pci_net", "pci:v*d*sv*sd*bc02sc00i*"),
            ("acpi_pnp", "acpi*:PNP0A03:*"),
            ("dmi_board", "dmi*:rn*HERO(WI-FI)*:"),
            ("brackets", "pci:v00008086d0000153[AB]sv*"),
            ("negated", "usb:v1D6Bp000[!3]d*"),
            ("caret", r"x:[\^a]b"),
            ("posix", "x:[[:digit:]]z"),
        ]
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .to_vec();
        table_agrees_with_fnmatch(&aliases);
    }

    #[test]
    fn the_table_of_the_hosts_own_aliases_wants_what_fnmatch_matches() {
        // The host's modules.alias: every device alias with a bracket or a wildcard in
        // its bus, and one in 40 of the rest, at most 1500.
        let Some(text) = std::fs::read_dir("/lib/modules").ok().and_then(|d| {
            d.flatten()
                .find_map(|e| std::fs::read_to_string(e.path().join("modules.alias")).ok())
        }) else {
            eprintln!("no /lib/modules/*/modules.alias on this host: nothing compared");
            return;
        };
        let mut aliases = Vec::new();
        for (k, line) in text.lines().enumerate() {
            let mut f = line.split(' ');
            let (Some("alias"), Some(p), Some(m), None) = (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            let device = p.split_once(':').is_some_and(|(b, _)| !b.is_empty());
            let odd = p.contains('[') || p.split(':').next().is_some_and(|b| b.contains('*'));
            if device && check_name(m).is_ok() && (odd || k % 40 == 0) {
                aliases.push((m.to_string(), p.to_string()));
            }
            if aliases.len() >= 1500 {
                break;
            }
        }
        assert!(aliases.len() > 100, "{} aliases", aliases.len());
        table_agrees_with_fnmatch(&aliases);
    }

    #[test]
    fn names_with_other_characters_are_refused() {
        let line = LoadLine {
            name: "a;b".into(),
            class: "dep",
            path: "kernel/a.ko".into(),
            needs: vec![],
        };
        assert!(table_text(&[line], &[]).is_err());
    }
}
