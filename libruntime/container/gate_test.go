package container

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// fabricate writes the state of a container "c1" in status s under a new root, as
// create would leave it, and loads it. Its init (or, creating, its create) is a sleep
// of the test's; a paused one is a created one whose recorded cgroup is a plain
// directory with cgroup.freeze 1, which Status reads directly.
func fabricate(t *testing.T, s Status) *Container {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "c1")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	p := &persisted{ID: "c1", Bundle: "/nonexistent", Config: &specs.Spec{}}
	if s != Stopped {
		cmd := exec.Command("sleep", "1000")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
		_, start, err := procStat(cmd.Process.Pid)
		if err != nil {
			t.Fatal(err)
		}
		if s == Creating {
			p.Config = nil
			p.CreatorPid, p.CreatorStartTime = cmd.Process.Pid, start
		} else {
			p.InitPid, p.InitStartTime = cmd.Process.Pid, start
		}
	}
	if s == Created || s == Paused {
		if err := unix.Mkfifo(filepath.Join(dir, fifoName), 0o622); err != nil {
			t.Fatal(err)
		}
	}
	if s == Paused {
		p.CgroupPath = t.TempDir()
		if err := os.WriteFile(filepath.Join(p.CgroupPath, "cgroup.freeze"), []byte("1\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := writeState(dir, p); err != nil {
		t.Fatal(err)
	}
	c, err := Load(root, "c1")
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Status(); got != s {
		t.Fatalf("fabricated a %s container, its status is %s", s, got)
	}
	return c
}

var errMergeCalled = errors.New("update's merge ran")

// TestGateOfEachOperation runs every operation of the library on a container in every
// status and holds it to the state machine's table: a refusal is the *TransitionError
// in runc's words, and an allowed operation gets past the gate (to fail later, on the
// fabricated container, for its own reasons).
func TestGateOfEachOperation(t *testing.T) {
	calls := map[Op]func(c *Container) error{
		OpStart: func(c *Container) error {
			if c.Status() == Created {
				// Allowed: start waits for init on the fifo, which a sleep never
				// opens; its exit ends the wait.
				go func() {
					time.Sleep(100 * time.Millisecond)
					_ = unix.Kill(c.p.InitPid, unix.SIGKILL)
				}()
			}
			return c.Start()
		},
		OpKill:        func(c *Container) error { return c.Signal(0, false) },
		OpKillAll:     func(c *Container) error { return c.Signal(0, true) },
		OpDelete:      func(c *Container) error { return c.Delete(false) },
		OpDeleteForce: func(c *Container) error { return c.Delete(true) },
		OpPause:       (*Container).Pause,
		OpResume:      (*Container).Resume,
		OpExec: func(c *Container) error {
			_, err := c.Exec(&ExecOpts{}) // allowed: then refused for its empty process
			return err
		},
		OpExecIgnorePaused: func(c *Container) error {
			_, err := c.Exec(&ExecOpts{IgnorePaused: true})
			return err
		},
		OpUpdate: func(c *Container) error {
			return c.Update(func(*specs.LinuxResources) (*specs.LinuxResources, error) { return nil, errMergeCalled })
		},
		// events is a command file's loop over Stats; the library's part is the gate.
		OpEvents: func(c *Container) error {
			_, err := c.Gate(OpEvents)
			return err
		},
	}
	// Start, delete and update take the container's lock, which a create holds while
	// it builds: they never see a container that is creating.
	locking := map[Op]bool{OpStart: true, OpDelete: true, OpDeleteForce: true, OpUpdate: true}
	for _, op := range allOps {
		call, ok := calls[op]
		if !ok {
			t.Fatalf("no call for %s", op)
		}
		for _, s := range allStatuses {
			if s == Creating && locking[op] {
				continue
			}
			t.Run(string(op)+"/"+string(s), func(t *testing.T) {
				c := fabricate(t, s)
				err := call(c)
				checkRefusal(t, "call", op, s, err)
				if op == OpUpdate && transitionTable[op][s].text == "" && !errors.Is(err, errMergeCalled) {
					t.Errorf("update from %s: %v, want it past the gate to merge", s, err)
				}
			})
		}
	}
}
