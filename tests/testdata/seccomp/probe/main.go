// Command probe makes one raw system call and prints its raw result, so that
// the seccomp tests can see exactly what a filter answered. It is built
// statically by tests/seccomp_test.go and copied into the container's rootfs.
//
// Usage: probe NR [ARG...]
//
// NR and each ARG are integers (decimal, 0x hex, or negative); an ARG of the
// form s:TEXT is passed as a pointer to a NUL-terminated copy of TEXT. probe
// prints "ret=N" when the call succeeded and "errno=N" when it failed, and
// exits 0 either way (2 on bad usage).
package main

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"unsafe"
)

func main() {
	if len(os.Args) < 2 || len(os.Args) > 8 {
		fmt.Fprintln(os.Stderr, "usage: probe NR [ARG...] (at most 6 args)")
		os.Exit(2)
	}
	var words [7]uintptr
	var keep [][]byte
	for i, a := range os.Args[1:] {
		if s, ok := strings.CutPrefix(a, "s:"); ok && i > 0 {
			b := append([]byte(s), 0)
			keep = append(keep, b)
			words[i] = uintptr(unsafe.Pointer(&b[0]))
			continue
		}
		v, err := strconv.ParseInt(a, 0, 64)
		if err != nil {
			fmt.Fprintf(os.Stderr, "probe: bad argument %q: %v\n", a, err)
			os.Exit(2)
		}
		words[i] = uintptr(v)
	}
	r, _, errno := syscall.Syscall6(words[0], words[1], words[2], words[3], words[4], words[5], words[6])
	if errno != 0 {
		fmt.Printf("errno=%d\n", int(errno))
	} else {
		fmt.Printf("ret=%d\n", int64(r))
	}
	runtime.KeepAlive(keep) // the strings must outlive the call
}
