//! The check every image a lab run builds goes through before anything boots: the kernel
//! modules and firmware the sysroot ships compressed (`.ko.xz`, `.ko.zst`, `.ko.gz`,
//! firmware `.xz`, `.zst`) are in the image plain. Read with the project's own archive
//! reader: no member is a compressed module or firmware file, every `.ko` member is an ELF
//! object, `modules.dep` (and `modules.dep.bin`, if shipped) names only `.ko` paths, and
//! every module `modules.load` names, with its dependencies as the sysroot's own
//! `modules.dep` lists them, is in the image under its plain name with the content of the
//! sysroot's file decompressed. With a release's sysroot (`--distro`), the sysroot's
//! modules must carry that release's suffix ([`crate::run::releases::Release`]), so the
//! check cannot pass by having nothing to decompress.

use crate::error::{LabError, Result};
use sha2::{Digest, Sha256};
use srbuild_builder::resolve::kmod::read_decompressed;
use srbuild_builder::sysroot::Sysroot;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::Path;

/// Compressed module names the image must not hold.
const COMPRESSED_KO: &[&str] = &[".ko.xz", ".ko.zst", ".ko.gz"];
/// Compressed firmware names the image must not hold (what the kernel's loader reads).
const COMPRESSED_FIRMWARE: &[&str] = &[".xz", ".zst"];
/// Where firmware lives in an image.
const FIRMWARE_DIRS: &[&str] = &["lib/firmware/", "usr/lib/firmware/"];
/// The list of modules an image loads (`srbuild_builder::contract::MODULES_LOAD`).
const MODULES_LOAD: &str = srbuild_builder::contract::MODULES_LOAD;

/// What the check found in an image.
#[derive(Debug, PartialEq, Eq)]
pub struct Checked {
    /// `.ko` members.
    pub modules: usize,
    /// Of the modules `modules.load` needs, those the sysroot ships compressed.
    pub decompressed: usize,
    /// Firmware files.
    pub firmware: usize,
}

/// What the walk over the image collects.
#[derive(Default)]
struct Members {
    /// `.ko` member → SHA-256 of its body.
    ko: BTreeMap<String, [u8; 32]>,
    firmware: usize,
    /// The module directory (`usr/lib/modules/KVER`) and its `modules.dep`.
    dep: Option<(String, String)>,
    dep_bin: Option<Vec<u8>>,
    load: Option<String>,
}

