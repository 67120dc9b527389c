#!/bin/sh
# srbuild lab agent: /sbin/init of a busybox lab root, or lab-agent.service in a systemd
# root. Reports what this node sees and proves that the root is shared: it writes
# /lab/seen/<node>, then waits for every other node's file.
export PATH=/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin
service=""
[ "$$" = 1 ] || service=yes
hold() {
	# A service just fails (systemd keeps the node up for `srbuild lab console`).
	[ -n "$service" ] && exit 1
	# PID 1 must not exit: keep a shell on the console for `srbuild lab console`.
	while :; do
		setsid cttyhack sh -l 2>/dev/null || sleep 3600
	done
}
# The PIDs whose argv[0] is the extended regex $1, in one grep over every cmdline (a `tr`
# a process costs 40 s on a FUSE root under systemd under TCG). A cmdline's arguments are
# NUL-separated: busybox grep stops at the first NUL, GNU grep -a sees it as a character
# outside the class, so both match argv[0] alone.
named_procs() {
	grep -a -l -E "^$1(\$|[^[:alnum:]_.-])" /proc/[0-9]*/cmdline 2>/dev/null | sed 's,^/proc/,,; s,/cmdline$,,'
}

fail() {
	echo "LAB-FAIL $*"
	hold
}
[ -r /proc/uptime ] || mount -t proc proc /proc
echo "lab-agent: start t=$(cut -d' ' -f1 /proc/uptime)"
machine_id=""
if [ -n "$service" ]; then
	# A real root: the boot must have finished with every unit up.
	state=$(systemctl is-system-running --wait 2>&1)
	echo "lab-agent: systemd state=$state t=$(cut -d' ' -f1 /proc/uptime)"
	if [ "$state" != running ]; then
		failed=$(systemctl --failed --no-legend --plain 2>&1 | awk '{ print $1 }' | tr '\n' ' ')
		fail "the system is $state, not running; failed units: ${failed:-none}"
	fi
	machine_id=$(cat /etc/machine-id 2>/dev/null)
	case "$machine_id" in
	[0-9a-f]*) [ "${#machine_id}" = 32 ] || fail "/etc/machine-id reads '$machine_id'" ;;
	*) fail "/etc/machine-id reads '$machine_id'" ;;
	esac
	for p in /etc/machine-id /var/log /var/tmp; do
		[ "$(readlink "$p")" = "/.cdsl.local$p" ] || fail "$p is not a CDSL: $(ls -ld "$p")"
	done
	# systemd-tmpfiles empties /tmp at boot: a shared one loses other nodes' files.
	tmpfs=$(awk '$2 == "/tmp" { print $3 }' /proc/mounts | tail -n 1)
	[ "$tmpfs" = tmpfs ] || fail "/tmp is not a tmpfs of this node's own (it is ${tmpfs:-the shared root})"
	echo "lab-agent: machine-id=$machine_id (CDSL), /var/log -> $(readlink /var/log), /tmp tmpfs"
fi
foreign=""
if [ -f /run/srbuild/node.env ]; then
	# shellcheck source=/dev/null # written by /init at boot
	. /run/srbuild/node.env
