#!/bin/bash
# run.sh: run a command (typically a Go test binary built with `go test -c`)
# inside a small qemu VM whose kernel has a pure cgroup v2 hierarchy with every
# controller, for tests that the host's cgroups cannot serve; with --guest
# debian, in a Debian host booted with systemd (debian.sh). README.md has both.
#
#   hack/vm/run.sh --share DIR -- /mnt/host/test.bin -test.run TestCgroup -test.v
#
# DIR is shared read-write at /mnt/host over 9p; the command runs as root with
# cwd /mnt/host, stdin /dev/null, HULL_IN_VM=1, TMPDIR=/tmp (a tmpfs) and
# /mnt/host first in PATH. Its stdout and stderr come out on this script's
# stdout; its exit code is written to DIR/.exitcode and is the exit code of
# this script. See usage() for the flags and README for the guest's layout.
#
# Software emulation (TCG) only: the guest runs ~10x slower than the host, one
# guest fills both cores of a CI machine, so run one at a time.
#
# The kernel is Debian's (the package linux-image-amd64 depends on), fetched
# with `apt-get download` and unpacked into the cache, never installed. The
# cache (default $HOME/.cache/hull-vm) keeps the uncompressed kernel, the few
# modules the guest needs and the initramfs; it is rebuilt when the kernel
# version, the module list, busybox or init.sh change.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
prog=hull-vm

# Modules the guest loads, with their dependencies resolved from the modules'
# own depends= fields (the .deb has no modules.dep).
MODULES="virtio_pci 9pnet_virtio 9p virtio_blk overlay"

usage() {
	cat <<EOF
usage: $0 [flags] -- COMMAND [ARG...]
       $0 --prepare

  --guest KIND      busybox (default): the busybox initramfs as root, init.sh
                    as PID 1; debian: a cached Debian bookworm image booted with
                    systemd as PID 1, AppArmor, containerd, docker, podman
                    (debian.sh; its first build takes minutes)
  --share DIR       host directory shared at /mnt/host (default: a temporary
                    empty one); the guest writes DIR/.exitcode and uses DIR/.vm-cmd
  --timeout SEC     kill qemu after SEC seconds (default 600; exit code 124)
  --env NAME=VALUE  set in the command's environment (repeatable)
  --copy SRC[:DST]  before the command, copy /mnt/host/SRC (relative to the
                    share) to DST in the guest (default /tmp/SRC), on tmpfs,
                    for bundles that need device nodes (mknod fails on 9p)
  --cwd DIR         the command's working directory in the guest (default /mnt/host)
  --disk-mib N      size of the sparse virtio disk /dev/vda (default 64; 0: none)
  --mem SIZE        guest memory (default 2G)
  --smp N           guest CPUs (default 2)
  --lsm LSM         the Debian guest's major LSM: apparmor (default, enforcing,
                    its profiles loaded) or selinux (Debian's refpolicy,
                    permissive: labels applied and checked, not enforced); the
                    command sees it as HULL_VM_LSM
  --append ARGS     extra kernel command line
  --log FILE        keep the whole console log in FILE
  --cache DIR       cache directory (default \${HULL_VM_CACHE:-\$HOME/.cache/hull-vm})
  --prepare         only install what is missing and build the cache
  -q, --quiet       no timing line on stderr

HULL_VM_QEMU_ARGS: extra qemu arguments (word-split), for debugging.

The busybox guest's env: HULL_IN_VM=1, TMPDIR=/tmp, HOME=/root, and
HULL_VM_DISK=/dev/vda, HULL_VM_DISK_DEV=MAJ:MIN when there is a disk. The
Debian guest's: HULL_GUEST=debian, HULL_VM_SYSTEM_STATE, TMPDIR, HOME, and
HULL_VM_DISK=/dev/vdb (its root is /dev/vda); see README.md.
EOF
}

say() { echo "$prog: $*" >&2; }
fail() {
	say "$*"
	exit 125
}

