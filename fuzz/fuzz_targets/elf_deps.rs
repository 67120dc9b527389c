//! Fuzz target `elf_deps`: any bytes as a binary, library or kernel module found in a
//! sysroot. Runs the resolver's own ELF reading (`resolve::elfinfo`: class, machine,
//! PT_INTERP, soname, DT_NEEDED, DT_RPATH, DT_RUNPATH, DF_1_NODEFLIB), then its ld.so rules
//! on what it read (`resolve::ldso`: `$ORIGIN`/`$LIB`/`$PLATFORM` expansion of the path
//! lists, candidates per glibc-hwcaps level), and `resolve::kmod::firmware_of` (a module's
//! `.modinfo`). A broken file must be an error, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use srbuild_builder::resolve::elfinfo::{arch_of, ElfInfo};
use srbuild_builder::resolve::kmod::firmware_of;
use srbuild_builder::resolve::ldso;

fuzz_target!(|data: &[u8]| {
    let _ = arch_of(data);
    match ElfInfo::parse(data) {
        Ok(info) => {
            for list in [&info.rpath, &info.runpath].into_iter().flatten() {
                for dir in ldso::path_list(list, "/usr/lib/x86_64-linux-gnu") {
                    assert!(dir.starts_with('/'), "relative search dir {dir:?} from {list:?}");
                    for name in info.needed.iter().take(4) {
                        let _ = ldso::candidates(&dir, name, ldso::Level::V4);
                    }
                }
            }
            if let Some(interp) = &info.interp {
                let _ = ldso::expand(interp, "/usr/bin");
            }
        }
        Err(e) => assert!(!e.is_empty(), "an ELF error without a message"),
    }
    for fw in firmware_of(data) {
        let _ = fw.len();
    }
});
