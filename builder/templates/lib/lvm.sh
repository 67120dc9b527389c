# shellcheck shell=sh
# srbuild boot runtime: names of LVM volumes on the command line (rd.lvm.lv=VG/LV).
# Sourced by /init.

# sr_lvm_lv ARG VALUE: VALUE (ARG's value, such as rd.lvm.lv) split into SR_LVM_VG and
# SR_LVM_NAME, or one FAILED line naming it: one volume group and one logical volume,
# VG/LV, each a name LVM accepts (letters, digits and + _ . -, not starting with -, not .
# or .., at most 127 characters).
sr_lvm_lv() {
	sr_lvm_shown=$(printf '%s' "$2" | tr -cd ' -~')
	case "$2" in
	*/*/*) sr_fail "$1=$sr_lvm_shown: name one volume group and one logical volume, VG/LV" ;;
	?*/?*) ;;
	*) sr_fail "$1=$sr_lvm_shown: write the volume group and the logical volume as VG/LV" ;;
	esac
	SR_LVM_VG=${2%%/*}
	SR_LVM_NAME=${2#*/}
	for sr_lvm_n in "volume group:$SR_LVM_VG" "logical volume:$SR_LVM_NAME"; do
		sr_lvm_v=${sr_lvm_n#*:}
		case "$sr_lvm_v" in
		- | -* | . | .. | *[!A-Za-z0-9+_.-]*)
			sr_fail "$1=$sr_lvm_shown: the ${sr_lvm_n%%:*} name '$(printf '%s' "$sr_lvm_v" | tr -cd ' -~')' is not an LVM name (letters, digits, + _ . -; not starting with -)"
			;;
		esac
		[ "${#sr_lvm_v}" -le 127 ] || sr_fail "$1=$sr_lvm_shown: the ${sr_lvm_n%%:*} name is longer than 127 characters"
	done
}
