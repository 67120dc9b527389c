//! Subcommand implementations: each file turns parsed arguments into library calls and
//! prints the result.

pub mod archive;
pub mod image;
pub mod lab;
