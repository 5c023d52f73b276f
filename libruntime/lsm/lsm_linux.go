// Package lsm applies a process's Linux security module settings: its AppArmor
// profile (process.apparmorProfile), its SELinux label (process.selinuxLabel) and
// the SELinux context of the container's mounts (linux.mountLabel), and says
// whether this host can honour them.
//
// Both are "on exec" attributes: the profile or label is written to the task's
// own attr file under /proc (change_onexec for AppArmor, setexeccon for SELinux)
// and the kernel applies it at that task's next execve. Only the task itself may
// write its attr files, through a procfs handle the caller has verified
// (process.OpenProcRoot): a path through the container's /proc could be a file
// the container mounted there, and the process would run unconfined
// (CVE-2019-16884). A process that is not a Go thread of hull (exec's, or one
// forked into a joined pid namespace) writes them itself in nsenter's tail, from
// ExecWrites.
//
// Where the module is off, hull refuses the field, as runc 1.5 does (its init
// fails writing the AppArmor profile, its validation refuses an SELinux label,
// and its tmpfs mounts fail on the context= option): a process asked to run
// confined never runs unconfined. The engines that set these fields (Docker,
// containerd's CRI, podman, CRI-O) set them only where the host has the module.
package lsm

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"sync"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"
	"github.com/opencontainers/selinux/go-selinux/label"
	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/libruntime/config"
	"github.com/hull-runtime/hull/libruntime/internal/linux"
	"github.com/hull-runtime/hull/libruntime/process"
)

// AppArmorEnabled reports whether AppArmor is active on this host, as runc and
// libapparmor decide it: its securityfs directory exists and the module says Y.
var AppArmorEnabled = sync.OnceValue(func() bool {
	if _, err := os.Stat("/sys/kernel/security/apparmor"); err != nil {
		return false
	}
	b, err := os.ReadFile("/sys/module/apparmor/parameters/enabled")
	return err == nil && len(b) > 0 && b[0] == 'Y'
})

// SELinuxEnabled reports whether SELinux is enabled (enforcing or permissive) on
// this host, as go-selinux decides it for runc and podman: a writable selinuxfs
// is mounted and hull's own label is not "kernel".
func SELinuxEnabled() bool { return selinux.GetEnabled() }

// Check says why the LSM settings given cannot be honoured on this host, as
// config errors naming the field; nil if they can (or none is set). It probes
// the host only for the fields that are set.
func Check(apparmorProfile, selinuxLabel, mountLabel string) []*config.Error {
	var errs []*config.Error
	if apparmorProfile != "" && !AppArmorEnabled() {
		errs = append(errs, &config.Error{Field: "process.apparmorProfile",
			Msg: "AppArmor is not enabled on this host: the process would run unconfined",
			Fix: "remove process.apparmorProfile, or run on a host with AppArmor enabled"})
	}
	if selinuxLabel == "" && mountLabel == "" {
		return errs
	}
	if SELinuxEnabled() {
		// The kernel refuses a context its policy lacks only at the write
		// (init's keycreate, a mount's context=): asked first, the error
		// names the field and comes before anything exists, in check too.
		for _, l := range seLabels(selinuxLabel, mountLabel) {
			if err := checkContext(l.label); err != nil {
				errs = append(errs, &config.Error{Field: l.field,
					Msg: fmt.Sprintf("%q is not a valid SELinux context in the loaded policy (%v)", l.label, err),
					Fix: "give a user:role:type:level the policy has (seinfo -t, of setools, lists its types)"})
			}
		}
		return errs
	}
	if selinuxLabel != "" {
		errs = append(errs, &config.Error{Field: "process.selinuxLabel",
			Msg: "SELinux is not enabled on this host: the process would run without its label",
			Fix: "remove process.selinuxLabel, or run on a host with SELinux enabled"})
	}
	if mountLabel != "" {
		errs = append(errs, &config.Error{Field: "linux.mountLabel",
			Msg: "SELinux is not enabled on this host: the mounts would not get their context",
			Fix: "remove linux.mountLabel, or run on a host with SELinux enabled"})
	}
	return errs
}

// checkContext asks the loaded policy whether a context is valid (selinuxfs's
// context file); a variable for tests.
var checkContext = selinux.SecurityCheckContext

// Warnings says which LSM settings this host applies but does not enforce: an
// SELinux label under a permissive policy is set, checked and logged, and
// denies nothing. Nil where they are enforced, or refused (Check).
func Warnings(selinuxLabel, mountLabel string) []*config.Error {
	if (selinuxLabel == "" && mountLabel == "") || !SELinuxEnabled() || selinux.EnforceMode() != selinux.Permissive {
		return nil
	}
	var errs []*config.Error
	for _, l := range seLabels(selinuxLabel, mountLabel) {
		errs = append(errs, &config.Error{Field: l.field,
			Msg: "SELinux is permissive on this host: the label is applied, but what its policy denies is only logged",
			Fix: "enforce the policy (setenforce 1, SELINUX=enforcing in /etc/selinux/config) for the label to confine"})
	}
	return errs
}

// seLabel is one SELinux label a config gives, with its field.
type seLabel struct{ field, label string }

