package hosttest

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestReadCalls parses a log as hack/e2e/hull-argv.sh writes it: calls that
// overlap, one still running, quoted arguments.
func TestReadCalls(t *testing.T) {
	log := filepath.Join(t.TempDir(), "argv.log")
	text := "CALL 10 containerd-shim --root /run/x --log 'a b.json' create --bundle /b c1\n" +
		"CALL 11 containerd-shim --root=/run/x start c1\n" +
		"EXIT 11 0\n" +
		"EXIT 10 1\n" +
		"CALL 12 conmon kill c1 " + ShellJoin([]string{"it's"}) + "\n"
	if err := os.WriteFile(log, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	calls := ReadCalls(log)
	if len(calls) != 3 {
		t.Fatalf("%d calls, want 3: %v", len(calls), calls)
	}
	c := calls[0]
	if c.Pid != 10 || c.Caller != "containerd-shim" || c.Root != "/run/x" || c.Sub != "create" ||
		!slices.Equal(c.SubArgs, []string{"--bundle", "/b", "c1"}) || !c.Ended || c.Exit != 1 || !c.Has("c1", "--bundle") {
		t.Errorf("first call: %+v", c)
	}
	if c := calls[1]; c.Root != "/run/x" || c.Sub != "start" || c.Exit != 0 || !c.Ended {
		t.Errorf("second call: %+v", c)
	}
	if c := calls[2]; c.Ended || c.Exit != -1 || !slices.Equal(c.SubArgs, []string{"c1", "it's"}) {
		t.Errorf("running call: %+v", c)
	}
	if got := calls[0].String(); got != "containerd-shim ran `hull --root /run/x --log 'a b.json' create --bundle /b c1`: exit 1" {
		t.Errorf("String() = %q", got)
	}
}
