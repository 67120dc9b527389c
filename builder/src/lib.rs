//! srbuild's image builder: profiles and modules (TOML) are resolved against a sysroot by
//! reading ELF headers and the kernel's module index, planned as a sorted map of archive
//! paths, and written as a reproducible compressed cpio by `srbuild-archive`.

pub mod assembly;
pub mod config;
pub mod context;
pub mod contract;
pub mod error;
pub mod fencing;
pub mod init_lib;
pub mod kernel;
pub mod library;
pub mod listed;
pub mod manifest;
pub mod names;
pub mod options;
pub mod plan;
pub mod provenance;
pub mod rendering;
pub mod resolve;
pub mod rootimage;
pub mod runtime;
pub mod sysroot;
mod sysroot_glob;
pub mod tree;
pub mod write;

pub use assembly::{plan_image, Planned};
pub use error::{BuildError, Result};
pub use kernel::choose_kernel;
pub use options::{BuildOptions, BuildReport, ModuleInput};
pub use srbuild_archive::Compression;
pub use write::{build_image, build_image_with_manifest};
