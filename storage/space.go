package storage

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/rs/zerolog"
)

// space watches the free space of the data directory's file system. Below
// the minimum the store counts as full: the sequencer stops admitting and
// nothing is journaled or sealed until space is back, so a growing chain
// stops short of ENOSPC instead of running into it. Pebble's own writes
// (WAL, flushes, compactions) go on meanwhile; should one still hit ENOSPC,
// the ballast file is deleted and the write retried once (pebble's
// vfs.OnDiskFull), because a failed WAL or MANIFEST write leaves pebble
// unusable. The ballast is written again once space is back.
type space struct {
	log     zerolog.Logger
	fs      vfs.FS // unwrapped: the ballast is removed inside the ENOSPC handler
	dir     string
	minFree uint64 // 0: no check, no ballast
	ballast string
	size    int64 // of the ballast

	mu          sync.Mutex // serialises checks and ballast writes
	haveBallast atomic.Bool
	// low is the last measurement's verdict; hit is a write that failed
	// with ENOSPC since (a file system that cannot be measured clears it
	// only with the next successful journal append).
	low, hit atomic.Pointer[error]
}

const (
	maxBallast       = 32 << 20
	defaultMinFreeMB = 256 // Config.MinFreeMB
)

func newSpace(fs vfs.FS, dir string, minFreeMB int, log zerolog.Logger) *space {
	sp := &space{log: log, fs: fs, dir: dir}
	if minFreeMB > 0 {
		sp.minFree = uint64(minFreeMB) << 20
		sp.size = min(int64(sp.minFree/4), maxBallast)
		sp.ballast = fs.PathJoin(dir, "ballast")
		sp.check()
	}
	return sp
}

// err is the disk-full state: nil, or an error wrapping ErrDiskFull.
func (sp *space) err() error {
	if e := sp.hit.Load(); e != nil {
		return *e
	}
	if e := sp.low.Load(); e != nil {
		return *e
	}
	return nil
}

// check measures the free space, updates the state and keeps the ballast.
func (sp *space) check() error {
	if sp.minFree == 0 {
		return sp.err()
	}
	sp.mu.Lock()
	defer sp.mu.Unlock()
	du, err := sp.fs.GetDiskUsage(sp.dir)
	if err != nil {
		return sp.err() // cannot measure (a memory file system): failed writes decide
	}
	if du.AvailBytes < sp.minFree {
		if sp.low.Load() == nil {
			e := fmt.Errorf("%w: %s has %d MiB free, below the %d MiB minimum (--datadir.min-free); free space to resume", ErrDiskFull, sp.dir, du.AvailBytes>>20, sp.minFree>>20)
			sp.low.Store(&e)
			sp.log.Error().Uint64("free_mib", du.AvailBytes>>20).Uint64("min_free_mib", sp.minFree>>20).Msg("data directory full: not admitting or sealing until space is freed")
		}
		return sp.err()
	}
	if sp.low.Swap(nil) != nil || sp.hit.Load() != nil {
		sp.log.Info().Uint64("free_mib", du.AvailBytes>>20).Msg("data directory has space again: resuming")
	}
	sp.hit.Store(nil)
	sp.keepBallast(du.AvailBytes)
	return nil
}

// keepBallast writes the ballast if it is missing and the disk has room for
// it above the minimum. mu is held.
func (sp *space) keepBallast(avail uint64) {
	if sp.haveBallast.Load() {
		return
	}
	if st, err := sp.fs.Stat(sp.ballast); err == nil && st.Size() == sp.size {
		sp.haveBallast.Store(true)
		return
	}
	if avail < sp.minFree+uint64(sp.size) {
		return
	}
	f, err := sp.fs.Create(sp.ballast, vfs.WriteCategoryUnspecified)
	if err != nil {
		sp.log.Warn().Err(err).Msg("ballast file not written")
		return
	}
	defer f.Close()
	zeros := make([]byte, 1<<20)
	for off := int64(0); off < sp.size; off += int64(len(zeros)) {
		if _, err := f.WriteAt(zeros[:min(int64(len(zeros)), sp.size-off)], off); err != nil {
			sp.log.Warn().Err(err).Msg("ballast file not written")
			sp.fs.Remove(sp.ballast)
			return
		}
	}
	if err := f.Sync(); err != nil {
		sp.log.Warn().Err(err).Msg("ballast file not synced")
	}
	sp.haveBallast.Store(true)
}

// onDiskFull is pebble's ENOSPC handler: every write waits while it runs,
// then the failed one is retried once.
func (sp *space) onDiskFull() {
	e := fmt.Errorf("%w: a write in %s hit ENOSPC; free space to resume", ErrDiskFull, sp.dir)
	sp.hit.Store(&e)
	if sp.ballast == "" {
		return
	}
	sp.haveBallast.Store(false)
	if err := sp.fs.Remove(sp.ballast); err == nil {
		sp.log.Error().Str("ballast", sp.ballast).Msg("disk full: ballast deleted so that the database write completes")
	}
}

// failed records a journal write error; an ENOSPC one makes the store full.
// It returns err, wrapping ErrDiskFull for ENOSPC.
func (sp *space) failed(err error) error {
	if !errors.Is(err, syscall.ENOSPC) && !errors.Is(err, syscall.EDQUOT) {
		return err
	}
	e := fmt.Errorf("%w: %w", ErrDiskFull, err)
	if sp != nil {
		sp.hit.Store(&e)
	}
	return e
}

// wrote notes a successful journal append: a file system that cannot be
// measured has room again.
func (sp *space) wrote() {
	if sp != nil && sp.hit.Load() != nil {
		if _, err := sp.fs.GetDiskUsage(sp.dir); err != nil {
			sp.hit.Store(nil)
		}
	}
}

// Space watches the free space of a directory other than the store's (an HA
// candidate's raft log) with the store's rule: below the minimum it counts
// as full (an error wrapping ErrDiskFull) until a check finds room again, and
// a ballast file of a quarter of the minimum (at most 32 MiB) is kept in the
// directory for a write that hits ENOSPC anyway (ReleaseBallast).
type Space struct{ sp *space }

// NewSpace watches dir on fs (nil: the operating system's); minFreeMB 0 is
// the store's default (256), negative turns the check and the ballast off.
func NewSpace(fs vfs.FS, dir string, minFreeMB int, log zerolog.Logger) *Space {
	if fs == nil {
		fs = vfs.Default
	}
	if minFreeMB == 0 {
		minFreeMB = defaultMinFreeMB
	}
	return &Space{sp: newSpace(fs, dir, minFreeMB, log)}
}

// Check measures the free space and returns Err's answer after it.
func (s *Space) Check() error { return s.sp.check() }

// Err is the last verdict: nil, or an error wrapping ErrDiskFull.
func (s *Space) Err() error { return s.sp.err() }

// Failed records a write error; an ENOSPC one makes the directory full until
// a check finds room. It returns err, wrapping ErrDiskFull for ENOSPC.
func (s *Space) Failed(err error) error { return s.sp.failed(err) }

// ReleaseBallast deletes the ballast so that a write that hit ENOSPC can be
// retried in its space; it reports whether there was one. The directory
// counts as full until a check finds room (and writes the ballast again).
func (s *Space) ReleaseBallast() bool {
	had := s.sp.haveBallast.Load()
	s.sp.onDiskFull()
	return had
}
