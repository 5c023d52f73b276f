// spawn: the bench harness's launcher (hack/bench/main.go, -spawner). The
// harness starts every runtime invocation through it:
//
//	spawn PROGRAM ARGS...      (fd 3: where the report goes)
//
// Why: a process started straight from the harness inherits the harness's
// peak RSS. Go's ForkExec clones with CLONE_VM|CLONE_VFORK, and at execve the
// kernel folds the old (shared) mm's high-water mark into the new program's
// maxrss, so every runtime seemed to peak at no less than the harness's own
// ~9 MiB. This program is tiny and static: the program it starts the same way
// inherits only its few pages, and the figures are the runtimes' own.
//
// It is a child subreaper, starts PROGRAM (vfork + execve), and reaps
// everything that exits until PROGRAM has (the processes a runtime forks and
// orphans), then whatever has already exited. Processes still alive then (a
// created container's init) are reparented to the harness, the next subreaper
// up, when this exits. One line goes to fd 3:
//
//	<wait status> <ns from fork to PROGRAM reaped> <max ru_maxrss KiB> <sum CPU us> <own VmHWM KiB>
//
// over PROGRAM and every process reaped here; the last figure is this
// program's own peak, the floor of the others. Its own exit status is 0 when
// the report was written.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static long maxrss;
static long long cpu_us;

// vmhwm is this process's own peak RSS (KiB) since its execve. getrusage
// would not do: its ru_maxrss includes the harness's, inherited at execve.
static long vmhwm(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (sscanf(line, "VmHWM: %ld", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

static void account(const struct rusage *ru)
{
	if (ru->ru_maxrss > maxrss)
		maxrss = ru->ru_maxrss;
	cpu_us += (long long)ru->ru_utime.tv_sec * 1000000 + ru->ru_utime.tv_usec +
		  (long long)ru->ru_stime.tv_sec * 1000000 + ru->ru_stime.tv_usec;
}

int main(int argc, char **argv)
{
	struct timespec t0, t1;
	struct rusage ru;
	int status = 0, st;
	pid_t pid, w;

	if (argc < 2) {
		fprintf(stderr, "usage: spawn PROGRAM [ARGS...] (report on fd 3)\n");
		return 2;
	}
	// The report fd must not reach the runtime (hull checks for leaked fds).
	if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0) {
		perror("spawn: fd 3");
		return 2;
	}
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0) {
		perror("spawn: PR_SET_CHILD_SUBREAPER");
		return 2;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid = vfork();
	if (pid < 0) {
		perror("spawn: vfork");
		return 2;
	}
	if (pid == 0) {
		execv(argv[1], argv + 1);
		_exit(127);
	}
	for (;;) {
		w = wait4(-1, &st, 0, &ru);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			perror("spawn: wait4");
			return 2;
		}
		account(&ru);
		if (w == pid) {
			status = st;
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	while (wait4(-1, &st, WNOHANG, &ru) > 0)
		account(&ru);
	long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000 + (t1.tv_nsec - t0.tv_nsec);
	if (dprintf(3, "%d %lld %ld %lld %ld\n", status, ns, maxrss, cpu_us, vmhwm()) < 0)
		return 2;
	return 0;
}
