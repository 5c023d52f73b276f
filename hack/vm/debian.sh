# debian.sh: the Debian guest of run.sh (--guest debian), sourced by run.sh
# after the kernel is cached; never run on its own.
#
# The image: Debian bookworm made with debootstrap, with systemd as PID 1 and
# what a stock Debian or Ubuntu container host runs (dbus, containerd,
# docker.io, podman, apparmor, criu), plus the modules of run.sh's kernel
# ($pkg=$ver), which boots it. It is an ext4 file system in a raw file
# (debian-KEY/root.img), booted read-only with qemu's snapshot=on: every run
# starts from the same pristine image and leaves no trace in it. KEY hashes
# this file and the kernel version, so a change to either rebuilds the image.
#
# Boot: run.sh's busybox initramfs (init.sh) loads virtio_blk and ext4 from
# the image's own module tree, mounts /dev/vda and switch_roots to systemd.
# systemd starts hull-vm.service, which runs /mnt/host/.vm-boot from the 9p
# share; run.sh writes that script: it waits for the boot to finish and runs
# the command as a transient service (systemd-run --wait --pipe), so the
# command sits in its own unit's cgroup under system.slice, as a test started
# on a real host would, never in PID 1's.

# The packages of the guest, on top of debootstrap's minbase. Changing this
# list (this file) rebuilds the image.
DEBIAN_SUITE=bookworm
DEBIAN_PACKAGES="systemd systemd-sysv dbus udev kmod iproute2 iptables procps psmisc
	util-linux mount e2fsprogs less
	apparmor apparmor-utils criu
	selinux-policy-default selinux-utils policycoreutils
	containerd docker.io podman
	busybox-static"
