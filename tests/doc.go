// Package tests holds hull's integration tests: real containers started from a
// busybox bundle by the hull binary, with their behaviour asserted from inside
// the container.
//
// The tests need root and Linux (without root the run fails: see Skips in
// docs/DESIGN.md). They build hull once (or use the binary named
// by HULL_BINARY, which may be any runtime with runc's command line, such as
// hack/runc-ref.sh) and give every test its own bundle, state directory and
// container id. Every test checks on cleanup that it left no state directory,
// process, mount or cgroup behind.
//
// Environment:
//
//	HULL_BINARY              runtime to test instead of building hull
//	HULL_TEST_CGROUP_PREFIX  cgroupsPath prefix written into configs, followed by
//	                         the container id (default "/hulltest-"; "none" writes none)
//	HULL_TEST_CGROUP_ROOT    directory where that cgroupsPath must not exist after
//	                         a test (default /sys/fs/cgroup/unified, if cgroup2)
//	HULL_TEST_NO_RESOURCES   if set, strip linux.resources from configs generated
//	                         by `spec` before running them (for the runc reference)
package tests
