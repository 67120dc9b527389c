#!/bin/sh
# shellcheck shell=sh
# fence_srbuild_ipmi: srbuild's fence agent for IPMI over LAN (RMCP+, ipmitool -I lanplus).
# It speaks the fence-agents standard-input protocol: one key=value per line, as
# dlm_controld sends the arguments of dlm.conf's `device` and `connect` lines, plus node=
# and fail_time=. Keys:
#   ip=IPV4  ipport=PORT (623)  username=USER  password_file=/ABS/PATH  cipher=1..17 (3)
#   action=off (the default: a fence) | on (unfence) | reboot | status | monitor
#          | validate-all | metadata
#   node=ID fail_time=SECONDS (from dlm_controld, for the log line)
# Every value is checked against its character set before use; anything else ends the
# agent with exit 1. The password is read by ipmitool from its file (-f): it is never on a
# command line. off: `chassis power off`, then `chassis power status` until it reads off
# (at most SR_FENCE_WAIT seconds, 10); exit 0 only then. status: exit 0 on, 2 off, 1 error.
# Every on/off/reboot attempt writes one line to /dev/kmsg, so it reaches the console:
#   srbuild fence: node 2 (10.77.0.202:623): powered off
#   srbuild fence: node 2 (10.77.0.202:623): failed: <ipmitool's reason, at most 200 bytes>
# SR_FENCE_KMSG names another file for that line (tests on a build host).
PATH=/usr/sbin:/usr/bin:/sbin:/bin
LC_ALL=C
export PATH LC_ALL
umask 077

fa_kmsg=${SR_FENCE_KMSG:-/dev/kmsg}
fa_action=off
fa_ip=''
fa_port=623
fa_user=''
fa_pwfile=''
fa_cipher=3
fa_node='?'

# fa_clean TEXT: TEXT on one line of printable ASCII, at most 200 bytes.
fa_clean() {
	printf '%s' "$1" | tr '\n\r\t' '   ' | tr -cd ' -~' | tr -s ' ' | cut -c 1-200
}

# fa_log MESSAGE: one line to the kernel log (level err: shown on the console) and stderr.
fa_log() {
	fa_line="srbuild fence: node $fa_node ($fa_ip:$fa_port): $1"
	printf '%s\n' "$fa_line" >&2
	{ printf '<3>%s\n' "$fa_line" >>"$fa_kmsg"; } 2>/dev/null
	return 0
}

# fa_refuse KEY VALUE WHY: bad input; the value is shown cleaned and cut.
fa_refuse() {
	fa_v=$(fa_clean "$2" | cut -c 1-60)
	printf 'srbuild fence: refused %s="%s": %s\n' "$1" "$fa_v" "$3" >&2
	{ printf '<3>srbuild fence: refused %s="%s": %s\n' "$1" "$fa_v" "$3" >>"$fa_kmsg"; } 2>/dev/null
	exit 1
}

# fa_number VALUE MIN MAX: decimal digits (at most 5, no leading zero: ipmitool reads 0623
# as octal) within MIN..MAX.
fa_number() {
	case "$1" in '' | *[!0-9]* | 0?*) return 1 ;; esac
	[ "${#1}" -le 5 ] && [ "$1" -ge "$2" ] && [ "$1" -le "$3" ]
}

# fa_ipv4 VALUE: four dot-separated numbers 0..255, without leading zeros.
fa_ipv4() {
	case "$1" in '' | *[!0-9.]* | .* | *. | *..*) return 1 ;; esac
	fa_rest=$1 fa_n=0
	while [ -n "$fa_rest" ]; do
		fa_part=${fa_rest%%.*}
		case "$fa_rest" in *.*) fa_rest=${fa_rest#*.} ;; *) fa_rest= ;; esac
		fa_n=$((fa_n + 1))
		case "$fa_part" in 0?*) return 1 ;; esac # no leading zero (read as octal by some)
		fa_number "$fa_part" 0 255 && [ "${#fa_part}" -le 3 ] || return 1
	done
	[ "$fa_n" -eq 4 ]
}

