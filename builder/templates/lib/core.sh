# shellcheck shell=sh
# srbuild boot runtime: logging, failure, stages and hooks. Sourced by /init (from
# usr/lib/srbuild/lib/core.sh); every other library file and every hook may use these.
# Values from the command line are printed with printf, never echo: echo would take a
# value such as -n as its own option.

sr_uptime() {
	read -r sr_up _ </proc/uptime
	printf '%s\n' "$sr_up"
}
sr_secs() {
	read -r sr_up _ </proc/uptime
	printf '%s\n' "${sr_up%.*}"
}
sr_log() { printf 'srbuild: %s\n' "$*"; }
# sr_mark NAME: a point inside a stage, for the lab's timeline (quorum, say).
# The uptime is read by the shell itself, never in a $(...) subshell: a fork costs
# milliseconds under emulation, and every stage and mark takes one.
sr_mark() {
	read -r sr_up _ </proc/uptime
	printf 'srbuild: mark=%s t=%s\n' "$1" "$sr_up"
}

sr_shell() {
	if [ -x /bin/setsid ] || [ -x /usr/bin/setsid ]; then
		setsid cttyhack sh -l 2>/dev/null || sh -l
	else
		sh -l
	fi
}

sr_rescue() {
	if [ "$SR_SHELL" = 0 ]; then
		sr_log "rd.shell=0: rebooting in 5 s"
		sleep 5
		reboot -f
	fi
	sr_log "rescue shell (stage=$SR_STAGE); exit it to reboot"
	sr_shell
	reboot -f
}

# sr_fail WHY: the one way a stage gives up.
sr_fail() {
	printf 'srbuild: FAILED stage=%s: %s\n' "$SR_STAGE" "$*"
	sr_rescue
}

sr_break() {
	case " $SR_BREAK " in
	*" $1 "*)
		sr_log "rd.break: shell before stage=$1; exit it to continue"
		sr_shell
		;;
	esac
}

sr_stage() {
	SR_STAGE=$1
	sr_break "$1"
	read -r sr_up _ </proc/uptime
	printf 'srbuild: stage=%s t=%s\n' "$1" "$sr_up"
}

# sr_hooks STAGE: sources the stage's hooks in the order of their file names, which start
# with the priority the module gave them (NN-MODULE.sh).
sr_hooks() {
	for sr_hook in /usr/lib/srbuild/hooks/"$1"/*.sh; do
		[ -f "$sr_hook" ] || continue
		# shellcheck source=/dev/null # hooks are the profile's, rendered at build time
		. "$sr_hook" || sr_fail "hook ${sr_hook##*/} returned an error"
	done
}

sr_is_mounted() {
	while read -r _ sr_mp _; do
		[ "$sr_mp" = "$1" ] && return 0
	done </proc/mounts
	return 1
}

# sr_names DIR: the names in DIR on one line, for a message (block devices, say).
sr_names() {
	sr_ns=""
	for sr_e in "$1"/*; do
		if [ -e "$sr_e" ] || [ -L "$sr_e" ]; then sr_ns="$sr_ns${sr_e##*/} "; fi
	done
	printf '%s\n' "$sr_ns"
}

# sr_digits VALUE: the one check of a number from the command line. VALUE must be
# decimal digits only, at most 12 once leading zeros are stripped (the shell would read
# 08 as bad octal, and a longer number could wrap around). Leaves it in SR_NUM without
# leading zeros ("0" for zero); returns 1, with SR_NUM empty, for anything else.
sr_digits() {
	SR_NUM=""
	case "$1" in
	'' | *[!0-9]*) return 1 ;;
	esac
	SR_NUM=${1#"${1%%[!0]*}"}
	[ -n "$SR_NUM" ] || SR_NUM=0
	[ "${#SR_NUM}" -le 12 ] && return 0
	SR_NUM=""
	return 1
}

# sr_number NAME VALUE: sr_digits, or the stage fails naming NAME=VALUE: never an
# arithmetic error of the shell, which would end PID 1.
sr_number() {
	sr_digits "$2" ||
		sr_fail "$1=$2 is not a number of at most 12 digits (such as $1=30)"
}
