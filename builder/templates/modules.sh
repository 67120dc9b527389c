# srbuild: kernel module coldplug, sourced by /init at the modules stage
# (usr/lib/srbuild/modules.sh; the unit tests run these functions against a fake sysfs).
#
# etc/srbuild/modules.load, written at build time, has one line per module the image
# carries, in load order: "NAME CLASS PATH NEEDS".
#   CLASS  driver: a device driver, loaded only when a device's modalias matches one of
#                  its aliases (modules.alias);
#          always: named by the profile, loaded on every boot (unless a cmdline hook
#                  puts it in SR_MODULES_SKIP: the nfs module skips the other NFS version);
#          dep:    loaded only when a module that needs it is loaded.
#   NEEDS  every module it needs (modules.dep and softdeps, the whole closure), comma
#          separated, or "-".
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

# sr_modules_select LOADLIST ALIASES: what to load now, in load order. One awk pass reads
# the lists and the modalias files of SR_MODULES_DEVICES (a pattern that matched nothing
# reads nothing): no command per device, module or alias. Prints one line per module:
#   load NAME PATH CLASS    load it (PATH relative to /lib/modules/KVER)
#   skip NAME WHY...        never load it this boot, and say why
# rd.driver.pre (SR_DRIVER_PRE) first, then the matched drivers, then a line "rest", then
# the always-class modules; each module after what it needs. SR_DRIVER_BLACKLIST,
# SR_MODULES_SKIP (always-class modules this boot does not need) and SR_MODULES_DONE
# (loaded or refused in an earlier round, left out) are lists of names separated by
# spaces or commas.
sr_modules_select() {
	printf '%s\n' "${SR_MODULES_DEVICES-}" |
		awk -v pre="${SR_DRIVER_PRE-}" -v black="${SR_DRIVER_BLACKLIST-}" \
			-v skip="${SR_MODULES_SKIP-}" -v done="${SR_MODULES_DONE-}" '
# A set (and, for pre, an ordered list) of module names: "-" and "_" are the same.
function names(s, set, list,   n, a, i) {
	gsub(/[ ,]+/, " ", s)
	n = split(s, a, " ")
	for (i = 1; i <= n; i++) {
		gsub(/-/, "_", a[i])
		if (!(a[i] in set)) list[++list[0]] = a[i]
		set[a[i]] = 1
	}
}
# A modules.alias pattern (fnmatch: * ? [...] [!...]) as an anchored regular expression.
function glob2re(p,   re, c, i, n, inb) {
	re = "^"
	n = length(p)
	inb = 0
	for (i = 1; i <= n; i++) {
		c = substr(p, i, 1)
		if (inb) {
			re = re c
			if (c == "]" && substr(p, i - 1, 1) != "[" && substr(p, i - 2, 2) != "[!") inb = 0
		} else if (c == "*") re = re ".*"
		else if (c == "?") re = re "."
		else if (c == "[") {
			inb = 1
			re = re "["
			if (substr(p, i + 1, 1) == "!") { re = re "^"; i++ }
		} else if (index("\\^$.|+(){}", c)) re = re "\\" c
		else re = re c
	}
	return re "$"
}
BEGIN {
	names(pre, ispre, prelist)
	names(black, isblack, blacklist)
	names(skip, isskip, skiplist)
	names(done, isdone, donelist)
}
# etc/srbuild/modules.load
FILENAME == ARGV[1] && NF >= 3 {
	order[++nmod] = $1
	class[$1] = $2
	path[$1] = $3
	need[$1] = ($4 == "-" ? "" : $4)
	next
}
# modules.alias: only the device aliases of drivers. Each is filed under its literal
# prefix (up to the first wildcard) cut to 22 or 14 characters (a PCI vendor and device:
# "pci:v00008086d000010D3", or vendor: "pci:v00008086d"), or if shorter under its bus
# ("virtio:", "*" for a pattern in the bus name), so a device is tried against few.
FILENAME == ARGV[2] && $1 == "alias" && class[$3] == "driver" {
	c = index($2, ":")
	w = match($2, /[*?[]/)
	lit = (w ? substr($2, 1, w - 1) : $2)
	if (length(lit) >= 22) key = substr(lit, 1, 22)
	else if (length(lit) >= 14) key = substr(lit, 1, 14)
	else key = (c && (!w || w > c) ? substr($2, 1, c) : "*")
	i = ++nalias
	alit[i] = lit
	apat[i] = $2
	amod[i] = $3
	group[key, ++count[key]] = i
	next
}
# The modalias files (standard input; a pattern that matched nothing reads nothing): each
# value once, against the aliases filed under its prefixes and its bus.
FILENAME != ARGV[1] && FILENAME != ARGV[2] && $0 != "" {
	if ((getline ma < $0) > 0 && !(ma in seen)) {
		seen[ma] = 1
		bus = ma
		sub(/:.*/, ":", bus)
		keys[1] = substr(ma, 1, 22)
		keys[2] = substr(ma, 1, 14)
		keys[3] = bus
		keys[4] = "*"
		for (b = 1; b <= 4; b++) {
			key = keys[b]
			for (j = 1; j <= count[key]; j++) {
				i = group[key, j]
				if (substr(ma, 1, length(alit[i])) != alit[i]) continue
				# The pattern as a regular expression, made when first needed.
				if (!(i in are)) are[i] = glob2re(apat[i])
				if (ma ~ are[i]) want[amod[i]] = 1
			}
		}
	}
	close($0)
}
function take(m,   n, a, i) {
	if (m in sel) return
	sel[m] = 1
	n = split(need[m], a, ",")
	for (i = 1; i <= n; i++) sel[a[i]] = 1
}
function emit(m,   n, a, i, why) {
	if ((m in isdone) || (m in out)) return
	out[m] = 1
	why = ""
	if (m in isblack) why = "blacklisted (rd.driver.blacklist)"
	n = split(need[m], a, ",")
	for (i = 1; i <= n && why == ""; i++)
		if (a[i] in isblack) why = "it needs " a[i] ", which is blacklisted (rd.driver.blacklist)"
	if (why != "") print "skip " m " " why
	else print "load " m " " path[m] " " class[m]
}
END {
	# rd.driver.pre first, in the order given, each after what it needs.
	for (k = 1; k <= prelist[0]; k++) {
		m = prelist[k]
		if (!(m in class)) {
			if (!(m in isdone) && !(m in out)) {
				out[m] = 1
				print "skip " m " rd.driver.pre names it, but this image does not carry it"
			}
			continue
		}
		take(m)
		split("", part)
		n = split(need[m], a, ",")
		for (i = 1; i <= n; i++) part[a[i]] = 1
		part[m] = 1
		for (j = 1; j <= nmod; j++) if (order[j] in part) emit(order[j])
	}
	# The matched drivers, then the rest: the always-class modules.
	for (k = 1; k <= nmod; k++) if (order[k] in want) take(order[k])
	for (k = 1; k <= nmod; k++) if (order[k] in sel) emit(order[k])
	print "rest"
	for (k = 1; k <= nmod; k++) {
		m = order[k]
		if (class[m] == "always" && !(m in isskip)) take(m)
	}
	for (k = 1; k <= nmod; k++) if (order[k] in sel) emit(order[k])
}' "$1" "$2" -
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

# sr_modules_coldplug SYSFS MODDIR LOADLIST ALIASES BUSES: loads what sr_modules_select
# picks, with one insmod per module. Drivers come first: when they brought new devices (a
# bus driver such as virtio_pci makes the virtio NIC and disk), the rest waits for a new
# scan; once the devices stay the same, the rest of the same list loads. The NIC is thus
# probed early, and its link comes up while the filesystems load. Sets
# SR_MODULES_LOADED (the modules loaded, in order), SR_MODULES_ROUNDS (awk runs) and
# SR_MODULES_SCAN (the seconds spent choosing, as 0.12).
sr_modules_coldplug() {
	SR_MODULES_DONE=${SR_MODULES_DONE-}
	SR_MODULES_LOADED=${SR_MODULES_LOADED-}
	SR_MODULES_ROUNDS=0
	sr_tmp=${TMPDIR:-/tmp}
	sr_cs
	sr_t0=$SR_CS
	sr_modules_devices "$1" "$5"
	sr_seen=$SR_MODULES_DEVICES
	sr_scan=0
	while [ "$SR_MODULES_ROUNDS" -lt 8 ]; do
		SR_MODULES_ROUNDS=$((SR_MODULES_ROUNDS + 1))
		sr_modules_select "$3" "$4" >"$sr_tmp/srbuild-modules.now"
		sr_cs
		sr_scan=$((sr_scan + SR_CS - sr_t0))
		sr_drivers=0
		sr_rest=0
		sr_new=0
		while read -r sr_what sr_name sr_line; do
			case "$sr_what" in
			rest)
				# Did the drivers just loaded bring devices? Then scan before the rest.
				if [ "$sr_drivers" = 1 ]; then
					sr_cs
					sr_t0=$SR_CS
					sr_modules_devices "$1" "$5"
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
		done <"$sr_tmp/srbuild-modules.now"
		sr_cs
		sr_t0=$SR_CS
		if [ "$sr_new" = 0 ]; then
			# The whole list is loaded: done, unless that brought devices.
			sr_modules_devices "$1" "$5"
			if [ "$SR_MODULES_DEVICES" = "$sr_seen" ]; then
				break
			fi
		fi
		sr_seen=$SR_MODULES_DEVICES
	done
	sr_cs
	sr_scan=$((sr_scan + SR_CS - sr_t0))
	rm -f "$sr_tmp/srbuild-modules.now" "$sr_tmp/insmod.err"
	[ "$sr_scan" -ge 0 ] || sr_scan=0
	sr_c=$((sr_scan % 100))
	[ "$sr_c" -ge 10 ] || sr_c=0$sr_c
	# shellcheck disable=SC2034 # a result for the caller (/init logs it)
	SR_MODULES_SCAN=$((sr_scan / 100)).$sr_c
}
