package process

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// The attributes below belong to the calling thread and are inherited by what it
// forks and kept across execve, all but the scheduler's SCHED_DEADLINE (fork
// refuses it) and SCHED_FLAG_RESET_ON_FORK: exec's process gets its scheduler in
// nsenter's tail instead. Each is set while the thread is still root with every
// capability (a real-time policy, a negative nice value or the RT I/O class need
// CAP_SYS_NICE or CAP_SYS_ADMIN), before any seccomp filter.

// SetScheduler applies sched_setattr(2) attributes to the calling thread.
func SetScheduler(attr *unix.SchedAttr) error {
	if err := linux.SchedSetAttr(0, attr, 0); err != nil {
		return fmt.Errorf("process.scheduler: %w", explainSched(err))
	}
	return nil
}

// explainSched says what the usual refusals of sched_setattr mean.
func explainSched(err error) error {
	sys := os.NewSyscallError("sched_setattr", err)
	switch {
	case errors.Is(err, unix.EPERM):
		return &explainedError{msg: sys.Error() + " (a real-time or deadline policy, or a lower nice value, needs CAP_SYS_NICE, RLIMIT_RTPRIO or RLIMIT_NICE, and real-time runtime for the cgroup)", err: sys}
	case errors.Is(err, unix.EBUSY):
		return &explainedError{msg: sys.Error() + " (SCHED_DEADLINE: not enough CPU bandwidth left for this runtime/period)", err: sys}
	}
	return sys
}

// ioprioWhoProcess is IOPRIO_WHO_PROCESS: with who 0, the calling thread.
const ioprioWhoProcess = 1

// SetIOPriority applies an ioprio_set(2) value to the calling thread.
func SetIOPriority(prio int) error {
	err := linux.Retry(func() error {
		_, _, e := unix.Syscall(unix.SYS_IOPRIO_SET, ioprioWhoProcess, 0, uintptr(prio))
		if e != 0 {
			return e
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("process.ioPriority: %w", os.NewSyscallError("ioprio_set", err))
	}
	return nil
}

// SetPersonality sets the calling thread's execution domain (personality(2)).
func SetPersonality(persona uint) error {
	if _, _, e := unix.Syscall(unix.SYS_PERSONALITY, uintptr(persona), 0, 0); e != 0 {
		return fmt.Errorf("linux.personality: %w", os.NewSyscallError("personality", e))
	}
	return nil
}

// SetMemPolicy sets the calling thread's NUMA memory policy (set_mempolicy(2)):
// mode with its flags, over maxNode bits of mask.
func SetMemPolicy(mode int, mask []uint64, maxNode uint64) error {
	var p unsafe.Pointer
	if len(mask) > 0 {
		p = unsafe.Pointer(&mask[0])
	}
	if _, _, e := unix.Syscall(unix.SYS_SET_MEMPOLICY, uintptr(mode), uintptr(p), uintptr(maxNode)); e != 0 {
		err := os.NewSyscallError("set_mempolicy", e)
		if e == unix.EINVAL {
			err = &explainedError{msg: err.Error() + " (are the nodes online and in the cgroup's cpuset.mems? see /sys/devices/system/node/has_memory)", err: err}
		}
		return fmt.Errorf("linux.memoryPolicy: %w", err)
	}
	return nil
}

// SetCPUAffinity restricts the calling thread to set.
func SetCPUAffinity(field string, set *unix.CPUSet) error {
	if err := unix.SchedSetaffinity(0, set); err != nil {
		err = os.NewSyscallError("sched_setaffinity", err)
		if errors.Is(err, unix.EINVAL) {
			err = &explainedError{msg: err.Error() + " (none of these CPUs is online and in the cgroup's cpuset)", err: err}
		}
		return fmt.Errorf("%s: %w", field, err)
	}
	return nil
}
