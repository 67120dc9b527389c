//! Where profiles, modules and hook templates come from: a profile file given by path, the
//! directories named by `SRBUILD_DATA_DIR`, `/etc/srbuild` (the admin's overrides),
//! `/usr/share/srbuild` (the package's copies), and the copies built into the binary.
//! Owns lookup order and the names used in error messages.

use crate::error::{BuildError, Result};
use std::path::{Path, PathBuf};

include!(concat!(env!("OUT_DIR"), "/builtin.rs"));

/// One text file found by the library, with the name shown in errors.
#[derive(Debug, Clone)]
pub struct TextFile {
    /// Display name, e.g. `/etc/srbuild/modules/nfs/module.toml` or `<builtin>/modules/nfs/module.toml`.
    pub name: String,
    pub text: String,
    /// Where sibling files (hook templates) are looked up.
    pub origin: Origin,
}

/// The folder a file came from, used to find its siblings.
#[derive(Debug, Clone)]
pub enum Origin {
    Disk(PathBuf),
    Builtin(String),
}

impl Origin {
    /// Reads a sibling file such as a module's hook template. It must stay inside the
    /// module's directory: a plain relative path, no `..`, and no symlink on disk.
    pub fn sibling(&self, file: &str, asked_by: &str) -> Result<TextFile> {
        let plain = !file.is_empty()
            && std::path::Path::new(file)
                .components()
                .all(|c| matches!(c, std::path::Component::Normal(_)));
        if !plain {
            return Err(BuildError::Config {
                location: asked_by.to_string(),
                message: format!(
                    "hook template {file:?} must be a file inside the module's directory \
                     (a relative path without ..)"
                ),
            });
        }
        match self {
            Origin::Disk(dir) => {
                let path = dir.join(file);
                // Really inside the module's directory (no symlink on the way), and not
                // changeable by another user.
                let inside = match (path.canonicalize(), dir.canonicalize()) {
                    (Ok(p), Ok(d)) => p.starts_with(&d) && p != d,
                    _ => true, // a missing file is reported below
                };
                let is_link = std::fs::symlink_metadata(&path)
                    .map(|m| m.file_type().is_symlink())
                    .unwrap_or(false);
                if is_link || !inside {
                    return Err(BuildError::Config {
                        location: asked_by.to_string(),
                        message: format!(
                            "hook template {} leads out of the module's directory (a symlink); \
                             it must be a file of the module",
                            path.display()
                        ),
                    });
                }
                if path.exists() {
                    if let Some(why) = unsafe_reason(&path) {
                        return Err(BuildError::Config {
                            location: asked_by.to_string(),
                            message: format!("refusing hook template: {why}"),
                        });
                    }
                }
                let text = std::fs::read_to_string(&path).map_err(|e| BuildError::Config {
                    location: asked_by.to_string(),
                    message: format!("cannot read hook template {}: {e}", path.display()),
                })?;
                Ok(TextFile {
                    name: path.display().to_string(),
                    text,
                    origin: self.clone(),
                })
            }
            Origin::Builtin(prefix) => {
                let rel = format!("{prefix}/{file}");
                builtin(&rel)
                    .map(|text| TextFile {
                        name: format!("<builtin>/{rel}"),
                        text: text.to_string(),
                        origin: self.clone(),
                    })
                    .ok_or_else(|| BuildError::Config {
                        location: asked_by.to_string(),
                        message: format!("hook template {file} does not exist next to the module"),
                    })
            }
        }
    }
}

fn builtin(rel: &str) -> Option<&'static str> {
    BUILTIN_FILES
        .iter()
        .find(|(p, _)| *p == rel)
        .map(|(_, text)| *text)
}

/// The ordered list of data directories searched before the built-in copies.
#[derive(Debug, Clone, Default)]
pub struct Library {
    dirs: Vec<PathBuf>,
    /// What the search found on disk in place of a built-in copy (for the build output).
    overrides: std::cell::RefCell<Vec<String>>,
    /// Every profile and module file returned so far, with its path relative to a data
    /// directory (`profiles/nfs.toml`, `modules/nfs/module.toml`): the build's inputs.
    read: std::cell::RefCell<Vec<(String, TextFile)>>,
}