/// Checks the image at `image`, built from `sysroot` for kernel `kver`; `suffix` is what
/// the sysroot's modules must end in (`.ko.xz` for Debian 13), when the run knows it.
pub fn check_image(
    image: &Path,
    sysroot: &Path,
    kver: &str,
    suffix: Option<&str>,
) -> Result<Checked> {
    let bad = |why: String| LabError::ImageCheck {
        image: image.to_path_buf(),
        why,
    };
    let m = members(image, kver).map_err(bad)?;
    let Some(load) = &m.load else {
        if let Some(k) = m.ko.keys().next() {
            return Err(bad(format!(
                "{k} is in the image but {MODULES_LOAD} is not"
            )));
        }
        return Ok(Checked {
            modules: 0,
            decompressed: 0,
            firmware: m.firmware,
        });
    };
    let Some((dir, dep)) = &m.dep else {
        return Err(bad(format!(
            "{MODULES_LOAD} is there but no modules.dep under modules/{kver}"
        )));
    };
    for p in dep.split([':', ' ', '\n']).filter(|p| !p.is_empty()) {
        if !p.ends_with(".ko") {
            return Err(bad(format!("{dir}/modules.dep names {p}, not a plain .ko")));
        }
    }
    if let Some(bin) = &m.dep_bin {
        if let Some(s) = COMPRESSED_KO
            .iter()
            .find(|s| bin.windows(s.len()).any(|w| w == s.as_bytes()))
        {
            return Err(bad(format!("{dir}/modules.dep.bin names a {s} module")));
        }
    }
    let root = Sysroot::new(sysroot);
    let built = |source| LabError::Build {
        what: format!("checking {} against {}", image.display(), sysroot.display()),
        source,
    };
    let dep_of_sysroot = format!("/lib/modules/{kver}/modules.dep");
    let text = root
        .read_text(&dep_of_sysroot)
        .map_err(built)?
        .ok_or_else(|| bad(format!("the sysroot has no {dep_of_sysroot}")))?;
    // Plain path → (the sysroot's path, its dependencies as plain paths).
    let mut index: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for line in text.lines() {
        let Some((m, deps)) = line.split_once(':') else {
            continue;
        };
        let deps = deps.split_whitespace().map(|d| plain(d).to_string());
        index.insert(plain(m).to_string(), (m.to_string(), deps.collect()));
    }
    let mut needed = BTreeSet::new();
    for path in load.lines().filter_map(|l| l.split_whitespace().nth(2)) {
        let (_, deps) = index.get(path).ok_or_else(|| {
            bad(format!(
                "{MODULES_LOAD} names {path}, which the sysroot's {dep_of_sysroot} does not"
            ))
        })?;
        needed.insert(path.to_string());
        needed.extend(deps.iter().cloned());
    }
    let mut decompressed = 0;
    for p in &needed {
        let from = index.get(p).map(|(f, _)| f.as_str()).unwrap_or(p);
        if let Some(s) = suffix.filter(|s| !from.ends_with(*s)) {
            return Err(bad(format!(
                "the sysroot ships {from}, not a {s} module as its release does; \
                 is it the release's tree?"
            )));
        }
        let member = format!("{dir}/{p}");
        let Some(digest) = m.ko.get(&member) else {
            return Err(bad(format!(
                "{member} is missing: the image needs it (the sysroot has {from})"
            )));
        };
        if from != p {
            let bytes =
                read_decompressed(&root, &format!("/lib/modules/{kver}/{from}")).map_err(built)?;
            if Sha256::digest(&bytes)[..] != digest[..] {
                return Err(bad(format!(
                    "{member} is not the sysroot's {from} decompressed"
                )));
            }
            decompressed += 1;
        }
    }
    Ok(Checked {
        modules: m.ko.len(),
        decompressed,
        firmware: m.firmware,
    })
}

/// `rel` without a compression suffix after `.ko`.
fn plain(rel: &str) -> &str {
    COMPRESSED_KO
        .iter()
        .find_map(|s| rel.strip_suffix(&s[3..]).filter(|r| r.ends_with(".ko")))
        .unwrap_or(rel)
}

