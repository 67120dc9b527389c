//! srbuild's image builder: profiles and modules (TOML) are resolved against a sysroot by
//! reading ELF headers and the kernel's module index, planned as a sorted map of archive
//! paths, and written as a reproducible compressed cpio by `srbuild-archive`.

pub mod config;
pub mod context;
pub mod error;
pub mod image;
pub mod init_lib;
pub mod library;
pub mod manifest;
pub mod plan;
pub mod provenance;
pub mod resolve;
pub mod sysroot;
mod sysroot_glob;
pub mod tree;

pub use error::{BuildError, Result};
pub use image::{build_image, build_image_with_manifest, plan_image, BuildOptions, BuildReport};
pub use srbuild_archive::Compression;
