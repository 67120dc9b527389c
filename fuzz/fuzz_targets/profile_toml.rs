//! Fuzz target `profile_toml`: any text as a profile (`profiles/NAME.toml`), resolved like
//! `srbuild image --profile FILE` (inheritance and modules from the built-in copies only, so
//! no file is read). Errors must be values with a message, never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use srbuild_builder::config::profile_from_str;
use srbuild_builder::library::Library;

fuzz_target!(|data: &[u8]| {
    // The loaders read files with `read_to_string`: text that is not UTF-8 never gets here.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let library = Library::default();
    match profile_from_str(&library, "fuzz", "<fuzz>/profiles/fuzz.toml", text) {
        Ok(profile) => {
            // Dependencies first, each module once.
            let mut seen = std::collections::HashSet::new();
            for m in &profile.modules {
                assert!(seen.insert(m), "module {m} twice in {:?}", profile.modules);
            }
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty(), "empty error message: {e:?}");
        }
    }
});
