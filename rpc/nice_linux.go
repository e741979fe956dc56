package rpc

import "golang.org/x/sys/unix"

// lowerThreadPriority raises the calling thread's nice value by n (Linux
// keeps one per thread; raising it needs no privilege).
func lowerThreadPriority(n int) {
	tid := unix.Gettid()
	if prio, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil {
		// getpriority returns 20 - nice.
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, min(19, 20-prio+n))
	}
}
