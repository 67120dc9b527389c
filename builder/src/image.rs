//! One build, start to finish: profile → resolve against the sysroot → plan → archive.
//! Owns the build options, the fixed skeleton every image has, and the summary.

use crate::config::{load_profile, Item, Profile, STAGES};
use crate::context::{ClusterContext, TemplateContext};
use crate::error::{BuildError, Result};
use crate::library::Library;
use crate::library::TextFile;
use crate::manifest::{Manifest, Sizes};
use crate::plan::{Cause, Plan, Source, Via};
use crate::provenance;
use crate::resolve::elf::ElfResolver;
use crate::resolve::kmod::{firmware_of, read_module, ModuleIndex, Selected};
use crate::sysroot::Sysroot;
use handlebars::Handlebars;
use srbuild_archive::Compression;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const INIT_TEMPLATE: &str = include_str!("../templates/init.sh.hbs");

/// Where the corosync authkey (a secret: never hashed or shown) goes in the image.
pub const AUTHKEY_PATH: &str = "etc/srbuild/corosync-authkey";

/// What `srbuild image` was asked to do.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Profile name (`nfs`) or path to a profile file.
    pub profile: String,
    /// Output file; default `initrd-<profile>-<kver>.img` in the current directory.
    pub output: Option<PathBuf>,
    /// Kernel version; default the newest under `<sysroot>/lib/modules`.
    pub kver: Option<String>,
    pub sysroot: PathBuf,
    pub compression: Compression,
    /// Cluster description to build in (identity by MAC at boot).
    pub cluster: Option<PathBuf>,
    /// Missing firmware is an error instead of a warning.
    pub strict: bool,
    /// Extra kernel arguments baked into the image's defaults.
    pub kernel_args: Vec<String>,
    /// Extra generated files (image path, content, mode), e.g. from the lab.
    pub extra_files: Vec<(String, Vec<u8>, u32)>,
    /// The image's file mode; `None` keeps the mode of the image it replaces, or 0600.
    pub mode: Option<u32>,
    /// A GlusterFS client volfile: take the xlators it names instead of the default set.
    pub gluster_volfile: Option<PathBuf>,
    /// Add the boot runtime (`/init`, hooks, `etc/srbuild`, kernel modules, device nodes).
    /// Without it the plan is just the profile's files: a root tree (see [`crate::tree`]).
    pub runtime: bool,
}

impl BuildOptions {
    pub fn new(profile: &str) -> Self {
        BuildOptions {
            profile: profile.to_string(),
            output: None,
            kver: None,
            sysroot: PathBuf::from("/"),
            compression: Compression::default(),
            cluster: None,
            strict: false,
            kernel_args: Vec::new(),
            extra_files: Vec::new(),
            gluster_volfile: None,
            mode: None,
            runtime: true,
        }
    }
}

/// What a finished build reports.
#[derive(Debug, Clone)]
pub struct BuildReport {
    pub output: PathBuf,
    pub profile: String,
    pub kver: String,
    pub files: usize,
    pub entries: usize,
    pub kernel_modules: usize,
    pub elf_parsed: usize,
    pub uncompressed_bytes: u64,
    pub compressed_bytes: u64,
    pub compression: Compression,
    pub elapsed: Duration,
    pub warnings: Vec<String>,
}

impl BuildReport {
    /// The one-line summary printed by `srbuild image`.
    pub fn summary(&self) -> String {
        format!(
            "srbuild: wrote {} (profile {}, kernel {}): {} files, {} kernel modules, {:.1} MB -> {:.1} MB {}, {:.2} s",
            self.output.display(),
            self.profile,
            self.kver,
            self.files,
            self.kernel_modules,
            self.uncompressed_bytes as f64 / 1e6,
            self.compressed_bytes as f64 / 1e6,
            self.compression,
            self.elapsed.as_secs_f64()
        )
    }
}

