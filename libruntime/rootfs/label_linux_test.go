package rootfs

import (
	"testing"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"github.com/opencontainers/selinux/go-selinux"

	"github.com/hull-runtime/hull/internal/hulltest"
)

func init() {
	scenarios["mountlabel-refused"] = scenario{}
}

// TestMountLabelRefused: a context= that the kernel refuses fails the mount
// with an error that names linux.mountLabel, which the mount itself did not
// ask for: the tmpfs of a mount, and the one of masked directories (whose
// context runc sets too). Off SELinux every filesystem refuses the option, which
// makes the refusal; tests/guest checks the labels themselves under a policy.
func TestMountLabelRefused(t *testing.T) {
	requireRoot(t)
	if selinux.GetEnabled() {
		hulltest.HostLimit(t, "SELinux is on here: the kernel takes context=; the refusal is tested where it is off")
	}
	const label = "system_u:object_r:svirt_image_t:s0:c1,c2"
	for _, tt := range []struct {
		name    string
		mounts  []specs.Mount
		masked  []string
		wantErr string
	}{
		{"mount", runcMounts(), nil, `mounts[1] (/dev): mount tmpfs: invalid argument (with linux.mountLabel "` + label + `" as its context=)`},
		{"masked directory", []specs.Mount{{Destination: "/proc", Type: "proc", Source: "proc"}}, []string{"/proc/acpi", "/proc/sys"},
			`linux.mountLabel "` + label + `" on the tmpfs of masked directories`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBundle(t)
			a := b.args("mountlabel-refused", &specs.Spec{
				Root:   &specs.Root{Path: "rootfs"},
				Mounts: tt.mounts,
				Linux:  &specs.Linux{MountLabel: label, MaskedPaths: tt.masked},
			})
			a.WantErr = tt.wantErr
			runScenario(t, a, 0)
		})
	}
}
