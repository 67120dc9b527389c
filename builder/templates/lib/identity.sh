# shellcheck shell=sh
# srbuild boot runtime: which node this is. Sourced by /init.

# sr_node_line NODES NAME NETDIR: the reader of etc/srbuild/nodes ("name id mac[,mac...]
# address/prefix gateway" per line, from --cluster). Sets sr_line to the line for node NAME
# or, when NAME is empty, to the first line that lists the MAC of an interface under NETDIR
# (/sys/class/net), and then SR_NODE_IF to that interface; sr_line stays empty when none
# matches, and sr_macs lists the MACs tried.
sr_node_line() {
	sr_line=""
	sr_macs=""
	if [ -n "$2" ]; then
		while IFS= read -r sr_l; do
			case "$sr_l" in "$2 "*)
				sr_line=$sr_l
				return 0
				;;
			esac
		done <"$1"
		return 0
	fi
	for sr_if in "$3"/*; do
		[ -f "$sr_if/address" ] || continue
		read -r sr_mac <"$sr_if/address"
		[ "$sr_mac" = "00:00:00:00:00:00" ] && continue
		sr_macs="$sr_macs $sr_mac"
		# The file's MACs are lower case (the description normalizes them), as the
		# kernel's are; read by the shell, no process.
		while IFS= read -r sr_l; do
			case " $sr_l " in *[\ ,]"$sr_mac"[\ ,]*)
				sr_line=$sr_l
				SR_NODE_IF=${sr_if##*/}
				return 0
				;;
			esac
		done <"$1"
	done
}

# sr_node_fields LINE: SR_NODE_NAME, SR_NODE_ID, SR_NODE_MACS (comma separated),
# SR_NODE_ADDR (address/prefix) and SR_NODE_GW from a line of etc/srbuild/nodes ("-": none).
sr_node_fields() {
	set -f
	# shellcheck disable=SC2086 # the line's fields, split on spaces, never globbed
	set -- $1
	set +f
	SR_NODE_NAME=$1
	SR_NODE_ID=$2
	SR_NODE_MACS=$3
	SR_NODE_ADDR=$4
	SR_NODE_GW=$5
	[ "$SR_NODE_ADDR" = "-" ] && SR_NODE_ADDR=""
	[ "$SR_NODE_GW" = "-" ] && SR_NODE_GW=""
	return 0
}

# sr_identity_line NODES: this node's line of NODES into sr_line: the one named by
# srbuild.node= (SR_NODE_NAME), else the first that lists a MAC of this machine (then
# SR_NODE_IF is its interface). Fails the stage if there is none.
sr_identity_line() {
	sr_node_line "$1" "$SR_NODE_NAME" /sys/class/net
	[ -n "$sr_line" ] && return 0
	if [ -n "$SR_NODE_NAME" ]; then
		sr_fail "node '$SR_NODE_NAME' (from srbuild.node=) is not in the cluster description; known nodes: $(cut -d' ' -f1 "$1" | tr '\n' ' ')"
	fi
	sr_fail "no node in the cluster description matches this machine's MACs:$sr_macs; add it with 'srbuild cluster addnode' and rebuild, or boot with srbuild.node=NAME"
}

# sr_identity NODES: the node's name, id, MACs, address and gateway from NODES, its
# interface and its static address (unless ip= configured the interface already).
sr_identity() {
	sr_identity_line "$1"
	sr_node_fields "$sr_line"
	if [ -z "$SR_NODE_IF" ]; then
		for sr_if in /sys/class/net/*; do
			read -r sr_mac <"$sr_if/address" 2>/dev/null || continue
			case ",$SR_NODE_MACS," in *",$sr_mac,"*) SR_NODE_IF=${sr_if##*/} ;; esac
		done
	fi
	# Static address from the cluster description unless ip= or DHCP configured the
	# interface; then report what they configured, which may differ from the description.
	# `ip` is asked only when the interface may have an address: the network stage
	# configured it (SR_NET_IFS), or a route names it (/proc/net/route, read by the
	# shell); its first line's fourth field is the first IPv4 address.
	if [ -n "$SR_NODE_IF" ]; then
		sr_actual=""
		if sr_if_configured "$SR_NODE_IF"; then
			sr_actual=$(ip -4 -o addr show dev "$SR_NODE_IF")
			set -f
			# shellcheck disable=SC2086 # split into fields on purpose, never globbed
			set -- $sr_actual
			set +f
			sr_actual=${4-}
		fi
		if [ -n "$sr_actual" ]; then
			SR_NODE_ADDR=$sr_actual
		elif [ -n "$SR_NODE_ADDR" ]; then
			# Up already, as a rule: the network stage sets every link up.
			sr_if_up "$SR_NODE_IF" || ip link set "$SR_NODE_IF" up
			ip addr add "$SR_NODE_ADDR" dev "$SR_NODE_IF" || sr_fail "cannot set $SR_NODE_ADDR on $SR_NODE_IF"
			[ -n "$SR_NODE_GW" ] && ip route add default via "$SR_NODE_GW" dev "$SR_NODE_IF"
		fi
	fi
	# The kernel's own file, written by the shell: no fork for the hostname applet.
	printf '%s\n' "$SR_NODE_NAME" >/proc/sys/kernel/hostname || sr_fail "cannot set the hostname $SR_NODE_NAME"
	sr_log "node=$SR_NODE_NAME id=$SR_NODE_ID if=${SR_NODE_IF:-none} addr=${SR_NODE_ADDR:-none}"
}