/// A planned image, before it is written.
#[derive(Debug)]
pub struct Planned {
    pub plan: Plan,
    pub profile: Profile,
    pub kver: String,
    pub kernel_modules: Vec<String>,
    /// Each kernel module in load order with its archive path.
    pub kernel_module_paths: Vec<(String, String)>,
    /// The profile and module files read, with their paths relative to a data directory
    /// (`profiles/nfs.toml`, `modules/nfs/module.toml`): the build's text inputs.
    pub inputs: Vec<(String, TextFile)>,
    pub elf_parsed: usize,
    pub warnings: Vec<String>,
}

/// Picks the kernel version: the one asked for (it must be installed) or the newest.
pub fn choose_kernel(sysroot: &Sysroot, kver: Option<&str>) -> Result<String> {
    if let Some(k) = kver {
        check_plain_name("--kver", k)?;
    }
    let chosen = choose_installed(sysroot, kver)?;
    // The newest directory name is used as is: it must be a plain name too.
    check_plain_name(
        &format!(
            "kernel directory under {}",
            sysroot.host("lib/modules").display()
        ),
        &chosen,
    )?;
    Ok(chosen)
}

fn choose_installed(sysroot: &Sysroot, kver: Option<&str>) -> Result<String> {
    let installed = sysroot.kernels();
    match kver {
        Some(k) => {
            if installed.iter().any(|i| i == k) {
                Ok(k.to_string())
            } else {
                Err(BuildError::KernelNotInstalled {
                    kver: k.to_string(),
                    dir: sysroot.host(&format!("lib/modules/{k}")),
                    hint: if installed.is_empty() {
                        "; no kernel is installed there (apt-get install linux-image-amd64)".into()
                    } else {
                        format!("; installed: {}", installed.join(", "))
                    },
                })
            }
        }
        None => installed
            .into_iter()
            .next()
            .ok_or_else(|| BuildError::NoKernel(sysroot.host("lib/modules"))),
    }
}

