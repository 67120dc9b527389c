//! The build manifest (`srbuild image --json`): the inputs of a build (profile and module
//! files with their SHA-256, kernel, sysroot, compression, cluster description, kernel
//! arguments), every planned path with its type, mode, size, source, content hash and
//! cause, the kernel modules and the sizes. Reproducible: the same inputs give the same
//! bytes, except `build_seconds`, which is left out when `SOURCE_DATE_EPOCH` is set.
//! Secrets (the corosync authkey) are marked `"secret": true` and never hashed.

use crate::assembly::Planned;
use crate::error::{BuildError, Result};
use crate::options::{source_date_epoch, BuildOptions};
use crate::plan::{Cause, PlanEntry, Source};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// Version of the manifest's layout; bumped when a field changes meaning or goes away.
/// 2: `inputs.gluster_volfile` became `inputs.module_inputs` (a list of named inputs).
pub const FORMAT: u32 = 2;

/// The whole manifest, in the order its fields are printed.
#[derive(Debug, Clone, Serialize)]
pub struct Manifest {
    pub format: u32,
    pub inputs: Inputs,
    pub files: Vec<FileRecord>,
    pub kernel_modules: Vec<KernelModule>,
    pub sizes: Sizes,
    pub warnings: Vec<String>,
    /// Wall time of the build; the only field that differs between two builds of the same
    /// inputs, so it is left out when `SOURCE_DATE_EPOCH` is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub build_seconds: Option<f64>,
}

/// What the build was made from.
#[derive(Debug, Clone, Serialize)]
pub struct Inputs {
    pub profile: TextInput,
    /// The profiles it inherits, most basic first.
    pub inherited_profiles: Vec<TextInput>,
    /// Feature modules, dependencies first.
    pub modules: Vec<TextInput>,
    pub kernel_version: String,
    pub sysroot: String,
    pub compression: String,
    pub cluster: Option<FileInput>,
    /// The files given to modules' resolvers (`--input NAME=FILE`), in order.
    pub module_inputs: Vec<NamedInput>,
    /// The default kernel arguments baked in: the profile's, then `--kernel-arg`.
    pub kernel_args: Vec<String>,
    pub source_date_epoch: u32,
    pub strict: bool,
}

/// A profile or module file: its name, where it was found, and the SHA-256 of its text.
#[derive(Debug, Clone, Serialize)]
pub struct TextInput {
    pub name: String,
    pub source: String,
    pub sha256: String,
}

/// A file given on the command line.
#[derive(Debug, Clone, Serialize)]
pub struct FileInput {
    pub path: String,
    pub sha256: String,
}

/// A named input of a module: `{"name": "gluster-volfile", "path": …, "sha256": …}`.
#[derive(Debug, Clone, Serialize)]
pub struct NamedInput {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

/// One path of the image.
#[derive(Debug, Clone, Serialize)]
pub struct FileRecord {
    pub path: String,
    /// `file`, `dir`, `symlink` or `chardev`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Octal permission bits, e.g. `"0644"`.
    pub mode: String,
    /// Bytes of content (files), of the target (symlinks), 0 otherwise.
    pub size: u64,
    /// The host file it is copied from (sysroot prefix included), or `generated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// `major:minor` of a device node.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device: Option<String>,
    /// SHA-256 of the content (files only, never for a secret).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// Who asked for it: a module or profile, the object that needed it, or srbuild.
    pub by: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<CauseRecord>,
}

/// [`Cause`] as the manifest shows it.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum CauseRecord {
    /// `{"list": "binaries", "by": "module nfs (…)"}`
    Listed { list: &'static str, by: String },
    /// `{"via": "DT_NEEDED", "parent": "usr/sbin/mount.nfs"}`
    Object { via: &'static str, parent: String },
}

/// One kernel module, in load order.
#[derive(Debug, Clone, Serialize)]
pub struct KernelModule {
    pub name: String,
    pub path: String,
    pub size: u64,
}

/// Counts and sizes of the written image.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Sizes {
    pub entries: usize,
    pub files: usize,
    pub uncompressed_bytes: u64,
    pub compressed_bytes: u64,
}

/// Lowercase hex SHA-256 of everything `r` yields, and how many bytes that was.
pub fn sha256_of(mut r: impl Read) -> std::io::Result<(String, u64)> {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&h.finalize()), total))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_bytes(b: &[u8]) -> String {
    hex(&Sha256::digest(b))
}

fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let f = std::fs::File::open(path).map_err(|e| BuildError::read(path, e))?;
    sha256_of(f).map_err(|e| BuildError::read(path, e))
}

/// The manifest of a planned image: everything but what the writer learns (the size and
/// hash of each host file, [`Manifest::fill_host_digests`]), the sizes of the written
/// archive and the build time ([`Manifest::finish`]).
pub fn draft(opts: &BuildOptions, planned: &Planned) -> Result<Manifest> {
    let profile = &planned.profile;
    let text_input = |name: &str, display: &str| -> TextInput {
        let text = planned
            .inputs
            .iter()
            .find(|(_, f)| f.name == display)
            .map(|(_, f)| f.text.as_str());
        TextInput {
            name: name.to_string(),
            source: display.to_string(),
            sha256: text.map(|t| sha256_bytes(t.as_bytes())).unwrap_or_default(),
        }
    };
    let stem = |display: &str| {
        let base = display.rsplit('/').next().unwrap_or(display);
        base.strip_suffix(".toml").unwrap_or(base).to_string()
    };
    let inherited = profile
        .profile_files
        .iter()
        .filter(|f| **f != profile.source)
        .map(|f| text_input(&stem(f), f))
        .collect();
    let modules = profile
        .modules
        .iter()
        .map(|m| {
            let rel = format!("modules/{m}/module.toml");
            let display = planned
                .inputs
                .iter()
                .find(|(r, _)| *r == rel)
                .map(|(_, f)| f.name.clone())
                .unwrap_or_default();
            text_input(m, &display)
        })
        .collect();
    let file_input = |p: &Path| -> Result<FileInput> {
        Ok(FileInput {
            path: p.display().to_string(),
            sha256: sha256_file(p)?.0,
        })
    };
    let mut kernel_args = profile.kernel_args.clone();
    kernel_args.extend(opts.kernel_args.iter().cloned());
    let inputs = Inputs {
        profile: text_input(&profile.name, &profile.source),
        inherited_profiles: inherited,
        modules,
        kernel_version: planned.kver.clone(),
        sysroot: opts.sysroot.display().to_string(),
        compression: opts.compression.to_string(),
        cluster: opts.cluster.as_deref().map(file_input).transpose()?,
        module_inputs: planned
            .module_inputs
            .iter()
            .map(|i| NamedInput {
                name: i.name.clone(),
                path: i.path.clone(),
                sha256: i.sha256.clone(),
            })
            .collect(),
        kernel_args,
        source_date_epoch: source_date_epoch()?,
        strict: opts.strict,
    };
    let mut files = Vec::with_capacity(planned.plan.len());
    for (path, e) in planned.plan.iter() {
        files.push(record(path, e)?);
    }
    let kernel_modules = planned
        .kernel_module_paths
        .iter()
        .map(|(name, path)| KernelModule {
            name: name.clone(),
            path: path.clone(),
            size: files.iter().find(|f| f.path == *path).map_or(0, |f| f.size),
        })
        .collect();
    Ok(Manifest {
        format: FORMAT,
        inputs,
        files,
        kernel_modules,
        sizes: Sizes::default(),
        warnings: planned.warnings.clone(),
        build_seconds: None,
    })
}

