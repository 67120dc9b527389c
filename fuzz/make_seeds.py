#!/usr/bin/env python3
"""Writes the checked-in seed corpus of the fuzz targets (fuzz/corpus/<target>/).

Run from the workspace root after `cargo build --release -p srbuild`:
    python3 fuzz/make_seeds.py
Seeds: real images made by srbuild from a tiny sysroot in every compression, truncated,
concatenated and padded ones, a small decompression bomb, the hostile cpio headers of
archive/src/tests/hostile.rs; the built-in profiles and modules and the failing inputs of
the config tests; cluster descriptions (the sample and the inputs the tests refuse); small
ELF files of this host (a program, a library, a kernel module). Only the libFuzzer runs of
`cargo xtask fuzz` add inputs, and to target/fuzz/corpus-new, never here.
"""
import glob
import gzip
import lzma
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
SRBUILD = os.path.join(ROOT, "target", "release", "srbuild")


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def newc(mode, filesize, namesize, name, body=b"", magic=b"070701", ino=1):
    """One newc member; `name` is written NUL-terminated and both parts are padded."""
    h = bytearray(magic)
    for v in [ino, mode, 0, 0, 1, 0, filesize, 0, 0, 0, 0, namesize, 0]:
        h += b"%08x" % v
    h += name + b"\0"
    while len(h) % 4:
        h += b"\0"
    h += body
    while len(h) % 4:
        h += b"\0"
    return bytes(h)


TRAILER = newc(0, 0, 11, b"TRAILER!!!")


def zstd(data, level=19):
    return subprocess.run(
        ["zstd", "-q", "-c", f"-{level}"], input=data, capture_output=True, check=True
    ).stdout


def lz4_legacy(data):
    return subprocess.run(
        ["lz4", "-q", "-l", "-c"], input=data, capture_output=True, check=True
    ).stdout


