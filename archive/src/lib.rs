//! `srbuild-archive`: the initramfs archive layer of srbuild.
//!
//! Writes deterministic newc cpio images (optionally compressed with zstd,
//! gzip, xz or legacy lz4) atomically, lists multi-segment images defensively
//! and extracts them without letting hostile archives escape the target.

mod compress;
mod decompress;
mod entry;
mod error;
pub mod escape;
mod extract;
mod input;
mod output;
mod read;
pub mod secret;
pub mod unpacked;
mod visit;
mod write;
mod zstd_mt;

pub use compress::{Compression, ParseCompressionError, ZSTD_LEVEL, ZSTD_WORKERS};
pub use entry::{format_listing, ContentDigest, DigestSlot, Entry, EntryKind, ListedEntry};
pub use error::ArchiveError;
pub use escape::{escape_name, one_line};
pub use extract::{extract_image, ExtractStats};
pub use output::{
    caught_signals, install_signal_cleanup, sweep_stale_temp_files, write_image,
    write_image_with_mode, WriteStats, DEFAULT_MODE,
};
pub use read::{list_bytes, MAX_DECOMPRESSED};
pub use secret::{secret_kind, secrets_in_image, SECRET_DIRS, SECRET_PATHS};
pub use visit::{for_each_entry, for_each_entry_with_body, list_image, HardlinkKey, VisitedEntry};
pub use write::write_cpio;

#[cfg(test)]
mod tests;