else
	# Booted by another initramfs (dracut, say): take the node from the command line.
	foreign=yes
	read -r cmdline </proc/cmdline
	set -f # split into words, never globbed
	for arg in $cmdline; do
		case "$arg" in srbuild.node=*) SRBUILD_NODE=${arg#srbuild.node=} ;; esac
	done
	set +f
fi
echo "lab-agent: node=$SRBUILD_NODE id=$SRBUILD_NODE_ID addr=$SRBUILD_NODE_ADDR"
fstype=$(awk '$2 == "/" { t = $3 } END { print t }' /proc/mounts)
echo "lab-agent: root fstype=$fstype"
cdsl_src=$(awk '$2 == "/.cdsl.local" { print $1 }' /proc/mounts)
echo "lab-agent: cdsl=${SRBUILD_CDSL:-none} mounted-from=${cdsl_src:-nothing}"
[ -n "$SRBUILD_NODE" ] || fail "no node identity in /run/srbuild/node.env"
host=$(cat /etc/hostname 2>/dev/null)
if [ -n "$foreign" ] && [ -z "$cdsl_src" ]; then
	echo "lab-agent: not booted by srbuild: no CDSL bind mount, /etc/hostname not checked"
else
	[ "$host" = "$SRBUILD_NODE" ] || fail "/etc/hostname (a CDSL) reads '$host', expected '$SRBUILD_NODE'"
	echo "lab-agent: /etc/hostname=$host"
	# A relative symlink made host-dependent still leads where it did.
	linked=$(cat /etc/lab-link 2>&1)
	[ "$linked" = "lab shared data" ] || fail "/etc/lab-link (a CDSL of a relative link -> $(readlink "/.cdsl.local/etc/lab-link")) reads '$linked'"
	echo "lab-agent: /etc/lab-link -> $(readlink "/.cdsl.local/etc/lab-link") reads '$linked'"
fi
# The root kind's checks (/lab/checks): what must be true after switch_root.
echo "lab-agent: checks t=$(cut -d' ' -f1 /proc/uptime)"
svc=/run/srbuild/svc
while read -r check arg; do
	case "$check" in
	fstype)
		# nfs matches nfs and nfs4
		case "$fstype" in "$arg"*) ;; *) fail "the root is $fstype, expected $arg" ;; esac
		;;
	daemon)
		# A root storage daemon: alive, and argv[0] starts with '@' (systemd spares it).
		pid=$(named_procs "@$arg" | tail -n 1)
		# shellcheck disable=SC2009 # every process is listed for the message, none searched
		[ -n "$pid" ] || fail "no live @$arg process after switch_root: $(ps -o pid,args | grep -v ' \[' | tr '\n' ';')"
		echo "lab-agent: daemon @$arg alive pid=$pid"
		;;
	absent)
		# A root in RAM needs no daemon of the network root any more.
		pid=$(named_procs "@?$arg" | head -n 1)
		[ -z "$pid" ] || fail "$arg is still running (pid $pid) although the root is in RAM"
		echo "lab-agent: no $arg process left"
		;;
	quorum)
		q=$(chroot "$svc" corosync-quorumtool -s 2>&1)
		echo "$q" | grep -q "Quorate: *Yes" || fail "cluster not quorate after switch_root: $(echo "$q" | tr '\n' ' ')"
		echo "lab-agent: quorate: $(echo "$q" | grep -E 'Nodes:|Total votes' | tr -s ' \n' ' ')"
		;;
	iscsi)
		# iscsi TARGET: a logged-in session to this target serves the root.
		q=$(chroot "$svc" iscsiadm -m session 2>&1)
		# "tcp: [1] 10.0.2.1:3260,1 iqn.2026-12.lab.srbuild:root (non-flash)"
		echo "$q" | grep -qF " $arg " ||
			fail "no iSCSI session to $arg after switch_root: $(echo "$q" | tr '\n' ' ')"
		echo "lab-agent: iscsi session: $(echo "$q" | grep -F " $arg " | head -n 1)"
		;;
	initiator)
		# initiator PREFIX: the node logged in as PREFIX:NODE, its name in the cluster
		# description (not the one /init would make up from the node name).
		q=$(cat "$svc/etc/iscsi/initiatorname.iscsi" 2>&1)
		[ "$q" = "InitiatorName=$arg:$SRBUILD_NODE" ] ||
			fail "initiator name '$q', expected InitiatorName=$arg:$SRBUILD_NODE (the cluster description's iscsi_initiator)"
		# And the name each session logged in with ("Iface Initiatorname: NAME").
		s=$(chroot "$svc" iscsiadm -m session -P 3 2>&1 | sed -n 's/^[[:space:]]*Iface Initiatorname:[[:space:]]*//p' | sort -u)
		[ "$s" = "$arg:$SRBUILD_NODE" ] ||
			fail "the iSCSI sessions logged in as '$(echo "$s" | tr '\n' ' ')', expected $arg:$SRBUILD_NODE"
		echo "lab-agent: iscsi $q, sessions as $s"
		;;
	chap)
		# chap USER: every session logged in with CHAP as USER (iscsiadm -P 3 prints
		# "username: USER" under each session's CHAP heading, the password masked).
		q=$(chroot "$svc" iscsiadm -m session -P 3 2>&1)
		n=$(echo "$q" | grep -c '^[[:space:]]*SID:')
		u=$(echo "$q" | sed -n 's/^[[:space:]]*username:[[:space:]]*//p')
		if [ "$n" -eq 0 ] || [ "$(echo "$u" | grep -cx "$arg")" != "$n" ]; then
			fail "the $n iSCSI session(s) did not all log in with CHAP user $arg: usernames '$(echo "$u" | tr '\n' ' ')'"
		fi
		echo "lab-agent: iscsi CHAP user $arg on $n session(s)"
		;;
	lvshared)
		# lvshared VG/LV: the LV is active here, lvmlockd holds its lock in mode sh
		# (lvchange -asy; -ay would be ex and lock the other nodes out), and its VG is
		# shared through lvmlockd with dlm.
		q=$(chroot "$svc" lvm lvs --noheadings -o lv_uuid,lv_active "$arg" 2>&1)
		uuid=$(echo "$q" | awk '{ print $1 }')
		echo "$q" | grep -qw active || fail "logical volume $arg is not active after switch_root: $(echo "$q" | tr -s ' \n' ' ')"
		# lvmlockctl --info: "LS dlm lvm_VG" for the VG's lockspace, "LK LV MODE UUID" per LV lock.
		info=$(chroot "$svc" lvmlockctl --info 2>&1)
		echo "$info" | grep -qx "LS dlm lvm_${arg%%/*}" ||
			fail "lvmlockd has no dlm lockspace lvm_${arg%%/*} after switch_root: $(echo "$info" | grep '^LS' | tr '\n' ' ')"
		lock=$(echo "$info" | grep -E "^LK LV [a-z]+ $uuid\$" | head -n 1)
		case "$lock" in
		"LK LV sh "*) ;;
		*) fail "logical volume $arg ($uuid) is not locked shared by lvmlockd after switch_root: ${lock:-no lock} ($(echo "$info" | grep '^LK LV' | tr '\n' ' '))" ;;
		esac
		q=$(chroot "$svc" lvm vgs --noheadings -o vg_lock_type "${arg%%/*}" 2>&1 | tr -d ' ')
		[ "$q" = dlm ] || fail "volume group ${arg%%/*} has lock type '$q', not dlm"
		echo "lab-agent: $arg active, lvmlockd: $lock in lockspace lvm_${arg%%/*}; volume group lock type dlm"
		;;
	o2cb)
		hb=""
		for f in /sys/kernel/config/cluster/"$arg"/heartbeat/*; do
			n=${f##*/}
			case "$n" in *[!0-9A-F]*) continue ;; esac
			[ "${#n}" -eq 32 ] && hb="$hb$n "
		done
		[ -n "$hb" ] || fail "o2cb cluster $arg has no heartbeat region after switch_root"
		nodes=""
		for f in /sys/kernel/config/cluster/"$arg"/node/*; do
			[ -e "$f" ] && nodes="$nodes${f##*/} "
		done
		echo "lab-agent: o2cb $arg heartbeat region $hb nodes $nodes"
		;;
	mountro)
		# mountro PATH FSTYPE: PATH is its own read-only mount of that type (hybrid roots).
		set -f
		# shellcheck disable=SC2086 # the check's two words, split on purpose
		set -- $arg
		set +f
		line=$(awk -v p="$1" '$2 == p { l = $3 " " $4 } END { print l }' /proc/mounts)
		case "$line" in
		"$2"*" ro,"* | "$2"*" ro") echo "lab-agent: $1 is $line" ;;
		*) fail "$1 should be a read-only $2 mount, /proc/mounts says: ${line:-not mounted}" ;;
		esac
		;;
	ram)
		# What a root in RAM costs: the tmpfs in use and the memory left.
		used=$(df -k / | awk 'NR == 2 { print $3 " kB used of " $2 " kB" }')
		avail=$(awk '/^MemAvailable:/ { print $2 " kB" }' /proc/meminfo)
		echo "lab-agent: ram: tmpfs / $used; MemAvailable $avail"
		;;
	absent-modules)
		# Drivers for hardware this node does not have (e1000 on a virtio-only machine):
		# the initramfs loads drivers only for devices it finds (coldplug by modalias).
		loaded=$(cut -d' ' -f1 /proc/modules | tr '\n' ' ')
		for m in $arg; do
			case " $loaded " in *" $m "*) fail "kernel module $m is loaded, but this node has no device for it; loaded: $loaded" ;; esac
		done
		echo "lab-agent: kernel modules $arg not loaded; loaded: $loaded"
		;;
	mmap)
		# Writable shared mmap on the root (FUSE roots may lack it).
		out=$(lab-mmap "/lab/seen/$SRBUILD_NODE.mmap" 2>&1) || fail "writable shared mmap on / failed: $out"
		echo "lab-agent: mmap $out"
		;;
	'') ;;
	*) fail "unknown check '$check' in /lab/checks" ;;
	esac
