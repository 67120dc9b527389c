//! Module inputs: files a module's resolver reads by name (`srbuild image --input NAME=FILE`),
//! so the generic build options name no root kind. Each input is read once, as a regular
//! file of bounded size, and hashed from the bytes used (for the manifest).

use crate::config::Profile;
use crate::error::{BuildError, Result};
use crate::options::ModuleInput;
use crate::sysroot::Sysroot;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// The largest input read: inputs are small text files (a volfile is a few KiB).
pub const MAX_INPUT_BYTES: u64 = 1 << 20;

/// A resolver of a named input: changes the profile from the input's bytes.
type Apply = fn(&mut Profile, &Sysroot, &Path, &str) -> Result<()>;

/// Every input a module's resolver takes: name, what it is, the resolver.
pub const INPUTS: &[(&str, &str, Apply)] = &[(
    "gluster-volfile",
    "a GlusterFS client volfile: the client's xlators are the ones it names",
    super::gluster::apply_volfile,
)];

/// An input as read: its name, path and the SHA-256 of the bytes used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputRead {
    pub name: String,
    pub path: String,
    pub sha256: String,
}

/// Reads each input and hands it to its resolver, in order.
pub fn apply(
    inputs: &[ModuleInput],
    profile: &mut Profile,
    sysroot: &Sysroot,
) -> Result<Vec<InputRead>> {
    let mut out = Vec::with_capacity(inputs.len());
    for input in inputs {
        let Some((_, _, resolve)) = INPUTS.iter().find(|(n, _, _)| *n == input.name) else {
            return Err(BuildError::Config {
                location: format!("--input {}", input.name),
                message: format!(
                    "no module takes an input of that name; known: {}",
                    INPUTS
                        .iter()
                        .map(|(n, _, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            });
        };
        let bytes = read_input(&input.path)?;
        let text = String::from_utf8(bytes).map_err(|_| BuildError::Config {
            location: input.path.display().to_string(),
            message: format!("--{} must be a text file (it is not UTF-8)", input.name),
        })?;
        resolve(profile, sysroot, &input.path, &text)?;
        out.push(InputRead {
            name: input.name.clone(),
            path: input.path.display().to_string(),
            sha256: Sha256::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        });
    }
    Ok(out)
}

/// The bytes of `path`, which must be a regular file (opened, then checked with fstat, so a
/// device such as `/dev/zero` or a FIFO is refused) of at most [`MAX_INPUT_BYTES`].
pub fn read_input(path: &Path) -> Result<Vec<u8>> {
    let f = std::fs::File::open(path).map_err(|e| BuildError::read(path, e))?;
    let m = f.metadata().map_err(|e| BuildError::read(path, e))?;
    let bad = |message: String| BuildError::Config {
        location: path.display().to_string(),
        message,
    };
    if !m.is_file() {
        return Err(bad("not a regular file; name the file itself".into()));
    }
    if m.len() > MAX_INPUT_BYTES {
        return Err(bad(format!(
            "{} bytes; an input may have at most {MAX_INPUT_BYTES}",
            m.len()
        )));
    }
    let mut bytes = Vec::with_capacity(m.len() as usize);
    // The file may grow after fstat: read one byte more than allowed to notice.
    f.take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| BuildError::read(path, e))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(bad(format!(
            "grew past {MAX_INPUT_BYTES} bytes while it was read"
        )));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_a_directory_and_a_large_file_are_refused_with_the_path() {
        for p in ["/dev/zero", "/"] {
            let e = read_input(Path::new(p)).unwrap_err().to_string();
            assert!(e.contains(p) && e.contains("not a regular file"), "{e}");
        }
        let d = tempfile::tempdir().unwrap();
        let big = d.path().join("big.vol");
        std::fs::write(&big, vec![b'#'; MAX_INPUT_BYTES as usize + 1]).unwrap();
        let e = read_input(&big).unwrap_err().to_string();
        assert!(e.contains("big.vol") && e.contains("at most"), "{e}");
        let ok = d.path().join("ok.vol");
        std::fs::write(&ok, "type protocol/client\n").unwrap();
        assert_eq!(read_input(&ok).unwrap(), b"type protocol/client\n");
    }

    #[test]
    fn an_unknown_input_names_the_known_ones() {
        let mut library = crate::library::Library::standard();
        let mut profile = crate::config::load_profile(&mut library, "nfs").unwrap();
        let inputs = [ModuleInput {
            name: "nope".into(),
            path: "/dev/null".into(),
        }];
        let e = apply(&inputs, &mut profile, &Sysroot::new("/"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("--input nope") && e.contains("gluster-volfile"),
            "{e}"
        );
    }
}
