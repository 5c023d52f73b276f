#!/bin/sh
# bench.sh [HARNESS FLAGS...]: `make bench`. Compares hull with runc and crun
# (the release builds in $BENCH_PEERS, default ../shared/peers, and Debian's) on
# two busybox bundles whose process is /bin/true, the minimal one and Docker's
# default config ("docker-default"), interleaved in one run, and prints markdown
# tables (also written to $BENCH_OUT, default build/bench.md). Root only; about
# 6 minutes on 2 idle cores with the defaults, about 1 with -quick.
#
#   1. installs runc, crun and busybox-static with apt if missing;
#   2. fetches Docker's default seccomp profile for docker-default: the .deb of
#      Debian's docker.io source (golang-github-docker-docker-dev) is
#      downloaded with apt-get and only profiles/seccomp/default.json is taken
#      from it (installing the package would pull ~40 Go source packages).
#      Without it, podman's profile from containers-common is used and the
#      notes say so;
#   3. builds hull as released (`make hull`: -trimpath, -s -w, static) into
#      build/bench/hull, so a concurrent rebuild of bin/hull does not matter;
#   4. makes the bundle build/bench/base with hack/mkbundle.sh;
#   5. builds the launcher hack/bench/spawn/spawn.c (static, with musl-gcc or
#      gcc), through which every runtime invocation is started so that peak RSS
#      is the runtime's own;
#   6. runs the harness (hack/bench/main.go; its doc says how the peers are
#      kept away from the host's hybrid cgroups, and what is measured).
#
# Flags go to the harness, e.g. `hack/bench/bench.sh -quick` for a rough look,
# `-only hull,crun-1.27.1`, `-bundles minimal`, or `-candidate PATH` to
# measure a second hull binary side by side (a "hull-new/hull" column: the way
# to check an optimisation on a noisy machine). Environment: GO (default go),
# MAKE, BENCH_OUT, BENCH_HULL (a hull binary to use instead of building one),
# BENCH_PEERS.
set -eu

repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"
GO=${GO:-go}
MAKE=${MAKE:-make}
out=${BENCH_OUT:-build/bench.md}

if [ "$(id -u)" != 0 ]; then
	echo "bench: run as root (containers, cgroups, mount namespaces)" >&2
	exit 1
fi

need=
for p in runc crun busybox-static; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need="$need $p"
done
if [ -n "$need" ]; then
	echo "bench: installing$need" >&2
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $need >/dev/null
fi

mkdir -p build/bench
profile=build/bench/docker-seccomp-default.json
deb=golang-github-docker-docker-dev
if [ ! -s "$profile" ]; then
	tmp=$(mktemp -d)
	if (cd "$tmp" && apt-get download -qq "$deb" >/dev/null 2>&1) ||
		{ apt-get update -qq && (cd "$tmp" && apt-get download -qq "$deb" >/dev/null 2>&1); }; then
		dpkg-deb --fsys-tarfile "$tmp"/*.deb | tar -xO ./usr/share/gocode/src/github.com/docker/docker/profiles/seccomp/default.json >"$profile.tmp" &&
			mv "$profile.tmp" "$profile"
		dpkg-deb -f "$tmp"/*.deb Version >build/bench/docker-seccomp-default.version
	fi
	rm -rf "$tmp" "$profile.tmp"
fi
if [ -s "$profile" ]; then
	set -- -seccomp-profile "$profile" -seccomp-from "Docker's built-in default profile (moby profiles/seccomp/default.json from Debian's $deb $(cat build/bench/docker-seccomp-default.version 2>/dev/null), i.e. docker.io 20.10's; Docker 28's has the same rules plus the syscalls added since)" "$@"
elif [ ! -s /usr/share/containers/seccomp.json ]; then
	echo "bench: could not fetch Docker's seccomp profile ($deb); installing podman's (containers-common) for docker-default" >&2
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends golang-github-containers-common >/dev/null 2>&1 ||
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends containers-common >/dev/null 2>&1 ||
		echo "bench: no seccomp profile in Docker's format: the docker-default bundle is skipped" >&2
fi
peers=${BENCH_PEERS:-$repo/../shared/peers}
[ -d "$peers" ] || echo "bench: no peers directory $peers: runc 1.5.1 and crun 1.27.1/1.29.1 are skipped" >&2

hull=${BENCH_HULL:-}
if [ -z "$hull" ]; then
	"$MAKE" -s hull BIN=build/bench/hull
	hull=build/bench/hull
fi
HULL=$hull BUNDLE_HOSTNAME=bench GO="$GO" hack/mkbundle.sh build/bench/base /bin/true >/dev/null
"$GO" build -o build/bench/harness ./hack/bench
# The launcher every invocation goes through, so that peak RSS is the
# runtime's own (hack/bench/spawn/spawn.c says why); static, musl if there.
cc=$(command -v musl-gcc || command -v gcc || true)
if [ -n "$cc" ] && "$cc" -static -O2 -o build/bench/spawn hack/bench/spawn/spawn.c; then
	set -- -spawner "$repo/build/bench/spawn" "$@"
else
	echo "bench: no C compiler for hack/bench/spawn/spawn.c: peak RSS gets the harness's own as a floor" >&2
fi
exec build/bench/harness -hull "$hull" -bundle build/bench/base -work build/bench/work -out "$out" -peers "$peers" "$@"
