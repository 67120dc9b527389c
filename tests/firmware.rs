//! Firmware named by a kernel module's `.modinfo` goes into the image; missing firmware is a
//! warning, or an error with `--strict`. Uses a fake sysroot whose "module" is a real ELF
//! object with a `.modinfo` section, compiled by the C compiler.

mod common;
use common::*;
use std::path::Path;

/// A sysroot with kernel 9.9.9 and one module `fake_fw` that asks for `vendor/fw.bin`.
fn sysroot_with_module(d: &Path) -> std::path::PathBuf {
    let root = d.join("sysroot");
    let kdir = root.join("lib/modules/9.9.9/kernel/drivers/fake");
    std::fs::create_dir_all(&kdir).unwrap();
    std::fs::write(
        root.join("lib/modules/9.9.9/modules.dep"),
        "kernel/drivers/fake/fake_fw.ko:\n",
    )
    .unwrap();
    let src = d.join("fake.c");
    std::fs::write(
        &src,
        "__attribute__((section(\".modinfo\"), used)) static const char a[] = \"license=GPL\";\n\
         __attribute__((section(\".modinfo\"), used)) static const char b[] = \"firmware=vendor/fw.bin\";\n",
    )
    .unwrap();
    let st = std::process::Command::new("cc")
        .args(["-c", "-o"])
        .arg(kdir.join("fake_fw.ko"))
        .arg(&src)
        .status()
        .expect("a C compiler (cc) builds the fake module");
    assert!(st.success());
    root
}

fn build_with(d: &Path, root: &Path, strict: bool) -> std::process::Output {
    let p = d.join("p.toml");
    std::fs::write(&p, "kernel_modules = [\"fake_fw\"]\n").unwrap();
    let out = d.join("fw.img");
    let mut args = vec![
        "image".to_string(),
        "--profile".into(),
        p.to_string_lossy().into_owned(),
        "--sysroot".into(),
        root.to_string_lossy().into_owned(),
        "--compress".into(),
        "none".into(),
        "-o".into(),
        out.to_string_lossy().into_owned(),
    ];
    if strict {
        args.push("--strict".into());
    }
    srbuild().args(&args).output().unwrap()
}

#[test]
fn missing_firmware_warns_and_strict_refuses() {
    let d = tempfile::tempdir().unwrap();
    let root = sysroot_with_module(d.path());
    let o = build_with(d.path(), &root, false);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("firmware vendor/fw.bin for kernel module fake_fw not found"),
        "{}",
        stderr(&o)
    );
    let o = build_with(d.path(), &root, true);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("firmware 'vendor/fw.bin' for kernel module fake_fw"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn present_firmware_is_included() {
    let d = tempfile::tempdir().unwrap();
    let root = sysroot_with_module(d.path());
    std::fs::create_dir_all(root.join("lib/firmware/vendor")).unwrap();
    std::fs::write(root.join("lib/firmware/vendor/fw.bin"), b"blob").unwrap();
    let o = build_with(d.path(), &root, true);
    assert!(o.status.success(), "{}", stderr(&o));
    let paths = listed_paths(&d.path().join("fw.img"));
    assert!(
        paths.iter().any(|p| p == "lib/firmware/vendor/fw.bin"),
        "{paths:?}"
    );
    assert!(paths
        .iter()
        .any(|p| p.ends_with("kernel/drivers/fake/fake_fw.ko")));
    let load = paths.iter().any(|p| p == "etc/srbuild/modules.load");
    assert!(load);
}
