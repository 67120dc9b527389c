//! `srbuild diff`'s memory bound: two images of 100,000 entries each, compared within
//! 64 MiB of peak RSS (the bound stated in `src/cmd/diff.rs`). In its own test binary, and
//! the images are written while they are generated, because a child's `ru_maxrss` includes
//! the high-water mark of the process that spawned it.

mod common;
use common::*;
use std::io::Write;
use std::path::Path;

fn write_image(path: &Path, last_body: &[u8]) {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    let mut ino = 1;
    for i in 0..100 {
        newc_member(&mut out, ino, &raw_dir(&format!("d{i}"))).unwrap();
        ino += 1;
    }
    for i in 0..100_000 {
        let name = format!("d{}/f{i:06}", i % 100);
        let body: &[u8] = if i == 99_999 { last_body } else { b"x" };
        newc_member(&mut out, ino, &raw(&name, 0o644, body)).unwrap();
        ino += 1;
    }
    newc_trailer(&mut out).unwrap();
    out.flush().unwrap();
}

#[test]
fn memory_stays_bounded_on_100000_entries() {
    let d = tempfile::tempdir().unwrap();
    let (a, b) = (d.path().join("a.img"), d.path().join("b.img"));
    write_image(&a, b"x");
    write_image(&b, b"y");
    let o = run(&["diff", "--json", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stdout(&o).contains("\"changed\": 1"), "{}", stdout(&o));
    // The peak RSS of the largest child waited for.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    assert_eq!(
        unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) },
        0
    );
    let peak_mib = usage.ru_maxrss / 1024;
    eprintln!("srbuild diff: peak RSS {peak_mib} MiB");
    assert!(peak_mib < 64, "srbuild diff peaked at {peak_mib} MiB");
}