// seLabels are the SELinux labels given, each with its field; empty ones are left out.
func seLabels(selinuxLabel, mountLabel string) []seLabel {
	var ls []seLabel
	for _, l := range []seLabel{{"process.selinuxLabel", selinuxLabel}, {"linux.mountLabel", mountLabel}} {
		if l.label != "" {
			ls = append(ls, l)
		}
	}
	return ls
}

// CheckProcess is Check for a process exec'd into a container: the first error.
func CheckProcess(p *specs.Process) error {
	if errs := Check(p.ApparmorProfile, p.SelinuxLabel, ""); len(errs) > 0 {
		return errs[0]
	}
	return nil
}

// Paths of the attr files below a procfs root, for the calling thread.
const (
	execAttr      = "thread-self/attr/exec"
	appArmorExec  = "thread-self/attr/apparmor/exec"
	keyCreateAttr = "thread-self/attr/keycreate"
)

// appArmorExecAttr is the file AppArmor's change_onexec is written to: its own
// directory since Linux 5.8, where the LSMs no longer share attr/exec; the shared
// file before. The caller of exec is outside the pid namespace of the
// container's procfs, where "self" does not resolve: the namespace's pid 1 then
// tells, which lives as long as the namespace does.
func appArmorExecAttr(proc *os.File) string {
	var st unix.Stat_t
	for _, p := range []string{"self/attr/apparmor", "1/attr/apparmor"} {
		if err := linux.Fstatat(int(proc.Fd()), p, &st, 0); err == nil {
			return appArmorExec
		}
	}
	return execAttr
}

// Write is one attr file to write: Rel below a procfs root, for the writing
// thread ("thread-self/..."), and its content; Value is the profile or label
// as the config gave it.
type Write struct {
	Field, Value, Rel, Data string
}

// What names the write in errors: the field and its value, since the kernel's
// answer (ENOENT for a profile it has not loaded) names neither.
func (w Write) What() string { return w.Field + " " + strconv.Quote(w.Value) }

// ExecWrites are the writes that make the next execve of the writing thread apply
// p's AppArmor profile and SELinux label, in the order runc applies them
// (AppArmor first). proc is the verified procfs root they will be written under.
func ExecWrites(proc *os.File, p *specs.Process) []Write {
	var w []Write
	if p.ApparmorProfile != "" {
		w = append(w, Write{"process.apparmorProfile", p.ApparmorProfile, appArmorExecAttr(proc), "exec " + p.ApparmorProfile})
	}
	if p.SelinuxLabel != "" {
		w = append(w, Write{"process.selinuxLabel", p.SelinuxLabel, execAttr, p.SelinuxLabel})
	}
	return w
}

// ApplyExec makes the calling thread's next execve apply p's profile and label.
// The thread must be locked: the attributes are per thread.
func ApplyExec(proc *os.File, p *specs.Process) error {
	for _, w := range ExecWrites(proc, p) {
		if err := process.WriteProcFile(proc, w.Rel, w.Data); err != nil {
			return &writeError{w: w, err: err}
		}
	}
	return nil
}

// SetKeyLabel labels the keyrings the calling thread creates from now on (the
// container's session keyring) with label; "" goes back to the default. A host
// without SELinux is never asked: validation refuses the label there.
func SetKeyLabel(proc *os.File, label string) error {
	if err := process.WriteProcFile(proc, keyCreateAttr, label); err != nil {
		return &writeError{w: Write{"process.selinuxLabel", label, keyCreateAttr, label}, err: err}
	}
	return nil
}

type writeError struct {
	w   Write
	err error
}

func (e *writeError) Error() string {
	msg := e.w.What() + ": set " + e.w.Rel + ": " + e.err.Error()
	if e.w.Field == "process.apparmorProfile" && errors.Is(e.err, unix.ENOENT) {
		msg += ": the kernel has no AppArmor profile of that name loaded; load it (apparmor_parser -r FILE) or fix the name"
	}
	return msg
}

func (e *writeError) Unwrap() error { return e.err }

// MountData adds the context= option of linux.mountLabel to the data of a
// filesystem mount that takes one, as runc does: every new filesystem but
// procfs and sysfs (SELinux labels them itself and refuses the option), the
// cgroup filesystems and mqueue (labelled afterwards, LabelMount).
func MountData(fstype, data, mountLabel string) string {
	switch fstype {
	case "proc", "sysfs", "cgroup", "cgroup2", "mqueue":
		return data
	}
	return label.FormatMountLabel(data, mountLabel)
}

// LabelMount sets the SELinux context of the root of a new mqueue mount, which
// older kernels do not take as context= (runc labels it so for every kernel).
// root is a handle on the mount's root directory.
func LabelMount(fstype string, root *os.File, mountLabel string) error {
	if fstype != "mqueue" || mountLabel == "" {
		return nil
	}
	// O_PATH handles take no xattrs: reopen the directory for reading.
	fd, err := linux.Openat(int(root.Fd()), ".", unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return &os.PathError{Op: "openat", Path: root.Name(), Err: err}
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, "security.selinux", []byte(mountLabel), 0); err != nil {
		return &os.PathError{Op: "fsetxattr security.selinux", Path: root.Name(), Err: err}
	}
	return nil
}
