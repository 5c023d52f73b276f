package netdev

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// The few rtnetlink requests moving a device takes, written out by hand: a link by
// name or index, its flags, its addresses, and one RTM_NEWLINK that moves and renames
// it at once. vishvananda/netlink (what runc uses) would bring a large library and
// its netns helper for these six messages.

var ne = binary.NativeEndian

// conn is a NETLINK_ROUTE socket, bound to the network namespace of the thread that
// made it for its whole life.
type conn struct {
	fd  int
	seq uint32
}

func dial() (*conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, os.NewSyscallError("socket netlink", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, os.NewSyscallError("bind netlink", err)
	}
	return &conn{fd: fd}, nil
}

// dialIn returns a netlink socket of the network namespace ns, made on a locked
// thread that enters ns and comes back. A thread that cannot come back stays locked
// and ends with its goroutine, so no other goroutine ever runs in ns.
func dialIn(ns *os.File) (*conn, error) {
	type result struct {
		c   *conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, err}
			return
		}
		defer self.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			ch <- result{nil, os.NewSyscallError("setns", err)}
			return
		}
		c, err := dial()
		if berr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); berr != nil {
			if c != nil {
				c.close()
			}
			ch <- result{nil, fmt.Errorf("return to hull's network namespace: %w", os.NewSyscallError("setns", berr))}
			return
		}
		runtime.UnlockOSThread()
		ch <- result{c, err}
	}()
	r := <-ch
	return r.c, r.err
}

func (c *conn) close() { unix.Close(c.fd) }

