//! What the tests of `/init`'s shell library share: running a library file under busybox sh
//! as the image does.

use std::process::Command;

const CORE: &str = include_str!("../../templates/lib/core.sh");

/// Runs `script` after `core.sh` and `lib` (a library file's text), with `sr_rescue`
/// replaced by an exit (the image would start a rescue shell or reboot) and the stage
/// `cmdline`; returns (exit status, stdout).
pub fn run_lib(lib: &str, script: &str) -> (bool, String) {
    let o = Command::new("/bin/busybox")
        .args([
            "sh",
            "-c",
            &format!("{CORE}\n{lib}\nsr_rescue() {{ exit 1; }}\nSR_STAGE=cmdline\n{script}"),
        ])
        .output()
        .expect("busybox (apt-get install busybox-static)");
    (
        o.status.success(),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    )
}
