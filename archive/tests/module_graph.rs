//! No import circle between the archive crate's modules (issue 19): the parser (`read.rs`)
//! does not know its visitors (`visit.rs`), and so on for every module.

#[test]
fn the_archive_crate_has_no_import_circle() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let cycles = srbuild_devcheck::module_cycles(&src).unwrap();
    assert!(cycles.is_empty(), "import circles: {cycles:?}");
}
