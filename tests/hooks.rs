//! The kernel hooks in `packaging/` run from the repository against a temporary /boot or
//! boot-loader entry directory, with `PATH` leading to the built `srbuild`, a real kernel
//! from /lib/modules, and only their documented environment: the Debian postinst/postrm
//! hooks through `run-parts` as kernel packages call them, and the kernel-install plugin
//! on its own and through systemd's `kernel-install`.

mod common;

use common::{have_kernel, kver, listed_paths, stderr, stdout};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const POSTINST: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/packaging/kernel/postinst.d/srbuild"
);
const POSTRM: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/packaging/kernel/postrm.d/srbuild"
);
const PLUGIN: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/packaging/kernel/install.d/50-srbuild.install"
);

/// A scratch tree: `boot/`, `log/`, `config.toml` (absent unless written).
struct Scratch {
    dir: tempfile::TempDir,
    kver: String,
}

impl Scratch {
    fn new() -> Scratch {
        assert!(
            have_kernel(),
            "no kernel under /lib/modules: install linux-image-amd64 (cargo xtask deps does)"
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("boot")).unwrap();
        Scratch { dir, kver: kver() }
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }
    fn initrd(&self) -> PathBuf {
        self.path(&format!("boot/initrd.img-{}", self.kver))
    }
    fn log(&self) -> PathBuf {
        self.path(&format!("log/{}.log", self.kver))
    }
    /// A command with nothing of the caller's hook environment and srbuild first on PATH.
    fn command(&self, program: &str) -> Command {
        let bin = Path::new(env!("CARGO_BIN_EXE_srbuild")).parent().unwrap();
        let mut c = Command::new(program);
        c.env_clear()
            .env(
                "PATH",
                format!("{}:/usr/sbin:/usr/bin:/sbin:/bin", bin.display()),
            )
            .env("SRBUILD_CONFIG", self.path("config.toml"))
            .env("SRBUILD_LOG_DIR", self.path("log"))
            .env("SOURCE_DATE_EPOCH", "0");
        c
    }
    /// The Debian way: `DEB_MAINT_PARAMS="$*" run-parts --report --exit-on-error
    /// --arg=KVER --arg=IMAGE DIR`, with DIR holding only `hook`.
    fn run_parts(&self, hook: &str, maint_params: &str) -> Output {
        let parts = self.path("parts");
        let _ = std::fs::remove_dir_all(&parts);
        std::fs::create_dir(&parts).unwrap();
        // A link, not a copy: a freshly written executable can fail to run with "Text file
        // busy" while another test thread forks with the file still open for writing.
        std::os::unix::fs::symlink(hook, parts.join("srbuild")).unwrap();
        let image = self.path(&format!("boot/vmlinuz-{}", self.kver));
        self.command("run-parts")
            .env("DEB_MAINT_PARAMS", maint_params)
            .args(["--report", "--exit-on-error"])
            .arg(format!("--arg={}", self.kver))
            .arg(format!("--arg={}", image.display()))
            .arg(&parts)
            .output()
            .unwrap()
    }
    /// The kernel-install plugin run directly: `add KVER ENTRY_DIR KERNEL_IMAGE [more]`.
    fn plugin(&self, verb: &str, env: &[(&str, &str)], more: &[&str]) -> Output {
        let entry = self.path("entry");
        std::fs::create_dir_all(&entry).unwrap();
        let mut c = self.command(PLUGIN);
        c.arg(verb).arg(&self.kver).arg(&entry);
        if verb == "add" {
            c.arg(format!("/boot/vmlinuz-{}", self.kver)).args(more);
        }
        c.envs(env.iter().copied()).output().unwrap()
    }
}

fn made_by_srbuild(img: &Path) -> bool {
    listed_paths(img).iter().any(|p| p == "etc/srbuild/profile")
}

fn ok(o: &Output, what: &str) {
    assert!(
        o.status.success(),
        "{what} failed ({:?}):\nstdout: {}\nstderr: {}",
        o.status,
        stdout(o),
        stderr(o)
    );
}

