// Package e2e runs hull under the engines that drive runc in production:
// containerd (Debian's 1.6) through its runc shim, io.containerd.runc.v2, with
// `ctr run --runc-binary`, and podman (Debian's 4.3) through conmon with
// `podman --runtime`. The engines are real and unmodified; only where they keep
// their state and which cgroups they can see is arranged by the tests.
//
// The tests need root and Linux. TestMain installs containerd and podman with
// apt-get when they are missing (unless HULL_E2E_NO_INSTALL is set); an engine
// that cannot be had fails its tests with the reason, or skips them when
// HULL_E2E_NO_INSTALL is set (internal/hulltest has the policy). Without root or
// a static /bin/busybox the run fails.
//
// # The sandbox
//
// Everything runs in one private mount namespace and cgroup namespace made for
// the run (see sandbox_test.go and tests/internal/hosttest). Its root cgroup is a cgroup2 directory the
// tests create, hull-e2e-<pid>, below the host's cgroup2 mount, and a fresh
// cgroup2 filesystem is mounted on /sys/fs/cgroup inside it. On a hybrid host
// the engines therefore see a pure cgroup v2 machine and never reach the v1
// hierarchies; the tests check that no v1 cgroup appeared. /run, /dev/shm,
// /var/tmp and /var/lib are tmpfs in the sandbox, so the shims' sockets
// (/run/containerd/s), the runtime state (/run/containerd/runc, /run/hull),
// podman's locks and its blob-info cache (/var/lib/containers/cache) never
// land on the host. containerd's root, state, socket and config, and podman's
// storage, run and temporary directories are under the run's temporary
// directory. The daemons are stopped by pid; whatever is left in the sandbox's
// cgroup at the end is a failure and is killed through cgroup.kill.
//
// # Seeing what the engines asked for
//
// The engines run hack/e2e/hull-argv.sh, installed as <tmp>/bin/hull in front
// of the real binary: it appends every call (caller, argv, exit code) to
// <tmp>/bin/argv.log and saves each created container's config.json. Tests
// assert on those calls, and a failing test logs them.
//
// # Adaptations to the host
//
// Where the host cannot give what the engines ask for by default, the tests
// ask for less, and say so in the log: `ctr run --cpu-shares 0` when the cpu
// controller is not available in the sandbox's cgroup2 (ctr always asks for
// cpu.shares 1024), and podman's default_ulimits lowered to the current hard
// limits when hull lacks CAP_SYS_RESOURCE (podman asks for RLIMIT_NOFILE
// 1048576), pids_limit 0 when the pids controller is missing.
//
// Environment:
//
//	HULL_BINARY          runtime to test instead of building hull
//	HULL_E2E_NO_INSTALL  if set, never run apt-get; missing engines skip rather than fail
//	HULL_E2E_KEEP        if set, keep the temporary directory (logs, argv.log)
package e2e