def archive_seeds():
    t = "archive_list"
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "root")
        mods = os.path.join(root, "usr/lib/modules/6.1.0-fuzz")
        os.makedirs(mods)
        os.makedirs(os.path.join(root, "etc"))
        os.symlink("usr/lib", os.path.join(root, "lib"))
        for f in ["modules.dep", "modules.alias", "modules.softdep", "modules.order"]:
            open(os.path.join(mods, f), "w").close()
        with open(os.path.join(mods, "modules.builtin"), "w") as f:
            f.write("kernel/fs/ext4/ext4.ko\n")
        with open(os.path.join(root, "etc/hostname"), "w") as f:
            f.write("node1\n")
        with open(os.path.join(root, "etc/host.conf"), "w") as f:
            f.write("multi on\n")
        os.link(os.path.join(root, "etc/host.conf"), os.path.join(root, "etc/host2.conf"))
        os.symlink("hostname", os.path.join(root, "etc/name-link"))
        profile = os.path.join(tmp, "tiny.toml")
        with open(profile, "w") as f:
            f.write(
                'description = "fuzz seed"\n'
                'files = ["/etc/hostname", "/etc/host.conf", "/etc/host2.conf", "/etc/name-link"]\n'
            )
        img = {}
        for c in ["none", "zstd", "gzip", "xz", "lz4"]:
            out = os.path.join(tmp, f"tiny.{c}.img")
            subprocess.run(
                [SRBUILD, "image", "--profile", profile, "--sysroot", root,
                 "--compress", c, "-o", out],
                check=True, capture_output=True,
            )
            with open(out, "rb") as f:
                img[c] = f.read()
            put(t, f"image-{c}", img[c])
    raw = img["none"]
    put(t, "truncated-none", raw[:1000])
    put(t, "truncated-zstd", img["zstd"][: len(img["zstd"]) // 2])
    put(t, "truncated-gzip", img["gzip"][:-9])
    put(t, "truncated-xz", img["xz"][: len(img["xz"]) - 30])
    put(t, "truncated-lz4", img["lz4"][:-100])
    put(t, "two-zstd-frames", img["zstd"] + img["zstd"])
    # Early cpio (microcode style) then the compressed main archive, with zero padding.
    put(t, "early-cpio-then-gzip", raw + b"\0" * 512 + img["gzip"])
    put(t, "early-cpio-then-xz", raw + img["xz"])
    put(t, "corrupt-zstd-middle", bytes(b ^ 0xFF if i == len(img["zstd"]) // 2 else b
                                        for i, b in enumerate(img["zstd"])))
    # Small bombs: 1 MiB of zeros in one member, a few hundred bytes compressed.
    zeros = newc(0o100644, 1 << 20, 6, b"zeros", b"\0" * (1 << 20)) + TRAILER
    put(t, "bomb-zstd", zstd(zeros))
    put(t, "bomb-xz", lzma.compress(zeros, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32))
    put(t, "bomb-gzip", gzip.compress(zeros, 9, mtime=0))
    put(t, "bomb-lz4", lz4_legacy(zeros))
    # Hostile headers (archive/src/tests/hostile.rs).
    cases = {
        "huge-namesize": newc(0o100644, 0, 0x7FFFFFFF, b"x") + TRAILER,
        "zero-namesize": newc(0o100644, 0, 0, b"") + TRAILER,
        "namesize-4097": newc(0o100644, 0, 4097, b"x") + TRAILER,
        "huge-filesize": newc(0o100644, 0xFFFFFFFF, 2, b"x") + TRAILER,
        "nul-in-name": newc(0o100644, 0, 4, b"a\0b") + TRAILER,
        "name-not-terminated": newc(0o100644, 0, 1, b"x") + TRAILER,
        "no-trailer": newc(0o100644, 0, 2, b"x"),
        "short-header": b"070701000000",
        "crc-magic": newc(0o100644, 3, 2, b"x", b"abc", magic=b"070702") + TRAILER,
        "bad-magic-second": newc(0o40755, 0, 4, b"etc") + newc(0o100644, 0, 2, b"x", magic=b"070707"),
        "control-names": newc(0o100644, 0, 4, b"a\nb") + newc(0o120777, 7, 6, b"\x1b[31m", b"\x1b]0;x\x07")
        + newc(0o20620, 0, 4, b"tty", ino=3) + TRAILER,
        "hardlinks": newc(0o100644, 0, 2, b"a", ino=7) + newc(0o100644, 2, 2, b"b", b"hi", ino=7) + TRAILER,
        "garbage-after-trailer": newc(0o100644, 0, 2, b"x") + TRAILER + b"\x01\x02garbage",
        "bzip2": b"BZh91AY&SY....",
        "lzma-alone": bytes([0x5D, 0, 0, 0x80, 0]),
        "garbage": b"this is not an initramfs at all",
    }
    nonhex = bytearray(newc(0o100644, 0, 2, b"x") + TRAILER)
    nonhex[20] = ord("g")
    cases["non-hex"] = bytes(nonhex)
    for name, data in cases.items():
        put(t, name, data)


def toml_seeds():
    for p in sorted(glob.glob(os.path.join(ROOT, "profiles", "*.toml"))):
        with open(p) as f:
            put("profile_toml", os.path.basename(p)[:-5], f.read())
    for name, text in {
        "bad-unknown-key": "modules = []\nbogus = 1\n",
        "bad-syntax": 'modules = ["a"\nx = \n',
        "bad-unknown-module": 'modules = ["nope"]\n',
        "bad-self-inherit": 'inherits = "fuzz"\n',
        "bad-unknown-parent": 'inherits = "no-such"\n',
        "all-keys": 'description = "d"\ninherits = "base"\nmodules = ["nfs"]\nbinaries = ["sh"]\n'
        'optional_binaries = ["x"]\nfiles = ["/etc/hostname"]\nkernel_modules = ["ext4"]\n'
        'kernel_args = ["quiet"]\n',
    }.items():
        put("profile_toml", name, text)
    for p in sorted(glob.glob(os.path.join(ROOT, "modules", "*", "module.toml"))):
        name = os.path.basename(os.path.dirname(p))
        with open(p) as f:
            put("module_toml", name, f"# module {name}\n" + f.read())
    for name, text in {
        "bad-stage": '[hooks]\nbogus-stage = "x.sh.hbs"\n',
        "bad-hook-path": '[hooks]\nnetwork = "../../etc/shadow"\n',
        "bad-depends-self": 'depends = ["fuzz"]\n',
        "symlink-conflict": '# module fuzz\ndepends = ["base"]\n[symlinks]\n"/bin/sh" = "dash"\n',
        "all-keys": 'description = "d"\ndepends = ["network"]\nbinaries = ["ip"]\n'
        'optional_binaries = ["x"]\nfiles = ["/etc/a"]\noptional_files = ["/etc/b"]\n'
        'dirs = ["/run/x"]\nkernel_modules = ["nfs"]\noptional_kernel_modules = ["y"]\n'
        'plugin_dirs = ["/usr/lib/p"]\nneeds_cluster = true\ncorosync_authkey = true\n'
        '[symlinks]\n"/sbin/x" = "/bin/y"\n',
    }.items():
        put("module_toml", name, text)


def cluster_seeds():
    with open(os.path.join(ROOT, "cluster", "tests", "common_sample.toml")) as f:
        sample = f.read()
    put("cluster_toml", "sample", sample)
    node3 = '[[node]]\nname = "node3"\nid = 3\nmacs = ["52:54:00:77:00:13"]\n'
    for name, extra in {
        "crypto": None,
        "bad-nodes-table": '[[nodes]]\nname = "x"\n',
        "bad-no-id": '[[node]]\nname = "node3"\nmacs = ["52:54:00:77:00:13"]\n',
        "bad-dup-name": '[[node]]\nname = "node1"\nid = 3\nmacs = ["52:54:00:77:00:13"]\n',
        "bad-dup-id": '[[node]]\nname = "node3"\nid = 2\nmacs = ["52:54:00:77:00:13"]\n',
        "bad-dup-mac": '[[node]]\nname = "node3"\nid = 3\nmacs = ["52-54-00-77-00-11"]\n',
        "bad-dup-address": node3 + 'addresses = ["10.77.0.12/24"]\n',
        "bad-no-network": node3 + 'addresses = ["10.99.0.13/24"]\n',
        "bad-broadcast": node3.replace("52:54:00:77:00:13", "ff:ff:ff:ff:ff:ff"),
        "bad-id-range": node3.replace("id = 3", "id = 256"),
        "bad-domain": '[[failover_domain]]\nname = "db"\nnodes = ["node1", "node9"]\n',
        "bad-syntax": '[[node]\nname = "x"\n',
        "ipv6": '[[network]]\nname = "v6"\ncidr = "fd00::/64"\n' + node3
        + 'addresses = ["fd00::13/64"]\nkernel_args = ["quiet"]\nroles = ["seed"]\n',
    }.items():
        if extra is None:
            text = sample.replace(
                'name = "lab"\n',
                'name = "lab"\ncrypto_cipher = "aes256"\ncrypto_hash = "sha256"\nauthkey = "authkey"\n',
                1,
            )
        else:
            text = sample + "\n" + extra
        put("cluster_toml", name, text)
    put("cluster_toml", "bad-no-cluster", '[[node]]\nname = "a"\nid = 1\nmacs = ["52:54:00:00:00:01"]\n')
    put("cluster_toml", "bad-cluster-name", '[cluster]\nname = "bad name!"\n')


def elf_seeds():
    t = "elf_deps"
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "p.c")
        with open(src, "w") as f:
            f.write("int f(void); int main(void) { return f(); }\n")
        lib = os.path.join(tmp, "l.c")
        with open(lib, "w") as f:
            f.write("int f(void) { return 0; }\n")
        so = os.path.join(tmp, "libfz.so.1")
        subprocess.run(["cc", "-Os", "-s", "-shared", "-fPIC", "-Wl,-soname,libfz.so.1",
                        "-o", so, lib], check=True)
        exe = os.path.join(tmp, "runpath")
        subprocess.run(["cc", "-Os", "-s", "-o", exe, src, so,
                        "-Wl,-rpath,$ORIGIN/../lib:/opt/x", "-Wl,--enable-new-dtags"], check=True)
        rpath = os.path.join(tmp, "rpath")
        subprocess.run(["cc", "-Os", "-s", "-o", rpath, src, so,
                        "-Wl,-rpath,$ORIGIN", "-Wl,--disable-new-dtags"], check=True)
        static = os.path.join(tmp, "static")
        subprocess.run(["cc", "-Os", "-s", "-nostdlib", "-static", "-o", static, "-x", "c", "-"],
                       input=b"void _start(void) { for (;;); }\n", check=True)
        for p, name in [(so, "shared-lib-soname"), (exe, "exe-runpath-origin"),
                        (rpath, "exe-rpath"), (static, "static-no-interp")]:
            with open(p, "rb") as f:
                put(t, name, f.read())
    with open("/usr/bin/true", "rb") as f:
        put(t, "usr-bin-true", f.read())
    # A small kernel module with firmware= lines in .modinfo, decompressed.
    kos = sorted(glob.glob("/lib/modules/*/kernel/drivers/**/*.ko*", recursive=True))
    best = None
    for k in kos:
        data = open(k, "rb").read()
        if k.endswith(".xz"):
            data = lzma.decompress(data)
        elif k.endswith(".zst"):
            data = subprocess.run(["zstd", "-q", "-d", "-c"], input=data,
                                  capture_output=True, check=True).stdout
        elif k.endswith(".gz"):
            data = gzip.decompress(data)
        if b"firmware=" in data and len(data) < 40000 and (best is None or len(data) < len(best)):
            best = data
    if best:
        put(t, "kernel-module-firmware", best)


def main():
    if not os.path.exists(SRBUILD):
        sys.exit(f"{SRBUILD} missing: run `cargo build --release -p srbuild` first")
    shutil.rmtree(CORPUS, ignore_errors=True)
    archive_seeds()
    toml_seeds()
    cluster_seeds()
    elf_seeds()
    total = 0
    for d in sorted(os.listdir(CORPUS)):
        files = os.listdir(os.path.join(CORPUS, d))
        size = sum(os.path.getsize(os.path.join(CORPUS, d, f)) for f in files)
        total += size
        print(f"{d}: {len(files)} seeds, {size} bytes")
    print(f"total {total} bytes")


if __name__ == "__main__":
    main()
