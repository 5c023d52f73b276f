package container

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
	"github.com/hull-runtime/hull/libruntime/sdnotify"
)

// sd_notify relay, as runc's: when hull runs with NOTIFY_SOCKET (a systemd unit that
// runs the runtime directly), create gives the container's process a socket of its own
// instead of the host's. A directory of the state dir is bind-mounted read-only at
// /run/notify and the process's NOTIFY_SOCKET names notify.sock in it; start (or run)
// binds that socket before the process runs and relays READY=1 to the host's socket.
// The container never sees the host's socket, and nothing it sends but READY reaches
// systemd.
const (
	notifyDir         = "notify"
	notifySockName    = "notify.sock"
	notifyDestination = "/run/notify"
)

func makeNotifyDir(stateDir string) error {
	dir := filepath.Join(stateDir, notifyDir)
	if err := os.Mkdir(dir, 0o755); err != nil {
		return fmt.Errorf("NOTIFY_SOCKET: %w", err)
	}
	// Past the umask: a non-root process of the container must reach the socket.
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("NOTIFY_SOCKET: %w", err)
	}
	return nil
}

// notifyMount is the bind mount of the notify directory, made like the config's own
// mounts (the destination resolved inside the rootfs). Read-only: the process can
// send to the socket, not replace it.
func notifyMount(stateDir string) specs.Mount {
	return specs.Mount{
		Destination: notifyDestination,
		Type:        "bind",
		Source:      filepath.Join(stateDir, notifyDir),
		Options:     []string{"bind", "nosuid", "noexec", "nodev", "ro"},
	}
}

// notifyEnv is env with NOTIFY_SOCKET naming the container's socket. runc appends it
// after any the config has, which getenv then never finds; replacing it is what
// runc's users get in effect when the config has none, and what they mean otherwise.
func notifyEnv(env []string) []string {
	out := make([]string, 0, len(env)+1)
	for _, e := range env {
		if !strings.HasPrefix(e, "NOTIFY_SOCKET=") {
			out = append(out, e)
		}
	}
	return append(out, "NOTIFY_SOCKET="+notifyDestination+"/"+notifySockName)
}

// ListenNotify binds the container's notify socket and connects to host, hull's
// NOTIFY_SOCKET, for start and run to relay READY once the process runs. It returns
// nil for a container created without NOTIFY_SOCKET, which has no socket to listen on.
func (c *Container) ListenNotify(host string) (*sdnotify.Relay, error) {
	dir := filepath.Join(c.dir, notifyDir)
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	// The socket is made in the state dir itself, root's alone (0700), and renamed into
	// dir, which the container can write in (see sdnotify.Listen).
	return sdnotify.Listen(filepath.Join(dir, notifySockName), c.dir, host)
}

// Exited returns a channel closed once the container's process has exited (or is
// found gone now), for a relay that must not wait for a READY that can no longer come.
func (c *Container) Exited() (<-chan struct{}, error) {
	done := make(chan struct{})
	fd, err := pidfdOpen(c.p.InitPid, c.p.InitStartTime)
	if errors.Is(err, ErrNotRunning) {
		close(done)
		return done, nil
	}
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(done)
		defer unix.Close(fd)
		_, _ = linux.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, -1)
	}()
	return done, nil
}
