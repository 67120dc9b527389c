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
