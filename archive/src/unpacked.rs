//! The tree an image leaves in the kernel's rootfs, for `srbuild diff`: every member is
//! applied as Linux's initramfs unpacker (`init/initramfs.c`, `do_name`, `do_symlink`,
//! `clean_path`, `maybe_link`) applies it, through the rules of the VFS path walk.
//!
//! What is modelled, because the kernel does it:
//! - names are walked from `/` (the unpacker's working directory is the root): a leading
//!   `/` or `./`, repeated slashes and `.` components change nothing; `..` goes to the
//!   parent (at `/` it stays there); a symlink met before the last component is followed
//!   (at most 40 links, relative targets from the link's directory, absolute ones from `/`),
//!   so `lib/x` lands in `usr/lib/x` when `lib -> usr/lib`; a missing or non-directory
//!   parent makes the entry fail, as it does in the kernel (no parents are created);
//! - a later entry at the same place: `clean_path` first removes what is there when its
//!   type differs (a directory only when empty), a symlink always removes it; a regular
//!   file of the same type is truncated in place (so its other hardlinks see the new body);
//!   a directory or device that already exists keeps it but takes the new owner and mode;
//! - hardlinks pair up by (c_devmajor, c_devminor, c_ino, file type) within one cpio
//!   archive (the table is freed at each TRAILER!!!); a later member links to the first
//!   name, and a body written through any name is the body of all of them;
//! - a device, directory or FIFO member with a body is skipped, as `do_header` skips it;
//! - rootfs starts with the kernel's built-in default initramfs (`usr/default_cpio_list`):
//!   `/dev` 0755, `/dev/console` c 5,1 0600, `/root` 0700, and `/` itself 0755 0:0.
//!
//! Not modelled: modification times, extended attributes, and failures of the kernel's
//! own (memory, disk space).
//!
//! **Memory:** one [`Inode`] (80 bytes) per member that creates a file, plus one map entry
//! (the canonical path and about 40 bytes) per path of the tree, plus the hardlink table
//! of the current archive; bodies are hashed while they stream past, never kept.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::entry::{S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK};
use crate::error::ArchiveError;
use crate::visit::{for_each_entry_with_body, VisitedEntry};

/// Symlinks followed in one path walk before ELOOP (the kernel's MAXSYMLINKS).
const MAX_LINKS: u32 = 40;

/// A file of the unpacked tree, shared by its hardlinks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inode {
    /// Full `st_mode`: file type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    /// Device numbers of a device node, else (0, 0).
    pub rdev: (u32, u32),
    /// Content size of a regular file, target length of a symlink, else 0.
    pub size: u64,
    /// SHA-256 of a regular file's content (of the empty string otherwise).
    pub sha256: [u8; 32],
    /// Target of a symlink.
    pub target: Option<Box<[u8]>>,
}

impl Inode {
    fn new(mode: u32) -> Inode {
        Inode {
            mode,
            uid: 0,
            gid: 0,
            rdev: (0, 0),
            size: 0,
            sha256: Sha256::digest(b"").into(),
            target: None,
        }
    }

    pub fn file_type(&self) -> u32 {
        self.mode & S_IFMT
    }
}

/// Where a name points before its last component is looked up.
enum Last<'a> {
    Name(&'a [u8]),
    Dot,
    DotDot,
}

struct Located<'a> {
    dir: Vec<u8>,
    last: Last<'a>,
    slash: bool,
}

/// The unpacked tree: canonical paths (no leading `/`, the root is the empty path) to
/// inodes, in byte order.
#[derive(Debug, Default)]
pub struct Tree {
    paths: BTreeMap<Box<[u8]>, u32>,
    inodes: Vec<Inode>,
}

fn join(dir: &[u8], name: &[u8]) -> Vec<u8> {
    let mut p = Vec::with_capacity(dir.len() + 1 + name.len());
    p.extend_from_slice(dir);
    if !dir.is_empty() {
        p.push(b'/');
    }
    p.extend_from_slice(name);
    p
}

fn parent(dir: &[u8]) -> Vec<u8> {
    match dir.iter().rposition(|&b| b == b'/') {
        Some(i) => dir[..i].to_vec(),
        None => Vec::new(),
    }
}

