#!/bin/sh
# bench.sh [HARNESS FLAGS...]: `make bench`. Compares hull with Debian's runc
# and crun on one busybox bundle whose process is /bin/true, interleaved in one
# run, and prints a markdown table (also written to $BENCH_OUT, default
# build/bench.md). Root only; about 2-3 minutes on 2 cores.
#
#   1. installs runc, crun and busybox-static with apt if missing;
#   2. builds hull as released (`make hull`: -trimpath, -s -w, static) into
#      build/bench/hull, so a concurrent rebuild of bin/hull does not matter;
#   3. makes the bundle build/bench/base with hack/mkbundle.sh;
#   4. runs the harness (hack/bench/main.go; its doc says how runc and crun
#      are kept away from the host's hybrid cgroups, and what is measured).
#
# Flags go to the harness, e.g. `hack/bench/bench.sh -n 10 -seq-reps 1` for a
# quick look, `-only hull,runc`, or `-candidate PATH` to measure a second hull
# binary side by side (a "hull-new/hull" column: the way to check an
# optimisation on a noisy machine). Environment: GO (default go), MAKE,
# BENCH_OUT, BENCH_HULL (a hull binary to use instead of building one).
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
hull=${BENCH_HULL:-}
if [ -z "$hull" ]; then
	"$MAKE" -s hull BIN=build/bench/hull
	hull=build/bench/hull
fi
HULL=$hull BUNDLE_HOSTNAME=bench GO="$GO" hack/mkbundle.sh build/bench/base /bin/true >/dev/null
"$GO" build -o build/bench/harness ./hack/bench
exec build/bench/harness -hull "$hull" -bundle build/bench/base -work build/bench/work -out "$out" "$@"
