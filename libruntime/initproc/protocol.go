// Package initproc is hull's init stage: the process that runs inside the container's new
// namespaces, builds its root filesystem and process environment, waits for `hull start`
// and finally execve()s the user's program.
//
// It talks to the `hull create` process that started it over a socket (newline-delimited
// JSON both ways): the parent sends one Config, init answers with Messages.
package initproc

import (
	specs "github.com/opencontainers/runtime-spec/specs-go"

	"github.com/hull-runtime/hull/libruntime/seccomp/bpf"
)

// Arg is the one argument hull's binary is started with to run this stage (main's
// runStage dispatches on it).
const Arg = "init"

// Environment variables through which the parent tells init which inherited fds are which.
// Preserved fds (--preserve-fds) occupy 3..3+N-1, so init's own fds come after them.
const (
	EnvSyncFd    = "_HULL_SYNC_FD"
	EnvFifoFd    = "_HULL_FIFO_FD"
	EnvConsoleFd = "_HULL_CONSOLE_FD"
	EnvLogLevel  = "_HULL_DEBUG"
	// EnvPidNSFd is a pid namespace handed over instead of joined: exec's helper and
	// a create that joins one work outside it and fork the process into it.
	EnvPidNSFd = "_HULL_PIDNS_FD"
	// EnvNotifyFd: with a notify seccomp profile, the socket exec's process sends its
	// listener fd over.
	EnvNotifyFd = "_HULL_NOTIFY_FD"
	// EnvNumFds is how many fds the parent passed (0..N-1): init closes every other
	// one first thing, whatever hull's own caller left open without close-on-exec.
	EnvNumFds = "_HULL_NFDS"
	// EnvPidNSMode says how init treats the pid namespace of EnvPidNSFd: build the
	// container outside it and fork the process in (PidNSOutside, the default), or
	// hand over to a second stage forked in after pivot_root (PidNSHandover, with
	// EnvExeFd the sealed executable). EnvStage2 and EnvCtty are the second stage's.
	EnvPidNSMode  = "_HULL_PIDNS_MODE"
	PidNSOutside  = "outside"
	PidNSHandover = "handover"
	EnvExeFd      = "_HULL_EXE_FD"
	EnvStage2     = "_HULL_STAGE2"
	EnvCtty       = "_HULL_CTTY"
	// EnvRootFd: exec's helper for a container without a mount namespace, which
	// shares hull's: the container's root (init's), to chroot into.
	EnvRootFd = "_HULL_ROOT_FD"
	// EnvLateTrees: the second stage's detached bind mounts for inside /proc.
	EnvLateTrees = "_HULL_LATE_TREES"
)

// GoMaxProcs is in init's (and exec's helper's) environment: from its first instruction
// the runtime then makes one P, so it starts fewer threads (each one a pthread_create
// now and a kill at execve) and does not derive the value from cgroup files. Init runs
// one goroutine at a time anyway; measured on `run`, 0.3-0.5 ms faster than two Ps.
// While init blocks for long (on the exec fifo until start) sysmon goes to sleep.
const GoMaxProcs = "GOMAXPROCS=1"

// GoGC is in the same environments: init lives for milliseconds before it execs, and
// a garbage collection there is pure start-up latency. Set before the runtime starts,
// it costs nothing; debug.SetGCPercent stops the world to apply it.
const GoGC = "GOGC=off"