// request sends one message and returns the payloads of the replies, up to the
// acknowledgement (or the end of a dump).
func (c *conn) request(typ, flags uint16, body []byte) ([][]byte, error) {
	c.seq++
	msg := make([]byte, unix.SizeofNlMsghdr, unix.SizeofNlMsghdr+len(body))
	msg = append(msg, body...)
	ne.PutUint32(msg[0:], uint32(len(msg)))
	ne.PutUint16(msg[4:], typ)
	ne.PutUint16(msg[6:], flags|unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	ne.PutUint32(msg[8:], c.seq)
	if err := unix.Sendto(c.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return nil, os.NewSyscallError("sendto netlink", err)
	}
	var out [][]byte
	buf := make([]byte, 1<<16)
	for {
		n, _, err := linux.Recvfrom(c.fd, buf, 0)
		if err != nil {
			return nil, os.NewSyscallError("recvfrom netlink", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return nil, fmt.Errorf("netlink reply: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Seq != c.seq {
				continue
			}
			switch m.Header.Type {
			case unix.NLMSG_DONE:
				return out, nil
			case unix.NLMSG_ERROR:
				if len(m.Data) < 4 {
					return nil, errors.New("netlink: short error message")
				}
				if e := int32(ne.Uint32(m.Data)); e != 0 {
					return nil, syscall.Errno(-e)
				}
				return out, nil
			default:
				out = append(out, append([]byte(nil), m.Data...))
			}
		}
	}
}

func attr(typ uint16, data []byte) []byte {
	l := unix.SizeofRtAttr + len(data)
	b := make([]byte, (l+unix.NLA_ALIGNTO-1)&^(unix.NLA_ALIGNTO-1))
	ne.PutUint16(b[0:], uint16(l))
	ne.PutUint16(b[2:], typ)
	copy(b[unix.SizeofRtAttr:], data)
	return b
}

func attrString(typ uint16, s string) []byte { return attr(typ, append([]byte(s), 0)) }

func attrUint32(typ uint16, v uint32) []byte {
	var b [4]byte
	ne.PutUint32(b[:], v)
	return attr(typ, b[:])
}

// attrs splits b (the attributes after a fixed header) by type.
func attrs(b []byte) map[uint16][]byte {
	out := make(map[uint16][]byte)
	for len(b) >= unix.SizeofRtAttr {
		l := int(ne.Uint16(b[0:]))
		if l < unix.SizeofRtAttr || l > len(b) {
			break
		}
		typ := ne.Uint16(b[2:]) &^ unix.NLA_F_NESTED
		if _, dup := out[typ]; !dup {
			out[typ] = b[unix.SizeofRtAttr:l]
		}
		al := (l + unix.NLA_ALIGNTO - 1) &^ (unix.NLA_ALIGNTO - 1)
		if al > len(b) {
			break
		}
		b = b[al:]
	}
	return out
}

func ifinfomsg(index int32, flags, change uint32) []byte {
	b := make([]byte, unix.SizeofIfInfomsg)
	b[0] = unix.AF_UNSPEC
	ne.PutUint32(b[4:], uint32(index))
	ne.PutUint32(b[8:], flags)
	ne.PutUint32(b[12:], change)
	return b
}

// link is what hull needs of a network device.
type link struct {
	index int32
	flags uint32
	name  string
}

func parseLink(b []byte) (link, error) {
	if len(b) < unix.SizeofIfInfomsg {
		return link{}, errors.New("netlink: short link message")
	}
	l := link{index: int32(ne.Uint32(b[4:])), flags: ne.Uint32(b[8:])}
	if n, ok := attrs(b[unix.SizeofIfInfomsg:])[unix.IFLA_IFNAME]; ok {
		l.name = string(trimNul(n))
	}
	return l, nil
}

func trimNul(b []byte) []byte {
	for i, c := range b {
		if c == 0 {
			return b[:i]
		}
	}
	return b
}

func (c *conn) linkByName(name string) (link, error) {
	return c.getLink(append(ifinfomsg(0, 0, 0), attrString(unix.IFLA_IFNAME, name)...))
}

func (c *conn) linkByIndex(index int32) (link, error) {
	return c.getLink(ifinfomsg(index, 0, 0))
}

func (c *conn) getLink(body []byte) (link, error) {
	msgs, err := c.request(unix.RTM_GETLINK, 0, body)
	if err != nil {
		return link{}, err
	}
	if len(msgs) == 0 {
		return link{}, unix.ENODEV
	}
	return parseLink(msgs[0])
}

func (c *conn) setUp(index int32, up bool) error {
	var flags uint32
	if up {
		flags = unix.IFF_UP
	}
	_, err := c.request(unix.RTM_NEWLINK, 0, ifinfomsg(index, flags, unix.IFF_UP))
	return err
}

// move moves the device into the network namespace nsFd and names it name there, in
// one request: the kernel moves it, then renames it (a failed rename leaves it moved
// under its old name, which the caller must handle).
func (c *conn) move(index int32, nsFd int, name string) error {
	body := ifinfomsg(index, 0, 0)
	body = append(body, attrUint32(unix.IFLA_NET_NS_FD, uint32(nsFd))...)
	body = append(body, attrString(unix.IFLA_IFNAME, name)...)
	_, err := c.request(unix.RTM_NEWLINK, 0, body)
	return err
}

// address is one address of a device, kept as the kernel gave it, to be added again
// after a move (which flushes them).
type address struct {
	family, prefixlen, scope uint8
	attrs                    map[uint16][]byte
	flags                    uint32 // the ones a user sets (nodad, noprefixroute, ...)
}

// userAddrFlags are the IFA_F_* flags `ip address add` can set; the others are the
// kernel's state of the address.
const userAddrFlags = unix.IFA_F_NODAD | unix.IFA_F_HOMEADDRESS | unix.IFA_F_MANAGETEMPADDR |
	unix.IFA_F_NOPREFIXROUTE | unix.IFA_F_MCAUTOJOIN

// permanentGlobalAddrs returns the addresses of the device the spec says a move keeps:
// permanent (IFA_F_PERMANENT) ones of global scope (RT_SCOPE_UNIVERSE), any family.
func (c *conn) permanentGlobalAddrs(index int32) ([]address, error) {
	body := make([]byte, unix.SizeofIfAddrmsg)
	body[0] = unix.AF_UNSPEC
	msgs, err := c.request(unix.RTM_GETADDR, unix.NLM_F_DUMP, body)
	if err != nil {
		return nil, err
	}
	var out []address
	for _, m := range msgs {
		if len(m) < unix.SizeofIfAddrmsg || int32(ne.Uint32(m[4:])) != index {
			continue
		}
		as := attrs(m[unix.SizeofIfAddrmsg:])
		flags := uint32(m[2])
		if f, ok := as[unix.IFA_FLAGS]; ok && len(f) == 4 {
			flags = ne.Uint32(f)
		}
		if flags&unix.IFA_F_PERMANENT == 0 || m[3] != unix.RT_SCOPE_UNIVERSE {
			continue
		}
		a := address{family: m[0], prefixlen: m[1], scope: m[3], attrs: make(map[uint16][]byte), flags: flags & userAddrFlags}
		// The label names the old device; the flags and cache info are the kernel's own.
		for _, t := range []uint16{unix.IFA_ADDRESS, unix.IFA_LOCAL, unix.IFA_BROADCAST} {
			if v, ok := as[t]; ok {
				a.attrs[t] = v
			}
		}
		out = append(out, a)
	}
	return out, nil
}

func (c *conn) addAddr(index int32, a address) error {
	body := make([]byte, unix.SizeofIfAddrmsg)
	body[0], body[1], body[3] = a.family, a.prefixlen, a.scope
	ne.PutUint32(body[4:], uint32(index))
	for _, t := range []uint16{unix.IFA_ADDRESS, unix.IFA_LOCAL, unix.IFA_BROADCAST} {
		if v, ok := a.attrs[t]; ok {
			body = append(body, attr(t, v)...)
		}
	}
	if a.flags != 0 {
		body = append(body, attrUint32(unix.IFA_FLAGS, a.flags)...)
	}
	_, err := c.request(unix.RTM_NEWADDR, unix.NLM_F_CREATE|unix.NLM_F_EXCL, body)
	return err
}
