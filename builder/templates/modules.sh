# srbuild: kernel module coldplug, sourced by /init at the modules stage
# (usr/lib/srbuild/modules.sh; the unit tests run these functions against a fake sysfs).
#
# etc/srbuild/modules.match, written at build time (builder/src/resolve/modmatch.rs), is
# shell: sr_mod_NAME is "CLASS PATH NEED..." for each module the image carries,
# SR_MODULES_ORDER their names in load order, SR_MODULES_ALWAYS those of class always,
# and sr_modules_match MODALIAS has the device aliases of the
# drivers as case patterns (modules.alias patterns are fnmatch patterns, as case's are).
# Choosing thus runs no program (two awk runs took 0.10 to 0.19 s under TCG).
#   CLASS  driver: a device driver, loaded only when a device's modalias matches one of
#                  its aliases (modules.alias);
#          always: named by the profile, loaded on every boot (unless a cmdline hook
#                  puts it in SR_MODULES_SKIP: the nfs module skips the other NFS version);
#          dep:    loaded only when a module that needs it is loaded.
#   NEED   every module it needs (modules.dep and softdeps, the whole closure).
# etc/srbuild/modules.load has the same lines for programs ("NAME CLASS PATH NEEDS",
# NEEDS comma separated or "-").
# rd.driver.pre=NAME[,NAME...] loads modules first, whatever their class;
# rd.driver.blacklist=NAME[,NAME...] (and modprobe.blacklist=) never loads them, nor
# anything that needs them.

