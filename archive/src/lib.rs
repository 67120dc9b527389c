//! `srbuild-archive`: the initramfs archive layer of srbuild.
//!
//! Writes deterministic newc cpio images (optionally compressed with zstd,
//! gzip, xz or legacy lz4) atomically, lists multi-segment images defensively
//! and extracts them without letting hostile archives escape the target.

mod compress;
mod decompress;
mod entry;
mod error;
mod extract;
mod input;
mod output;
mod read;
mod visit;
mod write;
mod zstd_mt;

pub use compress::{Compression, ParseCompressionError, ZSTD_LEVEL, ZSTD_WORKERS};
pub use entry::{
    escape_name, format_listing, ContentDigest, DigestSlot, Entry, EntryKind, ListedEntry,
};
pub use error::ArchiveError;
pub use extract::{extract_image, ExtractStats};
pub use output::{
    caught_signals, install_signal_cleanup, sweep_stale_temp_files, write_image,
    write_image_with_mode, WriteStats, DEFAULT_MODE,
};
pub use read::{for_each_entry, list_bytes, list_image, MAX_DECOMPRESSED};
pub use visit::{for_each_entry_with_body, HardlinkKey, VisitedEntry};
pub use write::write_cpio;

#[cfg(test)]
mod tests;
