// Package hulltest holds what hull's tests share: the skip policy, and the small
// host probes and parsers that the package tests (libruntime/..., nsenter, hack/)
// and the integration suites (tests/, tests/e2e, tests/cri, tests/vm) would
// otherwise each keep a copy of. Only tests import it; hull's binary never links
// it.
//
// It lives in the module's internal/ rather than in tests/internal/ because Go
// lets only the tree above an internal directory import it: tests/internal is
// out of reach of libruntime's package tests, the module's internal/ is in reach
// of every package and of tests/cri too, whose import path is below the
// module's (its go.mod replaces the module with ../..). What only the suites
// that drive container engines share (their cgroup2 sandbox, the argv log of
// hack/e2e/hull-argv.sh) stays in tests/internal/hosttest.
//
// # Skips
//
// A test that cannot run says which of two kinds of reason stops it:
//
//   - HostLimit (and OnlyArch): this host cannot do it and no setup of the CI
//     machine would change that (a kernel without the feature, the
//     architecture, the hybrid cgroup hierarchy, a runtime under test that is
//     not hull). The test is skipped, its message starts with "host limit:" and
//     says where it does run.
//   - Require, RequireRoot, RequireBusybox, RequireTool: a precondition that CI
//     always has (root, a static /bin/busybox, runc, a Go toolchain, what
//     `make deps` and `make e2e-deps` install). Its absence fails the test, so
//     a machine that lost it cannot pass by skipping.
//
// A skip asked for by whoever runs the tests (-short, HULL_SKIP_VM) is neither
// and stays a plain t.Skip.
package hulltest