/// Builds the plan for an image without writing anything.
pub fn plan_image(opts: &BuildOptions) -> Result<Planned> {
    // A sysroot that is missing or a file would only show up later as "no kernel under
    // <file>/lib/modules"; say what is wrong with it first.
    let sysroot = Sysroot::open(&opts.sysroot)?;
    let mut library = Library::standard();
    let mut profile = load_profile(&mut library, &opts.profile)?;
    check_plain_name(
        &format!("profile name (from {})", profile.source),
        &profile.name,
    )?;
    let args = profile
        .kernel_args
        .iter()
        .map(|a| (a, profile.source.as_str()))
        .chain(opts.kernel_args.iter().map(|a| (a, "--kernel-arg")));
    for (a, from) in args {
        srbuild_cluster::description::check_kernel_arg(a).map_err(|message| {
            BuildError::Config {
                location: from.to_string(),
                message,
            }
        })?;
    }
    if let Some(v) = &opts.gluster_volfile {
        crate::resolve::gluster::apply_volfile(&mut profile, &sysroot, v)?;
    }
    let kver = choose_kernel(&sysroot, opts.kver.as_deref())?;
    // An admin's (or a profile directory's) copy of a built-in module is named in the output.
    let mut warnings = library.overrides();
    let mut plan = Plan::default();

    // The skeleton: device records so the kernel has a console before devtmpfs.
    for d in ["dev", "proc", "sys", "run", "tmp", "root", "etc", "var"] {
        plan.insert(d, Source::Dir, 0o755, "skeleton")?;
    }
    if opts.runtime {
        plan.insert("sysroot", Source::Dir, 0o755, "skeleton")?;
        plan.insert("dev/console", Source::CharDev(5, 1), 0o600, "skeleton")?;
        plan.insert("dev/null", Source::CharDev(1, 3), 0o666, "skeleton")?;
    }

    // Declared symlinks first: the image's view of a path wins over the host's.
    for (path, (target, by)) in &profile.symlinks {
        let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
        let dir = if parent.is_empty() {
            String::new()
        } else {
            let found = sysroot.add(&mut plan, &format!("/{parent}"), by)?;
            let listed = Cause::Listed {
                list: "symlinks",
                by: by.clone(),
            };
            provenance::record(&mut plan, &format!("/{parent}"), by, listed);
            match found {
                Some(r) if r.is_dir => r.image_path,
                _ => parent.to_string(),
            }
        };
        let at = if dir.is_empty() {
            name.to_string()
        } else {
            format!("{dir}/{name}")
        };
        plan.insert(&at, Source::Symlink(target.clone()), 0o777, by)?;
        let listed = Cause::Listed {
            list: "symlinks",
            by: by.clone(),
        };
        plan.set_cause(&at, by, listed);
    }
    for d in &profile.dirs {
        plan.insert(&d.name, Source::Dir, 0o755, &d.by)?;
        let listed = Cause::Listed {
            list: "dirs",
            by: d.by.clone(),
        };
        plan.set_cause(&d.name, &d.by, listed);
    }

    let mut elf = ElfResolver::new(&sysroot);
    elf.list = "binaries";
    for b in &profile.binaries {
        let path = if b.name.contains('/') {
            Some(b.name.clone())
        } else {
            sysroot.which(&b.name)?
        };
        let found = match &path {
            Some(p) => elf.add(&mut plan, p, &b.by)?,
            None => false,
        };
        if !found {
            if b.optional {
                warnings.push(format!(
                    "optional binary {} (from {}) not found; skipped",
                    b.name, b.by
                ));
                continue;
            }
            return Err(BuildError::MissingBinary {
                name: b.name.clone(),
                by: b.by.clone(),
                searched: if b.name.contains('/') {
                    sysroot.host(&b.name).display().to_string()
                } else {
                    crate::sysroot::BIN_DIRS
                        .iter()
                        .map(|d| sysroot.host(d).display().to_string())
                        .collect::<Vec<_>>()
                        .join(":")
                },
            });
        }
    }
    elf.list = "files";
    for f in &profile.files {
        let hint = missing_file_hint(&profile, f);
        add_glob(
            &sysroot,
            &mut plan,
            &mut elf,
            f,
            false,
            &hint,
            &mut warnings,
        )?;
    }
    elf.list = "plugin_dirs";
    for p in &profile.plugin_dirs {
        add_glob(&sysroot, &mut plan, &mut elf, p, true, "", &mut warnings)?;
    }

    if !opts.runtime && (opts.cluster.is_some() || !opts.kernel_args.is_empty()) {
        return Err(BuildError::Config {
            location: profile.source.clone(),
            message: "a root tree (no boot runtime) takes no cluster description or kernel \
                      arguments; build an image for those"
                .into(),
        });
    }
    let kernel_module_paths = if opts.runtime {
        add_runtime(opts, &profile, &sysroot, &kver, &mut plan, &mut warnings)?
    } else {
        Vec::new()
    };
    let kernel_modules = kernel_module_paths.iter().map(|(n, _)| n.clone()).collect();
    for (path, bytes, mode) in &opts.extra_files {
        plan.insert_bytes(path, bytes.clone(), *mode, "extra file")?;
    }
    plan.fill_parents()?;
    Ok(Planned {
        plan,
        profile,
        kver,
        kernel_modules,
        kernel_module_paths,
        inputs: library.files_read(),
        elf_parsed: elf.parsed,
        warnings,
    })
}