#[test]
fn debian_postinst_writes_the_boot_initrd_with_stdout_empty() {
    let s = Scratch::new();
    std::fs::write(
        s.path("config.toml"),
        "profile = \"nfs\"\ncompression = \"gzip\"\n",
    )
    .unwrap();
    let o = s.run_parts(POSTINST, "configure 6.1.0-1");
    ok(&o, "postinst");
    assert_eq!(stdout(&o), "", "run-parts hooks keep stdout empty");
    assert!(stderr(&o).contains("srbuild: wrote"), "{}", stderr(&o));
    assert!(made_by_srbuild(&s.initrd()));
    let head = std::fs::read(s.initrd()).unwrap();
    assert_eq!(&head[..2], &[0x1f, 0x8b], "gzip from the config file");
    let log = std::fs::read_to_string(s.log()).unwrap();
    assert!(
        log.contains("result: ok") && log.contains("profile: nfs"),
        "{log}"
    );
}

#[test]
fn debian_postinst_acts_only_on_configure() {
    let s = Scratch::new();
    for params in ["abort-upgrade 6.1.0-1", "triggered x", "'upgrade' '1'"] {
        let o = s.run_parts(POSTINST, params);
        ok(&o, params);
        assert_eq!(stdout(&o), "");
        assert!(!s.initrd().exists(), "{params}: built");
    }
    // A kernel that says it needs no initramfs.
    let parts = s.path("parts");
    let o = s
        .command(parts.join("srbuild").to_str().unwrap())
        .env("INITRD", "No")
        .arg(&s.kver)
        .output()
        .unwrap();
    ok(&o, "INITRD=No");
    assert!(!s.initrd().exists());
    // Quoted, as older kernel packages pass it.
    ok(&s.run_parts(POSTINST, "'configure' '6.1.0-1'"), "quoted");
    assert!(s.initrd().exists());
}

#[test]
fn debian_postrm_removes_only_srbuild_images_and_only_on_remove() {
    let s = Scratch::new();
    ok(&s.run_parts(POSTINST, "configure"), "postinst");
    assert!(s.initrd().exists());
    // Upgrade or reinstall of the kernel package: the image stays.
    let o = s.run_parts(POSTRM, "upgrade 6.1.192-2");
    ok(&o, "postrm upgrade");
    assert!(s.initrd().exists(), "postrm upgrade removed the image");
    assert!(s.log().exists(), "postinst wrote no log");
    let o = s.run_parts(POSTRM, "remove");
    ok(&o, "postrm remove");
    assert_eq!(stdout(&o), "");
    assert!(!s.initrd().exists(), "postrm remove left the image");
    assert!(
        !s.log().exists(),
        "postrm remove left the kernel's build log"
    );
    assert!(stderr(&o).contains("removed"), "{}", stderr(&o));
    // Someone else's image (initramfs-tools, dracut) is left in place.
    std::fs::write(s.initrd(), b"not an srbuild image").unwrap();
    let o = s.run_parts(POSTRM, "remove");
    ok(&o, "postrm remove (foreign)");
    assert!(s.initrd().exists());
    assert!(stderr(&o).contains("not made by srbuild"), "{}", stderr(&o));
    // Nothing there: nothing to do.
    std::fs::remove_file(s.initrd()).unwrap();
    ok(&s.run_parts(POSTRM, "remove"), "postrm remove (absent)");
}

