#!/bin/sh
# runc-ref.sh: run Debian's runc as a reference runtime for the integration
# tests without letting it touch the host's cgroups.
#
# Each invocation gets a private mount namespace in which a cgroup of our own
# (REF_CGROUP, default /sys/fs/cgroup/unified/hull-ref-test) is bind-mounted
# over /sys/fs/cgroup, so runc sees a pure cgroup2 host whose root is that
# cgroup. Configs must carry no linux.resources and an absolute cgroupsPath
# (the tests use /hulltest-<id>).
#
#   mkdir /sys/fs/cgroup/unified/hull-ref-test
#   HULL_BINARY=$PWD/hack/runc-ref.sh \
#   HULL_TEST_CGROUP_ROOT=/sys/fs/cgroup/unified/hull-ref-test go test ./tests/
#   rmdir /sys/fs/cgroup/unified/hull-ref-test
set -eu
cg=${REF_CGROUP:-/sys/fs/cgroup/unified/hull-ref-test}
runc=${REF_RUNC:-/usr/sbin/runc}
if [ ! -d "$cg" ]; then
	echo "runc-ref.sh: $cg does not exist; create it first (mkdir $cg)" >&2
	exit 125
fi
exec unshare -m --propagation private sh -c '
	cg=$1 runc=$2; shift 2
	mount --bind "$cg" /sys/fs/cgroup && exec "$runc" "$@"
' runc-ref "$cg" "$runc" "$@"
