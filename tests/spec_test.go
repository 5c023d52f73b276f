//go:build linux

package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
)

func TestSpecCommand(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		args       []string // after "spec"; "{dir}" is the target dir
		inDir      bool     // run in the target dir instead of passing --bundle
		wantUserNS bool
	}{
		{name: "bundle-flag", args: []string{"--bundle", "{dir}"}},
		{name: "short-bundle-flag", args: []string{"-b", "{dir}"}},
		{name: "current-dir", inDir: true},
		{name: "rootless", args: []string{"--rootless", "--bundle", "{dir}"}, wantUserNS: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			dir := t.TempDir()
			args := []string{"spec"}
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "{dir}", dir))
			}
			o := cmdOpts{}
			if tc.inDir {
				o.dir = dir
			}
			mustExit(t, h.hullOpts(o, args...), 0)
			path := filepath.Join(dir, "config.json")
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var s specs.Spec
			if err := json.Unmarshal(data, &s); err != nil {
				t.Fatalf("config.json does not parse: %v\n%s", err, data)
			}
			if s.Version == "" || s.Process == nil || len(s.Process.Args) == 0 || s.Root == nil || s.Root.Path != "rootfs" || s.Linux == nil {
				t.Fatalf("incomplete spec:\n%s", data)
			}
			if got := strings.Join(s.Process.Args, " "); got != "sh" {
				t.Errorf("process.args %q, want sh", got)
			}
			hasNS := map[specs.LinuxNamespaceType]bool{}
			for _, ns := range s.Linux.Namespaces {
				hasNS[ns.Type] = true
			}
			for _, typ := range []specs.LinuxNamespaceType{specs.PIDNamespace, specs.MountNamespace, specs.IPCNamespace, specs.UTSNamespace} {
				if !hasNS[typ] {
					t.Errorf("no %s namespace", typ)
				}
			}
			if hasNS[specs.UserNamespace] != tc.wantUserNS {
				t.Errorf("user namespace: %v, want %v", hasNS[specs.UserNamespace], tc.wantUserNS)
			}
			if tc.wantUserNS && (len(s.Linux.UIDMappings) == 0 || len(s.Linux.GIDMappings) == 0) {
				t.Errorf("rootless spec without uid/gid mappings")
			}

			// A second spec must refuse to overwrite the first.
			r := h.hullOpts(o, args...)
			if r.exit == 0 || !strings.Contains(r.stderr, "File config.json exists. Remove it first") {
				t.Errorf("spec over an existing config.json: %s; want runc's \"File config.json exists. Remove it first\"", r)
			}
			if again, _ := os.ReadFile(path); !bytes.Equal(again, data) {
				t.Errorf("the refused spec changed config.json")
			}
		})
	}
}

// TestSpecRuns runs the generated default spec (terminal off, other args):
// what `hull spec` writes must be usable as is.
func TestSpecRuns(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	mustExit(t, h.do("spec", "--bundle", h.bundle), 0)
	var s specs.Spec
	if err := json.Unmarshal([]byte(readFile(filepath.Join(h.bundle, "config.json"))), &s); err != nil {
		t.Fatal(err)
	}
	s.Process.Terminal = false
	s.Process.Args = []string{"sh", "-c", "echo spec-ok; hostname"}
	if os.Getenv("HULL_TEST_NO_RESOURCES") != "" {
		s.Linux.Resources = nil
	}
	if err := os.Remove(filepath.Join(h.bundle, "config.json")); err != nil {
		t.Fatal(err)
	}
	r := h.run(&s)
	mustExit(t, r, 0)
	if want := "spec-ok\n" + s.Hostname + "\n"; r.stdout != want {
		t.Errorf("output %q, want %q", r.stdout, want)
	}
}

// TestSpecIsClean: hull's own default config must be one hull has nothing to say
// about: `hull check` finds it clean, and `hull run` of it (in the foreground, and
// created then started) prints nothing on stderr. The default once listed ambient
// capabilities with no inheritable set, which no runtime can grant, and every
// container made from it logged a warning.
func TestSpecIsClean(t *testing.T) {
	t.Parallel()
	for _, rootless := range []bool{false, true} {
		t.Run(fmt.Sprintf("rootless=%v", rootless), func(t *testing.T) {
			t.Parallel()
			h := newHarness(t)
			args := []string{"spec", "--bundle", h.bundle}
			if rootless {
				args = append(args, "--rootless")
			}
			mustExit(t, h.do(args...), 0)
			r := h.do("check", "--bundle", h.bundle)
			if r.exit != 0 || r.stdout != "" || r.stderr != "" {
				t.Errorf("check of the default spec: %s; want exit 0 and no finding", r)
			}
			if rootless {
				return // running it needs an unprivileged user: the check is what is asked of it
			}
			var s specs.Spec
			if err := json.Unmarshal([]byte(readFile(filepath.Join(h.bundle, "config.json"))), &s); err != nil {
				t.Fatal(err)
			}
			// Only what a test run needs: no terminal to hand out, a command that ends.
			s.Process.Terminal = false
			s.Process.Args = []string{"true"}
			if os.Getenv("HULL_TEST_NO_RESOURCES") != "" {
				s.Linux.Resources = nil
			}
			r = h.run(&s)
			if r.exit != 0 || r.stderr != "" {
				t.Errorf("run of the default spec: %s; want exit 0 and nothing on stderr", r)
			}
			r = h.create(&s)
			if r.exit != 0 || r.stderr != "" {
				t.Errorf("create of the default spec: %s; want exit 0 and nothing on stderr", r)
			}
			if r := h.do("start", h.id); r.exit != 0 || r.stderr != "" {
				t.Errorf("start of the default spec: %s; want exit 0 and nothing on stderr", r)
			}
		})
	}
}

// TestVersion checks that the version from the VERSION file is built in.
func TestVersion(t *testing.T) {
	t.Parallel()
	h := newHarness(t)
	if filepath.Base(hullBinary) != "hull" {
		t.Skipf("HULL_BINARY %s is not hull", hullBinary)
	}
	r := h.hullOpts(cmdOpts{noRoot: true}, "--version")
	mustExit(t, r, 0)
	if want := "hull version " + repoVersion(); !strings.Contains(r.stdout, want) {
		t.Errorf("--version printed %q, want it to contain %q", r.stdout, want)
	}
}
