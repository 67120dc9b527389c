//! Resolution against the sysroot, the only stage that reads the host: ELF binaries and
//! libraries (`elf`, parsed by `elfinfo`, searched by `ldso`'s rules), the loader's
//! ld.so.conf (`ldconf`), kernel modules with firmware (`kmod`) and what of them loads at
//! boot (`coldplug`, as shell by `modmatch`), and the named inputs of modules (`inputs`: a gluster volfile).

pub mod coldplug;
pub mod elf;
pub mod elfinfo;
pub mod gluster;
pub mod inputs;
pub mod kmod;
pub mod ldconf;
pub mod ldso;
pub mod modmatch;
#[cfg(test)]
mod testelf;
