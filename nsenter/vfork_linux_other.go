//go:build linux && !amd64

package nsenter

// haveVfork: without rawVfork's assembly, Spawn forks with copied page tables.
const haveVfork = false

func rawVfork(trap, a1, a2, a3 uintptr) (r1 uintptr, errno uintptr) {
	panic("nsenter: rawVfork is not available on this architecture")
}
