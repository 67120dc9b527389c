//! Helpers shared by the cluster crate's test binaries.

/// A valid uncompressed newc initramfs holding one regular file `name` with `body`, then
/// the trailer: what `cluster netboot` can read to look for secrets.
pub fn initramfs(name: &str, body: &[u8]) -> Vec<u8> {
    fn member(out: &mut Vec<u8>, ino: u32, mode: u32, name: &str, body: &[u8]) {
        let namesize = name.len() + 1;
        let fields = [
            ino,
            mode,
            0,
            0,
            1,
            0,
            body.len() as u32,
            0,
            0,
            0,
            0,
            namesize as u32,
            0,
        ];
        out.extend_from_slice(b"070701");
        for f in fields {
            out.extend_from_slice(format!("{f:08x}").as_bytes());
        }
        out.extend_from_slice(name.as_bytes());
        out.push(0);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
        out.extend_from_slice(body);
        while !out.len().is_multiple_of(4) {
            out.push(0);
        }
    }
    let mut out = Vec::new();
    member(&mut out, 1, 0o100644, name, body);
    member(&mut out, 0, 0, "TRAILER!!!", b"");
    out
}