fn record(path: &str, e: &PlanEntry) -> Result<FileRecord> {
    let secret = srbuild_archive::secret::is_secret(path);
    let mut r = FileRecord {
        path: path.to_string(),
        kind: "file",
        mode: format!("{:04o}", e.mode & 0o7777),
        size: 0,
        source: None,
        target: None,
        device: None,
        sha256: None,
        secret,
        by: e.by.clone(),
        cause: e.cause.as_ref().map(|c| match c {
            Cause::Listed { list, by } => CauseRecord::Listed {
                list,
                by: by.clone(),
            },
            Cause::Object { path, via } => CauseRecord::Object {
                via: via.name(),
                parent: path.clone(),
            },
        }),
    };
    match &e.source {
        // Size and hash come from the writer, which reads the file once
        // ([`Manifest::fill_host_digests`]).
        Source::Host(p) => r.source = Some(p.display().to_string()),
        Source::Bytes(b) => {
            r.size = b.len() as u64;
            r.source = Some("generated".into());
            r.sha256 = (!secret).then(|| sha256_bytes(b));
        }
        Source::Dir => r.kind = "dir",
        Source::Symlink(t) => {
            r.kind = "symlink";
            r.size = t.len() as u64;
            r.target = Some(t.clone());
        }
        Source::CharDev(a, b) => {
            r.kind = "chardev";
            r.device = Some(format!("{a}:{b}"));
        }
    }
    Ok(r)
}

impl Manifest {
    /// Fills in what only the written image knows; the build time only when
    /// `SOURCE_DATE_EPOCH` is unset (a reproducible build wants identical manifests).
    pub fn finish(&mut self, sizes: Sizes, elapsed: std::time::Duration) {
        self.sizes = sizes;
        let reproducible = std::env::var("SOURCE_DATE_EPOCH").is_ok_and(|v| !v.trim().is_empty());
        self.build_seconds =
            (!reproducible).then(|| (elapsed.as_secs_f64() * 1000.0).round() / 1000.0);
    }

    /// Takes the size and SHA-256 of every host file from what the writer copied into the
    /// image (`entries` from [`crate::plan::Plan::to_hashed_entries`], written).
    pub fn fill_host_digests(&mut self, entries: &[srbuild_archive::Entry]) -> Result<()> {
        let mut records = self.files.iter_mut();
        for e in entries {
            let srbuild_archive::EntryKind::HashedFile { digest, .. } = &e.kind else {
                continue;
            };
            let r = records.find(|r| r.path == e.path);
            let (Some(r), Some(d)) = (r, digest.get()) else {
                return Err(BuildError::Config {
                    location: "srbuild image --json".into(),
                    message: format!(
                        "no digest of {} after writing (a bug in srbuild; please report it)",
                        e.path
                    ),
                });
            };
            r.size = d.size;
            r.sha256 = (!r.secret).then(|| hex(&d.sha256));
        }
        Ok(())
    }

    /// Pretty-printed JSON with a final newline.
    pub fn to_json(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_else(|e| {
            // Serializing these plain structs cannot fail; say so if it ever does.
            format!("{{\"error\": {:?}}}", e.to_string())
        });
        s.push('\n');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::AUTHKEY as AUTHKEY_PATH;
    use crate::plan::{Plan, Via};

    #[test]
    fn hashes_are_sha256_and_secrets_have_none() {
        assert_eq!(
            sha256_of(&b"abc"[..]).unwrap(),
            (
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
                3
            )
        );
        let mut plan = Plan::default();
        plan.insert_bytes(AUTHKEY_PATH, vec![7; 128], 0o400, "--cluster (authkey)")
            .unwrap();
        plan.insert_bytes("etc/x", b"abc".to_vec(), 0o644, "t")
            .unwrap();
        plan.insert("bin", Source::Symlink("usr/bin".into()), 0o777, "t")
            .unwrap();
        plan.set_cause(
            "etc/x",
            "t",
            Cause::Object {
                path: "bin".into(),
                via: Via::Needed,
            },
        );
        let recs: Vec<FileRecord> = plan.iter().map(|(p, e)| record(p, e).unwrap()).collect();
        let json = serde_json::to_string(&recs).unwrap();
        assert!(
            json.contains(r#""path":"etc/srbuild/corosync-authkey","type":"file","mode":"0400","size":128,"source":"generated","secret":true"#),
            "{json}"
        );
        assert!(!json.contains(&sha256_bytes(&[7; 128])), "{json}");
        assert!(
            json.contains(r#""sha256":"ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad","by":"t","cause":{"via":"DT_NEEDED","parent":"bin"}"#),
            "{json}"
        );
        assert!(
            json.contains(r#""type":"symlink","mode":"0777","size":7,"target":"usr/bin""#),
            "{json}"
        );
    }
}