guest=busybox lsm=apparmor share="" cwd="" timeout=600 disk_mib=64 mem=2G smp=2 append="" log="" prepare_only=0 quiet=0
cache=${HULL_VM_CACHE:-${HOME:-/root}/.cache/hull-vm}
envs=() copies=()
while [ $# -gt 0 ]; do
	case $1 in
	--guest) guest=${2:?}; shift 2 ;;
	--share) share=${2:?}; shift 2 ;;
	--timeout) timeout=${2:?}; shift 2 ;;
	--env) envs+=("${2:?}"); shift 2 ;;
	--copy) copies+=("${2:?}"); shift 2 ;;
	--cwd) cwd=${2:?}; shift 2 ;;
	--disk-mib) disk_mib=${2:?}; shift 2 ;;
	--mem) mem=${2:?}; shift 2 ;;
	--smp) smp=${2:?}; shift 2 ;;
	--lsm) lsm=${2:?}; shift 2 ;;
	--append) append=${2?}; shift 2 ;;
	--log) log=${2:?}; shift 2 ;;
	--cache) cache=${2:?}; shift 2 ;;
	--prepare) prepare_only=1; shift ;;
	-q | --quiet) quiet=1; shift ;;
	-h | --help) usage; exit 0 ;;
	--) shift; break ;;
	*) usage >&2; exit 2 ;;
	esac
done
if [ "$prepare_only" = 0 ] && [ $# -eq 0 ]; then
	usage >&2
	exit 2
fi
case $guest in busybox | debian) ;; *) fail "--guest wants busybox or debian, not $guest" ;; esac
case $lsm in apparmor | selinux) ;; *) fail "--lsm wants apparmor or selinux, not $lsm" ;; esac
[ "$lsm" = apparmor ] || [ "$guest" = debian ] || fail "--lsm $lsm needs --guest debian"
[ "$guest" != debian ] || envs+=("HULL_VM_LSM=$lsm")
case $timeout in '' | *[!0-9]*) fail "--timeout wants whole seconds" ;; esac
case $disk_mib in '' | *[!0-9]*) fail "--disk-mib wants a number" ;; esac
for e in ${envs[@]+"${envs[@]}"}; do
	case $e in [A-Za-z_]*=*) ;; *) fail "--env wants NAME=VALUE, not $e" ;; esac
	n=${e%%=*}
	case $n in *[!A-Za-z0-9_]*) fail "--env: bad name $n" ;; esac
done

