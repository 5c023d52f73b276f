// Command sdnotify sends its argument as one datagram to $NOTIFY_SOCKET, as
// sd_notify(3) does, for the NOTIFY_SOCKET tests (busybox has no client for unix
// datagram sockets). It is built statically and copied into the container's rootfs.
//
// Usage: sdnotify MESSAGE
package main

import (
	"fmt"
	"net"
	"os"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: sdnotify MESSAGE")
		os.Exit(2)
	}
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		fmt.Fprintln(os.Stderr, "sdnotify: NOTIFY_SOCKET is not set")
		os.Exit(1)
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		fmt.Fprintln(os.Stderr, "sdnotify:", err)
		os.Exit(1)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(os.Args[1])); err != nil {
		fmt.Fprintln(os.Stderr, "sdnotify:", err)
		os.Exit(1)
	}
}
