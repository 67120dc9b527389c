#!/bin/busybox sh
# srbuild's exitrd: the last program of a systemd root's shutdown. systemd-shutdown, once it
# has killed every process but the root storage daemons ('@' in argv[0]) and remounted the
# root read-only, pivots into /run/initramfs (made at switch_root by modules/exitrd/exitrd.sh.hbs, busybox
# and this file), puts the old root at /oldroot and runs this as PID 1 with its verb
# (poweroff, reboot, halt or kexec) as $1.
#
# Here nothing runs from the old root, so it can be unmounted. For a cluster root that is
# what makes the leave orderly: unmounting gfs2 releases the node's dlm lockspace, and then
# dlm_controld and corosync can leave their process groups cleanly. A member that powers
# off with the root still mounted is a failed member to the others, and they fence it
# (with a reboot, the fence would power the rebooting node off). Every step that can block
# in the kernel (an unmount, lvm, sync) runs in the background with a bound: whatever
# happens, the node ends in the verb, never in a hang; PID 1 never exits. kexec is not
# supported (it reboots), and systemd's reboot argument is not passed on.
PATH=/bin
export PATH

verb=${1:-poweroff}

say() {
	read -r up _ </proc/uptime 2>/dev/null || up='?'
	echo "srbuild exitrd: [$up] $*" >/dev/console 2>/dev/null || echo "srbuild exitrd: $*"
}

# bounded SECONDS CMD...: CMD in the background, waited for at most SECONDS; its status,
# or 124 when it is still running then (it is left behind: a process blocked in the
# kernel cannot be killed anyway). The status comes through a file, so a child that is
# not reaped yet does not matter.
bounded_n=0
bounded() {
	b_secs=$1
	shift
	bounded_n=$((bounded_n + 1))
	b_rc=/bounded.$bounded_n
	(
		"$@"
		echo $? >"$b_rc"
	) &
	b_n=$((b_secs * 5))
	while [ ! -s "$b_rc" ] && [ "$b_n" -gt 0 ]; do
		sleep 0.2
		b_n=$((b_n - 1))
	done
	[ -s "$b_rc" ] || return 124
	read -r b_s <"$b_rc"
	return "$b_s"
}

# finish: the verb itself, without any init left to ask; the caches written first, but
# only for as long as the storage answers (-n: the system call does not sync again).
finish() {
	bounded 20 sync || say "sync did not finish in 20 s: going on"
	case "$verb" in
	reboot) reboot -f -n ;;
	halt) halt -f -n ;;
	kexec)
		say "kexec is not supported here: rebooting"
		reboot -f -n
		;;
	*) poweroff -f -n ;;
	esac
	# Only if the system call failed: PID 1 must not exit.
	while :; do sleep 3600; done
}

# alive PID: whether process PID runs (a zombie, dead but not reaped by us, does not).
alive() {
	st=""
	read -r _ _ st _ <"/proc/$1/stat" 2>/dev/null || return 1
	[ "$st" != Z ]
}

# wait_gone PID SECONDS: whether process PID ended within SECONDS (polled every 0.2 s).
wait_gone() {
	n=$(($2 * 5))
	while alive "$1" && [ "$n" -gt 0 ]; do
		sleep 0.2
		n=$((n - 1))
	done
	! alive "$1"
}

# The root: at /oldroot, where systemd-shutdown put the root it ran from; but a FUSE root
# was left by PID 1 before (modules/fuse-shutdown/fuse-leave.sh) and kept at
# /dev/.srbuild-root, while /oldroot is the service chroot PID 1 ran from since.
# systemd-shutdown brings /dev here: 252 binds it without its submounts (MS_BIND), so the
# FUSE root is still below the old root's /dev; a recursive bind (later releases) gives it
# at both paths, and then the copy here must go before the root (copies).
mounted() { awk -v r="$1" '$2 == r { f = 1 } END { exit !f }' /proc/mounts; }
root=/oldroot
copies=""
for r in /oldroot/dev/.srbuild-root /dev/.srbuild-root; do
	mounted "$r" || continue
	if [ "$root" = /oldroot ]; then root=$r; else copies="$copies $r"; fi
done