done </lab/checks
mkdir -p /lab/seen
echo "$SRBUILD_NODE $(cut -d' ' -f1 /proc/uptime) $machine_id" >"/lab/seen/$SRBUILD_NODE" || fail "cannot write /lab/seen/$SRBUILD_NODE"
sync
if [ "$(cat /lab/mode 2>/dev/null)" = shared ]; then
	expect=$(cat /lab/expect)
	read -r up _ </proc/uptime
	deadline=$((${up%.*} + $(cat /lab/wait 2>/dev/null || echo 120)))
	while :; do
		missing=""
		for n in $expect; do
			[ -e "/lab/seen/$n" ] || missing="$missing $n"
		done
		[ -z "$missing" ] && break
		read -r up _ </proc/uptime
		[ "${up%.*}" -ge "$deadline" ] && fail "never saw the files of:$missing"
		sleep 0.5
	done
	seen=""
	for f in /lab/seen/*; do seen="$seen${f##*/} "; done
	echo "lab-agent: saw every node's file: $seen"
	if [ -n "$machine_id" ]; then
		# Each node its own machine id (a shared /etc/machine-id breaks journald, D-Bus…).
		dup=$(for n in $expect; do awk '{ print $3 }' "/lab/seen/$n"; done | sort | uniq -d)
		[ -z "$dup" ] || fail "machine id $dup is shared by several nodes"
		echo "lab-agent: every node has its own machine id"
	fi
