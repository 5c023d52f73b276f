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
	Usage:     "run another process in a created or running container",
	ArgsUsage: "<container-id> [<command> [<argument>...]]",
	Description: `Runs <command> with its arguments in the container <container-id>, which
must be created or running (not paused): in init's namespaces and cgroup,
with the user, capabilities, rlimits, no_new_privs, seccomp filter,
environment and working directory of config.json's process, as changed by
the flags. Flags for hull go before the id; everything after it is the
command's. With --process the whole process is read from a runtime-spec
process JSON file instead, no command is given, and the flags that change
the process (--cwd, --env, --tty, --user, --additional-gids, --no-new-privs,
--cap) are ignored; --apparmor and --process-label apply with --process
too, and a process without a profile or label of its own gets the
container's. --cap adds the capability to the bounding, effective
and permitted sets, and to the ambient set when the config lists an
inheritable set (empty or not), so that it reaches a program run as a
user other than root.

Unless --detach is given, hull waits for the process: it uses hull's stdin,
stdout and stderr (or, with --tty, a pseudo-terminal that hull relays), the
signals hull receives are passed on to it as run does for init, and hull
exits with its status: its exit code, or 128+N if signal N killed it. With
--detach, exec exits 0 once the program runs. A failure of exec itself
once the command line is parsed (no such container, a --user that is not
a number, a program that cannot be run) exits 255, which callers tell
apart from the process's status; a command line that cannot be parsed or
lacks the container id exits 1.

Example:

   hull exec -t web sh
   hull exec -e DEBUG=1 --cwd /srv web ls -l`,
	Flags: []cli.Flag{
		&cli.StringFlag{Name: "console-socket", Usage: "with --tty, send the terminal's master end to the AF_UNIX socket at `PATH`"},
		&cli.StringFlag{Name: "cwd", DefaultText: "the config's process.cwd", Usage: "working directory of the process, a `DIR` inside the container"},
		&cli.StringSliceFlag{Name: "env", Aliases: []string{"e"}, Usage: "set `NAME=VALUE` in the environment, replacing the config's value of NAME; repeatable"},
		&cli.BoolFlag{Name: "tty", Aliases: []string{"t"}, DisableDefaultText: true, Usage: "give the process a new pseudo-terminal (process.terminal is not inherited)"},
		&cli.StringFlag{Name: "user", Aliases: []string{"u"}, DefaultText: "the config's process.user", Usage: "run as `UID[:GID]`, numbers only; a GID left out stays the config's"},
		&cli.StringSliceFlag{Name: "additional-gids", Aliases: []string{"g"}, Usage: "supplementary group `GID` (a number), replacing the config's list; repeatable"},
		&cli.StringFlag{Name: "process", Aliases: []string{"p"}, Usage: "take the whole process from the runtime-spec process JSON in `FILE`"},
		&cli.BoolFlag{Name: "detach", Aliases: []string{"d"}, DisableDefaultText: true, Usage: "return once the program runs instead of waiting for it"},
		&cli.StringFlag{Name: "pid-file", Usage: "write the process's host pid to `FILE` (replaced atomically) once it runs"},
		&cli.StringFlag{Name: "process-label", DefaultText: "the container's process.selinuxLabel", Usage: "run the process with the SELinux `LABEL` (refused where SELinux is off)"},
		&cli.StringFlag{Name: "apparmor", DefaultText: "the container's process.apparmorProfile", Usage: "run the process under the AppArmor `PROFILE` (refused where AppArmor is off)"},
		&cli.BoolFlag{Name: "no-new-privs", DisableDefaultText: true, Usage: "set no_new_privs for the process even if the config does not"},
		&cli.StringSliceFlag{Name: "cap", Aliases: []string{"c"}, Usage: "add capability `CAP` (CAP_SYS_PTRACE, ...) to the process's sets; repeatable"},
		&cli.IntFlag{Name: "preserve-fds", Usage: "pass hull's fds 3 to 3+`N`-1 to the process at the same numbers"},
		&cli.StringSliceFlag{Name: "cgroup", Usage: "run the process in the existing sub-cgroup `PATH` of the container's cgroup, relative to it"},
		&cli.StringFlag{Name: "pidfd-socket", Usage: "send a pidfd of the exec'd process to the AF_UNIX socket at `PATH`"},
		&cli.BoolFlag{Name: "ignore-paused", DisableDefaultText: true, Usage: "accepted, but a paused container is refused all the same (resume it first)"},
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
	if path := c.String("process"); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		var p specs.Process
		if err := json.Unmarshal(data, &p); err != nil {
			return nil, fmt.Errorf("parse %s: %w", path, err)
		}
		// As runc: a process.json without a profile or label gets the container's,
		// so an exec cannot leave the confinement by leaving the field out. The
		// flags apply on top (runc ignores them with -p; a security flag is never
		// dropped here).
		base, err := ct.Process()
		if err != nil {
			return nil, err
		}
		if base != nil {
			if p.ApparmorProfile == "" {
				p.ApparmorProfile = base.ApparmorProfile
			}
			if p.SelinuxLabel == "" {
				p.SelinuxLabel = base.SelinuxLabel
			}
		}
		execLSMFlags(c, &p)
		return &p, nil
	}
	if c.NArg() < 2 {
		return nil, errors.New("exec: no command given; usage: hull exec <container-id> <command> [args...]")
	}
	base, err := ct.Process()
	if err != nil {
		return nil, err
	}
	if base == nil {
		// What a create killed before it recorded the config leaves: a stopped
		// container, with no process to start from. Exec's gate refuses it.
		return &specs.Process{Args: c.Args().Slice()[1:]}, nil
	}
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
	execLSMFlags(c, &p)
	return &p, nil
}

// execLSMFlags replaces the process's AppArmor profile and SELinux label (the
// container's, unless process.json had its own) with --apparmor and
// --process-label, as runc does.
func execLSMFlags(c *cli.Context, p *specs.Process) {
	if prof := c.String("apparmor"); prof != "" {
		p.ApparmorProfile = prof
	}
	if label := c.String("process-label"); label != "" {
		p.SelinuxLabel = label
	}
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
			// Fails only if the process is gone already; the error to report is the pty's.
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
