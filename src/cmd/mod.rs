//! Subcommand implementations: each file turns parsed arguments into library calls and
//! prints the result.

pub mod archive;
pub mod diff;
pub mod generate;
pub mod image;
pub mod kernel_hook;
pub mod lab;
pub mod rootimage;
pub mod why;
