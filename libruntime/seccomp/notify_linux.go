package seccomp

import (
	"encoding/json"
	"fmt"
	"net"
	"time"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

// notifyTimeout bounds connecting and writing to the agent: an agent that does
// not accept must fail `hull create` rather than hang it.
const notifyTimeout = 30 * time.Second

// SendNotifyFd sends fd, the notify fd Load returned, to the seccomp agent
// listening on the unix stream socket listenerPath, with st as the container
// process state, as config-linux.md "The Container Process State" says: one
// connection, the JSON as payload, fd in SCM_RIGHTS of the first sendmsg. st.Fds
// is set to ["seccompFd"] and an empty st.Version to specs.Version; the caller
// fills Pid, State and Metadata (linux.seccomp.listenerMetadata). fd stays open.
func SendNotifyFd(listenerPath string, fd int, st *specs.ContainerProcessState) error {
	field := fieldf("listenerPath")
	if listenerPath == "" {
		return &Error{Field: field, Msg: "missing", Fix: "set it to the seccomp agent's socket"}
	}
	if fd < 0 || st == nil {
		return fmt.Errorf("seccomp: SendNotifyFd needs a notify fd and a state (got fd %d)", fd)
	}
	msg := *st
	msg.Fds = []string{specs.SeccompFdName}
	if msg.Version == "" {
		msg.Version = specs.Version
	}
	payload, err := json.Marshal(&msg)
	if err != nil {
		return fmt.Errorf("seccomp: encode container process state: %w", err)
	}

	conn, err := net.DialTimeout("unix", listenerPath, notifyTimeout)
	if err != nil {
		return &Error{Field: field, Msg: "connect to the seccomp agent: " + err.Error(), Err: err,
			Fix: "start the agent first; it must listen on a unix stream socket"}
	}
	defer conn.Close()
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return &Error{Field: field, Msg: fmt.Sprintf("%s is not a unix socket", listenerPath)}
	}
	if err := uc.SetDeadline(time.Now().Add(notifyTimeout)); err != nil {
		return &Error{Field: field, Msg: err.Error(), Err: err}
	}
	rights := unix.UnixRights(fd)
	n, oobn, err := uc.WriteMsgUnix(payload, rights, nil)
	if err == nil && oobn != len(rights) {
		err = fmt.Errorf("the fd was not sent (%d of %d control bytes)", oobn, len(rights))
	}
	// A stream socket may take part of the payload; the rest follows without fds,
	// which the spec allows.
	if err == nil && n < len(payload) {
		_, err = uc.Write(payload[n:])
	}
	if err != nil {
		return &Error{Field: field, Msg: "send the notify fd to the seccomp agent: " + err.Error(), Err: err}
	}
	return nil
}
