// Package guest holds the suites that run only in the Debian guest of the VM
// harness (hack/vm/run.sh --guest debian): a stock-like Debian bookworm host
// booted with systemd as PID 1, pure cgroup v2, AppArmor, dbus, containerd,
// docker and podman, where hull meets its real callers.
//
// Every test file has the build tag "guest": `go test ./...` on the host,
// which has none of that, compiles nothing here, and in the guest nothing
// skips. `make guest-test` builds this package with the tag and runs it in
// the guest (hack/vm/gotest.sh with GOFLAGS=-tags=guest and
// HULL_VM_FLAGS='--guest debian'), with HULL_BINARY set to the shared
// bin/hull; TestMain refuses to run anywhere else (HULL_GUEST=debian, set by
// the guest's launcher, is the proof).
//
// guest_test.go asserts the test bed itself: what later suites may rely on.
package guest
