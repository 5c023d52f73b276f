package nsenter

import (
	"debug/elf"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestRawVforkCalledDirectly guards what vfork_linux_amd64.s relies on: every caller
// calls the ABI0 stub itself. Were the compiler ever to reach it through an ABI
// wrapper (a func value of it, a toolchain change), the wrapper's frame would hold a
// return address that the vfork child overwrites before the parent resumes and uses
// it. The wrapper would be a second symbol, the function's name without ".abi0".
func TestRawVforkCalledDirectly(t *testing.T) {
	// go test strips the binary it runs; link one with its symbol table.
	exe := filepath.Join(t.TempDir(), "nsenter.test")
	if out, err := exec.Command("go", "test", "-c", "-o", exe, ".").CombinedOutput(); err != nil {
		t.Fatalf("go test -c: %v\n%s", err, out)
	}
	f, err := elf.Open(exe)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	syms, err := f.Symbols()
	if err != nil {
		t.Fatal(err)
	}
	const name = "github.com/hull-runtime/hull/nsenter.rawVfork"
	var stub, wrapper bool
	for _, s := range syms {
		switch {
		case s.Name == name+".abi0":
			stub = true
		case s.Name == name, strings.HasPrefix(s.Name, name+".") && s.Name != name+".abi0":
			wrapper = true
			t.Errorf("symbol %s: rawVfork is reached through a wrapper frame", s.Name)
		}
	}
	if !stub && !wrapper {
		t.Fatalf("no symbol %s.abi0 in %s: the check no longer sees the stub", name, exe)
	}
}