#[test]
fn a_failed_build_keeps_the_old_image_and_names_the_log() {
    let s = Scratch::new();
    ok(&s.run_parts(POSTINST, "configure"), "first build");
    let before = std::fs::read(s.initrd()).unwrap();
    // An unknown key: an error with file:line, in the log too.
    std::fs::write(
        s.path("config.toml"),
        "profile = \"nfs\"\ncompresion = \"xz\"\n",
    )
    .unwrap();
    let o = s.run_parts(POSTINST, "configure");
    assert!(!o.status.success(), "a broken config must fail the hook");
    assert_eq!(stdout(&o), "");
    let err = stderr(&o);
    let log = s.log();
    assert!(
        err.contains(&format!("full log: {}", log.display())),
        "{err}"
    );
    assert!(
        err.contains("config.toml:2:1: unknown field `compresion`"),
        "{err}"
    );
    assert_eq!(
        std::fs::read(s.initrd()).unwrap(),
        before,
        "old image changed"
    );
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("config.toml:2:1") && text.contains("result: failed"),
        "{text}"
    );
    // A build error (unknown profile) the same way.
    std::fs::write(s.path("config.toml"), "profile = \"no-such-profile\"\n").unwrap();
    let o = s.run_parts(POSTINST, "configure");
    assert!(!o.status.success());
    assert!(stderr(&o).contains("unknown profile 'no-such-profile'"));
    assert!(stderr(&o).contains("full log:"));
    assert_eq!(
        std::fs::read(s.initrd()).unwrap(),
        before,
        "old image changed"
    );
    // No temporary file is left next to it.
    let left: Vec<_> = std::fs::read_dir(s.path("boot"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [format!("initrd.img-{}", s.kver)]);
}

