//! Prints the import circles of the crate whose `src` directory is given.
fn main() {
    let src = std::env::args().nth(1).unwrap_or_else(|| "src".into());
    match srbuild_devcheck::module_cycles(std::path::Path::new(&src)) {
        Ok(c) => println!("{c:?}"),
        Err(e) => eprintln!("{e}"),
    }
}
