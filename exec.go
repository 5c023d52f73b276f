package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/urfave/cli/v2"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/console"
	"github.com/hull-runtime/hull/libruntime/container"
	"github.com/hull-runtime/hull/libruntime/logs"
)

var execCommand = &cli.Command{
	Name:      "exec",
	Usage:     "execute new process inside the container",
	ArgsUsage: "<container-id> <command> [command options]  || -p process.json <container-id>",
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "console-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the master end of the console's pseudoterminal"},
		&cli.StringFlag{Name: "cwd", Usage: "current working directory in the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set environment variables"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, Usage: "allocate a pseudo-TTY"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, Usage: "UID (format: <uid>[:<gid>])"},
		&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "additional gids"},
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "path to the process.json"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, Usage: "detach from the container's process"},
		&cli.StringFlag{Name: "pid-file", Usage: "specify the file to write the process id to"},
		&cli.StringFlag{Name: "process-label", Usage: "set the asm process label for the process commonly used with selinux"},
		&cli.StringFlag{Name: "apparmor", Usage: "set the apparmor profile for the process"},
		&cli.BoolFlag{Name: "no-new-privs", Usage: "set the no new privileges value for the process"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add a capability to the bounding set for the process"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass N additional file descriptors to the container (stdio + $LISTEN_FDS + N in total)"},
		&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in an (existing) sub-cgroup of the container's, given relative to it"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "path to an AF_UNIX socket which will receive a file descriptor referencing the exec process"},
		&cli.BoolFlag{Name: "ignore-paused", Usage: "allow exec in a paused container"},
	},
	Action: func(c *cli.Context) error {
		if err := checkArgs(c, 1, -1); err != nil {
			return err
		}
		err := execAction(c)
		var ee *exitError
		if err != nil && !errors.As(err, &ee) {
			// As runc: past the argument count, any failure is "exec failed" with
			// status 255, which callers (docker, CRI-O) tell apart from the
			// process's own status.
			return &codeError{code: 255, err: fmt.Errorf("exec failed: %w", err)}
		}
		return err
	},
}

func execAction(c *cli.Context) error {
	// Attached, signals are forwarded: catching them starts while the container is
	// loaded and is in place before the process exists.
	var sigs *signalCatcher
	if !c.Bool("detach") {
		sigs = catchSignals()
	}
	ct, err := loadContainer(c)
	if err != nil {
		return err
	}
	p, err := execProcess(c, ct)
	if err != nil {
		return err
	}
	return execIn(c, ct, p, sigs)
}

// execProcess builds the process to run: process.json as given, or the container's own
// process with the command and the flags' changes, as runc does.
func execProcess(c *cli.Context, ct *container.Container) (*specs.Process, error) {
	// Refused as create refuses process.selinuxLabel and process.apparmorProfile
	// (and exec those of process.json, config.ValidateExec), with -p too: never
	// dropped.
	if label := c.String("process-label"); label != "" {
		return nil, errors.New("--process-label: not supported: hull has no LSM support; remove --process-label")
	}
	if prof := c.String("apparmor"); prof != "" {
		return nil, errors.New("--apparmor: not supported: hull has no LSM support; remove --apparmor")
	}
	if path := c.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		return &p, nil
	}
	if c.NArg() < 2 {
		return nil, errors.New("exec: no command given; usage: hull exec <container-id> <command> [args...]")
	}
	base := ct.Config().Process
	p := *base
	p.Args = c.Args().Slice()[1:]
	p.Terminal = c.Bool("tty")
	p.ConsoleSize = nil
	p.Env = mergeEnv(base.Env, c.StringSlice("env"))
	if cwd := c.String("cwd"); cwd != "" {
		p.Cwd = cwd
	}
	if c.Bool("no-new-privs") {
		p.NoNewPrivileges = true
	}
	if u := c.String("user"); u != "" {
		uid, gid, hasGid := strings.Cut(u, ":")
		n, err := strconv.ParseUint(uid, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("--user %q: uid must be a number (user names are not looked up)", u)
		}
		p.User.UID = uint32(n)
		if hasGid {
			g, err := strconv.ParseUint(gid, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--user %q: gid must be a number", u)
			}
			p.User.GID = uint32(g)
		}
	}
	if gids := c.StringSlice("additional-gids"); len(gids) > 0 {
		p.User.AdditionalGids = nil
		for _, g := range gids {
			n, err := strconv.ParseUint(g, 10, 32)
			if err != nil {
				return nil, fmt.Errorf("--additional-gids %q: must be a number", g)
			}
			p.User.AdditionalGids = append(p.User.AdditionalGids, uint32(n))
		}
	}
	if caps := c.StringSlice("cap"); len(caps) > 0 {
		cp := specs.LinuxCapabilities{}
		if base.Capabilities != nil {
			cp = *base.Capabilities
		}
		clone := func(s []string) []string { return append([]string(nil), s...) }
		cp.Bounding, cp.Effective, cp.Permitted, cp.Inheritable, cp.Ambient = clone(cp.Bounding), clone(cp.Effective), clone(cp.Permitted), clone(cp.Inheritable), clone(cp.Ambient)
		// runc's rule: a config that lists inheritable capabilities (even none) gets
		// the added ones as ambient too, so they survive into a non-root user's
		// program; the kernel raises only those also inheritable, the rest warn.
		withAmbient := base.Capabilities != nil && base.Capabilities.Inheritable != nil
		for _, name := range caps {
			cp.Bounding = append(cp.Bounding, name)
			cp.Effective = append(cp.Effective, name)
			cp.Permitted = append(cp.Permitted, name)
			if withAmbient {
				cp.Ambient = append(cp.Ambient, name)
			}
		}
		p.Capabilities = &cp
	}
	return &p, nil
}

