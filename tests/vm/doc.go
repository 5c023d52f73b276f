// Package vm runs tests inside a small qemu VM with a pure cgroup v2 hierarchy
// (every controller enabled), through hack/vm/run.sh, for the cgroup tests that
// a hybrid-cgroup host cannot serve.
//
// The flow: compile a test package on the host into a static binary
// (BuildTest: CGO_ENABLED=0 go test -c), put it and whatever it needs (hull)
// in a share directory, and run it in the guest (Command), where the share is
// /mnt/host, the working directory is /mnt/host (or Options.Cwd), TMPDIR=/tmp
// is a tmpfs and HULL_IN_VM=1. Tests that must run only in the guest skip
// unless InVM().
//
// This package's own tests (TestVMBoots and friends) prove the harness: they
// boot the VM and check the controllers, a memory.max OOM kill, pids.max and
// exit code and timeout handling. They need root and take about 10 s (most of
// it TCG emulation); they skip with -short, outside linux/amd64, without root,
// inside the VM, or with HULL_SKIP_VM=1.
package vm