# sr_modules_devices SYSFS BUSES: SR_MODULES_DEVICES, one per line, the modalias files
# of the devices on the buses the image has drivers for (BUSES, etc/srbuild/modules.buses:
# one bus name or pattern a line, as in the drivers' aliases, such as pci and virtio):
# SYSFS/bus/BUS/devices/*, links into SYSFS/devices, and for cpu, input and dmi the
# devices that are on no bus. Globs in this shell, no command: walking all of
# SYSFS/devices with find took 0.23 s under TCG, reading every bus 0.05 s.
sr_modules_devices() {
	sr_sys=$1
	sr_buses=$2
	set --
	while read -r sr_bus; do
		case "$sr_bus" in
		'' | */* | .*) continue ;;
		cpu) set -- "$@" "$sr_sys/devices/system/cpu/modalias" ;;
		input) set -- "$@" "$sr_sys"/class/input/*/modalias ;;
		dmi) set -- "$@" "$sr_sys/class/dmi/id/modalias" ;;
		esac
		# The name may be a pattern (acpi*): unquoted, it globs.
		# shellcheck disable=SC2086 # that glob is wanted; bus names have no spaces
		set -- "$@" "$sr_sys"/bus/$sr_bus/devices/*/modalias
	done <"$sr_buses"
	sr_ifs=$IFS
	IFS='
'
	SR_MODULES_DEVICES="$*"
	IFS=$sr_ifs
}

# sr_modules_names LIST: SR_MODULES_NAMES, the module names of LIST (separated by spaces
# or commas; "-" and "_" are the same) as " a b c ", each once, in order. No globbing.
sr_modules_names() {
	SR_MODULES_NAMES=" "
	sr_l=$1,
	while [ -n "$sr_l" ]; do
		sr_n=${sr_l%%[, 	]*}
		sr_l=${sr_l#*[, 	]}
		[ -n "$sr_n" ] || continue
		while :; do
			case "$sr_n" in
			*-*) sr_n=${sr_n%%-*}_${sr_n#*-} ;;
			*) break ;;
			esac
		done
		case "$SR_MODULES_NAMES" in
		*" $sr_n "*) ;;
		*) SR_MODULES_NAMES="$SR_MODULES_NAMES$sr_n " ;;
		esac
	done
}

# sr_modules_want NAME: called by sr_modules_match (etc/srbuild/modules.match) for a
# driver a device asks for; SR_MODULES_WANT collects them.
sr_modules_want() {
	case "$SR_MODULES_WANT" in
	*" $1 "*) ;;
	*) SR_MODULES_WANT="$SR_MODULES_WANT$1 " ;;
	esac
}

# sr_modules_line NAME: sr_class, sr_path and sr_needs (space separated) of NAME's
# variable sr_mod_NAME; fails when the image does not carry NAME (or NAME is no module
# name: it may come from the command line, and only a name of letters, digits and _
# reaches eval).
sr_modules_line() {
	case "$1" in '' | *[!A-Za-z0-9_]*) return 1 ;; esac
	eval "sr_r=\${sr_mod_$1-}"
	[ -n "$sr_r" ] || return 1
	sr_class=${sr_r%% *}
	sr_r=${sr_r#* }
	sr_path=${sr_r%% *}
	sr_needs=""
	case "$sr_r" in *" "*) sr_needs=${sr_r#* } ;; esac
}

# sr_modules_emit NAME: adds NAME's plan line (load or skip) unless it has one already or
# an earlier round loaded or refused it.
sr_modules_emit() {
	case "$sr_done$sr_out" in *" $1 "*) return 0 ;; esac
	sr_out="$sr_out$1 "
	sr_modules_line "$1" || return 0
	sr_why=""
	case "$sr_black" in *" $1 "*) sr_why="blacklisted (rd.driver.blacklist)" ;; esac
	if [ -z "$sr_why" ]; then
		# shellcheck disable=SC2086 # module names, from the build, split on spaces
		for sr_n in $sr_needs; do
			case "$sr_black" in
			*" $sr_n "*)
				sr_why="it needs $sr_n, which is blacklisted (rd.driver.blacklist)"
				break
				;;
			esac
		done
	fi
	if [ -n "$sr_why" ]; then
		SR_MODULES_PLAN="${SR_MODULES_PLAN}skip $1 $sr_why
"
	else
		SR_MODULES_PLAN="${SR_MODULES_PLAN}load $1 $sr_path $sr_class
"
	fi
}

# sr_modules_emit_selected: the plan lines of the modules in sr_sel, in load order.
sr_modules_emit_selected() {
	# shellcheck disable=SC2086 # module names, from the build, split on spaces
	for sr_o in $SR_MODULES_ORDER; do
		case "$sr_sel" in *" $sr_o "*) sr_modules_emit "$sr_o" ;; esac
	done
}

# sr_modules_select: SR_MODULES_PLAN, what to load now, in load order, from the table of
# etc/srbuild/modules.match (sourced before: sr_mod_NAME, SR_MODULES_ORDER,
# SR_MODULES_ALWAYS and sr_modules_match, the drivers' device aliases as case patterns)
# and the modalias files of SR_MODULES_DEVICES (one per line; a pattern that matched
# nothing reads nothing). The shell alone: no command runs. One line per module:
#   load NAME PATH CLASS    load it (PATH relative to /lib/modules/KVER)
#   skip NAME WHY...        never load it this boot, and say why
# rd.driver.pre (SR_DRIVER_PRE) first, then the matched drivers, then a line "rest", then
# the always-class modules; each module after what it needs. SR_DRIVER_BLACKLIST,
# SR_MODULES_SKIP (always-class modules this boot does not need) and SR_MODULES_DONE
# (loaded or refused in an earlier round, left out) are lists of names separated by
# spaces or commas.
sr_modules_select() {
	sr_modules_names "${SR_DRIVER_PRE-}"
	sr_pre=$SR_MODULES_NAMES
	sr_modules_names "${SR_DRIVER_BLACKLIST-}"
	sr_black=$SR_MODULES_NAMES
	sr_modules_names "${SR_MODULES_SKIP-}"
	sr_skip=$SR_MODULES_NAMES
	sr_modules_names "${SR_MODULES_DONE-}"
	sr_done=$SR_MODULES_NAMES
	# The drivers the devices ask for.
	SR_MODULES_WANT=" "
	# Each distinct value once (a server's identical functions ask for the same drivers):
	# sr_mas holds those matched, one per line.
	sr_mas="
"
	sr_d="${SR_MODULES_DEVICES-}
"
	while [ -n "$sr_d" ]; do
		sr_f=${sr_d%%"
"*}
		sr_d=${sr_d#*"
"}
		[ -n "$sr_f" ] || continue
		if { read -r sr_ma <"$sr_f"; } 2>/dev/null; then
			case "$sr_mas" in *"
$sr_ma
"*) continue ;;
			esac
			sr_mas="$sr_mas$sr_ma
"
			sr_modules_match "$sr_ma"
		fi
	done
	SR_MODULES_PLAN=""
	sr_sel=" "
	sr_out=" "
	# rd.driver.pre first, in the order given, each after what it needs.
	sr_p=${sr_pre# }
	while [ -n "$sr_p" ]; do
		sr_m=${sr_p%% *}
		sr_p=${sr_p#* }
		if ! sr_modules_line "$sr_m"; then
			case "$sr_done$sr_out" in
			*" $sr_m "*) ;;
			*)
				sr_out="$sr_out$sr_m "
				SR_MODULES_PLAN="${SR_MODULES_PLAN}skip $sr_m rd.driver.pre names it, but this image does not carry it
"
				;;
			esac
			continue
		fi
		sr_part=" $sr_needs $sr_m "
		sr_sel="$sr_sel$sr_m $sr_needs "
		# shellcheck disable=SC2086 # module names, from the build, split on spaces
		for sr_o in $SR_MODULES_ORDER; do
			case "$sr_part" in *" $sr_o "*) sr_modules_emit "$sr_o" ;; esac
		done
	done
	# The matched drivers, then the rest: the always-class modules.
	# shellcheck disable=SC2086 # module names, from the build, split on spaces
	for sr_o in $SR_MODULES_WANT; do
		sr_modules_line "$sr_o" && sr_sel="$sr_sel$sr_o $sr_needs "
	done
	sr_modules_emit_selected
	SR_MODULES_PLAN="${SR_MODULES_PLAN}rest
"
	# shellcheck disable=SC2086 # module names, from the build, split on spaces
	for sr_o in $SR_MODULES_ALWAYS; do
		case "$sr_skip" in *" $sr_o "*) continue ;; esac
		sr_modules_line "$sr_o" && sr_sel="$sr_sel$sr_o $sr_needs "
	done
	sr_modules_emit_selected
}

# sr_cs: SR_CS, the uptime in hundredths of a second.
sr_cs() {
	read -r sr_up _ </proc/uptime
	sr_c=${sr_up%.*}${sr_up#*.}
	sr_c=${sr_c#"${sr_c%%[!0]*}"}
	SR_CS=${sr_c:-0}
}

# sr_modules_links_up SYSFS: sets every network interface but lo that is down up, so the
# kernel's link watch (at most once a second) reports it up while the rest of the modules
# load; the network stage then finds it up instead of waiting. Only when
# SR_MODULES_LINKS_UP is set (the network module's cmdline hook sets it).
sr_modules_links_up() {
	for sr_if in "$1"/class/net/*; do
		[ "${sr_if##*/}" = lo ] && continue
		read -r sr_o 2>/dev/null <"$sr_if/operstate" || continue
		[ "$sr_o" = down ] && ip link set "${sr_if##*/}" up 2>/dev/null
	done
	return 0
}

