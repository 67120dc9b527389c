# shellcheck shell=sh
# srbuild boot runtime: network helpers (the network hook uses them). Sourced by /init.

# Prefix length of a dotted netmask (255.255.255.0 -> 24).
sr_mask2prefix() {
	sr_bits=0
	sr_oldifs=$IFS
	IFS=.
	set -f
	for sr_o in $1; do
		case "$sr_o" in
		255) sr_bits=$((sr_bits + 8)) ;;
		254) sr_bits=$((sr_bits + 7)) ;;
		252) sr_bits=$((sr_bits + 6)) ;;
		248) sr_bits=$((sr_bits + 5)) ;;
		240) sr_bits=$((sr_bits + 4)) ;;
		224) sr_bits=$((sr_bits + 3)) ;;
		192) sr_bits=$((sr_bits + 2)) ;;
		128) sr_bits=$((sr_bits + 1)) ;;
		esac
	done
	set +f
	IFS=$sr_oldifs
	printf '%s\n' "$sr_bits"
}

# sr_if_configured IF [ROUTES]: whether something may have given interface IF an IPv4
# address: the network stage configured it (SR_NET_IFS, " IF IF "), or a route in the
# main table names it (an address with a prefix, a default route; ROUTES, by default
# /proc/net/route, read by the shell). A hook of another module that gives an interface
# an address without such a route (a /32 with no gateway, noprefixroute) must add the
# interface to SR_NET_IFS, or the identity stage adds the description's address too.
sr_if_configured() {
	case "${SR_NET_IFS-}" in *" $1 "*) return 0 ;; esac
	sr_routes=${2:-/proc/net/route}
	# A redirection error on a loop would end the shell (PID 1).
	[ -r "$sr_routes" ] || return 1
	while read -r sr_rif _; do
		[ "$sr_rif" = "$1" ] && return 0
	done <"$sr_routes"
	return 1
}

# sr_if_up IF [NETDIR]: whether interface IF is administratively up (IFF_UP, bit 0 of its
# flags in NETDIR, by default /sys/class/net), read by the shell.
sr_if_up() {
	sr_fl=""
	read -r sr_fl 2>/dev/null <"${2:-/sys/class/net}/$1/flags"
	case "$sr_fl" in
	0x | 0x*[!0-9a-f]*) return 1 ;;
	0x*) [ $((sr_fl & 1)) = 1 ] ;;
	*) return 1 ;;
	esac
}