# holders: the processes whose root, working directory or an open file is under the root.
holders() {
	for p in /proc/[0-9]*; do
		for l in "$p/root" "$p/cwd" "$p"/fd/*; do
			case "$(readlink "$l" 2>/dev/null)" in
			"$root" | "$root"/*)
				printf '%s(%s) ' "$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null | cut -c1-40)" "${p#/proc/}"
				break
				;;
			esac
		done
	done
}

# daemon_pid NAME: the process whose argv[0] is @NAME (a root storage daemon), if any.
# Read with the shell's own read (argv[0] ends at the first NUL): no process is started
# per entry of /proc. Between the root's unmount and dlm_controld's leave this node is
# still in dlm's process group, and a node that stops answering corosync there is fenced;
# under TCG a fork and exec per process was seconds of work in that window.
daemon_pid() {
	for p in /proc/[0-9]*; do
		a=""
		# shellcheck disable=SC3045 # busybox sh's read has -d ('' = up to a NUL)
		IFS= read -r -d '' a 2>/dev/null <"$p/cmdline"
		[ "$a" = "@$1" ] && {
			echo "${p#/proc/}"
			return 0
		}
	done
	return 1
}

# The service chroot (/run/srbuild/svc), where the cluster tools are; its /proc, /sys and
# /dev went with systemd's unmounts, so they are mounted again before a tool runs there.
svc=/run/srbuild/svc
svc_mounted=0
svc_mount() {
	if [ "$svc_mounted" = 0 ]; then
		mount -t proc proc "$svc/proc" 2>/dev/null
		mount -t sysfs sysfs "$svc/sys" 2>/dev/null
		mount -t devtmpfs devtmpfs "$svc/dev" 2>/dev/null
		svc_mounted=1
	fi
}
svc_run() {
	svc_mount
	PATH=/usr/sbin:/usr/bin:/sbin:/bin chroot "$svc" "$@"
}

# stop_daemon NAME SECONDS: SIGTERM to @NAME, SIGKILL if it is still there after SECONDS.
stop_daemon() {
	pid=$(daemon_pid "$1") || return 0
	kill -TERM "$pid" 2>/dev/null
	if wait_gone "$pid" "$2"; then
		say "$1 stopped"
	else
		say "$1 still running after $2 s: killed"
		kill -KILL "$pid" 2>/dev/null
	fi
}

say "$verb: taking the root down"
# Everything mounted below the old root first, the deepest first (the CDSL bind mount, the
# old /run, /proc, /sys and /dev); lazily where a normal unmount is refused.
umount_one() { umount "$1" 2>/dev/null || umount -l "$1" 2>/dev/null; }
for b in "$root" $copies; do
	awk -v r="$b/" 'substr($2, 1, length(r)) == r { print $2 }' /proc/mounts
done | sort -r >/mounts.below
while IFS= read -r m; do
	bounded 10 umount_one "$m" || say "cannot unmount $m in 10 s: going on"
done </mounts.below
# The root: a shared root may need the network and its daemons for a while (gfs2 writes
# its journal and leaves the lockspace; NFS flushes), so in the background, bounded.
fstype=$(awk -v r="$root" '$2 == r { t = $3 } END { print t }' /proc/mounts)
for c in $copies; do
	bounded 10 umount "$c" 2>/dev/null || say "cannot unmount the root's copy at $c in 10 s: going on"
done
# Unmounted means no mount left at the root's path nor at a copy's.
gone() {
	for g in "$root" $copies; do
		if mounted "$g"; then return 1; fi
	done
}
if [ -z "$fstype" ]; then
	say "cannot unmount the root: nothing is mounted at $root"
elif bounded 60 umount "$root" 2>/umount.err && gone; then
	say "root ($fstype) unmounted"
else
	say "cannot unmount the root ($fstype): $(cat /umount.err 2>/dev/null) held by: $(holders)"
fi
# A FUSE root's daemon (glusterfs) ends with its mount; should it linger, it serves nothing.
case "$fstype" in fuse | fuse.*) stop_daemon glusterfs 10 ;; esac
# Shared LVM volume groups (lvmlockd): their logical volumes deactivated and their dlm
# lockspaces left (lvm_VG, then lvm_global with the last), so dlm_controld can leave. The
# service chroot's /proc, /sys and /dev went with systemd's unmounts: mounted again for lvm.
if daemon_pid lvmlockd >/dev/null; then
	svc_lvm() { svc_run lvm "$@"; }
	if bounded 30 svc_lvm vgchange -an >/lvm.out 2>&1 && bounded 30 svc_lvm vgchange --lock-stop >>/lvm.out 2>&1; then
		say "lvm: shared volume groups deactivated and stopped"
	else
		say "lvm: cannot deactivate or stop the shared volume groups: $(tail -n 2 /lvm.out | tr '\n' ' ')"
	fi
	stop_daemon lvmlockd 15
fi
# A dlm lockspace left behind (an unmount that did not finish) keeps dlm_controld from
# leaving; wait for the kernel's lockspaces to go, bounded.
# lockspaces: the kernel's dlm lockspaces into $ls_names (no process started).
lockspaces() {
	ls_names=""
	for d in /sys/kernel/dlm/*; do
		[ -e "$d" ] && ls_names="$ls_names${d##*/} "
	done
}
n=100
lockspaces
while [ -n "$ls_names" ] && [ "$n" -gt 0 ]; do
	sleep 0.2
	n=$((n - 1))
	lockspaces
