package vm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// InVM reports whether this process runs inside the test VM (run.sh's guest
// sets HULL_IN_VM=1).
func InVM() bool { return os.Getenv("HULL_IN_VM") == "1" }

// Script returns the path of hack/vm/run.sh: $HULL_VM_RUN if set, else found
// from the working directory upwards, at the module root (the directory with
// go.mod).
func Script() (string, error) {
	if s := os.Getenv("HULL_VM_RUN"); s != "" {
		return filepath.Abs(s)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(dir, "hack", "vm", "run.sh")
			if _, err := os.Stat(s); err != nil {
				return "", fmt.Errorf("module root %s has no hack/vm/run.sh: %w", dir, err)
			}
			return s, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory; set HULL_VM_RUN to hack/vm/run.sh")
		}
		dir = parent
	}
}

// Options are run.sh's flags.
type Options struct {
	Share   string        // host directory shared read-write at /mnt/host (required)
	Cwd     string        // the command's working directory in the guest; "" is /mnt/host
	Timeout time.Duration // hard limit for the whole VM; 0 is run.sh's default (600 s)
	Env     []string      // NAME=VALUE set in the command's environment
	Copy    []string      // SRC[:DST]: /mnt/host/SRC copied to DST (default /tmp/SRC) on tmpfs first
	DiskMiB int           // size of the virtio disk /dev/vda; 0 is run.sh's default (64), <0 none
	Log     string        // keep the whole console log in this file
	// Guest is run.sh's --guest: "" or "busybox" for the initramfs guest,
	// "debian" for the Debian host booted with systemd (hack/vm/README.md).
	Guest string
}

// Command returns an unstarted run.sh command that boots the VM and runs args
// there. Its exit status is the guest command's; 124 is a timeout, 125 a VM
// that never ran the command (the tail of the console log is on stderr).
// Cancelling ctx sends run.sh SIGTERM, on which it kills qemu.
func Command(ctx context.Context, o Options, args ...string) (*exec.Cmd, error) {
	script, err := Script()
	if err != nil {
		return nil, err
	}
	if o.Share == "" {
		return nil, errors.New("vm: Options.Share is required")
	}
	if len(args) == 0 {
		return nil, errors.New("vm: no command")
	}
	a := []string{"--share", o.Share, "-q"}
	if o.Guest != "" {
		a = append(a, "--guest", o.Guest)
	}
	if o.Cwd != "" {
		a = append(a, "--cwd", o.Cwd)
	}
	if o.Timeout > 0 {
		a = append(a, "--timeout", strconv.Itoa(int((o.Timeout+time.Second-1)/time.Second)))
	}
	for _, e := range o.Env {
		a = append(a, "--env", e)
	}
	for _, c := range o.Copy {
		a = append(a, "--copy", c)
	}
	switch {
	case o.DiskMiB < 0:
		a = append(a, "--disk-mib", "0")
	case o.DiskMiB > 0:
		a = append(a, "--disk-mib", strconv.Itoa(o.DiskMiB))
	}
	if o.Log != "" {
		a = append(a, "--log", o.Log)
	}
	a = append(a, "--")
	a = append(a, args...)
	cmd := exec.CommandContext(ctx, script, a...)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 15 * time.Second
	return cmd, nil
}

// BuildTest compiles the Go test package in dir (`go test -c`) into a static
// linux/amd64 binary at out, runnable in the guest, which has no libc.
func BuildTest(dir, out string) error {
	goBin, err := exec.LookPath("go")
	if err != nil {
		goBin = filepath.Join(goroot(), "bin", "go")
	}
	cmd := exec.Command(goBin, "test", "-c", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64")
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go test -c in %s: %w\n%s", dir, err, b)
	}
	return nil
}

func goroot() string {
	if r := os.Getenv("GOROOT"); r != "" {
		return r
	}
	return "/usr/local/go"
}