/// The boot runtime: kernel modules, the cluster description, the hooks and `/init`.
/// Returns the kernel modules in load order, each with its archive path.
fn add_runtime(
    opts: &BuildOptions,
    profile: &Profile,
    sysroot: &Sysroot,
    kver: &str,
    plan: &mut Plan,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, String)>> {
    let kernel_modules = add_kernel_modules(
        sysroot,
        kver,
        &profile.kernel_modules,
        plan,
        opts.strict,
        warnings,
    )?;

    // Cluster description.
    let cluster_ctx = match &opts.cluster {
        Some(path) => {
            let c = srbuild_cluster::Cluster::load(path).map_err(BuildError::Cluster)?;
            let ctx = ClusterContext::new(&c)?;
            if let (Some(m), 0) = (profile.needs_cluster.first(), ctx.node_count) {
                return Err(BuildError::Config {
                    location: path.display().to_string(),
                    message: format!(
                        "the cluster description has no member nodes, and module {m} renders \
                         them into its cluster configuration; add [[node]] entries"
                    ),
                });
            }
            let text = std::fs::read(path).map_err(|e| BuildError::read(path, e))?;
            plan.insert_bytes("etc/srbuild/cluster.toml", text, 0o644, "--cluster")?;
            if let (true, Some(key)) = (profile.corosync_authkey, &c.crypto.authkey) {
                plan.insert_bytes(
                    AUTHKEY_PATH,
                    read_authkey(key)?,
                    0o400,
                    "--cluster (authkey)",
                )?;
            }
            plan.insert_bytes(
                "etc/srbuild/nodes",
                nodes_table(&c).into_bytes(),
                0o644,
                "--cluster",
            )?;
            Some(ctx)
        }
        None => {
            if let Some(m) = profile.needs_cluster.first() {
                return Err(BuildError::NeedsCluster {
                    profile: profile.name.clone(),
                    module: m.clone(),
                });
            }
            None
        }
    };

    // Hooks and /init.
    let ctx = TemplateContext {
        profile: profile.name.clone(),
        kver: kver.to_string(),
        stages: STAGES.iter().map(|s| s.to_string()).collect(),
        modules: profile.modules.clone(),
        kernel_modules: kernel_modules.iter().map(|(n, _)| n.clone()).collect(),
        cluster: cluster_ctx,
    };
    let hb = handlebars();
    for hook in &profile.hooks {
        let text =
            hb.render_template(&hook.template.text, &ctx)
                .map_err(|e| BuildError::Template {
                    template: hook.template.name.clone(),
                    message: e.to_string(),
                })?;
        let at = format!(
            "usr/lib/srbuild/hooks/{}/{:02}-{}.sh",
            hook.stage, hook.priority, hook.module
        );
        plan.insert_bytes(&at, text.into_bytes(), 0o644, &hook.template.name)?;
    }
    let init = hb
        .render_template(INIT_TEMPLATE, &ctx)
        .map_err(|e| BuildError::Template {
            template: "builder/templates/init.sh.hbs".into(),
            message: e.to_string(),
        })?;
    plan.insert_bytes("init", init.into_bytes(), 0o755, "srbuild")?;
    crate::init_lib::add_init_lib(plan)?;
    let mut args = profile.kernel_args.clone();
    args.extend(opts.kernel_args.iter().cloned());
    plan.insert_bytes(
        "etc/srbuild/cmdline.default",
        format!("{}\n", args.join(" ")).into_bytes(),
        0o644,
        &profile.source,
    )?;
    plan.insert_bytes(
        "etc/srbuild/profile",
        format!(
            "profile={}\nkver={}\nmodules={}\n",
            profile.name,
            kver,
            profile.modules.join(",")
        )
        .into_bytes(),
        0o644,
        "srbuild",
    )?;
    Ok(kernel_modules)
}

/// Builds and writes an image.
pub fn build_image(opts: &BuildOptions) -> Result<BuildReport> {
    build(opts, false).map(|(report, _)| report)
}

/// Builds and writes an image, and returns its manifest ([`crate::manifest`]). Every host
/// file is hashed before the image is written, so a failure leaves no image behind.
pub fn build_image_with_manifest(opts: &BuildOptions) -> Result<(BuildReport, Manifest)> {
    let (report, manifest) = build(opts, true)?;
    let manifest = manifest.ok_or_else(|| BuildError::Config {
        location: "srbuild image --json".into(),
        message: "no manifest was made (a bug in srbuild; please report it)".into(),
    })?;
    Ok((report, manifest))
}