fn components(name: &[u8]) -> Vec<&[u8]> {
    name.split(|&b| b == b'/')
        .filter(|c| !c.is_empty())
        .collect()
}

impl Tree {
    /// Rootfs before the image: the kernel's built-in default initramfs.
    pub fn rootfs() -> Tree {
        let mut t = Tree::default();
        let dir = |perm| Inode::new(S_IFDIR | perm);
        t.insert(b"", dir(0o755));
        t.insert(b"dev", dir(0o755));
        let mut console = Inode::new(S_IFCHR | 0o600);
        console.rdev = (5, 1);
        t.insert(b"dev/console", console);
        t.insert(b"root", dir(0o700));
        t
    }

    /// Every path of the tree with its inode, in byte order; the root is the empty path.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Inode)> {
        self.paths
            .iter()
            .map(|(p, &i)| (&p[..], &self.inodes[i as usize]))
    }

    /// The inode at a canonical path.
    pub fn get(&self, path: &[u8]) -> Option<&Inode> {
        self.index(path).map(|i| &self.inodes[i as usize])
    }

    /// The inode index at a canonical path, the same for every hardlink of a file.
    pub fn index(&self, path: &[u8]) -> Option<u32> {
        self.paths.get(path).copied()
    }

    fn insert(&mut self, path: &[u8], inode: Inode) -> u32 {
        let i = self.inodes.len() as u32;
        self.inodes.push(inode);
        self.paths.insert(path.into(), i);
        i
    }

    fn is_dir(&self, path: &[u8]) -> bool {
        self.get(path).is_some_and(|n| n.file_type() == S_IFDIR)
    }

    /// Walks `comps` from `start`, following links in every component but the last, and in
    /// the last when `follow_last` or `slash`; `slash` also requires a directory at the end.
    fn walk(
        &self,
        start: Vec<u8>,
        comps: &[&[u8]],
        follow_last: bool,
        slash: bool,
        links: &mut u32,
    ) -> Option<Vec<u8>> {
        let mut cur = start;
        for (i, comp) in comps.iter().enumerate() {
            let last = i + 1 == comps.len();
            match *comp {
                b"." => {}
                b".." => cur = parent(&cur),
                name => {
                    let p = join(&cur, name);
                    let node = self.get(&p)?;
                    if node.file_type() == S_IFLNK && (!last || follow_last || slash) {
                        *links += 1;
                        let target = node.target.as_deref().filter(|t| !t.is_empty())?;
                        if *links > MAX_LINKS {
                            return None;
                        }
                        let from = if target.starts_with(b"/") {
                            Vec::new()
                        } else {
                            cur
                        };
                        let tslash = target.ends_with(b"/");
                        cur = self.walk(from, &components(target), true, tslash, links)?;
                    } else {
                        cur = p;
                    }
                }
            }
            if (!last || slash) && !self.is_dir(&cur) {
                return None;
            }
        }
        Some(cur)
    }

    /// The directory a name's last component is looked up in, as the VFS finds it.
    fn locate<'n>(&self, name: &'n [u8]) -> Option<Located<'n>> {
        let comps = components(name);
        let Some((&last, dirs)) = comps.split_last() else {
            // "/" names the root itself.
            return Some(Located {
                dir: Vec::new(),
                last: Last::Dot,
                slash: false,
            });
        };
        let dir = self.walk(Vec::new(), dirs, true, true, &mut 0)?;
        let last = match last {
            b"." => Last::Dot,
            b".." => Last::DotDot,
            n => Last::Name(n),
        };
        let slash = name.ends_with(b"/");
        Some(Located { dir, last, slash })
    }

    /// The canonical path `name` resolves to, following a last symlink when `follow`.
    fn resolve(&self, name: &[u8], follow: bool) -> Option<Vec<u8>> {
        let slash = name.ends_with(b"/");
        self.walk(Vec::new(), &components(name), follow, slash, &mut 0)
    }

    fn node_mut(&mut self, name: &[u8], follow: bool) -> Option<&mut Inode> {
        let p = self.resolve(name, follow)?;
        let i = self.index(&p)?;
        Some(&mut self.inodes[i as usize])
    }

    fn chown(&mut self, name: &[u8], uid: u32, gid: u32, follow: bool) {
        if let Some(n) = self.node_mut(name, follow) {
            (n.uid, n.gid) = (uid, gid);
        }
    }

    fn chmod(&mut self, name: &[u8], mode: u32) {
        if let Some(n) = self.node_mut(name, true) {
            n.mode = n.file_type() | (mode & 0o7777);
        }
    }

    /// `rmdir` or `unlink` of a name whose last component is a plain name.
    fn remove(&mut self, name: &[u8], dir: bool) {
        let Some(Located {
            dir: d,
            last: Last::Name(n),
            slash,
        }) = self.locate(name)
        else {
            return;
        };
        let p = join(&d, n);
        let Some(node) = self.get(&p) else { return };
        let is_dir = node.file_type() == S_IFDIR;
        if is_dir != dir || (slash && !dir) {
            return;
        }
        if dir {
            let mut child = p.clone();
            child.push(b'/');
            // From `p/` itself: names such as `p.conf` or `p-x` sort between `p` and `p/…`.
            let mut after = self.paths.range::<[u8], _>((
                std::ops::Bound::Included(&child[..]),
                std::ops::Bound::Unbounded,
            ));
            if after.next().is_some_and(|(k, _)| k.starts_with(&child)) {
                return; // ENOTEMPTY
            }
        }
        self.paths.remove(&p[..]);
    }

    /// `clean_path`: removes what is at `name` when its file type differs from `mode`'s.
    fn clean_path(&mut self, name: &[u8], mode: u32) {
        let Some(p) = self.resolve(name, false) else {
            return;
        };
        let Some(node) = self.get(&p) else { return };
        if (node.mode ^ mode) & S_IFMT != 0 {
            let dir = node.file_type() == S_IFDIR;
            self.remove(name, dir);
        }
    }

    /// Creates `name` (mkdir, mknod, symlink, link): fails when it exists, when its last
    /// component is `.` or `..`, or with a trailing slash unless a directory is made.
    fn create(&mut self, name: &[u8], inode: Result<Inode, u32>) -> Option<u32> {
        let loc = self.locate(name)?;
        let Last::Name(n) = loc.last else { return None };
        let is_dir = matches!(&inode, Ok(i) if i.file_type() == S_IFDIR);
        if loc.slash && !is_dir {
            return None;
        }
        let p = join(&loc.dir, n);
        if self.paths.contains_key(&p[..]) {
            return None;
        }
        match inode {
            Ok(inode) => Some(self.insert(&p, inode)),
            Err(existing) => {
                self.paths.insert(p.into(), existing);
                Some(existing)
            }
        }
    }

    /// `link(old, new)`: `old`'s last symlink is not followed, a directory cannot be linked.
    fn link(&mut self, old: &[u8], new: &[u8]) -> Option<u32> {
        let p = self.resolve(old, false)?;
        let i = self.index(&p)?;
        if self.inodes[i as usize].file_type() == S_IFDIR {
            return None;
        }
        self.create(new, Err(i))
    }

    /// `open(name, O_WRONLY|O_CREAT[|O_TRUNC], mode)`: the inode written to.
    fn open_creat(&mut self, name: &[u8], mode: u32) -> Option<u32> {
        let loc = self.locate(name)?;
        let Last::Name(n) = loc.last else { return None }; // EISDIR
        let p = join(&loc.dir, n);
        match self.get(&p).map(Inode::file_type) {
            Some(S_IFREG) if !loc.slash => self.index(&p),
            Some(S_IFLNK) => {
                // Followed, as O_CREAT without O_EXCL does (clean_path removed any link
                // first, so this is reached only when that failed).
                let t = self.resolve(name, true)?;
                self.index(&t)
                    .filter(|&i| self.inodes[i as usize].file_type() == S_IFREG)
            }
            Some(_) => None,
            None if loc.slash => None,
            None => Some(self.insert(&p, Inode::new(S_IFREG | (mode & 0o7777)))),
        }
    }
}

