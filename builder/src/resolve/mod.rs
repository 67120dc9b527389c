//! Resolution against the sysroot, the only stage that reads the host: ELF binaries and
//! libraries, the loader's search path, and kernel modules with firmware.

pub mod elf;
pub mod gluster;
pub mod kmod;
pub mod ldconf;
