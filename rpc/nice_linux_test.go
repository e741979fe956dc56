package rpc

import (
	"errors"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"
)

// niceness is the calling thread's nice value.
func niceness(t *testing.T) int {
	t.Helper()
	p, err := unix.Getpriority(unix.PRIO_PROCESS, unix.Gettid())
	if err != nil {
		t.Fatal(err)
	}
	return 20 - p
}

// A heavy call run niced runs on a thread 10 nicer than the caller's, gives
// back its result, error and panic, and leaves no goroutine of the caller
// at the lowered priority.
func TestRunNiced(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	mine := niceness(t)
	var inside int
	got, err := runNiced(10, func() (int, error) {
		inside = niceness(t)
		return 7, errors.New("reverted")
	})
	if got != 7 || err == nil || err.Error() != "reverted" {
		t.Fatalf("result %d, %v", got, err)
	}
	if want := min(19, mine+10); inside != want {
		t.Fatalf("nice %d inside the call, want %d (the caller's %d + 10)", inside, want, mine)
	}
	if n := niceness(t); n != mine {
		t.Fatalf("the caller's thread went from nice %d to %d", mine, n)
	}
	defer func() {
		if v := recover(); v != "boom" {
			t.Fatalf("recovered %v, want the call's panic", v)
		}
	}()
	_, _ = runNiced(10, func() (int, error) { panic("boom") })
}
