package initproc

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestNoLibseccomp: init and exec's helper load the program `hull create` compiled
// and must never compile one (libseccomp allocates, and RLIMIT_AS or a small
// pids/memory limit may already hold there): no package they are made of reaches
// libseccomp-golang. Its package initializer still runs in every hull process, as
// every linked package's does.
func TestNoLibseccomp(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	hulltest.Require(t, "the go tool (go list)", err)
	for _, dep := range strings.Fields(string(out)) {
		if strings.Contains(dep, "libseccomp") || dep == "github.com/hull-runtime/hull/libruntime/seccomp" {
			t.Errorf("initproc depends on %s", dep)
		}
	}
}
