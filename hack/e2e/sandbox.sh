#!/bin/sh
# sandbox.sh [CMD [ARG...]]: run CMD (default: sh) where tests/e2e runs containerd
# and podman, to reproduce what they see by hand: a private mount namespace and
# cgroup namespace whose root cgroup is a new cgroup2 directory
# (<cgroup2 mount>/hull-e2e-sh-<pid>), with a fresh cgroup2 mount on
# /sys/fs/cgroup (a hybrid host looks unified, its v1 hierarchies are out of
# reach) and tmpfs on /run, /dev/shm, /var/tmp and /var/lib. Everything CMD
# leaves running is killed at the end (cgroup.kill) and the cgroups removed.
#
#   hack/e2e/sandbox.sh sh -c 'containerd --config /tmp/x/config.toml & sleep 1; ctr ...'
#
# Root only. The paths of the host (e.g. /tmp) are the same inside.
set -eu
[ "$(id -u)" = 0 ] || { echo "sandbox.sh: needs root" >&2; exit 1; }
[ $# -gt 0 ] || set -- sh

mnt=
for p in /sys/fs/cgroup /sys/fs/cgroup/unified; do
	if [ "$(stat -f -c %T "$p" 2>/dev/null)" = cgroup2fs ]; then mnt=$p; break; fi
done
[ -n "$mnt" ] || { echo "sandbox.sh: no cgroup2 hierarchy" >&2; exit 1; }
cg=$mnt/hull-e2e-sh-$$
mkdir "$cg"

cleanup() {
	echo 1 > "$cg/cgroup.kill" 2>/dev/null || true
	i=0
	while ! grep -q 'populated 0' "$cg/cgroup.events" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null || true
	[ ! -d "$cg" ] || echo "sandbox.sh: could not remove $cg" >&2
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rc=0
sh -c '
	cg=$1; shift
	echo $$ > "$cg/cgroup.procs"
	exec unshare --mount --cgroup --propagation private sh -c "
		set -e
		umount -l /sys/fs/cgroup 2>/dev/null || true
		mount -t cgroup2 cgroup2 /sys/fs/cgroup
		mkdir /sys/fs/cgroup/cmds
		echo \$\$ > /sys/fs/cgroup/cmds/cgroup.procs
		mount -t tmpfs -o mode=0755 e2e-run /run
		mount -t tmpfs -o mode=1777 e2e-shm /dev/shm
		mount -t tmpfs -o mode=1777 e2e-vartmp /var/tmp
		mount -t tmpfs -o mode=0755 e2e-varlib /var/lib
		exec \"\$@\"
	" sandbox "$@"
' sandbox "$cg" "$@" || rc=$?
exit $rc
