package lsm

import (
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/hull-runtime/hull/internal/hulltest"
)

// TestMountData: context= goes on the filesystems runc labels so, never on those
// SELinux refuses it for (procfs, sysfs) or that are labelled otherwise.
func TestMountData(t *testing.T) {
	const l = "system_u:object_r:container_file_t:s0:c1,c2"
	for fstype, want := range map[string]string{
		"tmpfs":   `mode=755,context="` + l + `"`,
		"devpts":  `mode=755,context="` + l + `"`,
		"proc":    "mode=755",
		"sysfs":   "mode=755",
		"cgroup2": "mode=755",
		"mqueue":  "mode=755",
	} {
		if got := MountData(fstype, "mode=755", l); got != want {
			t.Errorf("%s: %q, want %q", fstype, got, want)
		}
	}
	if got := MountData("tmpfs", "", ""); got != "" {
		t.Errorf("no label: %q, want no option", got)
	}
}

// TestCheckHostOff: where the module is off, each field set is refused with its
// name; nothing set, nothing is said (and nothing is probed).
func TestCheckHostOff(t *testing.T) {
	if len(Check("", "", "")) != 0 {
		t.Error("nothing set, yet refused")
	}
	if AppArmorEnabled() {
		hulltest.HostLimit(t, "AppArmor is on here; the refusal is tested where it is off (the CI host)")
	}
	if SELinuxEnabled() {
		hulltest.HostLimit(t, "SELinux is on here; the refusal is tested where it is off (the CI host)")
	}
	errs := Check("docker-default", "system_u:system_r:container_t:s0", "system_u:object_r:container_file_t:s0")
	var fields []string
	for _, e := range errs {
		fields = append(fields, e.Field)
	}
	if strings.Join(fields, " ") != "process.apparmorProfile process.selinuxLabel linux.mountLabel" {
		t.Errorf("refused fields %v", fields)
	}
}

// TestCheckValidates: where SELinux is on, a label the policy lacks is refused
// naming its field and the label, before anything is made; a valid one is not.
func TestCheckValidates(t *testing.T) {
	if !SELinuxEnabled() {
		hulltest.HostLimit(t, "SELinux is off here; tests/guest's SELinux boot runs it with a policy (TestSELinuxInvalidLabel)")
	}
	defer func(f func(string) error) { checkContext = f }(checkContext)
	checkContext = func(l string) error {
		if strings.Contains(l, "bad_t") {
			return unix.EINVAL
		}
		return nil
	}
	errs := Check("", "u:r:bad_t:s0", "u:object_r:good_t:s0")
	if len(errs) != 1 || errs[0].Field != "process.selinuxLabel" || !strings.Contains(errs[0].Msg, `"u:r:bad_t:s0"`) {
		t.Errorf("got %v, want the process.selinuxLabel refusal naming the label", errs)
	}
}
