//! The `ipmi_sim` files of one node's BMC: its `lan.conf` (LAN channel, RMCP+ user, the
//! VM-interface socket QEMU connects to) and its command file (the BMC's one management
//! controller), and [`check_value`], the one gate every value passes before it reaches them.

use std::net::SocketAddrV4;

use crate::error::{LabError, Result};

/// Longest user name IPMI carries (RAKP messages have 16 bytes for it).
pub const MAX_USER: usize = 16;
/// Longest password `ipmi_sim` 2.0.33 accepts for RMCP+: a 20-byte one makes every
/// session fail (checked), so 16 bytes, the IPMI 1.5 size.
pub const MAX_PASSWORD: usize = 16;

/// Whether a value is a secret: its text is never repeated in an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Secret {
    Yes,
    No,
}

/// Errors unless `value` may be written into an `ipmi_sim` file: 1 to `max` bytes of
/// ASCII letters, digits, `.`, `_`, `:` and `-`. That excludes whitespace and newlines
/// (which end a token or a line), quotes (which delimit one), `#` (a comment), `\` and `$`,
/// so a value can never add a directive. `what` names the node and the key for the error.
pub fn check_value<'a>(what: &str, value: &'a str, max: usize, secret: Secret) -> Result<&'a str> {
    let shown = match secret {
        Secret::Yes => String::from("(secret, not shown)"),
        Secret::No => format!("{value:?}"),
    };
    if value.is_empty() || value.len() > max {
        return Err(LabError::Invalid(format!(
            "{what} {shown} must be 1 to {max} bytes long, not {}",
            value.len()
        )));
    }
    if let Some(bad) = value
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')))
    {
        let bad = match secret {
            Secret::Yes => String::from("a character"),
            Secret::No => format!("{bad:?}"),
        };
        return Err(LabError::Invalid(format!(
            "{what} {shown} holds {bad} that may not reach ipmi_sim's configuration: \
             only letters, digits, '.', '_', ':' and '-' are allowed"
        )));
    }
    Ok(value)
}

/// What one node's BMC is: its name, where it listens, who may log in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BmcConfig {
    /// The node it manages (also the BMC's `name`).
    pub node: String,
    /// RMCP+ (`lanplus`) address and UDP port.
    pub lan: SocketAddrV4,
    /// The TCP address `ipmi_sim` listens on for QEMU's `ipmi-bmc-extern` chardev.
    pub vm: SocketAddrV4,
    /// The one user (IPMI user 2, admin privilege).
    pub user: String,
    pub password: String,
    /// The LAN channel's GUID, 32 hex digits (RMCP+ sessions fail without one).
    pub guid: String,
}

impl BmcConfig {
    fn what(&self, key: &str) -> String {
        format!("BMC of node {:?}: {key}", self.node)
    }

