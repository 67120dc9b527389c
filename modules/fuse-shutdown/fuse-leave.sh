#!/bin/busybox sh
# srbuild: PID 1 leaves the FUSE root, the last unit of a systemd power-off, reboot, halt
# or kexec (before final.target, after umount.target; written by modules/fuse-shutdown/fuse-shutdown.sh.hbs).
#
# pivot_root(2) moves the root of every process whose root is the old root, PID 1
# included, to the new one. The new root is the service chroot (/run/srbuild/svc, a copy
# of the image on the /run tmpfs, with systemd-shutdown): PID 1 then execs
# systemd-shutdown from there, and its kill loop, which stops the FUSE daemon too, looks
# nothing up on FUSE. The root's /dev, /proc, /sys (with the cgroups) and /run (with the
# exitrd) are moved along; the FUSE root itself goes under /dev (/dev/.srbuild-root),
# whose mounts systemd-shutdown neither unmounts nor remounts, so that the exitrd (which
# finds it at /oldroot/dev/.srbuild-root) unmounts it, unforced, once the daemon runs
# again. A forced unmount of a FUSE mount aborts its connection. Run with the exitrd's static busybox; every step must work or the shutdown
# goes on as before, with this said on the console.
svc=/run/srbuild/svc
bb=/run/initramfs/bin/busybox

say() {
	echo "srbuild fuse-leave: $*" >/dev/console 2>/dev/null || echo "srbuild fuse-leave: $*"
}

$bb mountpoint -q "$svc" || $bb mount --bind "$svc" "$svc" || {
	say "cannot bind the service chroot onto itself: staying on the FUSE root"
	exit 0
}
$bb mkdir -p "$svc/oldroot"
$bb mount --make-rprivate / || {
	say "cannot make the mounts private: staying on the FUSE root"
	exit 0
}
cd "$svc" || exit 0
$bb pivot_root . oldroot || {
	say "pivot_root into $svc failed: staying on the FUSE root"
	exit 0
}
cd / || true
# From here on the service chroot's own static busybox: the same program.
bb=/bin/busybox
moved=""
for d in run dev proc sys; do
	if $bb mount --move "/oldroot/$d" "/$d"; then moved="$moved /$d"; else say "cannot move /oldroot/$d to /$d"; fi
done
if [ "$moved" != " /run /dev /proc /sys" ]; then
	say "PID 1 left the FUSE root for the service chroot, but only$moved came along: systemd-shutdown may miss the exitrd"
elif ! { $bb mkdir -p /dev/.srbuild-root && $bb mount --move /oldroot /dev/.srbuild-root; }; then
	say "PID 1 left the FUSE root for the service chroot, but the root stays at /oldroot: systemd-shutdown will unmount it, forced"
else
	say "PID 1 left the FUSE root for the service chroot"
fi
