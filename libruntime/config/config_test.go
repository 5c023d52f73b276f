package config

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func TestErrorString(t *testing.T) {
	tests := []struct {
		err  Error
		want string
	}{
		{Error{Field: "linux.namespaces[1].type", Msg: `unknown namespace type "foo"`, Fix: "use one of pid"},
			`linux.namespaces[1].type: unknown namespace type "foo"; use one of pid`},
		{Error{Field: "process.args", Msg: "empty"}, "process.args: empty"},
		{Error{Msg: "no configuration", Fix: "load it"}, "no configuration; load it"},
	}
	for _, tc := range tests {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q, want %q", got, tc.want)
		}
	}
}

func TestValidateID(t *testing.T) {
	pattern := `must match ^[A-Za-z0-9][A-Za-z0-9_+.-]*$`
	tests := []struct {
		id      string
		wantErr string // substring; "" means valid
	}{
		{"a", ""},
		{"mycontainer", ""},
		{"0abc", ""},
		{"a_b+c.d-e", ""},
		{"a..b", ""},
		{"Z9", ""},
		// The id names a directory under the state root: NAME_MAX (255) bytes.
		{strings.Repeat("x", 255), ""},
		{"", "container id cannot be empty"},
		{strings.Repeat("x", 256), "256 bytes long, at most 255 allowed"},
		{strings.Repeat("x", 1024), "at most 255"},
		{strings.Repeat("x", 1025), "at most 255"},
		{".", `invalid container id ".": ` + pattern},
		{"..", `invalid container id "..": ` + pattern},
		{"-a", pattern},
		{"_a", pattern},
		{"a/b", `invalid container id "a/b": ` + pattern},
		{"../etc", pattern},
		{"a b", pattern},
		{"a\x00", pattern},
		{"é", pattern},
		{"a:b", pattern},
	}
	for _, tc := range tests {
		err := ValidateID(tc.id)
		if tc.wantErr == "" {
			if err != nil {
				t.Errorf("ValidateID(%q) = %v, want nil", tc.id, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("ValidateID(%q) = %v, want error containing %q", tc.id, err, tc.wantErr)
		}
	}
}

// TestDefaultMatchesRunc compares Default with what runc writes ($REF_RUNC, as for
// hack/runc-ref.sh, or the installed one); hull spec is meant to be interchangeable
// with runc spec.
func TestDefaultMatchesRunc(t *testing.T) {
	runc := os.Getenv("REF_RUNC")
	if runc == "" {
		var err error
		runc, err = exec.LookPath("runc")
		hulltest.Require(t, "runc (make deps), or REF_RUNC", err)
	}
	out, err := exec.Command(runc, "--version").Output()
	if err != nil {
		t.Fatalf("%s --version: %v", runc, err)
	}
	// runc before 1.2 (Debian 12 ships 1.1.5) listed ambient capabilities without
	// inheritable ones, which it could not grant either (runc#4367): hull follows
	// the fixed template, and compares the rest with an older runc's.
	oldAmbient := regexp.MustCompile(`(?m)^runc version 1\.[01]\.`).Match(out)
	for _, rootless := range []bool{false, true} {
		dir := t.TempDir()
		args := []string{"spec", "--bundle", dir}
		if rootless {
			args = append(args, "--rootless")
		}
		if out, err := exec.Command(runc, args...).CombinedOutput(); err != nil {
			t.Fatalf("runc %v: %v: %s", args, err, out)
		}
		data, err := os.ReadFile(filepath.Join(dir, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		var want map[string]any
		if err := json.Unmarshal(data, &want); err != nil {
			t.Fatal(err)
		}
		want["ociVersion"] = "1.3.0"
		if oldAmbient {
			delete(want["process"].(map[string]any)["capabilities"].(map[string]any), "ambient")
		}

		ours, err := json.Marshal(Default(rootless))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := json.Unmarshal(ours, &got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Default(%v) differs from runc spec:\n got: %s\nwant: %s", rootless, ours, mustJSON(t, want))
		}
	}
}

// TestDefaultCapsGrantable: every capability the default spec lists must be one a
// runtime can grant as listed (an ambient one only while also permitted and
// inheritable), or every container made from it would start with a warning.
func TestDefaultCapsGrantable(t *testing.T) {
	for _, rootless := range []bool{false, true} {
		c := Default(rootless).Process.Capabilities
		for _, name := range c.Ambient {
			if !slices.Contains(c.Permitted, name) || !slices.Contains(c.Inheritable, name) {
				t.Errorf("Default(%v): ambient %s is not both permitted and inheritable", rootless, name)
			}
		}
		for _, name := range c.Effective {
			if !slices.Contains(c.Permitted, name) {
				t.Errorf("Default(%v): effective %s is not permitted", rootless, name)
			}
		}
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDefaultRootless(t *testing.T) {
	s := Default(false)
	if s.Linux.UIDMappings != nil {
		t.Errorf("Default(false) has uid mappings")
	}
	makeRootless(s, 1234, 5678)
	if got := s.Linux.UIDMappings; len(got) != 1 || got[0].HostID != 1234 || got[0].ContainerID != 0 || got[0].Size != 1 {
		t.Errorf("uidMappings = %+v, want host 1234 mapped to 0", got)
	}
	if got := s.Linux.GIDMappings; len(got) != 1 || got[0].HostID != 5678 {
		t.Errorf("gidMappings = %+v, want host 5678 mapped to 0", got)
	}
	for _, n := range s.Linux.Namespaces {
		if n.Type == "network" {
			t.Errorf("rootless spec keeps the network namespace")
		}
	}
	if s.Linux.Resources != nil {
		t.Errorf("rootless spec keeps resources")
	}
}

func TestDefaultIsFresh(t *testing.T) {
	a := Default(false)
	a.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	a.Mounts[1].Options[0] = "x"
	b := Default(false)
	if b.Process.Capabilities.Bounding[0] != "CAP_AUDIT_WRITE" || b.Mounts[1].Options[0] != "nosuid" {
		t.Errorf("Default shares state between calls")
	}
	// The capability sets must not alias each other either.
	if b.Process.Capabilities.Effective[0] != "CAP_AUDIT_WRITE" {
		t.Errorf("capability sets alias each other")
	}
	b.Process.Capabilities.Bounding[0] = "CAP_SYS_ADMIN"
	if b.Process.Capabilities.Effective[0] != "CAP_AUDIT_WRITE" {
		t.Errorf("capability sets alias each other")
	}
}
