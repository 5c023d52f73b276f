// Package process prepares the credentials and the environment of a
// container's process in the last steps of init, right before execve.
//
// Capabilities, no_new_privs, the bounding set and the user and group ids are
// per-thread kernel state. Init runs on a goroutine locked to its OS thread
// and calls execve from that thread, so every function here changes the
// calling thread only (where the kernel makes that distinction) and is meant
// to be called from that locked goroutine. Rlimits, the umask and the open
// file table are shared by all threads of the process.
package process
