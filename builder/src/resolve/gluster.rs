//! GlusterFS client xlators chosen from a client volfile (`srbuild image --gluster-volfile`):
//! each `type CATEGORY/NAME` line names an xlator the FUSE client will dlopen, so only those
//! (plus `mount/fuse` and `meta`, which the client always loads, and the socket transport)
//! go into the image instead of the module's default client set.

use crate::config::{Item, Profile};
use crate::error::{BuildError, Result};
use crate::sysroot::Sysroot;
use std::path::Path;

/// One `type` line of a volfile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XlatorUse {
    /// `performance/write-behind`, `meta`.
    pub xlator: String,
    /// 1-based line in the volfile.
    pub line: usize,
}

/// The `type` lines of a volfile, in order; malformed lines are errors naming the line.
pub fn parse_volfile(text: &str, path: &Path) -> Result<Vec<XlatorUse>> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        let mut words = line.split_whitespace();
        if words.next() != Some("type") {
            continue;
        }
        let xlator = words.next().unwrap_or("");
        let ok = !xlator.is_empty()
            && words.next().is_none()
            && xlator
                .split('/')
                .all(|p| !p.is_empty() && p != ".." && p != ".")
            && xlator
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_./".contains(&b));
        if !ok {
            return Err(BuildError::Volfile {
                path: path.to_path_buf(),
                line: i + 1,
                message: format!("malformed type line: {line:?}; expected `type CATEGORY/NAME`"),
            });
        }
        if !out.iter().any(|u: &XlatorUse| u.xlator == xlator) {
            out.push(XlatorUse {
                xlator: xlator.to_string(),
                line: i + 1,
            });
        }
    }
    if out.is_empty() {
        return Err(BuildError::Volfile {
            path: path.to_path_buf(),
            line: 0,
            message: "no `type` line: not a GlusterFS volfile".into(),
        });
    }
    Ok(out)
}

/// The xlators the FUSE client always loads, whatever the volfile says.
const ALWAYS: &[&str] = &["mount/fuse", "meta"];

