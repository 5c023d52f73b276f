package main

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestDeps: the stage is worth a second binary only while it leaves out what hull's
// commands need: each of these packages' initialisation and pages would come back
// into every create and exec.
func TestDeps(t *testing.T) {
	// As the Makefile builds it.
	cmd := exec.Command("go", "list", "-deps", "-tags", "netgo osusergo", ".")
	cmd.Env = append(cmd.Environ(), "CGO_ENABLED=0")
	out, err := cmd.Output()
	hulltest.Require(t, "the go tool (go list)", err)
	for _, dep := range strings.Fields(string(out)) {
		for _, heavy := range []string{
			"runtime/cgo", "github.com/urfave/cli", "github.com/cilium/ebpf", "libseccomp",
			"github.com/godbus/dbus", "github.com/coreos/go-systemd", "text/template", "regexp",
			"github.com/hull-runtime/hull/libruntime/cgroups",
		} {
			if dep == heavy || strings.HasPrefix(dep, heavy+"/") || (heavy == "libseccomp" && strings.Contains(dep, heavy)) {
				t.Errorf("the init stage depends on %s", dep)
			}
		}
		// The compiler: init loads the program create compiled (seccomp/bpf).
		if dep == "github.com/hull-runtime/hull/libruntime/seccomp" {
			t.Errorf("the init stage depends on %s", dep)
		}
	}
}