    /// Checks every value that reaches the files.
    pub fn validate(&self) -> Result<()> {
        check_value(&self.what("node name"), &self.node, 64, Secret::No)?;
        check_value(&self.what("user"), &self.user, MAX_USER, Secret::No)?;
        check_value(
            &self.what("password"),
            &self.password,
            MAX_PASSWORD,
            Secret::Yes,
        )?;
        check_value(&self.what("guid"), &self.guid, 32, Secret::No)?;
        if self.guid.len() != 32 || !self.guid.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(LabError::Invalid(format!(
                "{} {:?} must be 32 hex digits",
                self.what("guid"),
                self.guid
            )));
        }
        for (key, a) in [("lan address", self.lan), ("vm address", self.vm)] {
            check_value(&self.what(key), &a.ip().to_string(), 15, Secret::No)?;
            if a.port() == 0 {
                return Err(LabError::Invalid(format!(
                    "{} {a} has port 0; pick a free port",
                    self.what(key)
                )));
            }
        }
        if self.lan == self.vm {
            return Err(LabError::Invalid(format!(
                "{}: the LAN and the VM interface both use {}",
                self.what("addresses"),
                self.lan
            )));
        }
        Ok(())
    }

    /// The `lan.conf` text (it holds the password: write it as a secret).
    ///
    /// No `startcmd`: the lab starts and owns QEMU. Power control goes through the VM
    /// interface: `chassis power off` sends QEMU a power-off command over the chardev
    /// (QEMU shuts the machine down and exits), `reset` a reset (with `-no-reboot` QEMU
    /// exits too), and the power status is "on" while QEMU is connected. No
    /// `allowed_auths_*` lines, so IPMI 1.5 sessions are refused: RMCP+ only.
    pub fn lan_conf(&self) -> Result<String> {
        self.validate()?;
        Ok(format!(
            "# Written by srbuild lab: the BMC of node {node}.\n\
             name \"{node}\"\n\
             set_working_mc 0x20\n\
             startlan 1\n\
             addr {lan_ip} {lan_port}\n\
             priv_limit admin\n\
             guid {guid}\n\
             endlan\n\
             serial kcs {vm_ip} {vm_port} codec VM\n\
             user 2 true \"{user}\" \"{password}\" admin 4 md5\n",
            node = self.node,
            lan_ip = self.lan.ip(),
            lan_port = self.lan.port(),
            guid = self.guid,
            vm_ip = self.vm.ip(),
            vm_port = self.vm.port(),
            user = self.user,
            password = self.password,
        ))
    }
}

/// The command file: one management controller at 0x20, the BMC, enabled. `ipmi_sim`
/// starts with none, and answers nothing without it.
pub const EMU_COMMANDS: &str = "mc_setbmc 0x20\n\
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02\n\
mc_enable 0x20\n";

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> BmcConfig {
        BmcConfig {
            node: "node1".into(),
            lan: "127.0.0.1:40623".parse().unwrap(),
            vm: "127.0.0.1:40002".parse().unwrap(),
            user: "u0123456789".into(),
            password: "Pw0123456789abcd".into(),
            guid: "0123456789abcdef0123456789ABCDEF".into(),
        }
    }

    #[test]
    fn renders_lanplus_user_and_vm_interface() {
        let text = config().lan_conf().unwrap();
        assert!(text.contains("addr 127.0.0.1 40623\n"), "{text}");
        assert!(
            text.contains("serial kcs 127.0.0.1 40002 codec VM\n"),
            "{text}"
        );
        assert!(
            text.contains("user 2 true \"u0123456789\" \"Pw0123456789abcd\" admin 4 md5\n"),
            "{text}"
        );
        assert!(
            !text.contains("allowed_auths"),
            "IPMI 1.5 must stay off: {text}"
        );
        assert!(!text.contains("startcmd"), "{text}");
    }

    #[test]
    fn values_that_could_add_a_directive_are_refused() {
        for bad in [
            "a\nstartcmd \"x\"",
            "a b",
            "a\"b",
            "a#b",
            "a$b",
            "a\\b",
            "",
            "é",
        ] {
            let mut c = config();
            c.user = bad.into();
            let err = c.lan_conf().unwrap_err().to_string();
            assert!(err.contains("node \"node1\": user"), "{err}");
        }
        let mut c = config();
        c.password = "hunter2\"quote".into();
        let err = c.validate().unwrap_err().to_string();
        assert!(err.contains("password"), "{err}");
        assert!(!err.contains("hunter2"), "the password leaked: {err}");
        let mut c = config();
        c.password = "a".repeat(MAX_PASSWORD + 1);
        assert!(c.validate().is_err());
        let mut c = config();
        c.node = "node1\nuser 3".into();
        assert!(c.validate().is_err());
    }

    #[test]
    fn addresses_and_guid_are_checked() {
        let mut c = config();
        c.vm = c.lan;
        assert!(c.validate().unwrap_err().to_string().contains("both use"));
        let mut c = config();
        c.lan = "127.0.0.1:0".parse().unwrap();
        assert!(c.validate().unwrap_err().to_string().contains("port 0"));
        let mut c = config();
        c.guid = "xyz".into();
        assert!(c.validate().unwrap_err().to_string().contains("32 hex"));
    }
}