/// Replaces the profile's default client xlators (the `…/glusterfs/*/xlator/…` entries of
/// its plugin dirs) with the volfile's, each checked to exist in the sysroot. `text` is
/// the volfile's content, read from `volfile` by [`super::inputs`].
pub fn apply_volfile(
    profile: &mut Profile,
    sysroot: &Sysroot,
    volfile: &Path,
    text: &str,
) -> Result<()> {
    if !profile.modules.iter().any(|m| m == "glusterfs") {
        return Err(BuildError::Volfile {
            path: volfile.to_path_buf(),
            line: 0,
            message: format!(
                "--gluster-volfile is for profiles with the glusterfs module; profile {} has: {}",
                profile.name,
                profile.modules.join(", ")
            ),
        });
    }
    let uses = parse_volfile(text, volfile)?;
    // The module's entries say where the xlators live (`/usr/lib/<triplet>/glusterfs/*`).
    let base = profile
        .plugin_dirs
        .iter()
        .find_map(|i| i.name.split_once("/xlator/").map(|(b, _)| b.to_string()))
        .unwrap_or_else(|| "/usr/lib/x86_64-linux-gnu/glusterfs/*".into());
    profile.plugin_dirs.retain(|i| !i.name.contains("/xlator/"));
    let by = |line: usize| format!("{}:{line}", volfile.display());
    let always = ALWAYS.iter().map(|x| XlatorUse {
        xlator: x.to_string(),
        line: 0,
    });
    for u in always.chain(uses) {
        let pattern = format!("{base}/xlator/{}.so", u.xlator);
        let found = glob::glob(&sysroot.host(&pattern).display().to_string())
            .map(|g| g.flatten().next().is_some())
            .unwrap_or(false);
        if !found {
            return Err(BuildError::Volfile {
                path: volfile.to_path_buf(),
                line: u.line,
                message: format!(
                    "xlator {} is not installed (no {}); install the glusterfs package that \
                     has it, or fix the volfile",
                    u.xlator,
                    sysroot.host(&pattern).display()
                ),
            });
        }
        let asked_by = if u.line == 0 {
            "the glusterfs client (always loaded)".to_string()
        } else {
            by(u.line)
        };
        if !profile.plugin_dirs.iter().any(|i| i.name == pattern) {
            profile.plugin_dirs.push(Item {
                name: pattern,
                by: asked_by,
                optional: false,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOL: &str = "volume root-client-0
    type protocol/client
    option transport-type tcp
end-volume

volume root-replicate-0
    type cluster/replicate
    subvolumes root-client-0 root-client-1
end-volume

volume root-write-behind
    type performance/write-behind
    subvolumes root-replicate-0
end-volume
";

    #[test]
    fn type_lines_are_the_xlators() {
        let u = parse_volfile(VOL, Path::new("c.vol")).unwrap();
        let names: Vec<&str> = u.iter().map(|x| x.xlator.as_str()).collect();
        assert_eq!(
            names,
            [
                "protocol/client",
                "cluster/replicate",
                "performance/write-behind"
            ]
        );
        assert_eq!(u[1].line, 7);
        let err = parse_volfile("volume x\n  type ../../../etc/shadow\n", Path::new("c.vol"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("c.vol:2") && err.contains("malformed"),
            "{err}"
        );
        assert!(parse_volfile("hello\n", Path::new("c.vol")).is_err());
    }

    fn sysroot_with(d: &Path, xlators: &[&str]) -> Sysroot {
        for x in xlators {
            let p = d.join(format!(
                "usr/lib/x86_64-linux-gnu/glusterfs/10.3/xlator/{x}.so"
            ));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "").unwrap();
        }
        Sysroot::new(d)
    }

    fn glusterfs_profile() -> Profile {
        Profile {
            name: "glusterfs".into(),
            modules: vec!["base".into(), "glusterfs".into()],
            plugin_dirs: vec![
                Item {
                    name: "/usr/lib/x86_64-linux-gnu/glusterfs/*/rpc-transport/socket.so".into(),
                    by: "m".into(),
                    optional: false,
                },
                Item {
                    name: "/usr/lib/x86_64-linux-gnu/glusterfs/*/xlator/performance/nl-cache.so"
                        .into(),
                    by: "m".into(),
                    optional: false,
                },
            ],
            ..Profile::default()
        }
    }

    #[test]
    fn the_volfile_replaces_the_default_set_and_a_missing_xlator_names_its_line() {
        let d = tempfile::tempdir().unwrap();
        let all = [
            "mount/fuse",
            "meta",
            "protocol/client",
            "cluster/replicate",
            "performance/write-behind",
        ];
        let root = d.path().join("root");
        let sysroot = sysroot_with(&root, &all);
        let vol = d.path().join("client.vol");
        std::fs::write(&vol, VOL).unwrap();
        let mut p = glusterfs_profile();
        apply_volfile(&mut p, &sysroot, &vol, VOL).unwrap();
        let names: Vec<&str> = p.plugin_dirs.iter().map(|i| i.name.as_str()).collect();
        assert!(names.iter().any(|n| n.ends_with("rpc-transport/socket.so")));
        assert!(!names.iter().any(|n| n.contains("nl-cache")), "{names:?}");
        for x in all {
            assert!(
                names.iter().any(|n| n.ends_with(&format!("xlator/{x}.so"))),
                "{x}"
            );
        }
        let wb = p
            .plugin_dirs
            .iter()
            .find(|i| i.name.contains("write-behind"))
            .unwrap();
        assert!(wb.by.ends_with("client.vol:12"), "{}", wb.by);

        // Without write-behind installed, the error names it and the volfile line.
        let root2 = d.path().join("root2");
        let sysroot = sysroot_with(&root2, &all[..4]);
        let err = apply_volfile(&mut glusterfs_profile(), &sysroot, &vol, VOL)
            .unwrap_err()
            .to_string();
        assert!(err.contains("client.vol:12"), "{err}");
        assert!(
            err.contains("performance/write-behind is not installed"),
            "{err}"
        );

        let mut nfs = Profile {
            name: "nfs".into(),
            modules: vec!["nfs".into()],
            ..Profile::default()
        };
        let err = apply_volfile(&mut nfs, &sysroot, &vol, VOL)
            .unwrap_err()
            .to_string();
        assert!(err.contains("glusterfs module"), "{err}");
    }
}
