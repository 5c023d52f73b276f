package console

import (
	"errors"
	"fmt"
	"math"
	"os"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// masterName is the payload sent with the master fd; runc sends the name of
// the file it opened, which is always this.
const masterName = "/dev/ptmx"

// Setup runs in the container's init after pivot_root. It allocates a pty from
// the container's /dev/ptmx, sizes it, bind-mounts the peer onto /dev/console,
// gives the peer to uid (the process's user, in the caller's user namespace),
// sends the master over socket (a connected AF_UNIX stream socket) and closes
// its own copy, then makes the peer the controlling terminal and stdin, stdout
// and stderr of the calling process.
//
// The peer is only ever reached through the master (TIOCGPTPEER) and
// /dev/console only through a descriptor opened without following symlinks,
// so nothing the container's image put under /dev can redirect either one
// (CVE-2025-52565).
func Setup(socket *os.File, size *specs.Box, uid uint32) error {
	return setup(socket, size, uid, true, true)
}

// SetupExec is Setup for a process exec'd into a running container: the same pty
// allocation and hand-over, but /dev/console stays the init's, and the peer only goes
// on fds 0, 1 and 2: the process makes it its controlling terminal itself (its own
// session), see nsenter.Tail.
func SetupExec(socket *os.File, size *specs.Box, uid uint32) error {
	return setup(socket, size, uid, false, false)
}

// SetupNoCtty is Setup for an init that forks the container's process instead of
// becoming it (a joined pid namespace): /dev/console is mounted, and the peer goes
// on fds 0, 1 and 2 only; the process makes it its controlling terminal itself.
func SetupNoCtty(socket *os.File, size *specs.Box, uid uint32) error {
	return setup(socket, size, uid, true, false)
}

func setup(socket *os.File, size *specs.Box, uid uint32, mount, ctty bool) error {
	dev, err := openat(unix.AT_FDCWD, "/dev", unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer unix.Close(dev)

	master, peer, err := openPty(dev)
	if err != nil {
		return fmt.Errorf("console: %w", err)
	}
	defer func() {
		if master != nil {
			master.Close()
		}
		peer.Close()
	}()

	if size != nil {
		if size.Width > math.MaxUint16 || size.Height > math.MaxUint16 {
			return fmt.Errorf("console: size %dx%d larger than a terminal can be", size.Width, size.Height)
		}
		ws := &unix.Winsize{Row: uint16(size.Height), Col: uint16(size.Width)}
		if err := ioctlWinsize(peer, ws); err != nil {
			return fmt.Errorf("console: set size %dx%d: %w", size.Width, size.Height, err)
		}
	}
	if err := chownPeer(peer, uid); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	if mount {
		if err := mountConsole(dev, peer); err != nil {
			return fmt.Errorf("console: %w", err)
		}
	}
	if err := SendFile(socket, masterName, master); err != nil {
		return fmt.Errorf("console: send pty master: %w", err)
	}
	// The container must not keep a master: whoever holds one can read and
	// inject everything typed on the terminal, and the receiver only sees a
	// hangup once every copy is closed.
	err = master.Close()
	master = nil
	if err != nil {
		return fmt.Errorf("console: close pty master: %w", err)
	}
	if !ctty {
		if err := peerToStdio(peer); err != nil {
			return fmt.Errorf("console: %w", err)
		}
		return nil
	}
	if err := setControllingTerminal(peer); err != nil {
		return fmt.Errorf("console: %w", err)
	}
	return nil
}

// chownPeer makes uid the owner of the pty, which is created as init's (root):
// a process of another user could not otherwise reopen its own terminal (through
// /dev/tty or its /dev/pts path) nor change its modes with tools that do (stty,
// mesg), as runc's fixStdioPermissions allows. The group stays the one devpts gave
// (gid= of the mount, often tty). As with runc, an owner the kernel cannot map or
// a read-only devpts leaves the pty as it is rather than fail the container.
func chownPeer(peer *os.File, uid uint32) error {
	var st unix.Stat_t
	if err := fstat(int(peer.Fd()), &st); err != nil {
		return fmt.Errorf("pty peer: %w", err)
	}
	if st.Uid == uid {
		return nil
	}
	err := linux.Fchown(int(peer.Fd()), int(uid), -1)
	if err == nil || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EPERM) || errors.Is(err, unix.EROFS) {
		return nil
	}
	return fmt.Errorf("give the pty to uid %d: %w", uid, os.NewSyscallError("fchown", err))
}

// ClearONLCR turns off the translation of "\n" into "\r\n" on output of the pty
// whose master (or peer) is f. runc does this on the pty it proxies to its own
// stdio (run or exec with -t and no --console-socket): the caller's terminal
// already translates, and callers that capture the output get it byte for byte.
// A pty handed over a console socket is left alone: its receiver decides, as with
// runc.
func ClearONLCR(f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return err
	}
	var ioErr error
	if err := rc.Control(func(fd uintptr) {
		var t *unix.Termios
		if t, ioErr = linux.IoctlGetTermios(int(fd), unix.TCGETS); ioErr != nil {
			return
		}
		if t.Oflag&unix.ONLCR == 0 {
			return
		}
		t.Oflag &^= unix.ONLCR
		ioErr = linux.IoctlSetTermios(int(fd), unix.TCSETS, t)
	}); err != nil {
		return err
	}
	if ioErr != nil {
		return fmt.Errorf("clear ONLCR: %w", os.NewSyscallError("ioctl", ioErr))
	}
	return nil
}