fi
echo "LAB-PASS node=$SRBUILD_NODE t=$(cut -d' ' -f1 /proc/uptime)"
if [ -n "$service" ]; then
	if [ -f /lab/poweroff ]; then
		echo "lab-agent: powering off t=$(cut -d' ' -f1 /proc/uptime)"
		# Straight to the target: a plain `systemctl poweroff` asks logind over D-Bus first,
		# and a minimal root has no D-Bus.
		systemctl --no-block --job-mode=replace-irreversibly start poweroff.target
	fi
	exit 0
fi
if [ -f /lab/beat ]; then
	# The node-dies scenario: go on writing to the shared root, one line per write.
	(
		n=0
		mkdir -p /lab/beats.d
		while :; do
			n=$((n + 1))
			# Read every node's beat file (a dead node held its own exclusively, so this
			# waits for the cluster to recover it), then write ours and a shared one, and
			# make a new file: a new inode needs new cluster locks, so on gfs2 and ocfs2 a
			# beat waits for any recovery in progress (until the dead node was fenced).
			cat /lab/seen/*.beat >/dev/null 2>&1
			if ! echo "$n" >"/lab/seen/$SRBUILD_NODE.beat" || ! echo "$SRBUILD_NODE $n" >>/lab/beats ||
				! echo "$n $(cut -d' ' -f1 /proc/uptime)" >"/lab/beats.d/$SRBUILD_NODE.$n"; then
				echo "lab-agent: write $n to the shared root failed"
				sleep 1
				continue
			fi
			rm -f "/lab/beats.d/$SRBUILD_NODE.$((n - 1))"
			sync
			echo "LAB-BEAT node=$SRBUILD_NODE n=$n t=$(cut -d' ' -f1 /proc/uptime)"
			sleep 1
		done
	) &
	# The lab stops the writes (and makes the root read-only: clean journals) before it
	# checks the shared disk; see runner::quiesce.
	echo "$!" >/dev/lab-beat.pid
fi
hold