fn build(opts: &BuildOptions, with_manifest: bool) -> Result<(BuildReport, Option<Manifest>)> {
    let start = Instant::now();
    let planned = plan_image(opts)?;
    let mut manifest = if with_manifest {
        Some(crate::manifest::draft(opts, &planned)?)
    } else {
        None
    };
    let output = opts.output.clone().unwrap_or_else(|| {
        PathBuf::from(format!(
            "initrd-{}-{}.img",
            planned.profile.name, planned.kver
        ))
    });
    let entries = planned.plan.to_entries()?;
    let mtime = source_date_epoch()?;
    // An image that carries a secret never keeps group or other bits from the image it
    // replaces (older srbuild wrote 0644); --mode still decides when given.
    let mode = opts.mode.or_else(|| {
        planned.plan.contains(AUTHKEY_PATH).then(|| {
            std::fs::metadata(&output)
                .ok()
                .filter(|m| m.is_file())
                .map_or(srbuild_archive::DEFAULT_MODE, |m| {
                    use std::os::unix::fs::PermissionsExt;
                    m.permissions().mode() & 0o700
                })
        })
    });
    let stats =
        srbuild_archive::write_image_with_mode(&output, &entries, opts.compression, mtime, mode)?;
    let files = entries
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                srbuild_archive::EntryKind::File { .. } | srbuild_archive::EntryKind::Bytes(_)
            )
        })
        .count();
    let report = BuildReport {
        output,
        profile: planned.profile.name,
        kver: planned.kver,
        files,
        entries: entries.len(),
        kernel_modules: planned.kernel_modules.len(),
        elf_parsed: planned.elf_parsed,
        uncompressed_bytes: stats.uncompressed_bytes,
        compressed_bytes: stats.compressed_bytes,
        compression: opts.compression,
        elapsed: start.elapsed(),
        warnings: planned.warnings,
    };
    if let Some(m) = manifest.as_mut() {
        let sizes = Sizes {
            entries: report.entries,
            files: report.files,
            uncompressed_bytes: report.uncompressed_bytes,
            compressed_bytes: report.compressed_bytes,
        };
        m.finish(sizes, report.elapsed);
    }
    Ok((report, manifest))
}

/// `SOURCE_DATE_EPOCH` if set and valid, else 0.
/// `SOURCE_DATE_EPOCH` (0 when unset or empty); a value that is not a number of seconds
/// that cpio can carry (0 to 4294967295) is an error, not a silent 0.
pub fn source_date_epoch() -> Result<u32> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Err(_) => Ok(0),
        Ok(v) if v.trim().is_empty() => Ok(0),
        Ok(v) => v.trim().parse::<u32>().map_err(|_| BuildError::Config {
            location: "SOURCE_DATE_EPOCH".into(),
            message: format!(
                "{:?} is not a time in seconds since 1970 that cpio can hold (0 to 4294967295)",
                v.chars().take(40).collect::<String>()
            ),
        }),
    }
}

/// What to do about a `files` entry that matched nothing, for where it was listed: a module
/// can mark it optional; a profile cannot (profiles have no `optional_files`).
fn missing_file_hint(profile: &Profile, item: &Item) -> String {
    if profile.profile_files.contains(&item.by) {
        format!(
            "; install the package that provides it, or remove it from `files` in {} \
             (profiles have no optional_files: to make it optional, put it under \
             optional_files in a module's module.toml and list that module under `modules`)",
            item.by
        )
    } else {
        format!(
            "; install the package that provides it, or move it from `files` to \
             `optional_files` in {}",
            item.by
        )
    }
}

