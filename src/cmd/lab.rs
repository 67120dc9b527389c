//! `srbuild lab`: boot QEMU clusters from one shared root and check them end to end.

use anyhow::{bail, Result};
use clap::{Args, Subcommand};
use srbuild_lab::run::{self, scenarios::Scenario, LabOptions};
use std::path::PathBuf;

#[derive(Args)]
pub struct LabArgs {
    #[command(subcommand)]
    command: LabCommand,
}

#[derive(Args, Clone)]
struct ClusterOpts {
    /// Root kind (see the list below)
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(
        srbuild_lab::run::kinds::names_list()
    ))]
    root: Option<String>,
    /// Client profile, a name or a .toml file [default: the root kind's]; without --root,
    /// its modules choose the kind
    #[arg(long, short)]
    profile: Option<String>,
    /// Number of client nodes (the cluster's members)
    #[arg(long, short, default_value_t = 3)]
    nodes: usize,
    /// Journals (gfs2) or node slots (ocfs2) of the shared disk [default: --nodes]
    #[arg(long)]
    slots: Option<usize>,
    /// Lab directory: artifacts, one console log per node, junit.xml, timeline.svg
    #[arg(long, default_value = "lab")]
    dir: PathBuf,
    /// Boot this client image instead of building one (e.g. a dracut image, to compare)
    #[arg(long)]
    initrd: Option<PathBuf>,
    /// Kernel version [default: newest under the sysroot's /lib/modules]
    #[arg(long)]
    kver: Option<String>,
    /// Build every image of the run (clients, servers, seed, the busybox root) from this
    /// tree and boot its kernel (DIR/boot/vmlinuz-KVER) [default: /]
    #[arg(long, value_name = "DIR", conflicts_with = "distro")]
    sysroot: Option<PathBuf>,
    /// A Debian release (12, 13) for both: the sysroot (built once with mmdebstrap into
    /// the lab cache, with the kernel and every kind's tools) and a Debian root's release
    #[arg(long, value_name = "RELEASE", value_parser = srbuild_lab::run::releases::by_name)]
    distro: Option<&'static srbuild_lab::run::releases::Release>,
    /// The shared root: busybox (fast, the agent is its init) or debian[:RELEASE] (Debian
    /// with systemd, 12 unless --distro or RELEASE says, built once with mmdebstrap into
    /// the lab cache; nfs, gfs2 and ocfs2, the normal scenario)
    #[arg(long, default_value = "busybox")]
    rootfs: srbuild_lab::run::rootfs::RootFs,
    /// Start the clients only once the server is serving (its grace period over), so
    /// that a run times the clients' boot alone (what `cargo xtask bench --lab` does)
    #[arg(long)]
    server_first: bool,
    /// Start every client with its CPUs stopped and release them all at one moment once
    /// each QEMU is up (QMP `cont`): a boot storm. Their times count from that moment;
    /// with --server-first, once the server serves (what `cargo xtask bench --storm` does)
    #[arg(long)]
    together: bool,
    /// Boot the compressed kernel (/boot/vmlinuz-*) through its own decompressor, as a
    /// boot loader does. By default the VMs boot the vmlinux inside it (taken out once
    /// into the lab cache) through its PVH entry, which under TCG is about 3 s sooner
    #[arg(long)]
    bzimage: bool,
    /// An option of the root kind, KEY=VALUE (repeatable; see the list below)
    #[arg(long = "opt", value_name = "KEY=VALUE")]
    opt: Vec<String>,
    /// What the run sets out to show (see the list below)
    #[arg(long, default_value = "normal")]
    scenario: Scenario,
    /// Extra kernel argument for every client (repeatable)
    #[arg(long = "append", value_name = "ARG")]
    append: Vec<String>,
}