# sr_modules_coldplug SYSFS MODDIR TABLE BUSES: loads what sr_modules_select picks (TABLE:
# etc/srbuild/modules.match, sourced here), with one insmod per module. Drivers come
# first: when they brought new devices (a bus driver such as virtio_pci makes the virtio
# NIC and disk), the rest waits for a new scan; once the devices stay the same, the rest
# of the same list loads. The NIC is thus probed early, and its link comes up while the
# filesystems load. Sets SR_MODULES_LOADED (the modules loaded, in order),
# SR_MODULES_ROUNDS (selections made) and SR_MODULES_SCAN (the seconds spent choosing,
# as 0.12).
sr_modules_coldplug() {
	SR_MODULES_DONE=${SR_MODULES_DONE-}
	SR_MODULES_LOADED=${SR_MODULES_LOADED-}
	SR_MODULES_ROUNDS=0
	sr_tmp=${TMPDIR:-/tmp}
	sr_cs
	sr_t0=$SR_CS
	# shellcheck source=/dev/null # etc/srbuild/modules.match, generated at build time
	. "$3"
	sr_modules_devices "$1" "$4"
	sr_seen=$SR_MODULES_DEVICES
	sr_scan=0
	while [ "$SR_MODULES_ROUNDS" -lt 8 ]; do
		SR_MODULES_ROUNDS=$((SR_MODULES_ROUNDS + 1))
		sr_modules_select
		sr_cs
		sr_scan=$((sr_scan + SR_CS - sr_t0))
		sr_drivers=0
		sr_rest=0
		sr_new=0
		sr_plan=$SR_MODULES_PLAN
		while [ -n "$sr_plan" ]; do
			sr_line=${sr_plan%%"
"*}
			sr_plan=${sr_plan#*"
"}
			sr_what=${sr_line%% *}
			sr_line=${sr_line#* }
			sr_name=${sr_line%% *}
			sr_line=${sr_line#* }
			case "$sr_what" in
			rest)
				# Did the drivers just loaded bring devices? Then scan before the rest.
				if [ "$sr_drivers" = 1 ]; then
					sr_cs
					sr_t0=$SR_CS
					sr_modules_devices "$1" "$4"
					sr_cs
					sr_scan=$((sr_scan + SR_CS - sr_t0))
					if [ "$SR_MODULES_DEVICES" != "$sr_seen" ]; then
						sr_new=1
						break
					fi
					[ -z "${SR_MODULES_LINKS_UP-}" ] || sr_modules_links_up "$1"
				fi
				sr_rest=1
				continue
				;;
			skip)
				SR_MODULES_DONE="$SR_MODULES_DONE $sr_name"
				sr_log "kernel module $sr_name not loaded: $sr_line"
				continue
				;;
			load) SR_MODULES_DONE="$SR_MODULES_DONE $sr_name" ;;
			*) continue ;;
			esac
			if [ -d "$1/module/$sr_name" ]; then
				continue
			fi
			if insmod "$2/${sr_line% *}" 2>"$sr_tmp/insmod.err"; then
				SR_MODULES_LOADED="$SR_MODULES_LOADED $sr_name"
				if [ "$sr_rest" = 0 ]; then
					sr_drivers=1
				fi
			else
				sr_log "warning: kernel module $sr_name did not load: $(cat "$sr_tmp/insmod.err")"
			fi
		done
		sr_cs
		sr_t0=$SR_CS
		if [ "$sr_new" = 0 ]; then
			# The whole list is loaded: done, unless that brought devices.
			sr_modules_devices "$1" "$4"
			if [ "$SR_MODULES_DEVICES" = "$sr_seen" ]; then
				break
			fi
		fi
		sr_seen=$SR_MODULES_DEVICES
	done
	sr_cs
	sr_scan=$((sr_scan + SR_CS - sr_t0))
	rm -f "$sr_tmp/insmod.err"
	[ "$sr_scan" -ge 0 ] || sr_scan=0
	sr_c=$((sr_scan % 100))
	[ "$sr_c" -ge 10 ] || sr_c=0$sr_c
	# shellcheck disable=SC2034 # a result for the caller (/init logs it)
	SR_MODULES_SCAN=$((sr_scan / 100)).$sr_c
}
