package process

import (
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func init() {
	// keyring joins a new session keyring and prints the old and new
	// keyring ids and the new one's description.
	scenarios["keyring"] = func(b []byte) error {
		var name string
		if err := json.Unmarshal(b, &name); err != nil {
			return err
		}
		before, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, true)
		if err != nil {
			return fmt.Errorf("old session keyring: %w", err)
		}
		if err := JoinSessionKeyring(name); err != nil {
			return err
		}
		after, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false)
		if err != nil {
			return fmt.Errorf("new session keyring: %w", err)
		}
		desc, err := unix.KeyctlString(unix.KEYCTL_DESCRIBE, after)
		if err != nil {
			return err
		}
		return json.NewEncoder(os.Stdout).Encode([]string{strconv.Itoa(before), strconv.Itoa(after), desc})
	}
}

func TestJoinSessionKeyring(t *testing.T) {
	requireRoot(t)
	if _, err := unix.KeyctlGetKeyringID(unix.KEY_SPEC_SESSION_KEYRING, false); err == unix.ENOSYS {
		hulltest.HostLimit(t, "no keyrings in this kernel; runs on kernels with CONFIG_KEYS (Debian's)")
	}
	if inUserNS() {
		hulltest.HostLimit(t, "the expectations are for the initial user namespace; runs on a host, not in a container")
	}
	tests := []struct {
		name, ring, wantDesc string
	}{
		{"named", fmt.Sprintf("_ses.hull-test-%d", os.Getpid()), ""},
		{"anonymous", "", "_ses"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			want := tt.wantDesc
			if want == "" {
				want = tt.ring
			}
			res := runChild(t, "keyring", tt.ring)
			res.mustSucceed(t)
			var out []string
			if err := json.Unmarshal([]byte(res.stdout), &out); err != nil || len(out) != 3 {
				t.Fatalf("child output %q: %v", res.stdout, err)
			}
			if out[0] == out[1] {
				t.Errorf("session keyring %s did not change", out[0])
			}
			f := strings.SplitN(out[2], ";", 5)
			if len(f) != 5 || f[0] != "keyring" || f[1] != "0" || f[4] != want {
				t.Fatalf("description %q, want a keyring of uid 0 named %q", out[2], want)
			}
			perm, err := strconv.ParseUint(f[3], 16, 32)
			if err != nil {
				t.Fatal(err)
			}
			// The possessor's rights the kernel gave stay; the owner may
			// now also search it; nobody else gains anything.
			if perm&0x3f000000 != 0x3f000000 || perm&keyUsrSearch == 0 || perm&0xff != 0 {
				t.Errorf("permissions %08x: want possessor all, user search, others nothing", perm)
			}
		})
	}
}

func TestInUserNS(t *testing.T) {
	b, err := os.ReadFile("/proc/self/uid_map")
	if err != nil {
		hulltest.HostLimit(t, "%v: a kernel without user namespaces; runs on any distribution kernel", err)
	}
	want := strings.Join(strings.Fields(string(b)), " ") != "0 0 4294967295"
	if got := inUserNS(); got != want {
		t.Errorf("inUserNS() = %v with uid_map %q", got, b)
	}
}
