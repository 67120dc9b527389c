//! Fuzz target `elf_deps`: any bytes as a binary, library or kernel module found in a
//! sysroot. Runs the ELF parsing the resolver does (`resolve/elf.rs`: goblin's `Elf::parse`,
//! then the soname, PT_INTERP, DT_NEEDED, DT_RPATH and DT_RUNPATH it follows) and
//! `resolve::kmod::firmware_of` (a module's `.modinfo`). A broken file must be an error.
#![no_main]

use goblin::elf::Elf;
use libfuzzer_sys::fuzz_target;
use srbuild_builder::resolve::kmod::firmware_of;

fuzz_target!(|data: &[u8]| {
    if let Ok(elf) = Elf::parse(data) {
        let mut names: Vec<String> = Vec::new();
        names.extend(elf.soname.map(str::to_string));
        names.extend(elf.interpreter.map(str::to_string));
        for rp in elf.rpaths.iter().chain(elf.runpaths.iter()) {
            names.extend(
                rp.split(':')
                    .filter(|s| !s.is_empty())
                    .map(|d| d.replace("$ORIGIN", "/usr/lib")),
            );
        }
        names.extend(elf.libraries.iter().map(|l| l.to_string()));
        let _ = names;
    }
    for fw in firmware_of(data) {
        let _ = fw.len();
    }
});
