# shellcheck shell=sh
# srbuild boot runtime: mounting with retries (the root hooks use it). Sourced by /init.

# sr_mount_retry WHAT CMD...: run a mount command until it works. Errors that retrying
# cannot fix fail at once; others (server not up yet) are retried with backoff until
# srbuild.mount_timeout seconds (default 180) have passed.
sr_mount_retry() {
	sr_what=$1
	shift
	read -r sr_up _ </proc/uptime
	sr_deadline=$((${sr_up%.*} + SR_MOUNT_TIMEOUT))
	sr_delay=1
	sr_try=1
	sr_final=0
	while :; do
		if sr_out=$("$@" 2>&1); then
			[ "$sr_try" -gt 1 ] && sr_log "mounted $sr_what after $sr_try attempts"
			return 0
		fi
		sr_out=$(printf '%s\n' "$sr_out" | tr '\n' ' ')
		# A server still starting can briefly deny an export it is about to serve, so an
		# answer that looks final is believed only after it repeats for about 15 s.
		case "$sr_out" in
		*"No such file or directory"* | *"ermission denied"* | *"access denied"* | *"wrong fs type"* | *"bad option"* | *"Invalid argument"* | *"unknown filesystem"* | *"authorization failure"*)
			sr_final=$((sr_final + 1))
			[ "$sr_final" -ge 5 ] && sr_fail "cannot mount $sr_what: $sr_out"
			;;
		esac
		if [ "$(sr_secs)" -ge "$sr_deadline" ]; then
			sr_fail "cannot mount $sr_what: gave up after $sr_try attempts in ${SR_MOUNT_TIMEOUT} s: $sr_out"
		fi
		sr_log "mount $sr_what failed (attempt $sr_try: $sr_out); retrying in ${sr_delay} s"
		sleep "$sr_delay"
		sr_try=$((sr_try + 1))
		[ "$sr_delay" -lt 5 ] && sr_delay=$((sr_delay * 2))
		[ "$sr_delay" -gt 5 ] && sr_delay=5
	done
}
