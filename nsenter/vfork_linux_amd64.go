package nsenter

// haveVfork: rawVfork exists on this architecture.
const haveVfork = true

// rawVfork makes a clone system call (trap) whose child runs on the caller's stack
// while the caller is suspended (CLONE_VM|CLONE_VFORK): see vfork_linux_amd64.s.
func rawVfork(trap, a1, a2, a3 uintptr) (r1 uintptr, errno uintptr)
