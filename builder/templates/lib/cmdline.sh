# shellcheck shell=sh
# srbuild boot runtime: the kernel command line. Sourced by /init.

# sr_each_arg FUNC FILE...: calls FUNC ARG for every word of FILEs in order, split on white
# space and never globbed (an argument * stays *). Hooks read their own arguments with it.
sr_each_arg() {
	sr_fn=$1
	shift
	# Globbing off for the split, then as the caller had it.
	case $- in *f*) sr_glob= ;; *) sr_glob=1 ;; esac
	# The files are read by the shell itself: a $(cat ...) would cost a fork and an exec,
	# milliseconds each under emulation. A file that is missing or unreadable adds nothing.
	sr_ea_words=""
	for sr_ea_file in "$@"; do
		[ -r "$sr_ea_file" ] || continue
		while IFS= read -r sr_ea_line || [ -n "$sr_ea_line" ]; do
			sr_ea_words="$sr_ea_words $sr_ea_line"
		done <"$sr_ea_file"
	done
	set -f
	# shellcheck disable=SC2086 # split into words on purpose, with globbing off
	set -- $sr_ea_words
	[ -z "$sr_glob" ] || set +f
	for sr_a in "$@"; do
		"$sr_fn" "$sr_a"
	done
}

# sr_cmdline_arg ARG: one argument of the command line into the SR_* variables.
# shellcheck disable=SC2034 # the variables are read by /init and the hooks, not here
sr_cmdline_arg() {
	case "$1" in
	root=*) SR_ROOT=${1#root=} ;;
	rootfstype=*) SR_ROOTFSTYPE=${1#rootfstype=} ;;
	rootflags=*) SR_ROOTFLAGS=${1#rootflags=} ;;
	ip=*) SR_IP="$SR_IP ${1#ip=}" ;;
	init=*) SR_INIT=${1#init=} ;;
	rd.break) SR_BREAK="$SR_BREAK switch" ;;
	rd.break=*) SR_BREAK="$SR_BREAK $(printf '%s\n' "${1#rd.break=}" | tr ',' ' ')" ;;
	rd.shell=*) SR_SHELL=${1#rd.shell=} ;;
	rd.shell) SR_SHELL=1 ;;
	rd.debug) set -x ;;
	rd.driver.pre=*) SR_DRIVER_PRE="$SR_DRIVER_PRE ${1#rd.driver.pre=}" ;;
	rd.driver.blacklist=*) SR_DRIVER_BLACKLIST="$SR_DRIVER_BLACKLIST ${1#rd.driver.blacklist=}" ;;
	modprobe.blacklist=*) SR_DRIVER_BLACKLIST="$SR_DRIVER_BLACKLIST ${1#modprobe.blacklist=}" ;;
	ro) SR_RO=1 ;;
	rw) SR_RO=0 ;;
	srbuild.node=*) SR_NODE_NAME=${1#srbuild.node=} ;;
	srbuild.mount_timeout=*) SR_MOUNT_TIMEOUT=${1#srbuild.mount_timeout=} ;;
	srbuild.fencing=*) SR_FENCING=${1#srbuild.fencing=} ;;
	srbuild.rootmode=*) SR_ROOTMODE=${1#srbuild.rootmode=} ;;
	srbuild.ramsize=*) SR_RAMSIZE=${1#srbuild.ramsize=} ;;
	srbuild.hybrid=*) SR_HYBRID=${1#srbuild.hybrid=} ;;
	esac
}

# sr_cmdline_parse FILE...: sets the SR_* variables from the arguments in FILEs
# (etc/srbuild/cmdline.default, then /proc/cmdline; later ones win), then checks the
# numbers. A bad value fails stage cmdline after the whole line was read, so rd.shell=0
# anywhere on it is obeyed.
sr_cmdline_parse() {
	sr_each_arg sr_cmdline_arg "$@"
	sr_number srbuild.mount_timeout "$SR_MOUNT_TIMEOUT"
	SR_MOUNT_TIMEOUT=$SR_NUM
}