fa_lines=0
while IFS= read -r fa_l || [ -n "$fa_l" ]; do
	fa_lines=$((fa_lines + 1))
	[ "$fa_lines" -le 64 ] || fa_refuse input "" "more than 64 lines"
	case "$fa_l" in '' | '#'*) continue ;; esac
	fa_key=${fa_l%%=*}
	fa_val=${fa_l#*=}
	case "$fa_l" in *=*) ;; *) fa_refuse line "$fa_l" "not key=value" ;; esac
	case "$fa_key" in '' | *[!a-z_]*) fa_refuse key "$fa_key" "a key is lowercase letters and _" ;; esac
	case "$fa_key" in
	action | option)
		case "$fa_val" in
		off | on | reboot | status | monitor | validate-all | metadata) fa_action=$fa_val ;;
		*) fa_refuse action "$fa_val" "use off, on, reboot, status, monitor, validate-all or metadata" ;;
		esac
		;;
	ip | ipaddr)
		fa_ipv4 "$fa_val" || fa_refuse ip "$fa_val" "an IPv4 address"
		fa_ip=$fa_val
		;;
	ipport)
		fa_number "$fa_val" 1 65535 || fa_refuse ipport "$fa_val" "a port 1..65535"
		fa_port=$fa_val
		;;
	username | login)
		case "$fa_val" in '' | *[!A-Za-z0-9._-]*) fa_refuse username "$fa_val" "1-16 of A-Z a-z 0-9 . _ -" ;; esac
		[ "${#fa_val}" -le 16 ] || fa_refuse username "$fa_val" "at most 16 characters"
		fa_user=$fa_val
		;;
	password_file)
		case "$fa_val" in
		/*) ;;
		*) fa_refuse password_file "$fa_val" "an absolute path" ;;
		esac
		case "$fa_val" in
		*[!A-Za-z0-9._/-]* | *..* | *//*) fa_refuse password_file "$fa_val" "a path of A-Z a-z 0-9 . _ - /, without .." ;;
		esac
		[ "${#fa_val}" -le 255 ] || fa_refuse password_file "$fa_val" "at most 255 characters"
		# Only a secret file: a regular file, not a link, owned by root and readable by
		# root alone (never, say, /etc/shadow handed to a BMC as a key).
		if [ -L "$fa_val" ] || [ ! -f "$fa_val" ]; then
			fa_refuse password_file "$fa_val" "not a regular file"
		fi
		fa_ls=$(ls -ln "$fa_val" 2>/dev/null)
		case "$fa_ls" in -???------" "*) ;; *) fa_refuse password_file "$fa_val" "readable by others: mode 0600 or 0400" ;; esac
		set -f
		# shellcheck disable=SC2086 # the fields of ls's line, split on purpose
		set -- $fa_ls
		set +f
		[ "$3" = 0 ] || fa_refuse password_file "$fa_val" "not owned by root"
		fa_pwfile=$fa_val
		;;
	password | passwd)
		fa_refuse "$fa_key" "(not shown)" "give password_file=FILE: a password is never put on a command line"
		;;
	cipher)
		fa_number "$fa_val" 1 17 || fa_refuse cipher "$fa_val" "an RMCP+ cipher suite 1..17 (0 has no authentication)"
		fa_cipher=$fa_val
		;;
	node | nodeid)
		fa_number "$fa_val" 1 99999 || fa_refuse node "$fa_val" "a node id"
		fa_node=$fa_val
		;;
	fail_time)
		case "$fa_val" in '' | *[!0-9]*) fa_refuse fail_time "$fa_val" "seconds since the epoch" ;; esac
		[ "${#fa_val}" -le 20 ] || fa_refuse fail_time "$fa_val" "seconds since the epoch"
		;;
	lanplus)
		case "$fa_val" in 1 | on | yes | true) ;; *) fa_refuse lanplus "$fa_val" "this agent speaks lanplus only" ;; esac
		;;
	*) ;; # another agent's key: not used, so not a risk
	esac
done

if [ "$fa_action" = metadata ]; then
	cat <<'FA_EOF'
<?xml version="1.0" ?>
<resource-agent name="fence_srbuild_ipmi" shortdesc="Fence agent for IPMI over LAN (srbuild)">
<parameters>
	<parameter name="action" unique="0" required="0"><content type="string" default="off"/></parameter>
	<parameter name="ip" unique="0" required="1"><content type="string"/></parameter>
	<parameter name="ipport" unique="0" required="0"><content type="integer" default="623"/></parameter>
	<parameter name="username" unique="0" required="1"><content type="string"/></parameter>
	<parameter name="password_file" unique="0" required="1"><content type="string"/></parameter>
	<parameter name="cipher" unique="0" required="0"><content type="integer" default="3"/></parameter>
</parameters>
<actions>
	<action name="on"/><action name="off"/><action name="reboot"/><action name="status"/>
	<action name="monitor"/><action name="metadata"/><action name="validate-all"/>
</actions>
</resource-agent>
FA_EOF
	exit 0
fi

[ -n "$fa_ip" ] || fa_refuse ip "" "missing: give ip=ADDRESS"
[ -n "$fa_user" ] || fa_refuse username "" "missing: give username=USER"
[ -n "$fa_pwfile" ] || fa_refuse password_file "" "missing: give password_file=FILE"
if [ ! -f "$fa_pwfile" ] || [ ! -r "$fa_pwfile" ]; then
	fa_log "failed: cannot read the password file $fa_pwfile"
	exit 1
fi
[ "$fa_action" = validate-all ] && exit 0

# fa_ipmi ARGS...: ipmitool against the device; its output (both streams) in fa_out.
fa_ipmi() {
	fa_out=$(ipmitool -I lanplus -C "$fa_cipher" -H "$fa_ip" -p "$fa_port" -U "$fa_user" \
		-f "$fa_pwfile" -R 1 -N 2 "$@" 2>&1)
}

# fa_status: fa_power is on or off; returns 1 (fa_out holds why) when the BMC did not say.
fa_status() {
	fa_power=
	fa_ipmi chassis power status || return 1
	case "$fa_out" in
	*"Chassis Power is on"*) fa_power=on ;;
	*"Chassis Power is off"*) fa_power=off ;;
	*) return 1 ;;
	esac
}

fa_secs() {
	fa_up=0
	read -r fa_up _ </proc/uptime 2>/dev/null
	printf '%s\n' "${fa_up%.*}"
}

# fa_set STATE: power STATE (on or off), then wait until the BMC reads it back.
fa_set() {
	if fa_status && [ "$fa_power" = "$1" ]; then
		fa_log "powered $1 (it was already)"
		return 0
	fi
	if ! fa_ipmi chassis power "$1"; then
		fa_log "failed: $(fa_clean "$fa_out")"
		return 1
	fi
	fa_deadline=$(($(fa_secs) + ${SR_FENCE_WAIT:-10}))
	fa_polls=0
	while :; do
		fa_polls=$((fa_polls + 1))
		if fa_status && [ "$fa_power" = "$1" ]; then
			fa_log "powered $1"
			return 0
		fi
		# Bounded by the clock, and by the number of polls should /proc/uptime be unreadable.
		if [ "$(fa_secs)" -ge "$fa_deadline" ] || [ "$fa_polls" -gt "${SR_FENCE_WAIT:-10}" ]; then
			fa_log "failed: still not $1 after ${SR_FENCE_WAIT:-10} s: $(fa_clean "$fa_out")"
			return 1
		fi
		sleep 1
	done
}

case "$fa_action" in
off) fa_set off ;;
on) fa_set on ;;
reboot)
	# As fence_ipmilan: the node is fenced once it is off; a failed power-on is reported,
	# not a failed fence.
	fa_set off || exit 1
	fa_set on || true
	;;
status | monitor)
	if ! fa_status; then
		printf 'srbuild fence: %s:%s: status failed: %s\n' "$fa_ip" "$fa_port" "$(fa_clean "$fa_out")" >&2
		exit 1
	fi
	printf 'Status: %s\n' "$fa_power"
	[ "$fa_action" = monitor ] && exit 0
	[ "$fa_power" = on ] && exit 0
	exit 2
	;;
esac
