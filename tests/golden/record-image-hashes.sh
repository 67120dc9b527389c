#!/bin/sh
# Records the SHA-256 of the image of every built-in profile (and of a few option
# variants) into tests/golden/image-hashes.txt, for tests/image_hashes.rs.
#
#   tests/golden/record-image-hashes.sh /path/to/a/trusted/srbuild
#
# Run it with a binary whose images are known good (the release build of the commit
# before a refactoring), never with the binary under test. Images depend on the host's
# packages, so the file also lists every host file the builds read (the SHA-256 of its
# content, not its mtime, so that a fresh install of the same packages matches) and the
# kernel version: tests/image_hashes.rs compares hashes only when all of those are
# unchanged, and otherwise says that it compared nothing.
set -eu
bin=${1:?usage: $0 SRBUILD-BINARY}
here=$(cd "$(dirname "$0")" && pwd)
out=$here/image-hashes.txt
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The fixed inputs (cluster description, authkey, volfile) the test writes too.
sh "$here/image-hashes-inputs.sh" "$work"
export SOURCE_DATE_EPOCH=0
kver=$(find /lib/modules -mindepth 1 -maxdepth 1 -printf '%f\n' | sort | tail -n 1)
: >"$work/inputs"
: >"$work/images"
while read -r name profile args; do
	[ -n "$name" ] || continue
	case "$name" in '#'*) continue ;; esac
	# shellcheck disable=SC2086 # ARGS are words by design
	(cd "$work" && "$bin" image --profile "$profile" -o "$work/$name.img" --json $args) \
		>"$work/$name.json" 2>"$work/$name.err" || {
		cat "$work/$name.err" >&2
		exit 1
	}
	jq -r '.files[] | select(.source != null and .source != "generated") | .source' \
		"$work/$name.json" >>"$work/inputs"
	printf 'image %s %s\n' "$name" "$(sha256sum <"$work/$name.img" | cut -d' ' -f1)" >>"$work/images"
done <"$here/image-hashes-builds.txt"
# What the builds read besides the planned host files: ld.so.conf, and the kernel's
# modules (stored decompressed, so the manifest calls them generated) and index, as one
# digest of the sorted `sha256sum` lines of every file under /lib/modules/KVER.
ls -1d /etc/ld.so.conf /etc/ld.so.conf.d/* 2>/dev/null >>"$work/inputs" || true
{
	echo "# Written by tests/golden/record-image-hashes.sh; read by tests/image_hashes.rs."
	echo "kver $kver"
	printf 'tree /lib/modules/%s %s\n' "$kver" "$(find /lib/modules/"$kver" -type f -exec sha256sum {} + |
		LC_ALL=C sort | sha256sum | cut -d' ' -f1)"
	cat "$work/images"
	LC_ALL=C sort -u "$work/inputs" | while read -r p; do
		printf 'input %s %s\n' "$(sha256sum <"$p" | cut -d' ' -f1)" "$p"
	done
} >"$out"
echo "wrote $out: $(grep -c '^image ' "$out") images, $(grep -c '^input ' "$out") input files" >&2
