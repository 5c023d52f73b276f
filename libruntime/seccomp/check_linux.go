package seccomp

import (
	"fmt"
	"slices"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/clip"
)

// checkStatic checks what needs no libseccomp filter: names, ranges and the
// combinations the spec or the kernel forbid.
func checkStatic(s *specs.LinuxSeccomp) error {
	if err := checkAction(s.DefaultAction, s.DefaultErrnoRet, fieldf("defaultAction"), fieldf("defaultErrnoRet")); err != nil {
		return err
	}
	if s.DefaultAction == specs.ActNotify {
		return &Error{Field: fieldf("defaultAction"), Msg: "SCMP_ACT_NOTIFY cannot be the default action",
			Fix: "the runtime's own syscalls before execve would wait for an agent that has no fd yet; notify only the syscalls the agent handles"}
	}

	for i, name := range s.Architectures {
		if _, ok := archs[name]; !ok {
			return &Error{Field: fieldf("architectures[%d]", i), Msg: fmt.Sprintf("unknown architecture %s", clip.Quote(string(name))),
				Fix: "use one of " + strings.Join(sortedKeys(archs), ", ")}
		}
		if !archSupported(name) {
			return &Error{Field: fieldf("architectures[%d]", i), Msg: fmt.Sprintf("%s is not supported by libseccomp %s, which this hull was built with", name, libVersion()),
				Fix: "remove it, or build hull with a newer libseccomp"}
		}
	}

	notify := false
	for i, sc := range s.Syscalls {
		if err := checkSyscall(i, sc); err != nil {
			return err
		}
		notify = notify || sc.Action == specs.ActNotify
	}

	supported := supportedFlags()
	for i, fl := range s.Flags {
		field := fieldf("flags[%d]", i)
		if _, ok := flags[fl]; !ok {
			return &Error{Field: field, Msg: fmt.Sprintf("unknown flag %s", clip.Quote(string(fl))), Fix: "use one of " + strings.Join(sortedKeys(flags), ", ")}
		}
		if !slices.Contains(supported, string(fl)) {
			return &Error{Field: field, Msg: fmt.Sprintf("%s is not supported by this kernel", fl), Fix: "remove it"}
		}
		if fl == specs.LinuxSeccompFlagWaitKillableRecv && !notify {
			return &Error{Field: field, Msg: fmt.Sprintf("%s only applies to a filter with a SCMP_ACT_NOTIFY rule (the kernel refuses it otherwise)", fl),
				Fix: "remove it, or add the SCMP_ACT_NOTIFY rule it is meant for"}
		}
	}

	if s.ListenerMetadata != "" && s.ListenerPath == "" {
		return &Error{Field: fieldf("listenerMetadata"), Msg: "set without listenerPath", Fix: "set listenerPath to the agent's socket, or remove listenerMetadata"}
	}
	if notify && s.ListenerPath == "" {
		return &Error{Field: fieldf("listenerPath"), Msg: "missing, but a rule uses SCMP_ACT_NOTIFY", Fix: "set it to the unix socket of the seccomp agent that answers the notifications"}
	}
	// sun_path holds 108 bytes, the terminating NUL included.
	if len(s.ListenerPath) > len(unix.RawSockaddrUnix{}.Path)-1 {
		return &Error{Field: fieldf("listenerPath"), Msg: fmt.Sprintf("%d bytes long; a unix socket path has at most %d", len(s.ListenerPath), len(unix.RawSockaddrUnix{}.Path)-1),
			Fix: "use a shorter path"}
	}
	return nil
}

func checkAction(a specs.LinuxSeccompAction, errnoRet *uint, field, errnoField string) error {
	if a == "" {
		return &Error{Field: field, Msg: "missing", Fix: "set it to one of " + strings.Join(sortedKeys(actions), ", ")}
	}
	if _, ok := actions[a]; !ok {
		return &Error{Field: field, Msg: fmt.Sprintf("unknown action %s", clip.Quote(string(a))), Fix: "use one of " + strings.Join(sortedKeys(actions), ", ")}
	}
	if errnoRet == nil {
		return nil
	}
	switch a {
	case specs.ActErrno:
		if *errnoRet > maxErrno {
			return &Error{Field: errnoField, Msg: fmt.Sprintf("%d is above %d, the largest errno libseccomp accepts", *errnoRet, maxErrno),
				Fix: fmt.Sprintf("use 0 to %d, e.g. 1 (EPERM) or 38 (ENOSYS)", maxErrno)}
		}
	case specs.ActTrace:
		if *errnoRet > maxTraceValue {
			return &Error{Field: errnoField, Msg: fmt.Sprintf("%d does not fit the 16 bits SCMP_ACT_TRACE passes to the tracer", *errnoRet),
				Fix: fmt.Sprintf("use 0 to %d", maxTraceValue)}
		}
	default:
		return &Error{Field: errnoField, Msg: fmt.Sprintf("set, but %s returns no errno", a),
			Fix: "remove it, or use SCMP_ACT_ERRNO (or SCMP_ACT_TRACE, whose tracer gets the value)"}
	}
	return nil
}

func checkSyscall(i int, sc specs.LinuxSyscall) error {
	field := fieldf("syscalls[%d]", i)
	if err := checkAction(sc.Action, sc.ErrnoRet, field+".action", field+".errnoRet"); err != nil {
		return err
	}
	if len(sc.Names) == 0 {
		return &Error{Field: field + ".names", Msg: "empty", Fix: "name at least one syscall"}
	}
	for j, name := range sc.Names {
		if name == "" {
			return &Error{Field: fmt.Sprintf("%s.names[%d]", field, j), Msg: "empty syscall name", Fix: "remove it"}
		}
		if sc.Action == specs.ActNotify && slices.Contains(notifyForbidden, name) {
			return &Error{Field: fmt.Sprintf("%s.names[%d]", field, j), Msg: fmt.Sprintf("SCMP_ACT_NOTIFY cannot be used for %q", name),
				Fix: "the runtime hands the notify fd to the agent with it after loading the filter; use another action for it"}
		}
	}
	for j, a := range sc.Args {
		af := fmt.Sprintf("%s.args[%d]", field, j)
		if a.Index >= maxArgs {
			return &Error{Field: af + ".index", Msg: fmt.Sprintf("%d is out of range; a syscall has %d arguments", a.Index, maxArgs),
				Fix: fmt.Sprintf("use 0 to %d", maxArgs-1)}
		}
		if a.Op == "" {
			return &Error{Field: af + ".op", Msg: "missing", Fix: "set it to one of " + strings.Join(sortedKeys(operators), ", ")}
		}
		if _, ok := operators[a.Op]; !ok {
			return &Error{Field: af + ".op", Msg: fmt.Sprintf("unknown operator %s", clip.Quote(string(a.Op))), Fix: "use one of " + strings.Join(sortedKeys(operators), ", ")}
		}
	}
	return nil
}
