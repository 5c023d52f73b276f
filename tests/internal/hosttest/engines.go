package hosttest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// NoInstall reports whether the run asked the tests never to run apt-get
// (HULL_E2E_NO_INSTALL).
func NoInstall() bool { return os.Getenv("HULL_E2E_NO_INSTALL") != "" }

// EnsurePackages installs with apt-get the Debian packages among need (package
// -> the programs it provides) whose programs are missing, unless NoInstall. It
// returns, for each package whose programs are still missing, why.
func EnsurePackages(need map[string][]string) map[string]string {
	missing := func(pkg string) []string {
		var out []string
		for _, b := range need[pkg] {
			if _, err := exec.LookPath(b); err != nil {
				out = append(out, b)
			}
		}
		return out
	}
	var pkgs []string
	for pkg := range need {
		if len(missing(pkg)) > 0 {
			pkgs = append(pkgs, pkg)
		}
	}
	if len(pkgs) == 0 {
		return nil
	}
	said := ""
	if _, err := exec.LookPath("apt-get"); err == nil && !NoInstall() {
		fmt.Fprintln(os.Stderr, "installing", strings.Join(pkgs, " "))
		install := func() error {
			args := append([]string{"install", "-y", "-qq", "--no-install-recommends", "-o", "DPkg::Lock::Timeout=300"}, pkgs...)
			cmd := exec.Command("apt-get", args...)
			cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
			out, err := cmd.CombinedOutput()
			said = strings.ReplaceAll(hulltest.LastLines(string(out), 5), "\n", " | ")
			return err
		}
		if install() != nil {
			_ = exec.Command("apt-get", "update", "-qq", "-o", "DPkg::Lock::Timeout=300").Run()
			_ = install()
		}
	}
	why := map[string]string{}
	for _, pkg := range pkgs {
		m := missing(pkg)
		if len(m) == 0 {
			continue
		}
		msg := fmt.Sprintf("%s is not installed (missing %s); install it with `apt-get install %s` or `make e2e-deps`", pkg, strings.Join(m, ", "), pkg)
		if NoInstall() {
			msg += " (HULL_E2E_NO_INSTALL is set)"
		}
		if said != "" {
			msg += "; apt-get said: " + said
		}
		why[pkg] = msg
	}
	return why
}

// EngineMissing ends t, whose engine could not be had (why, from
// EnsurePackages): a skip when the run asked for no installs, else a failure,
// as `make e2e-deps` and the tests' own apt-get provide the engines on CI.
func EngineMissing(t testing.TB, why string) {
	t.Helper()
	if NoInstall() {
		t.Skip(why)
	}
	hulltest.Require(t, "the container engine", errors.New(why))
}
