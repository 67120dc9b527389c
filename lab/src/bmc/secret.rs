//! Per-run BMC credentials from the kernel's random source, and secret files (mode 0600,
//! written through `srbuild-fsio`).

use std::path::Path;

use crate::error::{LabError, Result};

/// Fills `buf` from getrandom(2) (the OS RNG; blocks only until it is seeded at boot).
pub fn random_bytes(buf: &mut [u8]) -> Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: the pointer and length describe `rest`, a live, writable slice.
        let n = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if n < 0 {
            let e = std::io::Error::last_os_error();
            if e.kind() == std::io::ErrorKind::Interrupted {
                continue;
            }
            return Err(LabError::io(
                "getrandom(2) failed for",
                "BMC credentials",
                e,
            ));
        }
        done += n as usize;
    }
    Ok(())
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` random letters and digits, without modulo bias (rejection sampling).
pub fn random_alnum(len: usize) -> Result<String> {
    let mut out = String::with_capacity(len);
    // 62 * 4 = 248: bytes 248..=255 are drawn again.
    let mut buf = [0u8; 64];
    while out.len() < len {
        random_bytes(&mut buf)?;
        for b in buf.iter().filter(|b| **b < 248) {
            if out.len() == len {
                break;
            }
            out.push(ALNUM[(*b % 62) as usize] as char);
        }
    }
    Ok(out)
}

/// `bytes` random bytes as lowercase hex.
pub fn random_hex(bytes: usize) -> Result<String> {
    let mut buf = vec![0u8; bytes];
    random_bytes(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

/// One BMC's login, fresh for every lab run.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `f` and 10 random letters or digits (IPMI allows 16 bytes).
    pub user: String,
    /// 16 random letters and digits (95 bits; `ipmi_sim` takes no longer RMCP+ password).
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"(secret)")
            .finish()
    }
}

impl Credentials {
    /// New random credentials.
    pub fn generate() -> Result<Credentials> {
        Ok(Credentials {
            user: format!("f{}", random_alnum(10)?),
            password: random_alnum(super::config::MAX_PASSWORD)?,
        })
    }
}

/// Writes `data` as `path`, readable by its owner only, through `srbuild-fsio` (a private
/// temporary file written, chmod-ed and synced through its descriptor, then renamed over
/// `path`: a link planted there is replaced, never followed, and no half-written secret
/// is left).
pub fn write_secret(path: &Path, data: &[u8]) -> Result<()> {
    srbuild_fsio::write_file(path, data, 0o600, None)
        .map_err(|e| LabError::io("cannot write secret file", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn credentials_are_random_and_fit_ipmi() {
        let a = Credentials::generate().unwrap();
        let b = Credentials::generate().unwrap();
        assert_ne!(a, b);
        for c in [&a, &b] {
            assert_eq!(c.user.len(), 11);
            assert_eq!(c.password.len(), 16);
            assert!(c.password.bytes().all(|x| x.is_ascii_alphanumeric()));
        }
        assert!(!format!("{a:?}").contains(&a.password));
        assert_eq!(random_hex(16).unwrap().len(), 32);
    }

    #[test]
    fn a_secret_file_replaces_a_readable_one_with_mode_0600() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("pw");
        std::fs::write(&p, "old").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o644)).unwrap();
        write_secret(&p, b"new").unwrap();
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(m.permissions().mode() & 0o777, 0o600);
        assert_eq!(std::fs::read(&p).unwrap(), b"new");
    }
}
