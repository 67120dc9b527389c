#!/bin/sh
# srbuild lab: fills a GlusterFS replica-2 volume on the host, through a real glusterd and
# FUSE client, into two bricks on a fresh ext4 image that the lab's gluster server then
# serves. Run by lab/src/run/bricks.rs inside new mount, network and PID namespaces
# (unshare --mount --net --pid --fork --kill-child --mount-proc): /run (glusterd's socket
# and pid file, and this fill's mount points), /tmp and glusterd's state and log
# directories are tmpfs mounts seen by nobody else, its only network is this namespace's
# loopback, and every process it starts ends with this shell. Arguments: IMAGE TREE.
set -eu
image=$1
tree=$2
addr=10.254.254.1
vol=root

# The tree and the image may well lie under /tmp or /run (a lab --dir there, a CI clone),
# which the tmpfs mounts below hide: the tree is kept as the working directory (cd -P, not
# a path rebuilt from $PWD later) and the image as a loop device, both taken first. Until
# the device is mounted, a failure detaches it.
loop=$(losetup --find --show -- "$image")
trap 'losetup -d "$loop" 2>/dev/null' EXIT
# After the losetup: run by hand, either path may be relative to where the fill started.
cd -P -- "$tree"

ip link set lo up
ip addr add "$addr/32" dev lo
for d in /run /tmp /var/lib/glusterd /var/log/glusterfs; do
	mkdir -p "$d"
	mount -t tmpfs -o mode=0755 srbuild-lab "$d"
done
mkdir -p /run/gluster
work=/run/srbuild-fill
mkdir -p "$work/disk" "$work/vol"
mount "$loop" "$work/disk"
# Detached now, it goes with the mount (the kernel's autoclear); the trap must not detach
# a device that someone else may get once this mount is gone.
losetup -d "$loop"
trap - EXIT
mkdir -p "$work/disk/bricks/b1" "$work/disk/bricks/b2"
glusterd -p /run/gluster/glusterd.pid
n=0
until gluster --mode=script volume list >/dev/null 2>&1; do
	n=$((n + 1))
	[ "$n" -le 300 ] || { echo "glusterd does not answer: $(tail -n 3 /var/log/glusterfs/glusterd.log)" >&2; exit 1; }
	sleep 0.1
done
gluster --mode=script volume create "$vol" replica 2 "$addr:$work/disk/bricks/b1" "$addr:$work/disk/bricks/b2" force >/dev/null
gluster --mode=script volume start "$vol" >/dev/null
glusterfs --volfile-server="$addr" --volfile-id="$vol" "$work/vol"
n=0
until grep -q " $work/vol fuse" /proc/mounts; do
	n=$((n + 1))
	[ "$n" -le 300 ] || { echo "the FUSE mount of the volume did not come up" >&2; exit 1; }
	sleep 0.1
done
# Four copies at a time: the client and both bricks always have requests in flight. The
# working directory is the tree.
find . -mindepth 1 -maxdepth 1 -printf '%P\0' | xargs -0 -P 4 -I {} cp -a {} "$work/vol/"
chown "$(stat -c %u:%g .)" "$work/vol"
chmod "$(stat -c %a .)" "$work/vol"
touch -r . "$work/vol"
cd /
umount "$work/vol"
gluster --mode=script volume stop "$vol" >/dev/null
# The bricks are given to a new volume by the lab's server: this volume's identity goes
# (its ID, and the directory named after it for inodes that lost their name).
for b in b1 b2; do
	setfattr -x trusted.glusterfs.volume-id "$work/disk/bricks/$b"
	rm -rf "$work/disk/bricks/$b"/.glusterfs-anonymous-inode-*
done
# The last step: the server serves only bricks marked whole.
: >"$work/disk/bricks/.srbuild-filled"
umount "$work/disk"
echo "filled"