/// Why `path` (a profile or module file found on disk) must not be trusted: it, or a
/// directory above it, can be changed by a user other than root and the one running
/// srbuild. A directory writable by others is fine only with the sticky bit (like /tmp),
/// where nobody can replace another user's entries. This is the check sudo and ssh make.
pub fn unsafe_reason(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let me = unsafe { libc::geteuid() };
    // The real file and its real directories (a link's own directory does not matter).
    let abs = match path.canonicalize() {
        Ok(p) => p,
        Err(e) => return Some(format!("{}: {e}", path.display())),
    };
    let mut cur = Some(abs.as_path());
    let mut first = true;
    while let Some(p) = cur {
        let m = match std::fs::metadata(p) {
            Ok(m) => m,
            Err(e) => return Some(format!("{}: {e}", p.display())),
        };
        let owner_ok = m.uid() == 0 || m.uid() == me;
        let others_write = m.mode() & 0o022 != 0;
        let sticky = m.mode() & 0o1000 != 0;
        if !owner_ok {
            return Some(format!("{} is owned by uid {}", p.display(), m.uid()));
        }
        if others_write && (first || !sticky) {
            return Some(format!(
                "{} is writable by group or others (mode {:o})",
                p.display(),
                m.mode() & 0o7777
            ));
        }
        first = false;
        cur = p.parent();
    }
    None
}

/// The system directories, searched after `$SRBUILD_DATA_DIR` and before the built-in
/// copies: the admin's overrides, then the package's data.
pub const SYSTEM_DIRS: [&str; 2] = ["/etc/srbuild", "/usr/share/srbuild"];

impl Library {
    /// The standard search path: `$SRBUILD_DATA_DIR` (colon-separated), then
    /// [`SYSTEM_DIRS`] (`/etc/srbuild`, `/usr/share/srbuild`); the built-in copies last.
    pub fn standard() -> Self {
        let mut dirs = Vec::new();
        if let Ok(v) = std::env::var("SRBUILD_DATA_DIR") {
            dirs.extend(v.split(':').filter(|s| !s.is_empty()).map(PathBuf::from));
        }
        dirs.extend(SYSTEM_DIRS.iter().map(PathBuf::from));
        Library::with_dirs(dirs)
    }

    /// A library that searches `dirs` in order, then the built-in copies.
    pub fn with_dirs(dirs: Vec<PathBuf>) -> Self {
        Library {
            dirs,
            overrides: Default::default(),
            read: Default::default(),
        }
    }

    /// The directories searched, in order (the built-in copies come after them).
    pub fn dirs(&self) -> &[PathBuf] {
        &self.dirs
    }

    /// Every copy of `rel` (e.g. `profiles/nfs.toml`), in search order: the first one is
    /// the one used. Files on disk by path, the built-in copy as `<builtin>/rel`.
    pub fn locations(&self, rel: &str) -> Vec<String> {
        let mut found: Vec<String> = self
            .dirs
            .iter()
            .map(|d| d.join(rel))
            .filter(|p| p.is_file())
            .map(|p| p.display().to_string())
            .collect();
        if builtin(rel).is_some() {
            found.push(format!("<builtin>/{rel}"));
        }
        found
    }

    /// Adds a directory searched first (e.g. the folder above a profile given by path).
    pub fn prepend(&mut self, dir: PathBuf) {
        self.dirs.insert(0, dir);
    }

    fn find(&self, rel: &str) -> Result<Option<TextFile>> {
        let found = self.find_uncounted(rel)?;
        if let Some(f) = &found {
            self.note_read(rel, f);
        }
        Ok(found)
    }

