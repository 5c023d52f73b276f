#include "textflag.h"

// func rawVfork(trap, a1, a2, a3 uintptr) (r1 uintptr, errno uintptr)
//
// A clone system call whose child shares this stack (CLONE_VM, no new stack). The
// child goes on to call functions, whose frames overwrite whatever lies below the
// caller's stack pointer, this function's return address included. So the return
// address is kept in R12, which the kernel saves for the suspended parent, and put
// back only after the call returns.
//
// That holds only when Go code calls this ABI0 function directly, as it does for a
// direct call to an assembly function (go1.26.8). Reached through the compiler's ABI
// wrapper (made when the function is used as a value), the wrapper's frame and its
// return address would sit where the child's calls write, and the parent would return
// through whatever the child left there. Never take rawVfork as a func value;
// TestRawVforkCalledDirectly fails if a wrapper appears.
TEXT ·rawVfork(SB),NOSPLIT|NOFRAME,$0-48
	MOVQ	a1+8(FP), DI
	MOVQ	a2+16(FP), SI
	MOVQ	a3+24(FP), DX
	XORQ	R10, R10
	XORQ	R8, R8
	XORQ	R9, R9
	MOVQ	trap+0(FP), AX
	POPQ	R12
	SYSCALL
	PUSHQ	R12
	CMPQ	AX, $0xfffffffffffff001
	JLS	done
	NEGQ	AX
	MOVQ	$-1, r1+32(FP)
	MOVQ	AX, errno+40(FP)
	RET
done:
	MOVQ	AX, r1+32(FP)
	MOVQ	$0, errno+40(FP)
	RET