DEBIAN_MIRROR=${HULL_VM_MIRROR:-http://deb.debian.org/debian}

# Units a real host has but a one-command test VM only waits for: timers that
# would start apt or man-db mid-test, logins on consoles nobody uses, network
# waits (the guest has no NIC), and the services the image build itself ran;
# and the mark that asks a boot without SELinux for a relabel at the next
# boot with it (the SELinux boot runs unlabelled: debian.sh's configure).
DEBIAN_MASK="apt-daily.timer apt-daily-upgrade.timer man-db.timer dpkg-db-backup.timer
	e2scrub_all.timer e2scrub_reap.service fstrim.timer logrotate.timer
	getty@tty1.service serial-getty@ttyS0.service serial-getty@ttyS1.service
	systemd-networkd-wait-online.service networking.service ifupdown-wait-online.service
	systemd-timesyncd.service systemd-fsck-root.service systemd-remount-fs.service
	systemd-update-utmp-runlevel.service systemd-binfmt.service
	podman-auto-update.service podman-auto-update.timer podman-restart.service
	modprobe@drm.service modprobe@efi_pstore.service modprobe@dm_mod.service
	selinux-autorelabel-mark.service"

# debian_key: what the image is made of: the code that builds it (not the
# comments, not the boot script) and its inputs.
debian_key() {
	{
		declare -f debian_build debian_configure
		echo "$DEBIAN_SUITE|$DEBIAN_PACKAGES|$DEBIAN_MASK|$DEBIAN_MIRROR|$pkg|$ver"
	} | sha256sum | cut -c1-16
}

# debian_build DIR: build the image into DIR (root.img and modules/ for the
# initramfs). Takes minutes: the first run of a machine pays it.
debian_build() {
	local out=$1 r=$tmp/debian m kver size t0
	t0=$(date +%s)
	local need=()
	command -v debootstrap >/dev/null || need+=(debootstrap)
	command -v mkfs.ext4 >/dev/null || need+=(e2fsprogs)
	command -v modprobe >/dev/null || need+=(kmod)
	[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
	[ "$(id -u)" = 0 ] || fail "building the Debian image needs root (debootstrap, chroot)"

	say "building the Debian $DEBIAN_SUITE image (once per change of hack/vm/debian.sh or kernel; minutes)"
	mkdir -p "$r/root" "$out"
	debootstrap --variant=minbase "$DEBIAN_SUITE" "$r/root" "$DEBIAN_MIRROR" >"$tmp/debootstrap.log" 2>&1 || {
		tail -n 30 "$tmp/debootstrap.log" >&2
		fail "debootstrap $DEBIAN_SUITE failed (log above)"
	}
	say "debootstrap: $(($(date +%s) - t0))s"

	# In the chroot: no daemon starts (policy-rc.d), dpkg skips fsync, and
	# apt installs no recommends (the list above is the whole guest).
	printf '#!/bin/sh\nexit 101\n' >"$r/root/usr/sbin/policy-rc.d"
	chmod 0755 "$r/root/usr/sbin/policy-rc.d"
	echo force-unsafe-io >"$r/root/etc/dpkg/dpkg.cfg.d/hull-unsafe-io"
	printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' >"$r/root/etc/apt/apt.conf.d/90hull"
	# /dev: debootstrap's static nodes are enough; binding the host's /dev
	# would put it under the tree the cleanup removes.
	mount -t proc proc "$r/root/proc" || fail "mount proc in the chroot"
	chroot_proc=$r/root/proc
	# shellcheck disable=SC2086 # the package list is word-split on purpose
	chroot "$r/root" /usr/bin/env DEBIAN_FRONTEND=noninteractive LC_ALL=C \
		sh -c "apt-get update -qq && apt-get install -y -qq $(echo $DEBIAN_PACKAGES)" \
		>"$tmp/apt-chroot.log" 2>&1
	local rc=$?
	umount "$chroot_proc" 2>/dev/null || umount -l "$chroot_proc"
	chroot_proc=""
	if [ $rc != 0 ]; then
		tail -n 30 "$tmp/apt-chroot.log" >&2
		fail "apt-get install in the Debian chroot failed (log above)"
	fi
	say "apt-get install: $(($(date +%s) - t0))s"
	rm -f "$r/root/usr/sbin/policy-rc.d" "$r/root/etc/dpkg/dpkg.cfg.d/hull-unsafe-io"

	# The kernel's modules, from the package run.sh boots, without the
	# drivers of hardware qemu does not emulate.
	(cd "$tmp" && apt-get download -qq "$pkg=$ver" 2>&1 | grep -v 'unsandboxed' >&2) || true
	m=$(ls "$tmp"/linux-image-*.deb 2>/dev/null | head -n 1)
	[ -n "$m" ] || fail "apt-get download $pkg=$ver failed"
	mkdir -p "$r/k"
	dpkg-deb --fsys-tarfile "$m" | tar -x -C "$r/k" ./lib/modules || fail "unpacking $m failed"
	rm -f "$m"
	kver=$(ls "$r/k/lib/modules" | head -n 1)
	(cd "$r/k/lib/modules/$kver/kernel" && rm -rf sound drivers/gpu drivers/media drivers/net/wireless \
		drivers/net/ethernet drivers/infiniband drivers/staging drivers/usb drivers/iio drivers/bluetooth \
		drivers/input drivers/hid drivers/mtd drivers/mmc drivers/isdn drivers/scsi drivers/ata \
		drivers/hwmon drivers/video drivers/platform drivers/thunderbolt)
	mkdir -p "$r/root/lib/modules"
	mv "$r/k/lib/modules/$kver" "$r/root/lib/modules/"
	depmod -b "$r/root" "$kver" || fail "depmod $kver failed"

	debian_configure "$r/root"

	# The initramfs's modules: what mounting /dev/vda as ext4 needs, in load order.
	mkdir -p "$out/modules"
	: >"$out/modules/order"
	modprobe -a -d "$r/root" -S "$kver" --show-depends virtio_pci virtio_blk ext4 |
		sed -n 's/^insmod \([^ ]*\).*/\1/p' | while read -r m; do
		local name
		name=$(basename "$m")
		name=${name%%.ko*}
		grep -qx "$name" "$out/modules/order" && continue
		case $m in
		*.xz) xz -dc "$m" ;;
		*.zst) zstd -dc "$m" ;;
		*) cat "$m" ;;
		esac >"$out/modules/$name.ko"
		echo "$name" >>"$out/modules/order"
	done
	grep -qx ext4 "$out/modules/order" || fail "modprobe found no ext4 module for $kver in the image"

	# Free space for what tests write (images, containers): the file is
	# sparse and the disk a snapshot, so it costs nothing unused.
	size=$(du -sm "$r/root" | cut -f1)
	size=$((size + size / 4 + 2048))
	mkfs.ext4 -q -F -L hull-root -E root_owner=0:0 -d "$r/root" "$out/root.img" "${size}M" >/dev/null ||
		fail "mkfs.ext4 -d failed"
	rm -rf "$r"
	say "mkfs: $(($(date +%s) - t0))s"
	debian_first_boot "$out" || fail "the first boot of the Debian image failed"
	say "Debian image built in $(($(date +%s) - t0))s ($(du -sm "$out/root.img" | cut -f1) MiB used of ${size} MiB)"
}

