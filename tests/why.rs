//! `srbuild why` against the build host (`--sysroot /`) and the nfs profile: the chain of a
//! library, of a kernel module, of a path reached through an image link, and the error for
//! a path that is not in the image.

mod common;
use common::*;

fn why(path: &str) -> std::process::Output {
    assert!(
        have_kernel(),
        "no kernel under /lib/modules: install linux-image-amd64 (the README's test command does)"
    );
    run(&["why", path, "--profile", "nfs", "--sysroot", "/"])
}

/// The real path of a host library, as the image holds it (merged /usr: `lib` is a link).
fn host_real(path: &str) -> String {
    std::fs::canonicalize(path)
        .unwrap()
        .display()
        .to_string()
        .trim_start_matches('/')
        .to_string()
}

#[test]
fn why_a_library_names_its_program_module_and_profile() {
    let real = host_real("/lib/x86_64-linux-gnu/libtirpc.so.3");
    let o = why(&format!("/{real}"));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with(&format!("{real} ← ")), "{out}");
    assert!(
        out.trim_end()
            .ends_with("← DT_NEEDED of usr/sbin/mount.nfs ← binaries of module nfs ← profile nfs"),
        "{out}"
    );
    // The soname link is the one the DT_NEEDED named; the file is its target.
    if real.ends_with(".so.3.0.0") {
        assert!(
            out.contains("← target of symlink usr/lib/x86_64-linux-gnu/libtirpc.so.3 ←"),
            "{out}"
        );
    }
}

#[test]
fn why_a_path_through_an_image_link_names_the_link_and_the_chain() {
    let o = why("lib/x86_64-linux-gnu/libtirpc.so.3");
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    if std::fs::symlink_metadata("/lib").unwrap().is_symlink() {
        assert!(out.contains("in the image (through the link lib"), "{out}");
    }
    assert!(out.contains("DT_NEEDED of usr/sbin/mount.nfs"), "{out}");
}

#[test]
fn why_a_kernel_module_names_the_module_that_depends_on_it() {
    let o = why(&format!(
        "/lib/modules/{}/kernel/net/sunrpc/sunrpc.ko",
        kver()
    ));
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("/kernel/net/sunrpc/sunrpc.ko ← modules.dep of ")
            && out.contains("/kernel/fs/"),
        "{out}"
    );
    assert!(
        out.trim_end()
            .ends_with("← kernel_modules of module nfs ← profile nfs"),
        "{out}"
    );
    // A module the profile asks for by name is its own root.
    let o = why(&format!("/lib/modules/{}/kernel/fs/nfs/nfsv4.ko", kver()));
    let out = stdout(&o);
    assert!(
        out.contains("nfsv4.ko ← kernel_modules of module nfs ← profile nfs"),
        "{out}{}",
        stderr(&o)
    );
}

#[test]
fn why_a_path_not_in_the_image_is_an_error_with_close_matches() {
    let o = why("/usr/lib/libtirpc.so.3");
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("usr/lib/libtirpc.so.3 is not in the image of profile nfs"),
        "{err}"
    );
    assert!(
        err.contains("close matches: ") && err.contains("usr/lib/x86_64-linux-gnu/libtirpc.so.3"),
        "{err}"
    );
    assert!(stdout(&o).is_empty());
    let o = why("/no/such/thing-at-all");
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("srbuild image"), "{}", stderr(&o));
}
