//! No import circle between the modules of any crate of the workspace (issue 19): every
//! crate's `src/` is read by `srbuild_devcheck::module_cycles`, which also follows paths in
//! attributes and expressions (`#[error("{}", crate::x::f())]`), not only `use` lines.

#[test]
fn no_crate_of_the_workspace_has_an_import_circle() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut found = Vec::new();
    for krate in [
        "src",
        "fsio/src",
        "archive/src",
        "cluster/src",
        "builder/src",
        "lab/src",
        "devcheck/src",
        "xtask/src",
    ] {
        let cycles = srbuild_devcheck::module_cycles(&root.join(krate)).unwrap();
        if !cycles.is_empty() {
            found.push(format!("{krate}: {cycles:?}"));
        }
    }
    assert!(found.is_empty(), "import circles:\n{}", found.join("\n"));
}
