//! The system configuration file, `/etc/srbuild/srbuild.toml`: what the kernel hooks
//! (`srbuild kernel-hook add`) build for a newly installed kernel. A missing file means the
//! defaults; an unknown key or a bad value is an error naming `file:line:column`.

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use srbuild_builder::Compression;
use std::path::{Path, PathBuf};

/// Where the configuration lives unless `--config` or `$SRBUILD_CONFIG` says otherwise.
pub const DEFAULT_PATH: &str = "/etc/srbuild/srbuild.toml";

/// The profile built when the file does not name one: the NFS root, srbuild's main job
/// (the demo's and the lab's default kind).
pub const DEFAULT_PROFILE: &str = "nfs";

/// The effective settings: the file's values over the defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The file they came from, or `None` when it does not exist (defaults).
    pub source: Option<PathBuf>,
    pub profile: String,
    /// Cluster description (a relative path in the file is relative to the file).
    pub cluster: Option<PathBuf>,
    pub compression: Compression,
    pub kernel_args: Vec<String>,
    pub sysroot: PathBuf,
    /// Image file mode; `None`: keep the replaced image's, or 0600.
    pub mode: Option<u32>,
    /// `false`: the kernel hooks do nothing (initramfs-tools or dracut keep the job).
    pub kernel_hooks: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            source: None,
            profile: DEFAULT_PROFILE.to_string(),
            cluster: None,
            compression: Compression::default(),
            kernel_args: Vec::new(),
            sysroot: PathBuf::from("/"),
            mode: None,
            kernel_hooks: true,
        }
    }
}

/// The file as written; every key is optional and no other key is allowed.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    profile: Option<String>,
    cluster: Option<PathBuf>,
    #[serde(default, deserialize_with = "compression")]
    compression: Option<Compression>,
    kernel_args: Option<Vec<String>>,
    sysroot: Option<PathBuf>,
    #[serde(default, deserialize_with = "mode")]
    mode: Option<u32>,
    kernel_hooks: Option<bool>,
}

fn compression<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Compression>, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map(Some).map_err(serde::de::Error::custom)
}

fn mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let s = String::deserialize(d)?;
    parse_mode(&s).map(Some).map_err(serde::de::Error::custom)
}

/// An octal file mode such as `600` or `0644` (as `srbuild image --mode` takes it). An
/// initrd holds the boot code of every node: a mode letting group or others write it,
/// or with the setuid, setgid or sticky bit, is refused.
pub fn parse_mode(s: &str) -> std::result::Result<u32, String> {
    let m = match u32::from_str_radix(s, 8) {
        Ok(m) if m <= 0o7777 => m,
        _ => {
            return Err(format!(
                "'{s}' is not an octal file mode such as \"0600\" or \"0644\""
            ))
        }
    };
    if m & 0o7000 != 0 {
        return Err(format!(
            "mode '{s}' sets the setuid, setgid or sticky bit, which an initrd must not \
             have; use 0600 or 0644"
        ));
    }
    if m & 0o022 != 0 {
        return Err(format!(
            "mode '{s}' lets group or others write the initrd (anyone who can write it \
             controls every node's boot); use 0600 or 0644"
        ));
    }
    Ok(m)
}

/// The configuration path: `explicit` (`--config`), else `$SRBUILD_CONFIG`, else
/// [`DEFAULT_PATH`].
pub fn path(explicit: Option<&Path>) -> PathBuf {
    match explicit {
        Some(p) => p.to_path_buf(),
        None => match std::env::var_os("SRBUILD_CONFIG") {
            Some(v) if !v.is_empty() => PathBuf::from(v),
            _ => PathBuf::from(DEFAULT_PATH),
        },
    }
}

/// Reads the settings from `path`; a file that does not exist gives the defaults.
pub fn load(path: &Path) -> Result<Settings> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Settings::default()),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read {}", path.display()));
        }
    };
    parse(path, &text)
}

/// Parses the text of a configuration file named `path` (for error locations).
pub fn parse(path: &Path, text: &str) -> Result<Settings> {
    let file: File = toml::from_str(text).map_err(|e| {
        let location = match e.span() {
            Some(span) => {
                let (l, c) = srbuild_cluster::description::line_col(text, span.start);
                format!("{}:{l}:{c}", path.display())
            }
            None => path.display().to_string(),
        };
        anyhow::anyhow!(
            "{location}: {}; fix the file (`srbuild kernel-hook --help` lists its keys)",
            e.message().trim()
        )
    })?;
    let d = Settings::default();
    let profile = file.profile.unwrap_or(d.profile);
    if profile.trim().is_empty() {
        bail!(
            "{}: profile is empty; name a profile (`srbuild profiles` lists them) or a .toml file",
            path.display()
        );
    }
    let base = path.parent().unwrap_or(Path::new("."));
    Ok(Settings {
        source: Some(path.to_path_buf()),
        profile,
        cluster: file.cluster.map(|c| base.join(c)),
        compression: file.compression.unwrap_or(d.compression),
        kernel_args: file.kernel_args.unwrap_or_default(),
        sysroot: file.sysroot.unwrap_or(d.sysroot),
        mode: file.mode,
        kernel_hooks: file.kernel_hooks.unwrap_or(true),
    })
}