# debian_configure ROOT: make the tree a host that boots fast with nothing to
# ask and runs the share's command.
debian_configure() {
	local root=$1 u
	echo hull-vm >"$root/etc/hostname"
	printf '127.0.0.1 localhost hull-vm\n::1 localhost\n' >"$root/etc/hosts"
	# The initramfs mounts the root read-write; naming it here would only
	# make the boot wait for udev to announce /dev/vda. The share is cached
	# (cache=loose): the host leaves it alone while the guest runs, and an
	# uncached 9p exec of hull costs ~2.8 s under TCG, a cached one ~0.2 s.
	echo 'host /mnt/host 9p trans=virtio,version=9p2000.L,msize=512000,cache=loose,nofail 0 0' >"$root/etc/fstab"
	mkdir -p "$root/mnt/host"
	passwd -R "$root" -d root >/dev/null 2>&1 || sed -i 's/^root:[^:]*:/root::/' "$root/etc/shadow"
	# A machine id, as every installed host has: an empty one would make
	# every boot a first boot.
	tr -d '-' </proc/sys/kernel/random/uuid >"$root/etc/machine-id"
	ln -sf /lib/systemd/system/multi-user.target "$root/etc/systemd/system/default.target"
	for u in $DEBIAN_MASK; do
		ln -sf /dev/null "$root/etc/systemd/system/$u"
	done
	# A stock host starts the engines at boot; here they start on demand
	# (docker.socket, podman.socket, `systemctl start containerd`): booting
	# them costs TCG time the tests that do not use them would pay.
	rm -f "$root"/etc/systemd/system/multi-user.target.wants/{docker,containerd}.service
	mkdir -p "$root/etc/systemd/system/sockets.target.wants"
	ln -sf /lib/systemd/system/docker.socket "$root/etc/systemd/system/sockets.target.wants/docker.socket"
	[ ! -e "$root/lib/systemd/system/podman.socket" ] ||
		ln -sf /lib/systemd/system/podman.socket "$root/etc/systemd/system/sockets.target.wants/podman.socket"
	# The launcher: run.sh writes /mnt/host/.vm-boot for each run, so what it
	# does can change without rebuilding the image.
	cat >"$root/etc/systemd/system/hull-vm.service" <<'EOF'
[Unit]
Description=hull test VM: run the host's command (hack/vm/run.sh)
RequiresMountsFor=/mnt/host
ConditionPathExists=/mnt/host/.vm-boot

[Service]
Type=exec
ExecStart=/bin/sh /mnt/host/.vm-boot
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
EOF
	ln -sf /etc/systemd/system/hull-vm.service "$root/etc/systemd/system/multi-user.target.wants/hull-vm.service"
	# SELinux's boot (run.sh --lsm selinux): systemd loads this policy, in
	# permissive mode. The other boots' kernel has AppArmor as its major LSM and
	# no SELinux, and systemd then skips the load. No relabel (it costs ~4 min
	# of TCG): the files have no security.selinux and read as unlabeled_t,
	# which permissive mode allows; see README.md.
	printf 'SELINUX=permissive\nSELINUXTYPE=default\n' >"$root/etc/selinux/config"
	# Messages stay in the journal, in memory: the console is a slow serial port.
	mkdir -p "$root/etc/systemd/journald.conf.d"
	printf '[Journal]\nStorage=volatile\nForwardToConsole=no\n' >"$root/etc/systemd/journald.conf.d/hull.conf"
	# Smaller image: no documentation, no apt lists.
	rm -rf "$root"/usr/share/doc/* "$root"/usr/share/man/* "$root"/usr/share/info/* \
		"$root"/var/cache/apt/*.bin "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*_*
}

# debian_first_boot DIR: boot DIR/root.img once, writable, and power off once
# the boot has finished. What a host does only once is done then, not in every
# test run: AppArmor compiles its profiles into /var/cache/apparmor (20 s under
# TCG), systemd updates /etc and /var after the package installs (sysusers,
# hwdb, ...).
debian_first_boot() {
	local out=$1 s=$tmp/first-boot ird
	ird=$(make_initramfs "$out/modules") || return 1
	mkdir -p "$s"
	cat >"$s/.vm-boot" <<'EOF'
state=$(systemctl is-system-running --wait)
echo "$state" >/mnt/host/state
sync
systemctl poweroff --force --force
EOF
	timeout 900 qemu-system-x86_64 -accel tcg -M pc -cpu max -smp "$smp" -m "$mem" \
		-nodefaults -no-user-config -display none -nic none -no-reboot \
		-chardev "file,id=console,path=${s//,/,,}/console.log" -serial chardev:console \
		-kernel "$kernel" -initrd "$ird" \
		-append "console=ttyS0 quiet panic=-1 tsc=reliable cryptomgr.notests mitigations=off hull.root=/dev/vda" \
		-virtfs "local,path=${s//,/,,},mount_tag=host,security_model=none,id=host" \
		-drive "file=${out//,/,,}/root.img,if=virtio,format=raw,cache=writeback" </dev/null >/dev/null 2>&1
	if [ ! -s "$s/state" ]; then
		tail -n 30 "$s/console.log" >&2
		return 1
	fi
	say "first boot: the system was $(cat "$s/state")"
	rm -rf "$s"
}

# debian_prepare: the cached image and its initramfs; sets image and initrd.
debian_prepare() {
	local key d
	key=$(debian_key)
	d=$cache/debian-$key
	if [ ! -e "$d/ready" ]; then
		rm -rf "$d.tmp"
		debian_build "$d.tmp"
		touch "$d.tmp/ready"
		mv "$d.tmp" "$d"
		# Older images are of no further use (a VM still booting one keeps it open).
		for f in "$cache"/debian-*/; do
			[ "${f%/}" = "$d" ] || rm -rf "${f%/}"
		done
	fi
	image=$d/root.img
	initrd=$(make_initramfs "$d/modules") || fail "building the Debian guest's initramfs failed"
}

