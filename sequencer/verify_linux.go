package sequencer

import "golang.org/x/sys/unix"

// lowerThreadPriority raises the calling thread's nice value by 5 (Linux
// keeps one per thread; raising it needs no privilege).
func lowerThreadPriority() {
	tid := unix.Gettid()
	if nice, err := unix.Getpriority(unix.PRIO_PROCESS, tid); err == nil {
		// getpriority returns 20 - nice.
		_ = unix.Setpriority(unix.PRIO_PROCESS, tid, min(19, 20-nice+5))
	}
}