done
[ -z "$ls_names" ] || say "dlm lockspaces still there: $ls_names"
# Then the cluster stack, in the order it was started backwards. dlm_controld leaves its
# process group (dlm:controld) through corosync: the others see a member that left, and
# dlm fences only a member that failed while in that group (dlm_controld 4.2 and 4.3 alike:
# a member whose corosync goes away while it is still in the group is "nodedown" to them).
# corosync itself is ended with SIGKILL, but only once that leave has reached the others:
# its SIGTERM shutdown (corosync 3.1.7) aborts with a core dump here, after spinning at
# real-time priority for up to 80 s on a 1-CPU guest, which starved this script and held
# the leave back. The others then see the node gone, which for a node outside dlm's group
# needs no fence.
dlm_pid=$(daemon_pid dlm_controld)
stop_daemon dlm_controld 15

# now: whole seconds since boot into now_s, read by the shell itself.
now() {
	read -r now_u _ </proc/uptime
	now_s=${now_u%.*}
}
# last_number FILE: the last field of FILE's first line that ends in a number (empty if none).
last_number() {
	awk '$NF ~ /^[0-9]+$/ { print $NF; exit }' "$1" 2>/dev/null
}
# Each corosync tool runs bounded: its client library waits for corosync's answer without
# a limit, and a corosync that stopped answering must not hold PID 1.
# in_group PID: whether this node's corosync still lists process PID of this node (my_id,
# when known) in dlm:controld (its leave not delivered yet); status 2 when
# corosync-cpgtool cannot tell in 3 s. Nodes boot from one image, so another node's
# dlm_controld may well have the same PID: the node ID is what tells them apart.
in_group() {
	bounded 3 svc_run corosync-cpgtool -d ' ' >/cpg.out 2>/dev/null || return 2
	awk -v p="$1" -v id="$my_id" '$1 ~ /^dlm:controld/ && $2 == p && (id == "" || $3 !~ /^[0-9]+$/ || $3 == id) { f = 1 } END { exit !f }' /cpg.out
}
# tokens: how many times totem's token reached this node, into tok (empty when unknown).
tokens() {
	tok=
	bounded 3 svc_run corosync-cmapctl -m stats -g stats.srp.orf_token_rx >/tok.out 2>/dev/null || return 0
	tok=$(last_number /tok.out)
}
# left_group PID: waits until the leave of dlm_controld (process PID) is delivered here,
# in totem's order, then until the token has come round twice more, so every other member
# has had it too (a member that missed it asks for it again on the token, which needs this
# node's corosync still running). Bounded by the clock: 10 s for each wait, every call in
# it 3 s at most; without the tools, 2 s.
left_group() {
	# The chroot's mounts are made here, not in a bounded call's subshell, which would
	# forget that it made them.
	svc_mount
	my_id=
	if bounded 3 svc_run corosync-cmapctl -g runtime.votequorum.this_node_id >/id.out 2>/dev/null; then
		my_id=$(last_number /id.out)
	fi
	now
	end=$((now_s + 10))
	while :; do
		in_group "$1"
		st=$?
		[ "$st" = 0 ] || break
		now
		[ "$now_s" -lt "$end" ] || break
		sleep 0.2
	done
	case $st in
	0) say "dlm_controld's leave not delivered after 10 s: going on" ;;
	2)
		say "corosync-cpgtool cannot tell whether dlm_controld's leave was delivered: waiting 2 s"
		sleep 2
		return
		;;
	esac
	tokens
	if [ -z "$tok" ]; then
		sleep 2
		return
	fi
	t0=$tok
	now
	end=$((now_s + 10))
	while [ "$now_s" -lt "$end" ]; do
		tokens
		[ -n "$tok" ] && [ "$tok" -ge $((t0 + 2)) ] && return
		sleep 0.2
		now
	done
	say "the token did not come round twice in 10 s after dlm_controld's leave: going on"
}
if pid=$(daemon_pid corosync); then
	[ -z "$dlm_pid" ] || left_group "$dlm_pid"
	kill -KILL "$pid" 2>/dev/null
	if wait_gone "$pid" 5; then
		say "corosync ended"
	else
		say "corosync still running after SIGKILL"
	fi
fi
# The storage daemons (iscsid, multipathd) serve nothing now; the power-off ends them.
say "$verb"
finish
