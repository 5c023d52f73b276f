#!/bin/busybox sh
# init.sh: /init of the test VM's initramfs (see run.sh). Runs as PID 1 in the
# guest under busybox sh; never on the host.
#
# With hull.root=DEV on the command line (run.sh --guest debian), stage 1
# only mounts DEV and switch_roots to its systemd. Otherwise:
# Stage 1 (on the initramfs): copy itself to a tmpfs and switch_root there,
# because pivot_root(2) fails with EINVAL on the initramfs root and hull uses
# pivot_root. Stage 2 (on the tmpfs root): mount the API filesystems and a pure
# cgroup2 hierarchy, load the virtio and 9p modules, mount the host share at
# /mnt/host, run /mnt/host/.vm-cmd with ttyS1 as stdout and stderr,
# write its exit code to /mnt/host/.exitcode and power off.
#
# Anything that goes wrong is printed to the console and ends with a power-off:
# the host then finds no .exitcode and fails.

export PATH=/bin:/sbin:/usr/bin:/usr/sbin
SHARE=/mnt/host

die() {
	echo "hull-vm init: $*" >&2
	sync
	poweroff -f
	sleep 5
	exit 1 # PID 1 exiting panics; panic=-1 and -no-reboot end qemu
}

if [ "$1" != stage2 ]; then
	# The kernel found no /dev/console in the initramfs: open it ourselves.
	mount -t devtmpfs devtmpfs /dev || die "mount devtmpfs"
	exec </dev/console >/dev/console 2>&1

	# The Debian guest (run.sh --guest debian): load what mounting its disk
	# needs, mount it and hand over to systemd, which does all the rest.
	mount -t proc proc /proc || die "mount proc"
	root=""
	for a in $(cat /proc/cmdline); do
		case $a in hull.root=*) root=${a#hull.root=} ;; esac
	done
	if [ -n "$root" ]; then
		# A failure is for the mount to judge (crc32c-intel needs SSE4.2, which
		# crc32c_generic stands in for).
		while read -r m; do
			insmod "/lib/modules/$m.ko" || echo "hull-vm init: insmod $m failed"
		done </lib/modules/order
		i=0
		while [ ! -b "$root" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		mount -t ext4 -o rw,noatime "$root" /newroot || die "mount $root"
		umount /proc
		mount --move /dev /newroot/dev || die "move /dev"
		exec switch_root /newroot /lib/systemd/systemd
		die "switch_root to systemd failed"
	fi
	umount /proc

	mount -t tmpfs -o mode=0755 root /newroot || die "mount tmpfs root"
	cp -a /bin /etc /lib /root /usr /sbin /init /newroot/ || die "copy root"
	for d in dev proc sys tmp run mnt/host; do mkdir -p "/newroot/$d"; done
	mount --move /dev /newroot/dev || die "move /dev"
	exec switch_root /newroot /init stage2
	die "switch_root failed"
fi

mount -t proc proc /proc || die "mount proc"
mount -t sysfs sysfs /sys || die "mount sysfs"
mkdir -p /dev/pts /dev/shm /dev/mqueue
mount -t devpts -o gid=5,mode=0620,ptmxmode=0666 devpts /dev/pts || die "mount devpts"
mount -t tmpfs -o mode=1777 shm /dev/shm
mount -t mqueue mqueue /dev/mqueue
mount -t tmpfs -o mode=1777 tmp /tmp || die "mount /tmp"
mount -t tmpfs -o mode=0755 run /run || die "mount /run"
# Like systemd's mount of a unified hierarchy.
mount -t cgroup2 -o nsdelegate,memory_recursiveprot cgroup2 /sys/fs/cgroup ||
	mount -t cgroup2 cgroup2 /sys/fs/cgroup || die "mount cgroup2"
# The guest's own hierarchy: enable every controller for the children of the root.
read -r have </sys/fs/cgroup/cgroup.controllers
ctrls=""
for c in cpuset cpu io memory hugetlb pids rdma misc; do
	case " $have " in *" $c "*) ctrls="$ctrls +$c" ;; esac
done
echo "$ctrls" >/sys/fs/cgroup/cgroup.subtree_control || die "enable controllers:$ctrls"
mount -t bpf bpf /sys/fs/bpf 2>/dev/null
mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null

while read -r m; do
	insmod "/lib/modules/$m.ko" || die "insmod $m"
done </lib/modules/order

hostname hull-vm
ip link set lo up 2>/dev/null

mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 host "$SHARE" ||
	die "mount the 9p share (mount_tag host) at $SHARE"
[ -r "$SHARE/.vm-cmd" ] || die "$SHARE/.vm-cmd is missing"

# A virtio disk, if the host gave one (for io.max and friends).
if [ -e /sys/block/vda/dev ]; then
	export HULL_VM_DISK=/dev/vda
	HULL_VM_DISK_DEV=$(cat /sys/block/vda/dev)
	export HULL_VM_DISK_DEV
fi

# The command's output goes to the second serial port, which the host streams
# to its stdout; the kernel's messages and ours stay on the console (ttyS0),
# which the host keeps in its log. Output is a pipe or file: no CR before LF.
out=/dev/ttyS1
[ -c "$out" ] || out=/dev/console
stty -F "$out" -onlcr 2>/dev/null

export HOME=/root TMPDIR=/tmp HULL_IN_VM=1 PATH="$SHARE:$PATH"
cd "$SHARE" || die "cd $SHARE"
# .vm-cmd sets the environment asked for with --env, copies what --copy names
# to the tmpfs and execs the command.
sh "$SHARE/.vm-cmd" </dev/null >"$out" 2>&1
rc=$?
echo "$rc" >"$SHARE/.exitcode.tmp" && mv "$SHARE/.exitcode.tmp" "$SHARE/.exitcode" ||
	echo "hull-vm init: cannot write $SHARE/.exitcode" >&2
sync
poweroff -f
