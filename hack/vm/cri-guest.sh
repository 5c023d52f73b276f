#!/bin/bash
# cri-guest.sh: tests/cri's guest tests (build tag "guest") in the Debian guest.
#
#   HULL_BINARY=$PWD/bin/hull hack/vm/cri-guest.sh -test.run TestGuestCRI -test.v
#
# tests/cri is a module of its own (gRPC and the CRI API stay out of hull's
# go.mod), which gotest.sh cannot build: this builds its test binary
# statically with the tag, copies hull ($HULL_BINARY, else bin/hull) next to
# it and runs it with run.sh --guest debian. Arguments go to the test binary;
# HULL_VM_FLAGS holds extra flags for run.sh (word-split).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
share=$(mktemp -d "${TMPDIR:-/tmp}/hull-vm-cri.XXXXXX")
trap 'rm -rf "$share"' EXIT
mkdir -p "$share/tests/cri"
cp "${HULL_BINARY:-$root/bin/hull}" "$share/hull"
(cd "$root/tests/cri" && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -tags guest -c -o "$share/tests/cri/pkg.test" .)
# A silent hang of the guest is booted once more, as in gotest.sh.
for try in 1 2; do
	rc=0
	# shellcheck disable=SC2086 # HULL_VM_FLAGS is word-split on purpose
	"$here/run.sh" --guest debian --share "$share" --cwd /mnt/host/tests/cri --env HULL_BINARY=/mnt/host/hull \
		${HULL_VM_FLAGS:-} -- /mnt/host/tests/cri/pkg.test "$@" || rc=$?
	[ "$rc" = 124 ] && [ "$try" = 1 ] || break
	echo "cri-guest.sh: RETRY: the guest did not finish in time (exit 124); booting it once more" >&2
done
exit $rc
