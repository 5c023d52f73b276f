package process

import "golang.org/x/sys/unix"

// ResetCPUAffinity lets the calling thread, and whatever it execs or forks, run on
// every CPU its cpuset allows. Affinity is inherited: without this the container's
// process keeps the CPUs of whoever ran hull (taskset, a pinned shim), not its
// cgroup's cpuset, as runc resets it too. The kernel intersects the full mask with
// the cpuset. Best effort, as with runc: a failure leaves the inherited mask.
func ResetCPUAffinity() {
	var set unix.CPUSet
	for i := range set {
		set[i] = ^set[i]
	}
	_ = unix.SchedSetaffinity(0, &set)
}