/// Adds the sysroot files matching `item` (a path or glob); `hint` ends the error when
/// nothing matches and the item is required.
fn add_glob(
    sysroot: &Sysroot,
    plan: &mut Plan,
    elf: &mut ElfResolver,
    item: &Item,
    whole_dirs: bool,
    hint: &str,
    warnings: &mut Vec<String>,
) -> Result<()> {
    // Expanded inside the sysroot (links and `..` resolved as under chroot), never on the host.
    let matches = sysroot.glob(&item.name)?;
    let missing = || BuildError::MissingFile {
        path: item.name.clone(),
        by: item.by.clone(),
        hint: hint.to_string(),
    };
    if matches.is_empty() {
        if item.optional || whole_dirs {
            warnings.push(format!(
                "{} (from {}) matched nothing; skipped",
                item.name, item.by
            ));
            return Ok(());
        }
        return Err(missing());
    }
    let mut added = false;
    for m in matches {
        let is_dir = sysroot.resolve(&m)?.is_some_and(|r| r.is_dir);
        if is_dir {
            // The directory (and any link on the way to it), then what it holds.
            sysroot.add(plan, &m, &item.by)?;
            added = true;
            for f in sysroot.walk_files(&m)? {
                elf.add(plan, &f, &item.by)?;
            }
        } else {
            added |= elf.add(plan, &m, &item.by)?;
        }
    }
    if !added && !item.optional {
        return Err(missing());
    }
    Ok(())
}

fn add_kernel_modules(
    sysroot: &Sysroot,
    kver: &str,
    requests: &[Item],
    plan: &mut Plan,
    strict: bool,
    warnings: &mut Vec<String>,
) -> Result<Vec<(String, String)>> {
    let dir = sysroot
        .add(plan, &format!("/lib/modules/{kver}"), "kernel modules")?
        .ok_or_else(|| BuildError::KernelNotInstalled {
            kver: kver.to_string(),
            dir: sysroot.host(&format!("lib/modules/{kver}")),
            hint: String::new(),
        })?;
    let index = ModuleIndex::load(sysroot, &format!("/{}", dir.image_path), kver)?;
    let sel = index.select(requests)?;
    for m in &sel.missing_optional {
        warnings.push(format!(
            "optional kernel module {} (from {}) not found; skipped",
            m.name, m.by
        ));
    }
    // Where a module goes in the image: uncompressed, as `.ko`.
    let at = |name: &str| {
        let rel = index.path_of(name).unwrap_or_default();
        let plain = format!("{}.ko", rel.split(".ko").next().unwrap_or(rel));
        (format!("{}/{plain}", dir.image_path), plain)
    };
    let mut paths = Vec::with_capacity(sel.load_order.len());
    for name in &sel.load_order {
        let rel = index.path_of(name).unwrap_or_default().to_string();
        let bytes = read_module(sysroot, &format!("/{}/{rel}", dir.image_path))?;
        let (image_path, _) = at(name);
        for fw in firmware_of(&bytes) {
            add_firmware(
                sysroot,
                plan,
                kver,
                &fw,
                (name, &image_path),
                strict,
                warnings,
            )?;
        }
        let by = format!("kernel module {name}");
        plan.insert_bytes(&image_path, bytes, 0o644, &by)?;
        let cause = match sel.reasons.get(name) {
            Some(Selected::Requested(item)) => Cause::Listed {
                list: "kernel_modules",
                by: item.by.clone(),
            },
            Some(Selected::DependencyOf(m)) => Cause::Object {
                path: at(m).0,
                via: Via::ModuleDep,
            },
            Some(Selected::SoftdepOf(m)) => Cause::Object {
                path: at(m).0,
                via: Via::Softdep,
            },
            None => Cause::Listed {
                list: "kernel_modules",
                by: by.clone(),
            },
        };
        plan.set_cause(&image_path, &by, cause);
        paths.push((name.clone(), image_path));
    }
    for (file, text) in index.image_indexes(&sel.load_order) {
        plan.insert_bytes(
            &format!("{}/{file}", dir.image_path),
            text.into_bytes(),
            0o644,
            "kernel module index",
        )?;
    }
    for f in [
        "modules.builtin",
        "modules.builtin.modinfo",
        "modules.order",
    ] {
        if dir.host_path.join(f).exists() {
            sysroot.add(
                plan,
                &format!("/lib/modules/{kver}/{f}"),
                "kernel module index",
            )?;
        }
    }
    // What loads at boot: drivers by modalias, the rest always or as needed (coldplug.rs).
    for (path, text) in crate::resolve::coldplug::files(&index, requests, &sel.load_order)? {
        plan.insert_bytes(path, text.into_bytes(), 0o644, "kernel modules")?;
    }
    Ok(paths)
}

