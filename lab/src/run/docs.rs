//! Text generated from the registries ([`crate::run::kinds::KINDS`],
//! [`crate::run::scenarios::SPECS`], [`crate::run::matrix::MATRIX`]): the docs' tables of
//! kinds and scenarios (markdown, checked by `cargo xtask docs --check`) and the lists in
//! `srbuild lab test --help`.

use crate::run::kinds::{RootKind, Storage, KINDS};
use crate::run::matrix::MATRIX;
use crate::run::scenarios::SPECS;

fn storage(k: &RootKind) -> String {
    match k.storage {
        Storage::ServerExport => "served by the server node".into(),
        Storage::Volume => "served by the server node (a Debian tree filled on the host)".into(),
        Storage::ServerImage { file, .. } => {
            format!("an image ({file}) the server node serves, fetched into RAM")
        }
        Storage::Overlay { .. } => "an overlay per node".into(),
        Storage::Shared(f) => format!("one shared disk ({f:?})"),
        Storage::Target(f) => format!("one disk ({f:?}) served over iSCSI"),
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|")
}

/// The markdown table of the root kinds.
pub fn kinds_table() -> String {
    let mut s = String::from(
        "| `--root` | profile | root | shared | `--rootfs debian` | service roles | options | scenarios |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for k in KINDS {
        let roles: Vec<&str> = k
            .seed
            .iter()
            .chain(k.server.iter())
            .map(|r| r.node)
            .collect();
        let opts: Vec<String> = k
            .options
            .iter()
            .map(|o| {
                format!(
                    "`{}` ({}; default {})",
                    o.key,
                    o.allowed.join(", "),
                    o.default
                )
            })
            .collect();
        s.push_str(&format!(
            "| `{}` | `{}` | {} ({}) | {} | {} | {} | {} | {} |\n",
            k.name,
            k.client_profile,
            k.fstype,
            storage(k),
            if k.shared { "yes" } else { "no" },
            if k.debian.is_some() { "yes" } else { "no" },
            if roles.is_empty() {
                "-".to_string()
            } else {
                roles.join(", ")
            },
            if opts.is_empty() {
                "-".to_string()
            } else {
                opts.join("; ")
            },
            k.scenarios
                .iter()
                .map(|s| s.name())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    s
}

/// The markdown table of the scenarios, with the kinds that support each and the CI
/// matrix's entries.
pub fn scenarios_table() -> String {
    let mut s =
        String::from("| `--scenario` | what it shows | kinds | in CI |\n|---|---|---|---|\n");
    for d in SPECS {
        let kinds: Vec<&str> = KINDS
            .iter()
            .filter(|k| k.scenarios.contains(&d.id))
            .map(|k| k.name)
            .collect();
        let ci: Vec<String> = MATRIX
            .iter()
            .filter(|m| m.scenario == d.id)
            .map(|m| format!("`{}`", m.name))
            .collect();
        s.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            d.name,
            cell(d.doc),
            kinds.join(", "),
            if ci.is_empty() {
                "-".to_string()
            } else {
                ci.join(", ")
            }
        ));
    }
    s
}

/// The kinds, their options and the scenarios, for `srbuild lab test --help`.
pub fn help_lists() -> String {
    let mut s = String::from("Root kinds (--root):\n");
    for k in KINDS {
        s.push_str(&format!("  {:<10} {}\n", k.name, k.doc));
        for o in k.options {
            s.push_str(&format!(
                "  {:<10}   --opt {}={} ({}; default {})\n",
                "",
                o.key,
                o.allowed.join("|"),
                o.doc,
                o.default
            ));
        }
    }
    s.push_str("\nScenarios (--scenario):\n");
    for d in SPECS {
        let kinds: Vec<&str> = KINDS
            .iter()
            .filter(|k| k.scenarios.contains(&d.id))
            .map(|k| k.name)
            .collect();
        s.push_str(&format!(
            "  {:<20} {} [{}]\n",
            d.name,
            d.doc.replace('`', ""),
            kinds.join(", ")
        ));
    }
    s
}

/// `text` with the part between `<!-- BEGIN generated: NAME -->` and
/// `<!-- END generated: NAME -->` replaced by `body`, for each `(NAME, body)`; markers
/// not in `text` are skipped. An unclosed marker is an error naming it.
pub fn fill_markers(text: &str, parts: &[(&str, String)]) -> Result<String, String> {
    let mut out = text.to_string();
    for (name, body) in parts {
        let begin = format!("<!-- BEGIN generated: {name} -->");
        let end = format!("<!-- END generated: {name} -->");
        let mut from = 0;
        while let Some(b) = out[from..].find(&begin).map(|i| i + from) {
            let start = b + begin.len();
            let e = out[start..]
                .find(&end)
                .map(|i| i + start)
                .ok_or_else(|| format!("'{begin}' has no '{end}' after it"))?;
            let replacement = format!("\n{body}");
            out.replace_range(start..e, &replacement);
            from = start + replacement.len() + end.len();
        }
    }
    Ok(out)
}

/// Every generated part, by marker name.
pub fn parts() -> Vec<(&'static str, String)> {
    vec![("kinds", kinds_table()), ("scenarios", scenarios_table())]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_a_row_per_kind_and_scenario() {
        let k = kinds_table();
        assert_eq!(k.lines().count(), KINDS.len() + 2);
        assert!(
            k.contains("| `gfs2` |") && k.contains("one shared disk (mkfs.gfs2)"),
            "{k}"
        );
        assert!(k.contains("`version` (4.2, 4.1, 4, 3; default 4.2)"), "{k}");
        let s = scenarios_table();
        assert_eq!(s.lines().count(), SPECS.len() + 2);
        assert!(s.contains("| `pxe` |") && s.contains("`nfs-pxe`"), "{s}");
        assert!(help_lists().contains("lone-node"));
    }

    #[test]
    fn markers_are_filled_and_refilling_changes_nothing() {
        let text =
            "intro\n<!-- BEGIN generated: kinds -->\nold\n<!-- END generated: kinds -->\nend\n";
        let parts = [("kinds", "| a |\n".to_string())];
        let once = fill_markers(text, &parts).unwrap();
        assert_eq!(
            once,
            "intro\n<!-- BEGIN generated: kinds -->\n| a |\n<!-- END generated: kinds -->\nend\n"
        );
        assert_eq!(fill_markers(&once, &parts).unwrap(), once);
        assert_eq!(fill_markers("no markers", &parts).unwrap(), "no markers");
        let e = fill_markers("<!-- BEGIN generated: kinds -->\n", &parts).unwrap_err();
        assert!(e.contains("END generated: kinds"), "{e}");
    }
}