#[test]
fn kernel_hooks_false_turns_the_hooks_off() {
    let s = Scratch::new();
    std::fs::write(s.path("config.toml"), "kernel_hooks = false\n").unwrap();
    let o = s.run_parts(POSTINST, "configure");
    ok(&o, "postinst");
    assert!(!s.initrd().exists());
    assert!(
        stderr(&o).contains("kernel hooks are off"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn kernel_install_plugin_writes_the_staging_area() {
    let s = Scratch::new();
    let staging = s.path("staging");
    std::fs::create_dir(&staging).unwrap();
    let st = staging.to_str().unwrap();
    // Quiet by default: kernel-install's plugins print only when asked.
    let o = s.plugin("add", &[("KERNEL_INSTALL_STAGING_AREA", st)], &[]);
    ok(&o, "plugin add");
    assert_eq!(stdout(&o), "");
    assert!(made_by_srbuild(&staging.join("initrd")));
    assert!(!s.path("entry/initrd").exists());
    // Verbose: what it does, and srbuild's summary.
    let o = s.plugin(
        "add",
        &[
            ("KERNEL_INSTALL_STAGING_AREA", st),
            ("KERNEL_INSTALL_VERBOSE", "1"),
            ("KERNEL_INSTALL_INITRD_GENERATOR", "srbuild"),
        ],
        &[],
    );
    ok(&o, "plugin add -v");
    let out = stdout(&o);
    assert!(
        out.contains(&format!(
            "srbuild kernel-hook add {} --output {st}/initrd",
            s.kver
        )) && out.contains("srbuild: wrote"),
        "{out}"
    );
}

#[test]
fn kernel_install_plugin_writes_the_entry_dir_without_staging_and_removes_it() {
    let s = Scratch::new();
    ok(&s.plugin("add", &[], &[]), "plugin add");
    let initrd = s.path("entry/initrd");
    assert!(made_by_srbuild(&initrd));
    let o = s.plugin("remove", &[("KERNEL_INSTALL_VERBOSE", "1")], &[]);
    ok(&o, "plugin remove");
    assert!(!initrd.exists());
    assert!(stdout(&o).contains("removed"), "{}", stdout(&o));
    // Another generator's initrd stays.
    std::fs::write(&initrd, b"dracut's").unwrap();
    ok(&s.plugin("remove", &[], &[]), "plugin remove (foreign)");
    assert_eq!(std::fs::read(&initrd).unwrap(), b"dracut's");
}

#[test]
fn kernel_install_plugin_leaves_other_generators_alone() {
    let s = Scratch::new();
    let staging = s.path("staging");
    std::fs::create_dir(&staging).unwrap();
    let st = staging.to_str().unwrap();
    /// (environment, extra arguments, what the plugin says)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str], &'a str);
    let cases: &[Case] = &[
        (
            &[("KERNEL_INSTALL_INITRD_GENERATOR", "dracut")],
            &[],
            "initrd generator is dracut",
        ),
        (
            &[
                ("KERNEL_INSTALL_LAYOUT", "uki"),
                ("KERNEL_INSTALL_UKI_GENERATOR", "dracut"),
            ],
            &[],
            "UKI generator dracut",
        ),
        (
            &[("KERNEL_INSTALL_IMAGE_TYPE", "uki")],
            &[],
            "the kernel image is a UKI",
        ),
        (&[], &["/boot/initrd.img-given"], "initrds were given"),
    ];
    for (env, more, said) in cases {
        let mut env = env.to_vec();
        env.push(("KERNEL_INSTALL_STAGING_AREA", st));
        env.push(("KERNEL_INSTALL_VERBOSE", "1"));
        let o = s.plugin("add", &env, more);
        ok(&o, said);
        assert!(stdout(&o).contains(said), "{said}: {}", stdout(&o));
        assert!(!stdout(&o).contains("srbuild: wrote"), "{said}");
        assert!(!staging.join("initrd").exists(), "{said}: built");
        assert!(!s.path("entry/initrd").exists(), "{said}: built");
    }
    // Layout uki with ukify: ukify takes the staged initrd, so srbuild makes it.
    let o = s.plugin(
        "add",
        &[
            ("KERNEL_INSTALL_LAYOUT", "uki"),
            ("KERNEL_INSTALL_UKI_GENERATOR", "ukify"),
            ("KERNEL_INSTALL_STAGING_AREA", st),
        ],
        &[],
    );
    ok(&o, "uki + ukify");
    assert!(made_by_srbuild(&staging.join("initrd")));
}

#[test]
fn kernel_install_plugin_failure_stops_kernel_install_and_names_the_log() {
    let s = Scratch::new();
    let staging = s.path("staging");
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(s.path("config.toml"), "\nsysroot = 3\n").unwrap();
    let o = s.plugin(
        "add",
        &[("KERNEL_INSTALL_STAGING_AREA", staging.to_str().unwrap())],
        &[],
    );
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(
        err.contains("config.toml:2:") && err.contains("full log:"),
        "{err}"
    );
    assert!(!staging.join("initrd").exists());
}

/// systemd's own `kernel-install add` / `remove` with the plugin and the loader-entry
/// plugin, BLS layout, into a scratch BOOT_ROOT.
#[test]
fn systemd_kernel_install_runs_the_plugin() {
    let s = Scratch::new();
    let vmlinuz = format!("/boot/vmlinuz-{}", s.kver);
    let loaderentry = "/usr/lib/kernel/install.d/90-loaderentry.install";
    if !Path::new(&vmlinuz).is_file() || !Path::new(loaderentry).exists() {
        panic!("{vmlinuz} or {loaderentry} is missing: install linux-image-amd64 and systemd");
    }
    let conf = s.path("conf");
    std::fs::create_dir(&conf).unwrap();
    std::fs::write(conf.join("install.conf"), "layout=bls\n").unwrap();
    std::fs::write(conf.join("cmdline"), "root=nfs:10.9.0.100:/srv/root ro\n").unwrap();
    let machine = "0123456789abcdef0123456789abcdef";
    let boot = s.path("boot");
    let run = |args: &[&str]| {
        s.command("kernel-install")
            .env("KERNEL_INSTALL_CONF_ROOT", &conf)
            .env("BOOT_ROOT", &boot)
            .env("MACHINE_ID", machine)
            .env("KERNEL_INSTALL_PLUGINS", format!("{PLUGIN} {loaderentry}"))
            .args(args)
            .output()
            .unwrap()
    };
    let o = run(&["add", &s.kver, &vmlinuz]);
    ok(&o, "kernel-install add");
    let entry = boot.join(machine).join(&s.kver);
    assert!(made_by_srbuild(&entry.join("initrd")));
    let conf_file = boot
        .join("loader/entries")
        .join(format!("{machine}-{}.conf", s.kver));
    let text = std::fs::read_to_string(&conf_file).unwrap();
    assert!(
        text.contains(&format!("initrd     {}", entry.join("initrd").display())),
        "{text}"
    );
    ok(&run(&["remove", &s.kver]), "kernel-install remove");
    assert!(!entry.exists());
}
