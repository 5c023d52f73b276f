package process

import (
	"bufio"
	"io"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/internal/linux"
)

// maxPasswd bounds how much of the container's /etc/passwd is read: the image
// controls it, and a huge file must not stall or exhaust the process that reads it.
const maxPasswd = 4 << 20

// WithHome returns env with HOME set to uid's home directory from the container's
// /etc/passwd, or "/" when the file or the user is missing, unless env already gives
// HOME a non-empty value (the last HOME counts, as for PATH). runc does the same, and
// images rely on it: shells and tools that read ~ would otherwise see no home at all.
//
// The calling process's root must be the container's (after pivot_root, or in its
// mount namespace): the file is resolved inside it.
func WithHome(env []string, uid uint32) []string {
	for i := len(env) - 1; i >= 0; i-- {
		if v, ok := strings.CutPrefix(env[i], "HOME="); ok {
			if v != "" {
				return env
			}
			break
		}
	}
	out := make([]string, 0, len(env)+1)
	for _, kv := range env {
		// An empty HOME counts as none; dropping it keeps a single HOME.
		if kv != "HOME=" {
			out = append(out, kv)
		}
	}
	return append(out, "HOME="+homeOf(uid))
}

// homeOf returns the home directory of the first /etc/passwd entry for uid, or "/".
// Every failure (no file, not a regular file, unreadable) is the same as no entry.
func homeOf(uid uint32) string {
	data, err := readPasswd()
	if err != nil {
		return "/"
	}
	want := strconv.FormatUint(uint64(uid), 10)
	sc := bufio.NewScanner(strings.NewReader(data))
	sc.Buffer(nil, maxPasswd)
	for sc.Scan() {
		// name:password:uid:gid:gecos:home:shell
		f := strings.Split(sc.Text(), ":")
		if len(f) < 6 || f[2] != want {
			continue
		}
		if f[5] == "" {
			return "/"
		}
		return f[5]
	}
	return "/"
}

// readPasswd reads /etc/passwd of the current root with the lookup confined to it
// (RESOLVE_IN_ROOT): an image's symlinks cannot lead out, nor can /proc magic links.
// O_NONBLOCK and the regular-file check keep a FIFO or device there from blocking.
func readPasswd() (string, error) {
	root, err := linux.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return "", err
	}
	defer unix.Close(root)
	fd, err := linux.Openat2(root, "etc/passwd", &unix.OpenHow{
		Flags:   unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return "", err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		return "", unix.EINVAL
	}
	var sb strings.Builder
	_, err = io.Copy(&sb, io.LimitReader(fdReader(fd), maxPasswd))
	return sb.String(), err
}

type fdReader int

func (r fdReader) Read(b []byte) (int, error) {
	n, err := linux.Read(int(r), b)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, io.EOF
	}
	return n, nil
}