// Config is everything init needs that is not in its environment.
type Config struct {
	ID           string      `json:"id"`
	Bundle       string      `json:"bundle"`
	Rootfs       string      `json:"rootfs"`
	Spec         *specs.Spec `json:"spec"`
	NoPivot      bool        `json:"no_pivot,omitempty"`
	NoNewKeyring bool        `json:"no_new_keyring,omitempty"`
	PreserveFDs  int         `json:"preserve_fds,omitempty"`
	// Exec is set for a process joining a running container (`hull exec`): Process is
	// run instead of Spec.Process and no rootfs is built.
	Exec    bool           `json:"exec,omitempty"`
	Process *specs.Process `json:"process,omitempty"`
	// Filter is the container's seccomp filter, compiled by `hull create` (exec reads
	// the one create stored): init and exec's helper load it as it is, and never
	// compile linux.seccomp, which Spec does not carry.
	Filter *bpf.Program `json:"filter,omitempty"`
	// The container's personality and memory policy, which an exec'd process gets
	// as its init did.
	Personality  *specs.LinuxPersonality  `json:"personality,omitempty"`
	MemoryPolicy *specs.LinuxMemoryPolicy `json:"memory_policy,omitempty"`
	// InitPid is init's pid in the host's pid namespace, for the state given to hooks.
	InitPid int `json:"init_pid"`
	// TimeNSReady: init was born in its new time namespace (offsets already set) and
	// must not unshare another.
	TimeNSReady bool `json:"time_ns_ready,omitempty"`
	// CgroupNSLate: init was cloned outside the container's cgroup (the driver makes
	// the cgroup only with its first process, as systemd's scopes are) and moved in
	// after: it must make its new cgroup namespace itself, now, so that the
	// namespace is rooted at the container's cgroup and not at its caller's.
	CgroupNSLate bool `json:"cgroup_ns_late,omitempty"`
	// Debug asks init to time its phases.
	Debug bool `json:"debug,omitempty"`
	// Cloned is when the parent started init (Unix ns, with Debug), so init can report
	// how long its execve and Go start-up took before it could read this.
	Cloned int64 `json:"cloned,omitempty"`
	// SetgroupsDenied: setgroups(2) is denied in the container's user namespace, as
	// the parent read it from init's /proc entry on the host (process.SetgroupsDenied):
	// never from the /proc init or exec's helper sees, which the container may make.
	SetgroupsDenied bool `json:"setgroups_denied,omitempty"`
	// Hooks is set when the parent must run prestart and createRuntime hooks; init then
	// asks for them at the right moment and waits for the answer.
	Hooks bool `json:"hooks,omitempty"`
}

// What init writes to the exec fifo once `hull start` opened it: StartOK when set-up is
// over (the fifo's close at execve then says the process runs), or StartFailed and the
// error's text when something failed after create returned (a startContainer hook, the
// seccomp filter, execve): start fails with it.
const (
	StartOK     = 0
	StartFailed = 1
)

// Message types sent over the sync socket.
const (
	MsgHooks   = "hooks"    // init -> parent: run prestart + createRuntime hooks now
	MsgHooksOK = "hooks-ok" // parent -> init: they succeeded
	MsgReady   = "ready"    // init -> parent: set up; parent records the state
	MsgGo      = "go"       // parent -> init: state recorded, wait on the exec fifo
	MsgError   = "error"    // init -> parent: set-up failed; Error says why
	MsgWarning = "warning"  // init -> parent: log Error as a warning and go on
	// init -> parent: a seccomp notify fd is open in init as Fd; the parent copies it
	// (pidfd_getfd), sends it to linux.seccomp.listenerPath and answers MsgSeccompFdOK.
	MsgSeccompFd   = "seccomp-fd"
	MsgSeccompFdOK = "seccomp-fd-ok"
	// exec's helper -> parent, after MsgGo: the process has exec'd, as Pid (the
	// parent's child; the helper then exits).
	MsgPid = "pid"
	// init's first stage -> parent: the second stage runs as Pid (the parent's
	// child); the parent sends it the Config, and the protocol goes on with it.
	MsgHandover = "handover"
	// init -> parent: make the detached clone of the source of spec.Mounts[Mount]
	// (rootfs.SourceServer); the parent answers with one byte carrying the clone's
	// fd (SCM_RIGHTS) and nothing else, or fails the create.
	MsgMountSource = "mount-source"
)

// Message is one line of the sync protocol.
type Message struct {
	Type  string `json:"type"`
	Error string `json:"error,omitempty"`
	Fd    int    `json:"fd,omitempty"`
	Pid   int    `json:"pid,omitempty"`
	Mount int    `json:"mount,omitempty"` // index in spec.Mounts, with MsgMountSource
	// Phases, with MsgReady when Config.Debug is set: how long each set-up step of
	// init took, as "name duration" strings for the parent's debug log.
	Phases []string `json:"phases,omitempty"`
}
