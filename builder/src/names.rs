//! Plain names: the rule for a name that reaches generated files (a profile's, a kernel
//! version, a cluster or node name rendered into a config file).

use crate::error::{BuildError, Result};

/// A name that reaches generated files (the profile's, the kernel version): letters,
/// digits and `._+~-`, 1 to 128 characters, not starting with `-` or `.`.
pub fn check_plain_name(what: &str, name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(['-', '.'])
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._+~-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(BuildError::Config {
            location: what.to_string(),
            message: format!(
                "{:?} is not a usable name: use letters, digits and . _ + ~ - (at most 128)",
                name.chars().take(80).collect::<String>()
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_pass_and_others_are_refused_with_the_name() {
        for ok in ["nfs", "6.1.0-9-amd64", "a_b+c~d.e"] {
            assert!(check_plain_name("t", ok).is_ok(), "{ok}");
        }
        for bad in ["", "-x", ".x", "a b", "a/b", "a\nb", &"x".repeat(129)] {
            let e = check_plain_name("what", bad).unwrap_err().to_string();
            assert!(e.contains("what") && e.contains("not a usable name"), "{e}");
        }
    }
}
