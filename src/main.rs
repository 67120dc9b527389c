//! The `srbuild` command line: argument parsing and dispatch, nothing else. Usage errors
//! exit 2 (clap), failures exit 1 with the error and its causes.

mod cmd;
mod settings;

use clap::{CommandFactory, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "srbuild",
    version,
    about = "Initramfs builder and QEMU test lab for shared-root Linux clusters",
    after_help = "Examples:\n  srbuild image --profile nfs\n  srbuild ls initrd-nfs-6.1.0-56-amd64.img\n  srbuild lab test --profile nfs --nodes 3\n  srbuild cluster --cluster cluster.toml list\n  srbuild kernel-hook add 6.1.0-56-amd64"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build an initramfs image for a profile
    Image(cmd::image::ImageArgs),
    /// Make a root image for root=http:// from a directory tree (reproducible cpio)
    Rootimage(cmd::rootimage::RootImageArgs),
    /// List the entries of an image (all compressions, multi-segment images)
    Ls(cmd::archive::LsArgs),
    /// Unpack an image into a directory, refusing entries that would land outside it
    Extract(cmd::archive::ExtractArgs),
    /// List the available profiles and modules
    Profiles(cmd::image::ProfilesArgs),
    /// Compare two images: added, removed and changed entries (exit 0 same, 1 different, 2 trouble)
    Diff(cmd::diff::DiffArgs),
    /// Show why a path is in a profile's image: the chain back to the module that asked
    Why(cmd::why::WhyArgs),
    /// Query and edit the cluster description; write netboot configuration
    Cluster(srbuild_cluster::cli::ClusterArgs),
    /// Manage context-dependent symlinks (per-node files) in a shared root
    Cdsl(srbuild_cluster::cli::CdslArgs),
    /// Boot QEMU clusters from one shared root and check them end to end
    Lab(cmd::lab::LabArgs),
    /// Build or delete a kernel's initrd as the kernel hooks do (/etc/srbuild/srbuild.toml)
    KernelHook(cmd::kernel_hook::KernelHookArgs),
    /// Manual pages and shell completions (for packaging)
    #[command(hide = true)]
    Generate(cmd::generate::GenerateArgs),
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Image(a) => cmd::image::run(a),
        Command::Rootimage(a) => cmd::rootimage::run(a),
        Command::Ls(a) => cmd::archive::ls(a),
        Command::Extract(a) => cmd::archive::extract(a),
        Command::Profiles(a) => cmd::image::profiles(a),
        Command::Why(a) => cmd::why::run(a),
        // diff(1)'s exit status: 0 same, 1 different, 2 trouble.
        Command::Diff(a) => match cmd::diff::run(a) {
            Ok(same) => std::process::exit(if same { 0 } else { 1 }),
            Err(e) => {
                print_error(&e);
                std::process::exit(2);
            }
        },
        Command::Cluster(a) => srbuild_cluster::cli::run_cluster(a).map_err(anyhow::Error::from),
        Command::Cdsl(a) => srbuild_cluster::cli::run_cdsl(a).map_err(anyhow::Error::from),
        Command::Lab(a) => cmd::lab::run(a),
        Command::KernelHook(a) => cmd::kernel_hook::run(a),
        Command::Generate(a) => cmd::generate::run(a, Cli::command()),
    };
    if let Err(e) = result {
        print_error(&e);
        std::process::exit(1);
    }
}

/// `srbuild: error: …` and its causes, each on one line.
fn print_error(e: &anyhow::Error) {
    eprintln!("srbuild: error: {}", one_line(&e.to_string()));
    for cause in e.chain().skip(1) {
        eprintln!("  caused by: {}", one_line(&cause.to_string()));
    }
}

/// An error as one terminal line: the project's one escaping (`srbuild_archive::escape`),
/// so a hostile value quoted in a message (a node name, a module name, a path) can neither
/// add lines of its own nor send escape sequences or bidi overrides to the terminal.
pub(crate) fn one_line(message: &str) -> String {
    srbuild_archive::one_line(message)
}

#[cfg(test)]
mod tests {
    #[test]
    fn errors_are_one_line_with_control_characters_escaped() {
        assert_eq!(
            super::one_line("unknown node 'x\ny\x1b[31m'\t\r\u{7f}"),
            "unknown node 'x\\ny\\033[31m'\\t\\r\\177"
        );
        assert_eq!(super::one_line("plain – ünïcode"), "plain – ünïcode");
        assert_eq!(super::one_line("a\u{202e}b"), "a\\u{202e}b");
    }
}