# --- temporary files, removed on every exit -------------------------------
tmp="" chroot_proc="" qpid="" wpid="" tee_pid="" own_share=0 cmdfile=""
cleanup() {
	local rc=$?
	set +e
	[ -n "$wpid" ] && kill "$wpid" 2>/dev/null && wait "$wpid" 2>/dev/null
	if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
		kill -KILL "$qpid" 2>/dev/null
		wait "$qpid" 2>/dev/null
	fi
	[ -n "$cmdfile" ] && rm -f "$cmdfile" "${cmdfile%/*}/.vm-boot"
	[ "$own_share" = 1 ] && rm -rf "$share"
	# debian.sh's chroot has proc mounted while apt runs.
	[ -n "$chroot_proc" ] && { umount "$chroot_proc" 2>/dev/null || umount -l "$chroot_proc"; }
	[ -n "$tmp" ] && rm -rf --one-file-system "$tmp"
	return $rc
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
tmp=$(mktemp -d "${TMPDIR:-/tmp}/hull-vm.XXXXXX")

# One builder (and apt-get) at a time; released at `exec 9>&-` below or on exit.
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9

# --- host tools --------------------------------------------------------------
apt_install() {
	[ "$(id -u)" = 0 ] || fail "missing $*; install them (apt-get install $*) or run as root"
	say "installing $*"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq --no-install-recommends "$@" >"$tmp/apt.log" 2>&1 || {
		apt-get update -qq >>"$tmp/apt.log" 2>&1
		apt-get install -y -qq --no-install-recommends "$@" >>"$tmp/apt.log" 2>&1
	} || {
		cat "$tmp/apt.log" >&2
		fail "apt-get install $* failed"
	}
}
need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v cpio >/dev/null || need+=(cpio)
command -v xz >/dev/null || need+=(xz-utils)
# A static busybox (the guest has no libc); Debian's busybox-static puts it at /bin/busybox.
[ "$(dpkg-query -W -f '${Status}' busybox-static 2>/dev/null)" = "install ok installed" ] ||
	need+=(busybox-static)
[ ${#need[@]} -eq 0 ] || apt_install "${need[@]}"
busybox=/bin/busybox
[ -x "$busybox" ] || fail "$busybox is missing although busybox-static is installed"

# --- kernel ---------------------------------------------------------------------
# "linux-image-6.1.0-N-amd64 VERSION", from the metapackage's Depends (one
# apt-cache call: it costs about a second).
kernel_pkg() {
	apt-cache show --no-all-versions linux-image-amd64 2>/dev/null |
		sed -n 's/^Depends:.*\(linux-image-[0-9][^ ,]*\) *(= *\([^)]*\)).*/\1 \2/p' |
		head -n 1 || true
}
# The answer is kept until apt's lists change (apt-get update), saving the call.
lists=/var/lib/apt/lists resolved=$cache/resolved
if [ -s "$resolved" ] && [ -d "$lists" ] && [ "$resolved" -nt "$lists" ] &&
	[ -z "$(find "$lists" -maxdepth 1 -newer "$resolved" -print -quit 2>/dev/null)" ]; then
	pv=$(cat "$resolved")
else
	pv=$(kernel_pkg)
	if [ -z "$pv" ] && [ "$(id -u)" = 0 ]; then
		apt-get update -qq >"$tmp/apt.log" 2>&1 || true
		pv=$(kernel_pkg)
	fi
	if [ -n "$pv" ]; then echo "$pv" >"$resolved"; else rm -f "$resolved"; fi
fi
pkg=${pv%% *} ver=${pv#* }
kdir=""
if [ -n "$pkg" ]; then
	kdir=$cache/${pkg#linux-image-}_$ver
elif ls -d "$cache"/*_*/ready >/dev/null 2>&1; then
	# No apt lists (offline): the newest kernel already in the cache.
	kdir=$(ls -dt "$cache"/*_*/ready | head -n 1)
	kdir=${kdir%/ready}
	say "apt-cache cannot resolve linux-image-amd64; using the cached $(basename "$kdir")"
else
	fail "cannot resolve linux-image-amd64 with apt-cache (run apt-get update)"
fi

# The ELF vmlinux inside a bzImage: the payload is an xz stream.
extract_vmlinux() { # bzImage out
	local off
	off=$(LC_ALL=C grep -obUaP '\xfd7zXZ\x00' "$1" | head -n 1 | cut -d: -f1 || true)
	[ -n "$off" ] || return 1
	# xz stops reading at the end of the stream: tail's SIGPIPE is no failure.
	{ tail -c +$((off + 1)) "$1" || true; } | xz -dc --single-stream >"$2" 2>/dev/null || return 1
	[ "$(head -c 4 "$2" | od -An -c | tr -d ' ')" = '177ELF' ] || return 1
	# qemu boots an ELF only through PVH: it needs the Xen PHYS32_ENTRY note.
	if command -v readelf >/dev/null; then
		local notes
		notes=$(readelf -n "$2" 2>/dev/null || true)
		grep -q 'Xen.*(0x00000012)' <<<"$notes" || return 1
	fi
}

build_kernel() {
	local b=$tmp/kernel x deb mroot m f
	mkdir -p "$b/out/modules"
	say "fetching $pkg $ver (once per kernel version)"
	# apt-get download writes where it is; _apt cannot write $b, hence the warning filter.
	(cd "$b" && apt-get download -qq "$pkg=$ver" 2>&1 | grep -v 'unsandboxed' >&2) || true
	deb=$(ls "$b"/*.deb 2>/dev/null | head -n 1)
	[ -n "$deb" ] || fail "apt-get download $pkg=$ver failed"
	x=$b/x
	dpkg-deb -x "$deb" "$x" || fail "dpkg-deb -x $deb failed"
	rm -f "$deb"
	f=$(ls "$x"/boot/vmlinuz-* | head -n 1)
	if extract_vmlinux "$f" "$b/out/vmlinux"; then
		: # PVH boot of the ELF: about 4 s instead of 10
	else
		say "no PVH vmlinux in $f; booting the bzImage (slower)"
		rm -f "$b/out/vmlinux"
		cp "$f" "$b/out/vmlinuz"
	fi
	mroot=$(ls -d "$x"/lib/modules/*/kernel | head -n 1)
	# Find name.ko[.xz|.zst] with - and _ treated alike.
	find "$mroot" -name '*.ko*' >"$b/kos"
	ko_path() { grep -E "/$(echo "$1" | sed 's/[-_]/[-_]/g')\.ko(\.xz|\.zst|\.gz)?\$" "$b/kos" | head -n 1 || true; }
	ko_plain() { # path -> uncompressed .ko on stdout
		case $1 in
		*.xz) xz -dc "$1" ;;
		*.zst) zstd -dc "$1" ;;
		*.gz) gzip -dc "$1" ;;
		*) cat "$1" ;;
		esac
	}
	: >"$b/out/modules/order"
	load() { # depth first: dependencies, then the module
		local name=$1 p deps d
		grep -qx "$name" "$b/out/modules/order" && return 0
		p=$(ko_path "$name")
		if [ -z "$p" ]; then
			grep -qE "/$name\.ko\$" "$x"/lib/modules/*/modules.builtin 2>/dev/null && return 0
			fail "module $name: neither a .ko in $pkg nor built in"
		fi
		ko_plain "$p" >"$b/out/modules/$name.ko"
		deps=$(tr '\0' '\n' <"$b/out/modules/$name.ko" | sed -n 's/^depends=//p' | head -n 1)
		for d in ${deps//,/ }; do load "${d//-/_}"; done
		echo "$name" >>"$b/out/modules/order"
	}
	for m in $MODULES; do load "$m"; done
	echo "$MODULES" >"$b/out/modules.wanted"
	rm -rf "$x"
	touch "$b/out/ready"
	rm -rf "$kdir"
	mv "$b/out" "$kdir"
	# Older kernels are of no further use.
	for f in "$cache"/*_*/; do
		[ "${f%/}" = "$kdir" ] || rm -rf "${f%/}"
	done
}
if [ ! -e "$kdir/ready" ] || [ "$(cat "$kdir/modules.wanted" 2>/dev/null)" != "$MODULES" ]; then
	[ -n "$pkg" ] || fail "the cached kernel lacks modules and apt-cache is unavailable"
	build_kernel
fi
kernel=$kdir/vmlinux
[ -e "$kernel" ] || kernel=$kdir/vmlinuz

# --- initramfs --------------------------------------------------------------
# make_initramfs MODDIR: print the path of the initramfs with busybox, init.sh
# and the modules MODDIR/*.ko (loaded in the order of MODDIR/order), built next
# to MODDIR. Keyed on everything in it: rebuilt when busybox, init.sh or the
# modules change.
make_initramfs() {
	local mdir=$1 key out r a
	key=$(cat "$busybox" "$here/init.sh" "$mdir/order" "$mdir"/*.ko | sha256sum | cut -c1-16)
	out=$(dirname "$mdir")/initramfs-$key.cpio
	if [ ! -e "$out" ]; then
		r=$tmp/initramfs
		rm -rf "$r"
		mkdir -p "$r"/{bin,etc,lib/modules,root,usr,dev,proc,sys,tmp,run,mnt/host,newroot}
		cp "$busybox" "$r/bin/busybox"
		for a in $("$busybox" --list); do
			[ "$a" = busybox ] || ln -s busybox "$r/bin/$a"
		done
		ln -s bin "$r/sbin"
		ln -s ../bin "$r/usr/bin"
		ln -s ../bin "$r/usr/sbin"
		cp "$mdir"/*.ko "$mdir/order" "$r/lib/modules/"
		install -m 0755 "$here/init.sh" "$r/init"
		printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'daemon:x:1:1:daemon:/:/bin/false' \
			'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' >"$r/etc/passwd"
		printf '%s\n' 'root:x:0:' 'daemon:x:1:' 'tty:x:5:' 'nogroup:x:65534:' >"$r/etc/group"
		printf '127.0.0.1 localhost hull-vm\n::1 localhost\n' >"$r/etc/hosts"
		echo hull-vm >"$r/etc/hostname"
		(cd "$r" && find . | LC_ALL=C sort | cpio -o -H newc -R 0:0 --quiet) >"$tmp/initrd" || return 1
		rm -rf "$r"
		rm -f "$(dirname "$mdir")"/initramfs-*.cpio
		mv "$tmp/initrd" "$out"
	fi
	echo "$out"
}
image=""
if [ "$guest" = debian ]; then
	# shellcheck source=debian.sh
	. "$here/debian.sh"
	debian_prepare
else
	initrd=$(make_initramfs "$kdir/modules") || fail "cpio failed"
fi
exec 9>&- # the cache is ready: let another run build or boot

if [ "$prepare_only" = 1 ]; then
	say "ready: $kernel $initrd${image:+ $image}"
	exit 0
fi

# --- the run -------------------------------------------------------------------
if [ -z "$share" ]; then
	share=$(mktemp -d "${TMPDIR:-/tmp}/hull-vm-share.XXXXXX")
	own_share=1
fi
[ -d "$share" ] || fail "--share $share is not a directory"
share=$(cd "$share" && pwd)

# The guest has no libc: warn about a dynamically linked command from the share.
case $1 in
/mnt/host/*)
	f=$share/${1#/mnt/host/}
	if [ -f "$f" ] && command -v readelf >/dev/null &&
		readelf -lW "$f" 2>/dev/null | grep 'program interpreter' >/dev/null; then
		say "warning: $1 is dynamically linked and the guest has no libc; build it with CGO_ENABLED=0"
	fi
	;;
esac

q() { # single-quote for sh
	printf "'%s'" "${1//\'/\'\\\'\'}"
}
cmdfile=$share/.vm-cmd
{
	echo '# written by hack/vm/run.sh, run by hack/vm/init.sh in the guest'
	for e in ${envs[@]+"${envs[@]}"}; do
		echo "export ${e%%=*}=$(q "${e#*=}")"
	done
	for c in ${copies[@]+"${copies[@]}"}; do
		src=${c%%:*}
		dst=/tmp/$src
		[ "$c" = "$src" ] || dst=${c#*:}
		echo "mkdir -p \"\$(dirname $(q "$dst"))\" && cp -a $(q "/mnt/host/$src") $(q "$dst") || exit 125"
	done
	[ -z "$cwd" ] || echo "cd $(q "$cwd") || exit 125"
	printf 'exec'
	for a in "$@"; do printf ' %s' "$(q "$a")"; done
	echo
} >"$cmdfile"
rm -f "$share/.exitcode" "$share/.exitcode.tmp"

# One guest fills both cores of a CI machine: one VM at a time. qemu inherits
# the lock and holds it until it is gone.
exec 8>"$cache/.run.lock"
if ! flock -n 8; then
	say "waiting for another VM of this cache to finish"
	flock 8
fi

# The Debian guest's root is the cached image, shared read-only by every run:
# snapshot=on keeps the guest's writes in a temporary file qemu deletes.
disk_args=()
if [ -n "$image" ]; then
	disk_args=(-drive "file=${image//,/,,},if=virtio,format=raw,snapshot=on,cache=unsafe")
fi
if [ "$disk_mib" -gt 0 ]; then
	truncate -s "${disk_mib}M" "$tmp/disk.img"
	disk_args+=(-drive "file=${tmp//,/,,}/disk.img,if=virtio,format=raw,cache=unsafe")
fi
[ -n "$log" ] || log=$tmp/console.log
: >"$log"

# quiet: fewer slow serial writes (--append loglevel=7 for all messages);
# panic=-1 with -no-reboot: a panic ends qemu; TCG's vCPUs share one TSC, but
# the kernel calls it unstable and falls back to the slow emulated HPET unless
# told; crypto self-tests cost boot time.
# no_timer_check: under emulation on a loaded host the kernel's check that the 8254
# timer ticks through the IO-APIC can miss its window and panic the boot ("IO-APIC +
# timer doesn't work", seen in CI while the host's two cores were busy).
cmdline="console=ttyS0 quiet panic=-1 tsc=reliable no_timer_check cryptomgr.notests mitigations=off"
if [ "$guest" = debian ]; then
	# init.sh mounts hull.root and hands over to systemd, which mounts the
	# unified hierarchy alone (bookworm's default) as on a stock host;
	# AppArmor is on by default in Debian's kernel (its CONFIG_LSM).
	cmdline="$cmdline hull.root=/dev/vda systemd.show_status=false"
	# One major LSM per boot: security= picks it among those the kernel has
	# (AppArmor by default). enforcing=0 because the image is not relabelled
	# (debian.sh): SELinux computes and logs every decision but denies none.
	[ "$lsm" = apparmor ] || cmdline="$cmdline security=selinux selinux=1 enforcing=0 noautorelabel"
	debian_boot_script >"$share/.vm-boot"
else
	cmdline="$cmdline cgroup_no_v1=all"
fi
start=$(date +%s.%N)
exec 7> >(tee -a "$log")
tee_pid=$!
# -nodefaults: no VGA, NIC (iPXE costs 20 s), floppy or monitor. ttyS0, the
# kernel's console, goes to the log only; ttyS1, the command's stdout and
# stderr, to our stdout and the log. stdin is /dev/null: qemu leaves the
# terminal alone.
qemu-system-x86_64 \
	-accel tcg -M pc -cpu max -smp "$smp" -m "$mem" \
	-nodefaults -no-user-config -display none -nic none -no-reboot \
	-chardev "file,id=console,path=${log//,/,,},append=on" -serial chardev:console \
	-chardev stdio,id=out,signal=off -serial chardev:out \
	-kernel "$kernel" -initrd "$initrd" \
	-append "$cmdline $append" \
	-virtfs "local,path=${share//,/,,},mount_tag=host,security_model=none,id=host" \
	${disk_args[@]+"${disk_args[@]}"} \
	${HULL_VM_QEMU_ARGS:-} \
	</dev/null >&7 2>&1 7>&- &
qpid=$!
exec 7>&-
(
	sleep "$timeout" &
	sp=$!
	trap 'kill $sp 2>/dev/null; exit 0' TERM
	wait $sp
	touch "$tmp/timedout"
	echo "$prog: timeout after ${timeout}s: killing qemu (pid $qpid)" >&2
	kill -KILL "$qpid" 2>/dev/null
) &
wpid=$!
qrc=0
wait "$qpid" 2>/dev/null || qrc=$? # 2>/dev/null: no "Killed" job notice
qpid=""
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
wpid=""
wait "$tee_pid" 2>/dev/null || true # tee has written everything
end=$(date +%s.%N)
[ "$quiet" = 1 ] || say "qemu ran $(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')s"

if [ -e "$tmp/timedout" ]; then
	say "the guest did not finish in ${timeout}s; last console lines:"
	tail -n 30 "$log" >&2
	exit 124
fi
rc=$(cat "$share/.exitcode" 2>/dev/null || true)
case $rc in
'' | *[!0-9]*)
	say "the guest wrote no exit code (qemu exit status $qrc); last console lines:"
	tail -n 30 "$log" >&2
	grep -m 1 -a 'Kernel panic' "$log" >&2 || true
	exit 125
	;;
esac
exit "$rc"
