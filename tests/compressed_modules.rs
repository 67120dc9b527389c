//! Modules and firmware a distribution ships compressed (Debian 13: `.ko.xz`; others
//! `.ko.zst`; firmware `.xz`/`.zst`) go into the image decompressed, under their plain
//! names, with `modules.dep` rewritten to those names. The fake sysroot is laid out as
//! Debian 13's (merged /usr: `/lib` a link to `usr/lib`), its modules are real ELF objects
//! with a `.modinfo` section compiled by the C compiler and compressed by the real `xz` and
//! `zstd`, and the image is zstd-compressed, then extracted.

mod common;
use common::*;
use std::path::Path;
use std::process::Command;

/// Compiles an object whose `.modinfo` holds `modinfo` (NUL-separated key=value strings).
fn module(dir: &Path, name: &str, modinfo: &[&str]) -> Vec<u8> {
    let src = dir.join(format!("{name}.c"));
    let mut c = String::new();
    for (i, kv) in modinfo.iter().enumerate() {
        c.push_str(&format!(
            "__attribute__((section(\".modinfo\"), used)) static const char m{i}[] = \"{kv}\";\n"
        ));
    }
    std::fs::write(&src, c).unwrap();
    let obj = dir.join(format!("{name}.o"));
    let st = Command::new("cc")
        .args(["-c", "-o"])
        .arg(&obj)
        .arg(&src)
        .status()
        .expect("a C compiler (cc) builds the fake module");
    assert!(st.success());
    std::fs::read(obj).unwrap()
}

/// Compresses `plain` with `tool` (`xz` or `zstd`) into `out`, as the packages do.
fn compress(tool: &str, plain: &[u8], out: &Path) {
    let tmp = out.with_extension("plain");
    std::fs::write(&tmp, plain).unwrap();
    let o = Command::new(tool)
        .args(["-q", "-c"])
        .arg(&tmp)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (xz-utils, zstd) compresses the fixtures: {e}"));
    assert!(o.status.success(), "{tool} failed");
    std::fs::write(out, o.stdout).unwrap();
    std::fs::remove_file(tmp).unwrap();
}

#[test]
fn compressed_modules_and_firmware_are_stored_plain() {
    let d = tempfile::tempdir().unwrap();
    let root = d.path().join("sysroot");
    let usr_lib = root.join("usr/lib");
    std::fs::create_dir_all(&usr_lib).unwrap();
    std::os::unix::fs::symlink("usr/lib", root.join("lib")).unwrap();
    let kver = "6.12.99-test";
    let m = usr_lib.join("modules").join(kver);
    let fake = m.join("kernel/drivers/fake");
    std::fs::create_dir_all(&fake).unwrap();
    // uses_fw (xz) needs helper (zst); it names two firmware files, shipped xz and zst.
    let top = module(
        d.path(),
        "uses_fw",
        &[
            "license=GPL",
            "firmware=vendor/a.bin",
            "firmware=vendor/b.bin",
        ],
    );
    let helper = module(d.path(), "helper", &["license=GPL"]);
    compress("xz", &top, &fake.join("uses_fw.ko.xz"));
    compress("zstd", &helper, &fake.join("helper.ko.zst"));
    std::fs::write(
        m.join("modules.dep"),
        "kernel/drivers/fake/uses_fw.ko.xz: kernel/drivers/fake/helper.ko.zst\n\
         kernel/drivers/fake/helper.ko.zst:\n",
    )
    .unwrap();
    let fw = usr_lib.join("firmware/vendor");
    std::fs::create_dir_all(&fw).unwrap();
    let blob_a = b"firmware A, shipped xz".repeat(50);
    let blob_b = b"firmware B, shipped zstd".repeat(50);
    compress("xz", &blob_a, &fw.join("a.bin.xz"));
    compress("zstd", &blob_b, &fw.join("b.bin.zst"));

    let p = d.path().join("p.toml");
    std::fs::write(&p, "kernel_modules = [\"uses_fw\"]\n").unwrap();
    let img = d.path().join("z.img");
    let o = run(&[
        "image",
        "--profile",
        p.to_str().unwrap(),
        "--sysroot",
        root.to_str().unwrap(),
        "--kver",
        kver,
        "--compress",
        "zstd",
        "--strict",
        "-o",
        img.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let x = d.path().join("x");
    let o = run(&["extract", img.to_str().unwrap(), x.to_str().unwrap()]);
    assert!(o.status.success(), "{}", stderr(&o));

    let km = x.join("usr/lib/modules").join(kver);
    let kd = km.join("kernel/drivers/fake");
    assert_eq!(std::fs::read(kd.join("uses_fw.ko")).unwrap(), top);
    assert_eq!(std::fs::read(kd.join("helper.ko")).unwrap(), helper);
    for gone in ["uses_fw.ko.xz", "helper.ko.zst"] {
        assert!(!kd.join(gone).exists(), "{gone} stored compressed");
    }
    let dep = std::fs::read_to_string(km.join("modules.dep")).unwrap();
    assert!(
        dep.contains("kernel/drivers/fake/uses_fw.ko: kernel/drivers/fake/helper.ko\n"),
        "{dep}"
    );
    assert!(!dep.contains(".xz") && !dep.contains(".zst"), "{dep}");
    // Loaded dependency first.
    let load = std::fs::read_to_string(x.join("etc/srbuild/modules.load")).unwrap();
    let (h, u) = (load.find("helper"), load.find("uses_fw"));
    assert!(h.is_some() && u.is_some() && h < u, "{load}");
    // Firmware plain, under the name the kernel asks for, through /lib -> usr/lib.
    let xfw = x.join("usr/lib/firmware/vendor");
    assert_eq!(std::fs::read(xfw.join("a.bin")).unwrap(), blob_a);
    assert_eq!(std::fs::read(xfw.join("b.bin")).unwrap(), blob_b);
    assert!(!xfw.join("a.bin.xz").exists() && !xfw.join("b.bin.zst").exists());
    assert_eq!(
        std::fs::read_link(x.join("lib")).unwrap(),
        Path::new("usr/lib")
    );
}
