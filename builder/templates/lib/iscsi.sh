# shellcheck shell=sh
# srbuild boot runtime: checks of iSCSI values from the command line (names, portals,
# dracut's netroot=iscsi:...). Sourced by /init; the iscsi and iscsi-target modules use it.
# Every check fails its stage with one line naming the argument and its value.

# sr_iqn NAME VALUE: VALUE must be an iSCSI name (RFC 3720 3.2.6): iqn.YYYY-MM.domain[:x]
# or eui.<16 hex digits>, lower case, at most 223 bytes, of [a-z0-9.:-] only.
sr_iqn() {
	case "$2" in
	iqn.[0-9][0-9][0-9][0-9]-[0-9][0-9].[a-z0-9]*)
		case "${2#iqn.}" in *[!a-z0-9.:-]*) sr_iqn_bad "$1" "$2" ;; esac
		;;
	eui.[0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F][0-9A-F]) ;;
	*) sr_iqn_bad "$1" "$2" ;;
	esac
	[ "${#2}" -le 223 ] || sr_iqn_bad "$1" "$2"
}
sr_iqn_bad() {
	sr_fail "$1=$2 is not an iSCSI name: expected iqn.YYYY-MM.reversed.domain[:name] (lower case letters, digits, '.', ':', '-'; at most 223 bytes) or eui. and 16 hex digits"
}

# sr_portal NAME HOST PORT: HOST an IPv4 address or a host name, PORT 1 to 65535. Leaves
# the port, without leading zeros, in SR_NUM.
sr_portal() {
	case "$2" in
	'' | *[!a-zA-Z0-9.-]* | [.-]*)
		sr_fail "$1: '$2' is not an IPv4 address or host name of a portal"
		;;
	esac
	if ! sr_digits "$3" || [ "$SR_NUM" -lt 1 ] || [ "$SR_NUM" -gt 65535 ]; then
		sr_fail "$1: port '$3' of portal $2 is not a number from 1 to 65535"
	fi
}

# sr_netroot_iscsi VALUE: dracut's netroot=iscsi:[SERVER]:[PROTOCOL]:[PORT]:[LUN]:TARGET
# (the value after "netroot="). Sets SR_ISCSI_HOST, SR_ISCSI_PORT (default 3260),
# SR_ISCSI_LUN (default 0) and SR_ISCSI_TARGET, or fails naming the value. The TARGET keeps
# its own colons (iqn.2026-12.lab:root). Credentials in the value (user:pass@) are refused:
# they would be readable from /proc/cmdline by every user.
sr_netroot_iscsi() {
	sr_nr=$1
	sr_v=${1#iscsi:}
	case "$sr_v" in
	*@*) sr_fail "netroot=$sr_nr: credentials on the command line are refused (every user can read it); use CHAP from the image" ;;
	esac
	SR_ISCSI_HOST=${sr_v%%:*}
	sr_v=${sr_v#*:}
	sr_proto=${sr_v%%:*}
	sr_v=${sr_v#*:}
	SR_ISCSI_PORT=${sr_v%%:*}
	sr_v=${sr_v#*:}
	SR_ISCSI_LUN=${sr_v%%:*}
	SR_ISCSI_TARGET=${sr_v#*:}
	# Fewer than five fields: the last split found no colon and left the field itself.
	if [ "$SR_ISCSI_TARGET" = "$sr_v" ] && [ "$SR_ISCSI_LUN" = "$sr_v" ]; then
		sr_fail "netroot=$sr_nr: expected netroot=iscsi:[SERVER]:[PROTOCOL]:[PORT]:[LUN]:TARGET"
	fi
	[ -n "$SR_ISCSI_HOST" ] || sr_fail "netroot=$sr_nr: no SERVER (the portal's address)"
	case "$sr_proto" in
	'' | 6) ;;
	*) sr_fail "netroot=$sr_nr: protocol '$sr_proto' is not 6 (TCP), the only one" ;;
	esac
	[ -n "$SR_ISCSI_PORT" ] || SR_ISCSI_PORT=3260
	sr_portal "netroot=$sr_nr" "$SR_ISCSI_HOST" "$SR_ISCSI_PORT"
	SR_ISCSI_PORT=$SR_NUM
	[ -n "$SR_ISCSI_LUN" ] || SR_ISCSI_LUN=0
	if ! sr_digits "$SR_ISCSI_LUN" || [ "$SR_NUM" -gt 16383 ]; then
		sr_fail "netroot=$sr_nr: LUN '$SR_ISCSI_LUN' is not a number from 0 to 16383"
	fi
	SR_ISCSI_LUN=$SR_NUM
	sr_iqn "netroot=$sr_nr: target" "$SR_ISCSI_TARGET"
}
