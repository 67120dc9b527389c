//! Files srbuild creates, made safe against a directory another user can write to: every
//! file is created through a descriptor (`O_CREAT|O_EXCL|O_NOFOLLOW`, mode 0600), written,
//! `fchmod`-ed, `fchown`-ed and `fsync`-ed through that descriptor, then renamed into place
//! by `renameat` on the directory's descriptor. Nothing is opened, chmod-ed or chown-ed by
//! path after it was created, so a link swapped in by someone else is never followed.
//!
//! This is the lowest layer of the workspace (no other srbuild crate below it); the
//! builder's image output, the cluster editors, `netboot`, the kernel hooks and the lab
//! all write through it.

mod atomic;
mod existing;

pub use atomic::{copy_file, create_new, fchown, write_file, AtomicFile, Owner};
pub use existing::{chmod_nofollow, open_append, open_rewrite};

#[cfg(test)]
mod tests;