// openPty opens a new pty pair from dev/ptmx. The peer is checked to live on
// the devpts mounted at dev/pts, so a ptmx symlinked elsewhere by the image
// (for example to the host's devpts through a leaked path) is refused.
func openPty(dev int) (master, peer *os.File, err error) {
	mfd, err := openat(dev, "ptmx", unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("open /dev/ptmx: %w", err)
	}
	master = os.NewFile(uintptr(mfd), masterName)
	fail := func(e error) (*os.File, *os.File, error) {
		master.Close()
		if peer != nil {
			peer.Close()
		}
		return nil, nil, e
	}
	if err := ioctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		return fail(fmt.Errorf("unlock pty: %w", err))
	}
	pfd, err := ioctlPeer(mfd, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC)
	if err != nil {
		return fail(fmt.Errorf("open pty peer: %w", err))
	}
	// With a stdio fd closed the peer could land on 0-2, and be closed again
	// after being dup'ed into place; keep it above them.
	if pfd <= 2 {
		high, err := dupAbove(pfd, 3)
		unix.Close(pfd)
		if err != nil {
			return fail(fmt.Errorf("pty peer: %w", err))
		}
		pfd = high
	}
	peer = os.NewFile(uintptr(pfd), "/dev/console")

	var pst, dst unix.Stat_t
	if err := fstat(pfd, &pst); err != nil {
		return fail(fmt.Errorf("pty peer: %w", err))
	}
	if err := fstatat(dev, "pts", &dst, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fail(err)
	}
	if pst.Mode&unix.S_IFMT != unix.S_IFCHR || pst.Dev != dst.Dev {
		return fail(errors.New("/dev/ptmx did not allocate its pty on the devpts mounted at /dev/pts"))
	}
	return master, peer, nil
}

// mountConsole bind-mounts peer onto dev/console. The mount source is the
// peer descriptor itself and the target a descriptor opened with O_NOFOLLOW,
// so no path is resolved after the pty exists.
func mountConsole(dev int, peer *os.File) error {
	target, err := consoleTarget(dev)
	if err != nil {
		return err
	}
	defer unix.Close(target)

	tree, err := openTree(int(peer.Fd()), "", unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC|unix.AT_EMPTY_PATH)
	if err != nil {
		return fmt.Errorf("clone pty peer mount: %w", err)
	}
	defer unix.Close(tree)
	if err := moveMount(tree, "", target, "", unix.MOVE_MOUNT_F_EMPTY_PATH|unix.MOVE_MOUNT_T_EMPTY_PATH); err != nil {
		return fmt.Errorf("mount pty peer on /dev/console: %w", err)
	}
	return nil
}

// consoleTarget returns a descriptor for dev/console to mount on, creating
// it as an empty file when missing. A symlink there is removed, never
// followed: it is the image's, and could point anywhere in the rootfs.
func consoleTarget(dev int) (int, error) {
	for attempt := 0; ; attempt++ {
		fd, err := openat(dev, "console", unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if errors.Is(err, unix.ENOENT) {
			// O_EXCL: if something appears here meanwhile, fail instead of
			// opening (or following) it.
			fd, err = openat(dev, "console", unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_NOCTTY|unix.O_CLOEXEC, 0o600)
			if err != nil {
				return -1, fmt.Errorf("create /dev/console: %w", err)
			}
			return fd, nil
		}
		if err != nil {
			return -1, fmt.Errorf("open /dev/console: %w", err)
		}
		var st unix.Stat_t
		if err := fstat(fd, &st); err != nil {
			unix.Close(fd)
			return -1, fmt.Errorf("/dev/console: %w", err)
		}
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG, unix.S_IFCHR:
			return fd, nil
		case unix.S_IFLNK:
			unix.Close(fd)
			if attempt > 0 {
				return -1, errors.New("/dev/console keeps reappearing as a symlink")
			}
			if err := unlinkat(dev, "console"); err != nil && !errors.Is(err, unix.ENOENT) {
				return -1, fmt.Errorf("remove /dev/console symlink: %w", err)
			}
		default:
			unix.Close(fd)
			return -1, fmt.Errorf("/dev/console is not a file, device or symlink (mode %#o)", st.Mode&unix.S_IFMT)
		}
	}
}

// setControllingTerminal starts a new session, makes peer its controlling
// terminal and puts it on fds 0, 1 and 2.
func setControllingTerminal(peer *os.File) error {
	if _, err := unix.Setsid(); err != nil {
		return os.NewSyscallError("setsid", err)
	}
	fd := int(peer.Fd())
	// 0: never steal a terminal that is some other session's.
	if err := ioctlSetInt(fd, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("set controlling terminal: %w", err)
	}
	return peerToStdio(peer)
}

func peerToStdio(peer *os.File) error {
	fd := int(peer.Fd())
	for i := 0; i <= 2; i++ {
		if err := dup3(fd, i); err != nil {
			return fmt.Errorf("pty peer to fd %d: %w", i, err)
		}
	}
	return nil
}
