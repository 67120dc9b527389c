//! Fuzz target `module_toml`: any text as a feature module's `module.toml`, resolved as a
//! build would (its `depends` from the built-in modules, hook stages and templates checked,
//! symlink conflicts found) without reading a file. A first line `# module NAME` names the
//! module, so the seeds made from the built-in modules find their hook templates; otherwise
//! the module is called `fuzz`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use srbuild_builder::config::module_from_str;
use srbuild_builder::library::Library;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let name = text
        .lines()
        .next()
        .and_then(|l| l.strip_prefix("# module "))
        .map(str::trim)
        .unwrap_or("fuzz");
    let library = Library::default();
    let display = format!("<fuzz>/modules/{name}/module.toml");
    match module_from_str(&library, name, &display, text) {
        Ok(profile) => {
            assert_eq!(profile.modules.last().map(String::as_str), Some(name));
        }
        Err(e) => {
            let message = e.to_string();
            assert!(!message.is_empty(), "empty error message: {e:?}");
        }
    }
});
