//! Fuzz target `archive_list`: any bytes as an initramfs image for `srbuild ls`. The
//! reader must return entries or an error, never panic or run away, whatever the cpio
//! headers, the compressed segments or the padding say; every listed line is one line
//! without control characters (a hostile name cannot fake an entry or reach the terminal).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match srbuild_archive::list_bytes(data) {
        Ok(entries) => {
            for e in &entries {
                let line = srbuild_archive::format_listing(e);
                assert!(
                    !line.chars().any(char::is_control),
                    "control character in a listing line: {line:?}"
                );
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty(), "empty error message: {e:?}");
        }
    }
});