impl Settings {
    /// A few `key: value` lines for the build log (without newlines; the log escapes
    /// each): where each value came from is the file named first.
    pub fn describe(&self) -> Vec<String> {
        let mut v = vec![
            format!(
                "config: {}",
                self.source.as_ref().map_or_else(
                    || "(none: defaults)".to_string(),
                    |p| p.display().to_string()
                )
            ),
            format!("profile: {}", self.profile),
            format!("compression: {}", self.compression),
            format!("sysroot: {}", self.sysroot.display()),
        ];
        if let Some(c) = &self.cluster {
            v.push(format!("cluster: {}", c.display()));
        }
        if !self.kernel_args.is_empty() {
            v.push(format!("kernel_args: {}", self.kernel_args.join(" ")));
        }
        if let Some(m) = self.mode {
            v.push(format!("mode: {m:04o}"));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<Settings> {
        parse(Path::new("/etc/srbuild/srbuild.toml"), text)
    }

    #[test]
    fn missing_file_gives_the_defaults() {
        let s = load(Path::new("/nonexistent/srbuild.toml")).unwrap();
        assert_eq!(s, Settings::default());
        assert_eq!(s.profile, "nfs");
        assert!(s.kernel_hooks);
    }

    #[test]
    fn every_key() {
        let s = p(
            "profile = \"gfs2\"\ncluster = \"cluster.toml\"\ncompression = \"xz\"\n\
                   kernel_args = [\"console=ttyS0\"]\nsysroot = \"/srv/root\"\nmode = \"0644\"\n\
                   kernel_hooks = false\n",
        )
        .unwrap();
        assert_eq!(s.profile, "gfs2");
        assert_eq!(
            s.cluster.as_deref(),
            Some(Path::new("/etc/srbuild/cluster.toml"))
        );
        assert_eq!(s.compression, Compression::Xz);
        assert_eq!(s.kernel_args, ["console=ttyS0"]);
        assert_eq!(s.sysroot, Path::new("/srv/root"));
        assert_eq!(s.mode, Some(0o644));
        assert!(!s.kernel_hooks);
    }

    /// The commented example the package ships as /etc/srbuild/srbuild.toml: as shipped it
    /// means the defaults; with every key uncommented it parses to what its comments say.
    #[test]
    fn the_shipped_example_parses() {
        let text = include_str!("../packaging/srbuild.toml");
        let expect = Settings {
            source: Some("/etc/srbuild/srbuild.toml".into()),
            ..Default::default()
        };
        assert_eq!(p(text).unwrap(), expect);
        let open: String = text
            .lines()
            .map(|l| match l.strip_prefix('#') {
                Some(rest) if rest.contains(" = ") && !rest.starts_with(' ') => rest,
                _ => l,
            })
            .map(|l| format!("{l}\n"))
            .collect();
        let s = p(&open).unwrap();
        assert_eq!(s.profile, "nfs");
        assert_eq!(s.mode, Some(0o644));
        assert_eq!(s.kernel_args, ["srbuild.mount_timeout=300"]);
        assert!(s.kernel_hooks);
    }

    #[test]
    fn unknown_key_names_file_and_line() {
        let e = p("profile = \"nfs\"\n\ncompresion = \"xz\"\n").unwrap_err();
        let msg = format!("{e:#}");
        assert!(
            msg.starts_with("/etc/srbuild/srbuild.toml:3:1: unknown field `compresion`"),
            "{msg}"
        );
    }

    #[test]
    fn bad_values_name_their_line() {
        let e = format!("{:#}", p("\ncompression = \"brotli\"\n").unwrap_err());
        assert!(
            e.contains("srbuild.toml:2:") && e.contains("zstd, gzip"),
            "{e}"
        );
        let e = format!("{:#}", p("mode = \"0999\"\n").unwrap_err());
        assert!(e.contains("srbuild.toml:1:") && e.contains("octal"), "{e}");
        let e = format!("{:#}", p("\nmode = \"7777\"\n").unwrap_err());
        assert!(
            e.contains("srbuild.toml:2:") && e.contains("'7777'") && e.contains("setuid"),
            "{e}"
        );
        for loose in ["0666", "0620", "0602", "1644", "2755", "4755"] {
            let e = format!("{:#}", p(&format!("mode = \"{loose}\"\n")).unwrap_err());
            assert!(e.contains("srbuild.toml:1:") && e.contains(loose), "{e}");
        }
        for ok in ["0600", "0644", "0640", "0400", "444"] {
            p(&format!("mode = \"{ok}\"\n")).unwrap();
        }
        let e = format!("{:#}", p("kernel_args = \"quiet\"\n").unwrap_err());
        assert!(e.contains("srbuild.toml:1:"), "{e}");
        let e = format!("{:#}", p("profile = \" \"\n").unwrap_err());
        assert!(e.contains("profile is empty"), "{e}");
    }
}