fn add_firmware(
    sysroot: &Sysroot,
    plan: &mut Plan,
    kver: &str,
    fw: &str,
    (module, module_path): (&str, &str),
    strict: bool,
    warnings: &mut Vec<String>,
) -> Result<()> {
    let dirs = [
        format!("/lib/firmware/updates/{kver}"),
        "/lib/firmware/updates".into(),
        format!("/lib/firmware/{kver}"),
        "/lib/firmware".into(),
    ];
    for d in &dirs {
        for suffix in ["", ".xz", ".zst"] {
            let p = format!("{d}/{fw}{suffix}");
            if sysroot.resolve(&p)?.is_some() {
                let by = format!("firmware for {module}");
                sysroot.add(plan, &p, &by)?;
                let cause = Cause::Object {
                    path: module_path.to_string(),
                    via: Via::Firmware,
                };
                provenance::record(plan, &p, &by, cause);
                return Ok(());
            }
        }
    }
    if strict {
        return Err(BuildError::MissingFirmware {
            name: fw.to_string(),
            module: module.to_string(),
            searched: dirs.join(", "),
        });
    }
    warnings.push(format!("firmware {fw} for kernel module {module} not found; skipped (--strict makes this an error)"));
    Ok(())
}

/// `/etc/srbuild/nodes`: one line per node, `name id mac[,mac] address/prefix gateway`
/// (`-` for none), read by `/init` with plain shell.
pub fn nodes_table(c: &srbuild_cluster::Cluster) -> String {
    let mut out = String::new();
    for n in &c.nodes {
        let addr = n.addresses.first();
        let gw = addr
            .and_then(|a| c.network_of(a))
            .and_then(|net| net.gateway)
            .map(|g| g.to_string())
            .unwrap_or_else(|| "-".into());
        out.push_str(&format!(
            "{} {} {} {} {}\n",
            n.name,
            n.id,
            n.macs.join(","),
            addr.map(|a| a.to_string()).unwrap_or_else(|| "-".into()),
            gw
        ));
    }
    out
}

/// The corosync authkey: a secret, so it must be readable by its owner (root or the one
/// running srbuild) only, and the size corosync-keygen makes (128 to 4096 bytes).
fn read_authkey(path: &std::path::Path) -> Result<Vec<u8>> {
    use std::os::unix::fs::MetadataExt;
    let bad = |message: String| BuildError::Config {
        location: format!("authkey {}", path.display()),
        message,
    };
    if let Some(why) = crate::library::unsafe_reason(path) {
        return Err(bad(format!("refusing it: {why}")));
    }
    let m = std::fs::symlink_metadata(path).map_err(|e| BuildError::read(path, e))?;
    if !m.is_file() {
        return Err(bad(
            "not a regular file (a symlink?); name the key file itself".into(),
        ));
    }
    let me = unsafe { libc::geteuid() };
    if m.uid() != 0 && m.uid() != me {
        return Err(bad(format!(
            "owned by uid {}; it must belong to root (chown root)",
            m.uid()
        )));
    }
    if m.mode() & 0o077 != 0 {
        return Err(bad(format!(
            "mode {:o} lets group or others read it; chmod 0400 it (and make a new key: it may have leaked)",
            m.mode() & 0o7777
        )));
    }
    let key = std::fs::read(path).map_err(|e| BuildError::read(path, e))?;
    if !(128..=4096).contains(&key.len()) {
        return Err(bad(format!(
            "{} bytes; corosync wants 128 to 4096 (make one with corosync-keygen)",
            key.len()
        )));
    }
    Ok(key)
}

