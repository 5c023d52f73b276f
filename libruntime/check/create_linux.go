package check

import (
	"os"
	"strings"

	"github.com/hull-runtime/hull/libruntime/cgroups"
)

// Create is what `hull create` (or run) is asked beyond config.json that decides
// whether the container can be made: the findings only create has, since `hull
// check` is given none of it.
type Create struct {
	// SystemdCgroup is --systemd-cgroup, which picks the systemd cgroup driver
	// (cgroups.Select): cgroupsPath and the org.systemd.property.* annotations
	// are checked for it.
	SystemdCgroup bool
	// ConsoleSocket is set when --console-socket was given; ConsoleRelay when
	// hull itself takes the terminal's master (an attached `hull run`).
	ConsoleSocket, ConsoleRelay bool
}

// create adds the findings that depend on how create was asked, after every
// other, so that an error of the config itself is the one create reports first.
// Their texts are create's own (runc's for the console), whole in Message and
// Fix so that Error() is exactly that text.
func (c *checker) create(o Create) {
	s := c.s
	if s.Linux == nil {
		// The spec lets a config leave it out; hull needs it for the namespaces.
		c.add(SeverityError, "linux", "missing", "config.json must have a linux section with the namespaces to create")
	}
	if c.h.euid() != 0 {
		c.add(SeverityError, "", "rootless containers are not supported yet: run hull as root", "")
	}
	if s.Linux != nil {
		if _, err := cgroups.Select(o.SystemdCgroup, s.Linux.CgroupsPath); err != nil {
			msg, fix, _ := strings.Cut(err.Error(), "; ")
			c.add(SeverityError, "", msg, fix)
		} else if o.SystemdCgroup {
			// The annotations become properties of the container's scope.
			if err := cgroups.CheckSystemd(s.Annotations); err != nil {
				msg, fix, _ := strings.Cut(err.Error(), "; ")
				c.add(SeverityError, "", msg, fix)
			}
		}
	}
	if s.Process == nil {
		return // config.ValidateAll reported it
	}
	if s.Process.Terminal && !o.ConsoleSocket && !o.ConsoleRelay {
		c.add(SeverityError, "", "cannot allocate tty if hull will detach without setting console socket", "")
	}
	if !s.Process.Terminal && o.ConsoleSocket {
		c.add(SeverityError, "", "cannot use console socket if hull will not detach or allocate tty", "")
	}
}

func realEUID() int { return os.Geteuid() }
