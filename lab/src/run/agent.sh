#!/bin/sh
# srbuild lab agent: /sbin/init of a lab test root. Reports what this node sees and proves
# that the root is shared: it writes /lab/seen/<node>, then waits for every other node's file.
export PATH=/usr/sbin:/usr/bin:/sbin:/bin
hold() {
	# PID 1 must not exit: keep a shell on the console for `srbuild lab console`.
	while :; do
		setsid cttyhack sh -l 2>/dev/null || sleep 3600
	done
}
fail() {
	echo "LAB-FAIL $*"
	hold
}
[ -f /run/srbuild/node.env ] && . /run/srbuild/node.env
echo "lab-agent: node=$SRBUILD_NODE id=$SRBUILD_NODE_ID addr=$SRBUILD_NODE_ADDR"
fstype=$(awk '$2 == "/" { t = $3 } END { print t }' /proc/mounts)
echo "lab-agent: root fstype=$fstype"
cdsl_src=$(awk '$2 == "/.cdsl.local" { print $1 }' /proc/mounts)
echo "lab-agent: cdsl=${SRBUILD_CDSL:-none} mounted-from=${cdsl_src:-nothing}"
[ -n "$SRBUILD_NODE" ] || fail "no node identity in /run/srbuild/node.env"
host=$(cat /etc/hostname 2>/dev/null)
[ "$host" = "$SRBUILD_NODE" ] || fail "/etc/hostname (a CDSL) reads '$host', expected '$SRBUILD_NODE'"
echo "lab-agent: /etc/hostname=$host"
mkdir -p /lab/seen
echo "$SRBUILD_NODE $(cut -d' ' -f1 /proc/uptime)" >"/lab/seen/$SRBUILD_NODE" || fail "cannot write /lab/seen/$SRBUILD_NODE"
sync
if [ "$(cat /lab/mode 2>/dev/null)" = shared ]; then
	read -r up _ </proc/uptime
	deadline=$((${up%.*} + $(cat /lab/wait 2>/dev/null || echo 120)))
	while :; do
		missing=""
		for n in $(cat /lab/expect); do
			[ -e "/lab/seen/$n" ] || missing="$missing $n"
		done
		[ -z "$missing" ] && break
		read -r up _ </proc/uptime
		[ "${up%.*}" -ge "$deadline" ] && fail "never saw the files of:$missing"
		sleep 0.5
	done
	echo "lab-agent: saw every node's file: $(ls /lab/seen | tr '\n' ' ')"
fi
echo "LAB-PASS node=$SRBUILD_NODE t=$(cut -d' ' -f1 /proc/uptime)"
hold