/// The template engine for hooks and `/init`: strict (a missing field is an error), no
/// HTML escaping (the output is shell), and `{{sh VALUE}}`, which renders a value as one
/// single-quoted shell word. Every value a template puts into shell code goes through it.
pub fn handlebars() -> Handlebars<'static> {
    let mut hb = Handlebars::new();
    hb.set_strict_mode(true);
    hb.register_escape_fn(handlebars::no_escape);
    hb.register_helper("sh", Box::new(sh_helper));
    hb
}

/// `s` as one POSIX shell word: single quotes, with `'` written as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

fn sh_helper(
    h: &handlebars::Helper,
    _: &Handlebars,
    _: &handlebars::Context,
    _: &mut handlebars::RenderContext,
    out: &mut dyn handlebars::Output,
) -> handlebars::HelperResult {
    let v = h
        .param(0)
        .ok_or(handlebars::RenderErrorReason::ParamNotFoundForIndex(
            "sh", 0,
        ))?;
    let text = match v.value() {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if text.contains('\0') {
        return Err(handlebars::RenderErrorReason::Other(
            "a NUL byte cannot be part of a shell word".into(),
        )
        .into());
    }
    out.write(&shell_quote(&text))?;
    Ok(())
}

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

    /// A profile directory (profiles/, modules/) and a sysroot with an empty kernel 9.9.9.
    fn setup() -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("sysroot");
        std::fs::create_dir_all(root.join("lib/modules/9.9.9")).unwrap();
        std::fs::write(root.join("lib/modules/9.9.9/modules.dep"), "").unwrap();
        (d, root)
    }

    fn write(dir: &std::path::Path, rel: &str, text: &str) -> String {
        let p = dir.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    }

    fn plan_error(profile: &str, sysroot: &std::path::Path) -> String {
        let mut opts = BuildOptions::new(profile);
        opts.sysroot = sysroot.to_path_buf();
        plan_image(&opts).unwrap_err().to_string()
    }

    #[test]
    fn a_missing_file_hint_fits_where_the_file_was_listed() {
        let (d, root) = setup();
        // Listed by a profile: profiles have no optional_files, so the hint must not
        // tell the user to list it there.
        let p = write(d.path(), "profiles/p.toml", "files = [\"/no/such/file\"]\n");
        let e = plan_error(&p, &root);
        assert!(e.contains("'/no/such/file' (asked for by"), "{e}");
        assert!(e.contains(&format!("remove it from `files` in {p}")), "{e}");
        assert!(
            e.contains("profiles have no optional_files")
                && e.contains("list that module under `modules`"),
            "{e}"
        );
        assert!(!e.contains("or list it under optional_files"), "{e}");
        // Listed by a module: that module's optional_files is the place.
        let m = write(
            d.path(),
            "modules/m/module.toml",
            "files = [\"/no/other\"]\n",
        );
        let p = write(d.path(), "profiles/q.toml", "modules = [\"m\"]\n");
        let e = plan_error(&p, &root);
        assert!(
            e.contains(&format!(
                "move it from `files` to `optional_files` in module m ({m})"
            )),
            "{e}"
        );
        // In a module's optional_files it is skipped with a warning.
        write(
            d.path(),
            "modules/m/module.toml",
            "optional_files = [\"/no/other\"]\n",
        );
        let mut opts = BuildOptions::new(&p);
        opts.sysroot = root.clone();
        opts.runtime = false;
        let planned = plan_image(&opts).unwrap();
        assert!(
            planned.warnings.iter().any(|w| w.contains("/no/other")),
            "{:?}",
            planned.warnings
        );
    }

    #[test]
    fn a_sysroot_that_is_not_a_directory_is_named_before_anything_else() {
        let (d, _) = setup();
        let file = d.path().join("passwd");
        std::fs::write(&file, "root:x:0:0::/root:/bin/sh\n").unwrap();
        let e = plan_error("nfs", &file);
        assert!(
            e.contains(&format!("--sysroot: {} is a file", file.display())),
            "{e}"
        );
        assert!(!e.contains("no kernel found"), "{e}");
        let e = plan_error("nfs", &d.path().join("missing"));
        assert!(e.contains("missing does not exist"), "{e}");
    }
}