#[derive(Subcommand)]
enum LabCommand {
    /// Boot a cluster and leave it running
    #[command(
        after_help = "Example:\n  srbuild lab up --root gfs2 --nodes 3 --dir lab\n  srbuild lab status --dir lab\n  srbuild lab console node1 --dir lab\n  srbuild lab down --dir lab",
        after_long_help = srbuild_lab::run::docs::help_lists()
    )]
    Up(ClusterOpts),
    /// Boot, check every node, tear down; exit 0 only if every node passed
    #[command(
        after_help = "Examples:\n  srbuild lab test --root nfs --nodes 3\n  srbuild lab test --root gfs2 --nodes 3\n  srbuild lab test --root ocfs2 --nodes 2 --scenario node-dies\n  srbuild lab test --profile ./my-gfs2.toml --nodes 2\n  srbuild lab test --profile ext3 --nodes 2 --junit ext3.xml\n  srbuild lab test --profile nfs --nodes 2 --scenario late-server\n  srbuild lab test --profile nfs --nodes 1 --initrd dracut.img --append rd.neednet=1",
        after_long_help = srbuild_lab::run::docs::help_lists()
    )]
    Test {
        #[command(flatten)]
        opts: ClusterOpts,
        /// Where to write the JUnit XML [default: <dir>/junit.xml]
        #[arg(long)]
        junit: Option<PathBuf>,
    },
    /// Show the nodes of a running lab
    #[command(after_help = "Example:\n  srbuild lab status --dir lab")]
    Status {
        #[arg(long, default_value = "lab")]
        dir: PathBuf,
    },
    /// Attach to a node's serial console (Ctrl-] leaves)
    #[command(
        after_help = "Example:\n  srbuild lab console node1 --dir lab\n\nThe terminal is in raw mode while attached, as with `virsh console`: every key, Ctrl-C and Ctrl-D included, goes to the guest. Ctrl-] leaves; the terminal's settings are restored on every way out (Ctrl-], the node stopping, an error, SIGTERM/SIGHUP/SIGINT/SIGQUIT)."
    )]
    Console {
        node: String,
        #[arg(long, default_value = "lab")]
        dir: PathBuf,
    },
    /// Stop a running lab
    #[command(after_help = "Example:\n  srbuild lab down --dir lab")]
    Down {
        #[arg(long, default_value = "lab")]
        dir: PathBuf,
    },
    /// The lab's frame hub (started by `lab up`)
    #[command(hide = true)]
    Hub { dir: PathBuf },
}

fn options(o: ClusterOpts, junit: Option<PathBuf>, detached: bool) -> LabOptions {
    LabOptions {
        root: o.root,
        profile: o.profile,
        nodes: o.nodes,
        slots: o.slots,
        dir: o.dir,
        initrd: o.initrd,
        junit,
        scenario: o.scenario,
        kind_opts: o.opt,
        kver: o.kver,
        sysroot: match (o.sysroot, o.distro) {
            (Some(d), _) => run::sysroots::Sysroot::Dir(d),
            (None, Some(r)) => run::sysroots::Sysroot::Release(r),
            (None, None) => run::sysroots::Sysroot::Host,
        },
        distro: o.distro,
        append: o.append,
        detached,
        rootfs: o.rootfs,
        server_first: o.server_first,
        together: o.together,
        bzimage: o.bzimage,
    }
}

pub fn run(a: LabArgs) -> Result<()> {
    match a.command {
        LabCommand::Up(o) => {
            let opts = options(o, None, true);
            let outcome = run::test(&opts)?;
            print!("{}", run::summary(&outcome));
            println!("lab: left running; `srbuild lab status --dir {0}`, `srbuild lab console NODE --dir {0}`, `srbuild lab down --dir {0}`", opts.dir.display());
            if !outcome.passed() {
                bail!("not every node passed; the cluster is still up for inspection");
            }
        }
        LabCommand::Test { opts, junit } => {
            let opts = options(opts, junit, false);
            let outcome = run::test(&opts)?;
            print!("{}", run::summary(&outcome));
            if !outcome.passed() {
                let failed: Vec<String> = outcome
                    .results
                    .iter()
                    .filter(|r| !r.passed)
                    .map(|r| r.name.clone())
                    .collect();
                for r in outcome.results.iter().filter(|r| !r.passed) {
                    eprintln!("srbuild: {}: {}", r.name, r.message);
                }
                bail!(
                    "lab test failed: {} of {} nodes ({}); see above",
                    failed.len(),
                    outcome.results.len(),
                    failed.join(", ")
                );
            }
        }
        LabCommand::Status { dir } => print!("{}", run::control::status(&dir)?),
        LabCommand::Console { node, dir } => run::control::console(&dir, &node)?,
        LabCommand::Down { dir } => {
            let n = run::control::down(&dir)?;
            println!("lab: stopped {n} nodes and the hub");
        }
        LabCommand::Hub { dir } => srbuild_lab::hub::run_forever(&dir)?,
    }
    Ok(())
}
