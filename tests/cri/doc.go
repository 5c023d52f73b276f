// Package cri runs hull under containerd's CRI plugin, the path kubelet
// takes: a gRPC client of runtime.v1 (RuntimeService and ImageService) talks
// to Debian's containerd (1.6) whose runtime handler "hull" is
// io.containerd.runc.v2 with options.BinaryName set to hull behind
// hack/e2e/hull-argv.sh, which logs every call the shim makes.
//
// It is a Go module of its own, so that hull's go.mod gets no gRPC or
// Kubernetes dependencies: run it with `cd tests/cri && go test ./...` (or
// `make cri-test`). It needs root and Linux; it installs containerd with
// apt-get when it is missing (unless HULL_E2E_NO_INSTALL is set) and fails,
// saying why, when it cannot be had (skips with HULL_E2E_NO_INSTALL).
//
// containerd runs in the sandbox tests/e2e uses too (tests/internal/hosttest): a private
// mount and cgroup namespace whose root is a cgroup2 directory of ours,
// hull-cri-<pid>, with a fresh cgroup2 on /sys/fs/cgroup and tmpfs on /run,
// /dev/shm, /var/tmp and /var/lib; its root, state, socket, config and the
// CRI plugin's CNI directories (empty) are under the run's temporary
// directory. The pod uses the host's network, so no CNI is needed; its
// sandbox image is a busybox pause loop built by the test and imported with
// `ctr -n k8s.io images import`, so nothing is pulled.
//
// Adaptations to the host, logged when made: restrict_oom_score_adj is on
// (the pod sandbox asks for oom_score_adj -998, which needs
// CAP_SYS_RESOURCE), and where the sandbox's cgroup2 has no cpu controller
// (a hybrid host binds it to v1) the plugin runs with disable_cgroup, as the
// pod sandbox always asks for cpu.shares 2.
//
// Environment:
//
//	HULL_BINARY          runtime to test instead of building hull
//	HULL_E2E_NO_INSTALL  if set, never run apt-get; without containerd the test skips rather than fails
//	HULL_E2E_KEEP        if set, keep the temporary directory (logs, argv.log)
package cri
