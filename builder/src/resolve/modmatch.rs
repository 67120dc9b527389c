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
}

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
                    out.push(piece);
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
/// characters it used, its `]` included; None when it never closes.
fn class(c: &[char]) -> Option<(Piece, usize)> {
    let mut i = 0;
    let negated = matches!(c.first(), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut items = Vec::new();
    let mut first = true;
    loop {
        let ch = *c.get(i)?;
        if ch == ']' && !first {
            return Some((Piece::Class(negated, items), i + 1));
        }
        first = false;
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
    // character in a bracket expression is a member like any other).
    let member = |ch: char| {
        if ch.is_ascii_alphanumeric() {
            ch.to_string()
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

    /// Whether `sh` (busybox sh when there is one, and /bin/sh) matches `value` against
    /// `pattern` rendered by [`case_pattern`].
    fn shells_match(pattern: &str, value: &str) -> Vec<(String, bool)> {
        let script = format!(
            "case $1 in {}) echo yes ;; *) echo no ;; esac",
            case_pattern(pattern)
        );
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
                .arg("-c")
                .arg(&script)
                .arg("sh")
                .arg(value)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "{sh}: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            out.push((
                sh.to_string(),
                String::from_utf8_lossy(&o.stdout).trim() == "yes",
            ));
        }
        assert!(!out.is_empty());
        out
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
            for (sh, got) in shells_match(pat, value) {
                assert_eq!(got, *want, "{sh}: {pat} against {value}");
            }
        }
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