# debian_boot_script: /mnt/host/.vm-boot, run by hull-vm.service. It waits
# until the boot has finished (the system is running, or degraded: a failed
# unit is for the test to find, not a reason not to run it), runs .vm-cmd in a
# transient service with ttyS1 as its stdout and stderr, writes its exit code
# and powers off at once: the snapshot disk has nothing worth a clean shutdown.
debian_boot_script() {
	cat <<'EOF'
# written by hack/vm/run.sh, run by hull-vm.service in the Debian guest
out=/dev/ttyS1
[ -c "$out" ] || out=/dev/console
stty -F "$out" -onlcr 2>/dev/null
state=$(systemctl is-system-running --wait)
echo "hull-vm: system $state at $(cut -d' ' -f1 /proc/uptime)s of uptime" >/dev/console
set --
if [ -e /sys/block/vdb/dev ]; then
	set -- --setenv=HULL_VM_DISK=/dev/vdb --setenv=HULL_VM_DISK_DEV="$(cat /sys/block/vdb/dev)"
fi
systemd-run --quiet --wait --pipe --collect --unit=hull-vm-cmd --service-type=exec \
	-p WorkingDirectory=/mnt/host --setenv=HOME=/root --setenv=TMPDIR=/tmp \
	--setenv=PATH=/mnt/host:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
	--setenv=HULL_GUEST=debian --setenv=HULL_VM_SYSTEM_STATE="$state" "$@" \
	/bin/sh /mnt/host/.vm-cmd </dev/null >"$out" 2>&1
rc=$?
echo "$rc" >/mnt/host/.exitcode.tmp && mv /mnt/host/.exitcode.tmp /mnt/host/.exitcode ||
	echo "hull-vm: cannot write /mnt/host/.exitcode" >/dev/console
sync
systemctl poweroff --force --force
EOF
}
