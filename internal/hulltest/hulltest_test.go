package hulltest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestProcStatus(t *testing.T) {
	st := ProcStatus("Name:\tcat\nUid:\t0\t0\t0\t0\nGroups:\t10 65534 \nCapEff:\t0000000020000420\n")
	for k, want := range map[string]string{"Name": "cat", "Uid": "0\t0\t0\t0", "Groups": "10 65534", "CapEff": "0000000020000420"} {
		if st[k] != want {
			t.Errorf("%s = %q, want %q", k, st[k], want)
		}
	}
	if got := StatusHex(t, st, "CapEff"); got != 0x20000420 {
		t.Errorf("StatusHex = %#x", got)
	}
}

func TestLastLinesAndHasOpt(t *testing.T) {
	if got := LastLines("a\nb\nc\n", 2); got != "b\nc" {
		t.Errorf("LastLines = %q", got)
	}
	if !HasOpt("rw,nosuid,nodev", "nosuid") || HasOpt("rw,nosuid", "nosu") {
		t.Error("HasOpt")
	}
}

func TestTreeAndDirNames(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "b"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "a"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if got := Tree(t, dir); got != " drwx------\n/a drwx------\n/b -rw------- x" {
		t.Errorf("Tree = %q", got)
	}
	if got := DirNames(t, dir); len(got) != 2 || got[0] != "a" || got[1] != "b" {
		t.Errorf("DirNames = %q", got)
	}
	if got := DirNames(t, filepath.Join(dir, "missing")); got != nil {
		t.Errorf("DirNames of a missing directory = %q, want nil", got)
	}
}

func TestDeviceProbe(t *testing.T) {
	dir := t.TempDir()
	for probe, want := range map[string]string{
		"open " + dir + "/missing r":  "ENOENT",
		"exists " + dir:               "ok",
		"open /dev/null rw":           "ok",
		"open /dev/null x":            `bad probe "open /dev/null x"`,
		"open:/dev/null:rw":           `bad probe "open:/dev/null:rw"`,
		"mknod " + dir + "/n c 1":     `bad probe "mknod ` + dir + `/n c 1"`,
		"exists " + dir + "/missing2": "ENOENT",
	} {
		if got := DeviceProbe(probe); got != want {
			t.Errorf("DeviceProbe(%q) = %q, want %q", probe, got, want)
		}
	}
}