    fn find_uncounted(&self, rel: &str) -> Result<Option<TextFile>> {
        for dir in &self.dirs {
            let path = dir.join(rel);
            if let Ok(text) = std::fs::read_to_string(&path) {
                if let Some(why) = unsafe_reason(&path) {
                    return Err(BuildError::Config {
                        location: path.display().to_string(),
                        message: format!(
                            "refusing to use it: {why}; another user could put their own \
                             hooks into root's images. Fix the ownership and modes, or move it"
                        ),
                    });
                }
                // A copy that differs from the built-in one (the package's identical copies
                // in /usr/share/srbuild are not worth a note).
                if builtin(rel).is_some_and(|b| b != text) {
                    self.overrides.borrow_mut().push(format!(
                        "{} from {} replaces the built-in copy",
                        rel.trim_end_matches("/module.toml"),
                        path.display()
                    ));
                }
                return Ok(Some(TextFile {
                    name: path.display().to_string(),
                    text,
                    origin: Origin::Disk(path.parent().unwrap_or(dir).to_path_buf()),
                }));
            }
        }
        Ok(builtin(rel).map(|text| TextFile {
            name: format!("<builtin>/{rel}"),
            text: text.to_string(),
            origin: Origin::Builtin(rel.rsplit_once('/').map(|(d, _)| d).unwrap_or("").into()),
        }))
    }

    /// Every profile and module file this library returned, in the order read, each with
    /// its path relative to a data directory (`profiles/NAME.toml` for a profile given by
    /// path too). A file read twice is listed once.
    pub fn files_read(&self) -> Vec<(String, TextFile)> {
        self.read.borrow().clone()
    }

    fn note_read(&self, rel: &str, file: &TextFile) {
        let mut read = self.read.borrow_mut();
        if !read.iter().any(|(r, f)| r == rel && f.name == file.name) {
            read.push((rel.to_string(), file.clone()));
        }
    }

    /// The built-in profiles and modules that files on disk replaced, so far.
    pub fn overrides(&self) -> Vec<String> {
        self.overrides.borrow().clone()
    }

    fn searched(&self, what: &str) -> String {
        let mut v: Vec<String> = self
            .dirs
            .iter()
            .map(|d| d.join(what).display().to_string())
            .collect();
        v.push(format!("<builtin>/{what}"));
        v.join(", ")
    }

