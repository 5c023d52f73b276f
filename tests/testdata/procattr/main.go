// Command procattr prints, from inside a container, the process attributes hull
// sets before it execs the user's program, as the kernel reports them for the
// calling thread (one line each, name=value):
//
//	policy=N nice=N priority=N flags=0xN runtime=N deadline=N period=N   (sched_getattr)
//	ioprio=0xN                                                            (ioprio_get)
//	mempolicy=N nodes=0xN                                                 (get_mempolicy)
//	personality=0xN                                                       (personality(0xffffffff))
//	cpus=N,N...                                                           (sched_getaffinity)
//
// It is built statically by tests/procattr_test.go and copied into the rootfs
// (busybox has neither the syscalls' tools nor a compiler).
package main

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	// The attributes are the exec'd thread's; Go's other threads were cloned
	// from it and may differ (SCHED_FLAG_RESET_ON_FORK).
	runtime.LockOSThread()
	attr, err := unix.SchedGetAttr(0, 0)
	if err != nil {
		fail("sched_getattr", err)
	}
	fmt.Printf("policy=%d nice=%d priority=%d flags=%#x runtime=%d deadline=%d period=%d\n",
		attr.Policy, attr.Nice, attr.Priority, attr.Flags, attr.Runtime, attr.Deadline, attr.Period)

	const whoProcess = 1
	prio, _, e := unix.Syscall(unix.SYS_IOPRIO_GET, whoProcess, 0, 0)
	if e != 0 {
		fail("ioprio_get", e)
	}
	fmt.Printf("ioprio=%#x\n", prio)

	var mode int32
	var mask [16]uint64
	if _, _, e := unix.Syscall6(unix.SYS_GET_MEMPOLICY, uintptr(unsafe.Pointer(&mode)), uintptr(unsafe.Pointer(&mask[0])), uintptr(len(mask)*64), 0, 0, 0); e != 0 {
		fail("get_mempolicy", e)
	}
	fmt.Printf("mempolicy=%#x nodes=%#x\n", mode, mask[0])

	pers, _, e := unix.Syscall(unix.SYS_PERSONALITY, 0xffffffff, 0, 0)
	if e != 0 {
		fail("personality", e)
	}
	fmt.Printf("personality=%#x\n", pers)

	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err != nil {
		fail("sched_getaffinity", err)
	}
	cpus := ""
	for c := range 1024 {
		if set.IsSet(c) {
			if cpus != "" {
				cpus += ","
			}
			cpus += fmt.Sprint(c)
		}
	}
	fmt.Printf("cpus=%s\n", cpus)
}

func fail(what string, err error) {
	fmt.Fprintf(os.Stderr, "procattr: %s: %v\n", what, err)
	os.Exit(1)
}