/// Walks the image once: refuses compressed modules and firmware and non-ELF `.ko`
/// members, hashes the `.ko` bodies and keeps the index files.
fn members(image: &Path, kver: &str) -> std::result::Result<Members, String> {
    let mut m = Members::default();
    let mut why = None;
    let dep_tail = format!("/modules/{kver}/modules.dep");
    let walk = srbuild_archive::for_each_entry_with_body(image, |v, body| {
        let name = v
            .entry
            .path
            .trim_start_matches("./")
            .trim_start_matches('/');
        if v.entry.mode & 0o170000 != 0o100000 {
            return Ok(());
        }
        let mut fail = |w: String| {
            why = Some(w.clone());
            // Stops the walk; `why` says what was wrong.
            Err(srbuild_archive::ArchiveError::InvalidEntry {
                path: String::new(),
                reason: w,
            })
        };
        if let Some(s) = COMPRESSED_KO.iter().find(|s| name.ends_with(*s)) {
            return fail(format!(
                "{name} is a compressed ({s}) module; the image must hold it plain"
            ));
        }
        if FIRMWARE_DIRS.iter().any(|d| name.starts_with(d)) {
            if let Some(s) = COMPRESSED_FIRMWARE.iter().find(|s| name.ends_with(*s)) {
                return fail(format!(
                    "{name} is compressed ({s}) firmware; the image must hold it plain"
                ));
            }
            m.firmware += 1;
        }
        let read = |body: &mut dyn Read| {
            let mut all = Vec::new();
            body.read_to_end(&mut all).map(|_| all)
        };
        let io = |e: std::io::Error| srbuild_archive::ArchiveError::ReadImage {
            path: image.to_path_buf(),
            source: e,
        };
        if name.ends_with(".ko") {
            let bytes = read(body).map_err(io)?;
            if !bytes.starts_with(b"\x7fELF") {
                return fail(format!("{name} does not start with the ELF magic"));
            }
            m.ko.insert(name.to_string(), Sha256::digest(&bytes).into());
        } else if let Some(dir) = name.strip_suffix("/modules.dep") {
            if format!("/{name}").ends_with(&dep_tail) {
                let text = String::from_utf8_lossy(&read(body).map_err(io)?).into_owned();
                m.dep = Some((dir.to_string(), text));
            }
        } else if name.ends_with(&format!("{kver}/modules.dep.bin")) {
            m.dep_bin = Some(read(body).map_err(io)?);
        } else if name == MODULES_LOAD {
            m.load = Some(String::from_utf8_lossy(&read(body).map_err(io)?).into_owned());
        }
        Ok(())
    });
    match (walk, why) {
        (_, Some(w)) => Err(w),
        (Err(e), None) => Err(format!("cannot read it: {e}")),
        (Ok(()), None) => Ok(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use srbuild_archive::{write_image, Compression, Entry, EntryKind};
    use std::io::Write;

    const KVER: &str = "6.12.99-test";

    /// A module's body: an ELF header's magic and class, then its name.
    fn ko(name: &str) -> Vec<u8> {
        [&b"\x7fELF\x02\x01\x01"[..], name.as_bytes()].concat()
    }

    fn xz(plain: &[u8]) -> Vec<u8> {
        let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
        e.write_all(plain).unwrap();
        e.finish().unwrap()
    }

    /// A sysroot laid out as Debian 13's (`lib` → `usr/lib`): `a` needs `b`, both `.ko.xz`.
    fn sysroot(d: &Path) -> std::path::PathBuf {
        let root = d.join("sysroot");
        let m = root.join("usr/lib/modules").join(KVER);
        std::fs::create_dir_all(m.join("kernel/fs")).unwrap();
        std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
        std::fs::write(m.join("kernel/fs/a.ko.xz"), xz(&ko("a"))).unwrap();
        std::fs::write(m.join("kernel/fs/b.ko.xz"), xz(&ko("b"))).unwrap();
        std::fs::write(
            m.join("modules.dep"),
            "kernel/fs/a.ko.xz: kernel/fs/b.ko.xz\nkernel/fs/b.ko.xz:\n",
        )
        .unwrap();
        root
    }

    #[test]
    fn an_image_the_builder_made_passes_and_the_release_suffix_is_required() {
        let d = tempfile::tempdir().unwrap();
        let root = sysroot(d.path());
        let profile = d.path().join("p.toml");
        std::fs::write(&profile, "kernel_modules = [\"a\"]\n").unwrap();
        let img = d.path().join("z.img");
        artifacts_build(&profile, &root, &img);
        let c = check_image(&img, &root, KVER, Some(".ko.xz")).unwrap();
        assert_eq!(
            c,
            Checked {
                modules: 2,
                decompressed: 2,
                firmware: 0
            }
        );
        let err = check_image(&img, &root, KVER, Some(".ko"))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ships kernel/fs/a.ko.xz, not a .ko module"),
            "{err}"
        );
    }

    fn artifacts_build(profile: &Path, root: &Path, img: &Path) {
        crate::run::artifacts::build_image_with(
            profile.to_str().unwrap(),
            (root, KVER),
            None,
            img,
            None,
        )
        .unwrap();
    }

    /// An image's members, by path.
    type Image = Vec<(String, Vec<u8>)>;
    /// How a case spoils the good image.
    type Spoil<'a> = Box<dyn Fn(&mut Image) + 'a>;

    /// The members of a good image of the sysroot above, by path.
    fn good() -> Image {
        let m = format!("usr/lib/modules/{KVER}");
        vec![
            (format!("{m}/kernel/fs/a.ko"), ko("a")),
            (format!("{m}/kernel/fs/b.ko"), ko("b")),
            (
                format!("{m}/modules.dep"),
                b"kernel/fs/a.ko: kernel/fs/b.ko\nkernel/fs/b.ko:\n".to_vec(),
            ),
            (
                MODULES_LOAD.to_string(),
                b"b dep kernel/fs/b.ko -\na always kernel/fs/a.ko b\n".to_vec(),
            ),
            ("usr/lib/firmware/v/x.bin".into(), b"blob".to_vec()),
        ]
    }

    /// Checks an image of `members` against the sysroot; the error's text.
    fn check(d: &Path, root: &Path, members: &[(String, Vec<u8>)]) -> Result<Checked> {
        let entries: Vec<Entry> = members
            .iter()
            .map(|(p, b)| Entry {
                path: p.clone(),
                mode: 0o644,
                kind: EntryKind::Bytes(b.clone()),
                hardlink_group: None,
            })
            .collect();
        let img = d.join("t.img");
        write_image(&img, &entries, Compression::Zstd, 0).unwrap();
        check_image(&img, root, KVER, Some(".ko.xz"))
    }

    #[test]
    fn bad_images_fail_with_what_is_wrong() {
        let d = tempfile::tempdir().unwrap();
        let root = sysroot(d.path());
        let ok = check(d.path(), &root, &good()).unwrap();
        assert_eq!((ok.modules, ok.decompressed, ok.firmware), (2, 2, 1));
        let m = format!("usr/lib/modules/{KVER}");
        let cases: Vec<(Spoil, String)> = vec![
            (
                Box::new(|v| v.push((format!("{m}/kernel/fs/c.ko.xz"), xz(&ko("c"))))),
                format!("{m}/kernel/fs/c.ko.xz is a compressed (.ko.xz) module"),
            ),
            (
                Box::new(|v| v.push(("usr/lib/firmware/v/y.bin.zst".into(), vec![1]))),
                "usr/lib/firmware/v/y.bin.zst is compressed (.zst) firmware".into(),
            ),
            (
                Box::new(|v| v[0].1 = xz(&ko("a"))),
                format!("{m}/kernel/fs/a.ko does not start with the ELF magic"),
            ),
            (
                Box::new(|v| v[2].1 = b"kernel/fs/a.ko: kernel/fs/b.ko.xz\n".to_vec()),
                format!("{m}/modules.dep names kernel/fs/b.ko.xz, not a plain .ko"),
            ),
            (
                Box::new(|v| v.push((format!("{m}/modules.dep.bin"), b"\0a.ko.zst".to_vec()))),
                format!("{m}/modules.dep.bin names a .ko.zst module"),
            ),
            (
                Box::new(|v| {
                    v.remove(1);
                }),
                format!("{m}/kernel/fs/b.ko is missing: the image needs it"),
            ),
            (
                Box::new(|v| v[0].1 = ko("not a")),
                format!("{m}/kernel/fs/a.ko is not the sysroot's kernel/fs/a.ko.xz decompressed"),
            ),
            (
                Box::new(|v| v[3].1 = b"c always kernel/fs/c.ko -\n".to_vec()),
                "names kernel/fs/c.ko, which the sysroot's".into(),
            ),
        ];
        for (spoil, want) in cases {
            let mut v = good();
            spoil(&mut v);
            let err = check(d.path(), &root, &v).unwrap_err().to_string();
            assert!(
                err.starts_with("image ") && err.contains(&want),
                "{err}\nwant: {want}"
            );
        }
    }
}