    /// A profile by name (`nfs`) or by path (`./my.toml`).
    pub fn profile(&mut self, name_or_path: &str) -> Result<(String, TextFile)> {
        if name_or_path.ends_with(".toml") || name_or_path.contains('/') {
            let path = Path::new(name_or_path);
            let text = std::fs::read_to_string(path).map_err(|e| BuildError::read(path, e))?;
            if let Some(why) = unsafe_reason(path) {
                return Err(BuildError::Config {
                    location: path.display().to_string(),
                    message: format!(
                        "refusing to use it: {why}; another user could change what root \
                         builds. Fix the ownership and modes, or move it"
                    ),
                });
            }
            let dir = path.parent().unwrap_or(Path::new(".")).to_path_buf();
            // A profile in `X/profiles/p.toml` finds its modules in `X/modules/`.
            if let Some(up) = dir.parent() {
                self.prepend(up.to_path_buf());
            }
            self.prepend(dir.clone());
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "custom".into());
            let file = TextFile {
                name: path.display().to_string(),
                text,
                origin: Origin::Disk(dir),
            };
            self.note_read(&format!("profiles/{name}.toml"), &file);
            return Ok((name, file));
        }
        self.profile_named(name_or_path)
            .map(|f| (name_or_path.to_string(), f))
    }

    /// A profile by name only (used for `inherits`).
    pub fn profile_named(&self, name: &str) -> Result<TextFile> {
        let rel = format!("profiles/{name}.toml");
        self.find(&rel)?.ok_or_else(|| BuildError::UnknownProfile {
            name: name.to_string(),
            searched: self.searched(&rel),
            known: self.known("profiles/", ".toml").join(", "),
        })
    }

    /// A module's `module.toml`, or `None` when no such module exists.
    pub fn module(&self, name: &str) -> Result<Option<TextFile>> {
        if name.is_empty() || name.contains('/') || name.contains("..") {
            return Ok(None);
        }
        self.find(&format!("modules/{name}/module.toml"))
    }

    /// Names of the built-in and on-disk entries under `prefix` (for "did you mean" lists).
    pub fn known(&self, prefix: &str, suffix: &str) -> Vec<String> {
        let mut names: Vec<String> = BUILTIN_FILES
            .iter()
            .filter_map(|(p, _)| p.strip_prefix(prefix))
            .filter_map(|rest| {
                if suffix.is_empty() {
                    rest.split_once('/').map(|(d, _)| d.to_string())
                } else {
                    rest.strip_suffix(suffix).map(str::to_string)
                }
            })
            .filter(|n| !n.contains('/'))
            .collect();
        for dir in &self.dirs {
            if let Ok(rd) = std::fs::read_dir(dir.join(prefix)) {
                for e in rd.flatten() {
                    let n = e.file_name().to_string_lossy().into_owned();
                    if suffix.is_empty() {
                        if e.path().join("module.toml").exists() {
                            names.push(n);
                        }
                    } else if let Some(stem) = n.strip_suffix(suffix) {
                        names.push(stem.to_string());
                    }
                }
            }
        }
        names.sort();
        names.dedup();
        names
    }

    /// Names of all profiles (built in and on disk).
    pub fn profile_names(&self) -> Vec<String> {
        self.known("profiles/", ".toml")
    }

    /// Names of all modules (built in and on disk).
    pub fn module_names(&self) -> Vec<String> {
        self.known("modules/", "")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(dir: &Path, rel: &str, text: &str) {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }

    #[test]
    fn standard_order_is_data_dir_etc_usr_share_then_builtin() {
        let lib = Library::standard();
        let dirs: Vec<String> = lib.dirs().iter().map(|d| d.display().to_string()).collect();
        let n = dirs.len();
        assert_eq!(dirs[n - 2..], ["/etc/srbuild", "/usr/share/srbuild"]);
    }

    #[test]
    fn the_first_directory_wins_and_locations_list_every_copy() {
        let admin = tempfile::tempdir().unwrap();
        let share = tempfile::tempdir().unwrap();
        put(
            admin.path(),
            "profiles/nfs.toml",
            "inherits = \"base\"\n# admin\n",
        );
        put(
            share.path(),
            "profiles/nfs.toml",
            builtin("profiles/nfs.toml").unwrap(),
        );
        put(share.path(), "profiles/extra.toml", "inherits = \"base\"\n");
        let lib = Library::with_dirs(vec![admin.path().into(), share.path().into()]);
        let nfs = lib.profile_named("nfs").unwrap();
        assert!(nfs.text.contains("# admin"));
        assert_eq!(
            lib.locations("profiles/nfs.toml"),
            [
                admin.path().join("profiles/nfs.toml").display().to_string(),
                share.path().join("profiles/nfs.toml").display().to_string(),
                "<builtin>/profiles/nfs.toml".to_string(),
            ]
        );
        assert_eq!(lib.overrides().len(), 1, "{:?}", lib.overrides());
        assert_eq!(
            lib.locations("profiles/extra.toml"),
            [share
                .path()
                .join("profiles/extra.toml")
                .display()
                .to_string()]
        );
        assert!(lib.profile_names().contains(&"extra".to_string()));
    }

    #[test]
    fn an_identical_copy_of_a_builtin_is_not_an_override() {
        let share = tempfile::tempdir().unwrap();
        let rel = "modules/nfs/module.toml";
        put(share.path(), rel, builtin(rel).unwrap());
        let lib = Library::with_dirs(vec![share.path().into()]);
        let m = lib.module("nfs").unwrap().unwrap();
        assert!(m.name.starts_with(&share.path().display().to_string()));
        assert!(lib.overrides().is_empty(), "{:?}", lib.overrides());
    }
}
