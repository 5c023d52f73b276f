// Package console creates the container's pty inside the container's own devpts
// instance, hands the master to the caller over the --console-socket, and makes
// the peer the init's controlling terminal and /dev/console.
//
// The master travels as one SCM_RIGHTS message whose payload is the file name,
// the wire format runc uses, so existing console-socket readers (containerd,
// recvtty) accept it unchanged.
package console