/// The kernel's hardlink table of one cpio archive: (c_devmajor, c_devminor, c_ino, file
/// type) to the first name seen.
type LinkTable = HashMap<((u32, u32), u32, u32), Box<[u8]>>;

/// Applies one member as `do_name` / `do_symlink` would; returns the inode whose content the
/// body becomes (a regular file opened for writing) and whether it was truncated.
fn apply(t: &mut Tree, links: &mut LinkTable, v: &VisitedEntry) -> Option<(u32, bool)> {
    let e = &v.entry;
    let name = &v.raw_name[..];
    let kind = e.mode & S_IFMT;
    if kind == S_IFLNK {
        t.clean_path(name, 0);
        if let Some(target) = e.link_target.as_deref().filter(|t| !t.is_empty()) {
            let mut inode = Inode::new(S_IFLNK | 0o777);
            inode.size = target.len() as u64;
            inode.target = Some(target.as_bytes().into());
            t.create(name, Ok(inode));
        }
        t.chown(name, e.uid, e.gid, false);
        return None;
    }
    if kind != S_IFREG && e.size > 0 {
        return None; // do_header skips it
    }
    t.clean_path(name, e.mode);
    // maybe_link: 0 no earlier link, 1 linked, -1 linking failed.
    let mut maybe_link = |t: &mut Tree| -> i8 {
        if e.nlink < 2 {
            return 0;
        }
        let key = (v.dev, v.ino, kind);
        match links.get(&key) {
            None => {
                links.insert(key, name.into());
                0
            }
            Some(old) => {
                t.clean_path(name, 0);
                if t.link(old, name).is_some() {
                    1
                } else {
                    -1
                }
            }
        }
    };
    match kind {
        S_IFREG => {
            let ml = maybe_link(t);
            if ml < 0 {
                return None;
            }
            let i = t.open_creat(name, e.mode)?;
            let n = &mut t.inodes[i as usize];
            (n.uid, n.gid) = (e.uid, e.gid);
            n.mode = S_IFREG | (e.mode & 0o7777);
            let truncate = ml != 1;
            Some((i, truncate))
        }
        S_IFDIR => {
            t.create(name, Ok(Inode::new(S_IFDIR | (e.mode & 0o7777))));
            t.chown(name, e.uid, e.gid, true);
            t.chmod(name, e.mode);
            None
        }
        S_IFBLK | S_IFCHR | S_IFIFO | S_IFSOCK => {
            if maybe_link(t) == 0 {
                let mut inode = Inode::new(e.mode);
                if matches!(kind, S_IFBLK | S_IFCHR) {
                    inode.rdev = e.rdev;
                }
                t.create(name, Ok(inode));
                t.chown(name, e.uid, e.gid, true);
                t.chmod(name, e.mode);
            }
            None
        }
        _ => None,
    }
}

/// The tree the kernel leaves in rootfs after unpacking the image at `path` over its
/// built-in default initramfs.
pub fn unpack_tree(path: &Path) -> Result<Tree, ArchiveError> {
    let mut t = Tree::rootfs();
    let mut links = LinkTable::new();
    let mut archive = 0usize;
    let mut buf = vec![0u8; 64 * 1024];
    for_each_entry_with_body(path, |v, body| {
        if v.archive != archive {
            links.clear(); // free_hash() at TRAILER!!!
            archive = v.archive;
        }
        let Some((i, truncate)) = apply(&mut t, &mut links, v) else {
            return Ok(());
        };
        let (mut h, mut size) = (Sha256::new(), 0u64);
        loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(ArchiveError::ReadImage {
                        path: path.to_path_buf(),
                        source,
                    })
                }
            };
            h.update(&buf[..n]);
            size += n as u64;
        }
        let n = &mut t.inodes[i as usize];
        // A body replaces the content (ftruncate, then the write); an empty body leaves a
        // linked file's content and empties a truncated one.
        if size > 0 || truncate {
            n.size = size;
            n.sha256 = h.finalize().into();
        }
        Ok(())
    })?;
    Ok(t)
}
