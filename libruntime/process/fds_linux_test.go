package process

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// fdsArg drives the "closeexec" scenario: open each file at the given fd
// number without O_CLOEXEC, mark fds >= MinFd close-on-exec with Method,
// then exec busybox ls -l /proc/self/fd.
type fdsArg struct {
	Method string // "CloseExecFrom" or "walk"
	MinFd  int
	Files  map[int]string
}

func init() {
	scenarios["closeexec"] = func(b []byte) error {
		var a fdsArg
		if err := json.Unmarshal(b, &a); err != nil {
			return err
		}
		for fd, path := range a.Files {
			tmp, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				return err
			}
			// dup3 without O_CLOEXEC: the kind of fd a leak would be.
			if err := unix.Dup3(tmp, fd, 0); err != nil {
				return err
			}
			unix.Close(tmp)
		}
		var err error
		switch a.Method {
		case "CloseExecFrom":
			err = CloseExecFrom(a.MinFd)
		case "walk":
			err = closeExecWalk(a.MinFd)
		default:
			err = fmt.Errorf("no method %q", a.Method)
		}
		if err != nil {
			return err
		}
		return execBusybox("ls", "-l", "/proc/self/fd")
	}
}

// parseFdLinks reads `ls -l /proc/self/fd` into fd number -> link target.
func parseFdLinks(t *testing.T, out string) map[int]string {
	t.Helper()
	m := map[int]string{}
	for _, line := range strings.Split(out, "\n") {
		left, target, ok := strings.Cut(line, " -> ")
		if !ok {
			continue
		}
		f := strings.Fields(left)
		fd, err := strconv.Atoi(f[len(f)-1])
		if err != nil {
			t.Fatalf("bad ls line %q", line)
		}
		m[fd] = strings.TrimSpace(target)
	}
	return m
}

func TestCloseExecFrom(t *testing.T) {
	dir := t.TempDir()
	file := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	const minFd = 50
	// 49 and 50 sit on both sides of the boundary.
	keep := map[int]string{40: file("keep40"), 49: file("keep49")}
	drop := map[int]string{50: file("drop50"), 51: file("drop51"), 77: file("drop77"), 1000: file("drop1000")}
	files := map[int]string{}
	for fd, p := range keep {
		files[fd] = p
	}
	for fd, p := range drop {
		files[fd] = p
	}

	for _, method := range []string{"CloseExecFrom", "walk"} {
		t.Run(method, func(t *testing.T) {
			res := runChild(t, "closeexec", fdsArg{Method: method, MinFd: minFd, Files: files})
			res.mustSucceed(t)
			links := parseFdLinks(t, res.stdout)
			for fd, p := range keep {
				if links[fd] != p {
					t.Errorf("fd %d = %q, want %q kept open", fd, links[fd], p)
				}
			}
			drops := map[string]bool{}
			for _, p := range drop {
				drops[p] = true
			}
			// Fds below minFd that the child inherited stay, as they
			// should; nothing at or above it may.
			for fd, target := range links {
				if fd >= minFd || drops[target] {
					t.Errorf("fd %d -> %s leaked through exec", fd, target)
				}
			}
		})
	}
}

func TestCloseExecFromNegative(t *testing.T) {
	if err := CloseExecFrom(-1); err == nil {
		t.Fatal("CloseExecFrom(-1) succeeded")
	}
}
