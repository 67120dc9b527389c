//! `srbuild generate man DIR` and `srbuild generate completions SHELL DIR` (hidden): the
//! manual pages and shell completions, made from the command-line definitions, for the
//! package (`cargo xtask dist`); and `srbuild generate parse -- ARGS...`, which only
//! parses a command line against those definitions (the pipeline examples' test).

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use clap_complete::Shell;
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct GenerateArgs {
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand)]
enum What {
    /// Manual pages: srbuild.1 and srbuild-<subcommand>.1 for every visible subcommand
    Man {
        /// Directory to write the pages into (created if missing)
        dir: PathBuf,
    },
    /// A shell's completion script (srbuild.bash, _srbuild, srbuild.fish, ...; the package
    /// installs the bash one as /usr/share/bash-completion/completions/srbuild)
    Completions {
        /// bash, zsh, fish, elvish or powershell
        shell: Shell,
        /// Directory to write the script into (created if missing)
        dir: PathBuf,
    },
    /// Parse `srbuild ARGS...` without running it: exit 0 when clap accepts it, 2 with
    /// clap's message when not (tests/ci_examples.rs checks the pipeline examples with it)
    Parse {
        /// The arguments after `srbuild`, e.g. `-- image --profile nfs`
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

pub fn run(a: GenerateArgs, cli: clap::Command) -> Result<()> {
    match a.what {
        What::Man { dir } => man(cli, &dir),
        What::Parse { args } => {
            let argv = std::iter::once("srbuild".to_string()).chain(args);
            match cli.try_get_matches_from(argv) {
                Ok(_) => Ok(()),
                // Help and version requests are valid command lines.
                Err(e) if !e.use_stderr() => Ok(()),
                Err(e) => {
                    let _ = e.print();
                    std::process::exit(2);
                }
            }
        }
        What::Completions { shell, dir } => {
            create(&dir)?;
            let mut cli = cli;
            let path = clap_complete::generate_to(shell, &mut cli, "srbuild", &dir).with_context(
                || {
                    format!(
                        "cannot write the {shell} completions into {}",
                        dir.display()
                    )
                },
            )?;
            eprintln!("srbuild: wrote {}", path.display());
            Ok(())
        }
    }
}

fn create(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
}

/// One page for the command and one per visible subcommand (`srbuild-image.1`, …),
/// nested subcommands included (`srbuild-lab-test.1`).
fn man(cli: clap::Command, dir: &Path) -> Result<()> {
    create(dir)?;
    clap_mangen::generate_to(cli, dir)
        .with_context(|| format!("cannot write the manual pages into {}", dir.display()))?;
    eprintln!("srbuild: wrote the manual pages into {}", dir.display());
    Ok(())
}
