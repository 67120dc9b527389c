# shellcheck shell=sh
# srbuild boot runtime: the service chroot for daemons that outlive the initramfs.
# Sourced by /init.

# sr_svc_prepare: a copy of this image's programs under /run/srbuild/svc. /run is moved into
# the new root at switch_root, so daemons started there (corosync, dlm_controld, the
# glusterfs client) keep a file tree after the initramfs is freed. Run them with sr_svc.
sr_svc_prepare() {
	SR_SVC=/run/srbuild/svc
	[ -d "$SR_SVC/usr" ] && return 0
	mkdir -p "$SR_SVC"
	for sr_d in /*; do
		case "$sr_d" in /proc | /sys | /dev | /run | /sysroot | /tmp | /init | /root) continue ;; esac
		cp -a "$sr_d" "$SR_SVC/" || sr_fail "cannot copy $sr_d into the service chroot"
	done
	rm -rf "$SR_SVC/usr/lib/modules" "$SR_SVC/lib/modules" 2>/dev/null
	mkdir -p "$SR_SVC/proc" "$SR_SVC/sys" "$SR_SVC/dev" "$SR_SVC/run" "$SR_SVC/tmp" "$SR_SVC/var/lib" "$SR_SVC/var/log"
	mount --bind /proc "$SR_SVC/proc"
	mount --rbind /sys "$SR_SVC/sys"
	mount --rbind /dev "$SR_SVC/dev"
}
sr_svc() { chroot /run/srbuild/svc "$@"; }

# devtmpfs has no misc/ folder; libdlm (dlm_controld, and lvmlockd for every lockspace it
# opens: /dev/misc/dlm_NAME) looks there, and without udev nobody makes its nodes there.
# sr_misc_dev: /dev/misc as a link to /dev (or, where a misc/ directory is already there,
# links in it to the cluster's control devices).
sr_misc_dev() {
	if [ -L /dev/misc ]; then
		[ "$(readlink /dev/misc)" = . ] ||
			sr_log "warning: /dev/misc links to $(readlink /dev/misc), not /dev: dlm lockspace devices may not be found"
	elif [ ! -e /dev/misc ]; then
		ln -s . /dev/misc || sr_log "warning: cannot link /dev/misc to /dev: dlm lockspace devices will not be found"
	else
		# A misc/ directory someone made: the control devices are linked in it, but a
		# lockspace's device (lvmlockd's dlm_NAME) would not be.
		sr_log "warning: /dev/misc is a directory: only the dlm control devices are linked there"
		for sr_n in dlm-control dlm-monitor dlm_plock; do
			[ -e "/dev/$sr_n" ] && ln -sf "../$sr_n" "/dev/misc/$sr_n"
		done
	fi
	return 0
}