func execIn(c *cli.Context, ct *container.Container, p *specs.Process, sigs *signalCatcher) error {
	sub, err := subCgroup(c.StringSlice("cgroup"))
	if err != nil {
		return err
	}
	detach := c.Bool("detach")
	o := &container.ExecOpts{
		Process:       p,
		ConsoleSocket: c.String("console-socket"),
		PidFile:       c.String("pid-file"),
		PreserveFDs:   c.Int("preserve-fds"),
		IgnorePaused:  c.Bool("ignore-paused"),
		PidfdSocket:   c.String("pidfd-socket"),
		SubCgroup:     sub,
	}
	var ttyRecv *os.File
	var master *os.File
	var masterErr error
	if p.Terminal && o.ConsoleSocket == "" {
		if detach {
			return errors.New("cannot allocate tty if hull will detach without setting console socket")
		}
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return os.NewSyscallError("socketpair", err)
		}
		ttyRecv = os.NewFile(uintptr(fds[0]), "tty-recv")
		defer ttyRecv.Close()
		o.ConsoleConn = os.NewFile(uintptr(fds[1]), "tty-send")
	}
	// The helper has sent the master by the time the process is set up: taking it
	// then lets ONLCR go before the process can write anything.
	o.BeforeStart = func() {
		if sigs != nil {
			sigs.StdCaught()
		}
		if ttyRecv == nil {
			return
		}
		conn, err := net.FileConn(ttyRecv)
		if err == nil {
			master, err = console.RecvMaster(conn.(*net.UnixConn))
			conn.Close()
		}
		if err == nil {
			if err = console.ClearONLCR(master); err != nil {
				master.Close()
				master = nil
			}
		}
		masterErr = err
	}
	// Never stopped (signal.Stop takes over a millisecond, see run): hull exits once the
	// process has.
	if sigs != nil {
		sigs.StopCaught()
	}
	proc, err := ct.Exec(o)
	if o.ConsoleConn != nil {
		o.ConsoleConn.Close()
	}
	if err != nil {
		if master != nil {
			master.Close()
		}
		return err
	}
	if detach {
		return nil
	}
	if ttyRecv != nil {
		if master == nil && masterErr == nil {
			masterErr = errors.New("the pty master was not received")
		}
		if masterErr != nil {
			_ = unix.Kill(proc.Pid(), unix.SIGKILL)
			return masterErr
		}
		defer master.Close()
		restore := proxyTTY(master)
		defer restore()
	}
	done := make(chan struct{})
	sigs.CatchRealtime()
	go forwardSignals(sigs.C, done, master, func(sig unix.Signal) error { return proc.Signal(sig) })
	code, err := proc.Wait()
	close(done)
	if master != nil {
		drainTTY(master)
	}
	if err != nil && code < 0 {
		return err
	}
	if code != 0 {
		return &exitError{code: code}
	}
	return nil
}

// subCgroup reads exec's --cgroup values the way runc does on cgroup v2: one path,
// relative to the container's cgroup. runc's controller:path form places the process
// per cgroup v1 controller; hull manages cgroup v2 only, where runc refuses it too.
func subCgroup(args []string) (string, error) {
	if len(args) == 0 {
		return "", nil
	}
	for _, a := range args {
		if ctrl, path, ok := strings.Cut(a, ":"); ok {
			return "", fmt.Errorf("--cgroup %q: controller %q: the <controller>:<path> form is for cgroup v1 controllers, and hull manages cgroup v2 only; give the path alone (--cgroup %s)", a, ctrl, path)
		}
	}
	if len(args) > 1 {
		return "", fmt.Errorf("--cgroup given %d times (%s): on cgroup v2 a process is in one cgroup; give one path", len(args), strings.Join(args, ", "))
	}
	return args[0], nil
}

// forwardSignals passes the signals hull receives to the container's process, as runc
// does when attached; SIGWINCH resizes the pty instead.
func forwardSignals(sigc chan os.Signal, done chan struct{}, master *os.File, send func(unix.Signal) error) {
	for {
		select {
		case s := <-sigc:
			sig := s.(unix.Signal)
			switch sig {
			case unix.SIGCHLD, unix.SIGURG, unix.SIGPIPE:
				continue
			case unix.SIGWINCH:
				if master != nil {
					resizeTTY(master)
				}
				continue
			}
			if err := send(sig); err != nil {
				logs.Debugf("forward %v: %v", sig, err)
			}
		case <-done:
			return
		}
	}
}

// mergeEnv returns base with each NAME=value of add replacing base's NAME in place, or
// appended: every name appears once and the last value given wins, as with runc.
func mergeEnv(base, add []string) []string {
	out := append([]string(nil), base...)
	index := map[string]int{}
	for i, kv := range out {
		name, _, _ := strings.Cut(kv, "=")
		index[name] = i
	}
	for _, kv := range add {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := index[name]; ok {
			out[i] = kv
			continue
		}
		index[name] = len(out)
		out = append(out, kv)
	}
	return out
}
