package sequencer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/rlp"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/storage"
)

// HAServer is one member of the raft group.
type HAServer struct {
	ID   string
	Addr string // host:port of its raft transport
}

// HAConfig configures one candidate of a sequencer HA set.
type HAConfig struct {
	ID    string
	Addr  string     // host:port the raft transport listens on and peers dial
	Peers []HAServer // initial voters, this one included; empty: join an existing group (ha_addMember)
	Dir   string     // raft log, stable store and snapshots

	HeartbeatTimeout time.Duration // follower without contact this long starts an election
	ElectionTimeout  time.Duration
	LeaseTimeout     time.Duration // leader without a quorum this long steps down
	HealthInterval   time.Duration // how often the leader checks its own sequencer
	StallTimeout     time.Duration // leader whose head has not advanced this long hands over
	MinPeers         int           // p2p peers the leader needs; 0: not checked
	CatchUp          uint64        // mini-blocks behind the leader a non-voter may be to be promoted
	// MinFreeMB is the free space of Dir's disk below which the raft log
	// counts as full, as the store's data directory (storage.Config
	// MinFreeMB): default 256, negative turns the check off.
	MinFreeMB int
	// FS measures Dir's free space and holds its ballast, default the
	// operating system's; tests pass one that reports a full disk. The raft
	// log itself is always on the operating system's.
	FS vfs.FS
	// FaultInjection enables Partition (ha_partition): tests cut a
	// candidate's raft traffic with it.
	FaultInjection bool
}

// DefaultHAConfig returns timings for a local network: failover well
// within two seconds, no spurious elections on a busy machine.
func DefaultHAConfig() HAConfig {
	return HAConfig{
		HeartbeatTimeout: 500 * time.Millisecond,
		ElectionTimeout:  500 * time.Millisecond,
		LeaseTimeout:     250 * time.Millisecond,
		HealthInterval:   100 * time.Millisecond,
		StallTimeout:     time.Second,
		CatchUp:          100,
	}
}

// Check validates the configuration.
func (c HAConfig) Check() error {
	switch {
	case c.ID == "":
		return errors.New("ha: a candidate id is needed (--ha.id)")
	case c.Addr == "":
		return errors.New("ha: a raft address is needed (--ha.addr)")
	case c.Dir == "":
		return errors.New("ha: a raft directory is needed (--ha.datadir)")
	case c.LeaseTimeout <= 0 || c.LeaseTimeout > c.HeartbeatTimeout:
		return fmt.Errorf("ha: lease timeout %v must be positive and at most the heartbeat timeout %v", c.LeaseTimeout, c.HeartbeatTimeout)
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return fmt.Errorf("ha: election timeout %v below heartbeat timeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	case c.HealthInterval <= 0 || c.StallTimeout < c.HealthInterval:
		return fmt.Errorf("ha: health interval %v and stall timeout %v", c.HealthInterval, c.StallTimeout)
	}
	ids := map[string]bool{}
	for _, p := range c.Peers {
		if p.ID == "" || p.Addr == "" || ids[p.ID] {
			return fmt.Errorf("ha: peer %q=%q: every peer needs a distinct id and an address", p.ID, p.Addr)
		}
		ids[p.ID] = true
	}
	if len(c.Peers) > 0 && !ids[c.ID] {
		return fmt.Errorf("ha: --ha.peers must include this candidate (%s)", c.ID)
	}
	return nil
}

// HA runs one candidate of a sequencer HA set: a raft group (hashicorp/raft,
// log and stable store in bolt, snapshots on disk) whose leader's sequencer
// produces and commits every mini-block and every seal before publishing
// it, while the other candidates execute the committed entries and stand by.
type HA struct {
	cfg    HAConfig
	seq    *Sequencer
	log    zerolog.Logger
	peers  func() int
	rpc    func() error // probes the candidate's own RPC; nil: not checked
	fsm    *haFSM
	stream *haStream
	store  *raftboltdb.BoltStore
	space  *storage.Space // of Dir
	raft   *raft.Raft
	notify chan bool
	stop   chan struct{}
	wg     sync.WaitGroup

	mu        sync.Mutex
	promoting map[string]string // non-voter id → RPC URL, promoted once caught up

	commits, commitFailures, transfers atomic.Uint64
	commitNanos                        atomic.Uint64
}

// NewHA opens the raft stores of seq's HA set and fences seq with them;
// peers counts the sequencer's p2p peers (nil: not checked). Start joins.
func NewHA(cfg HAConfig, seq *Sequencer, peers func() int, log zerolog.Logger) (*HA, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	if !seq.cfg.HA {
		return nil, errors.New("ha: the sequencer was not built for HA (Config.HA)")
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("ha: %w", err)
	}
	if cfg.FS != nil {
		if err := cfg.FS.MkdirAll(cfg.Dir, 0o700); err != nil {
			return nil, fmt.Errorf("ha: %w", err)
		}
	}
	store, err := raftboltdb.NewBoltStore(filepath.Join(cfg.Dir, "raft.db"))
	if err != nil {
		return nil, fmt.Errorf("ha: raft log %s: %w", cfg.Dir, err)
	}
	hlog := log.With().Str("component", "ha").Str("id", cfg.ID).Logger()
	h := &HA{
		cfg: cfg, seq: seq, peers: peers, store: store,
		space:     storage.NewSpace(cfg.FS, cfg.Dir, cfg.MinFreeMB, hlog),
		log:       hlog,
		fsm:       &haFSM{head: func() uint64 { return seq.store.CurrentHeader().Number.Uint64() }, notify: make(chan struct{}, 1)},
		notify:    make(chan bool, 16),
		stop:      make(chan struct{}),
		promoting: map[string]string{},
	}
	seq.SetFence(h)
	return h, nil
}

// SetRPCCheck makes the leader probe its own RPC server: a leader whose RPC
// fails for the stall timeout hands over, since clients cannot reach it.
// Call it before Start.
func (h *HA) SetRPCCheck(probe func() error) { h.rpc = probe }

// Start listens for raft traffic, bootstraps a new group from Peers and
// runs the leadership, follow and health loop.
func (h *HA) Start(context.Context) error {
	ln, err := net.Listen("tcp", h.cfg.Addr)
	if err != nil {
		return fmt.Errorf("ha: raft listen: %w", err)
	}
	h.stream = &haStream{ln: ln, conns: map[*haConn]struct{}{}}
	logger := hclog.New(&hclog.LoggerOptions{Name: "raft", Level: hclog.Warn, Output: h.log, JSONFormat: true})
	trans := raft.NewNetworkTransportWithLogger(h.stream, 3, 2*time.Second, logger)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(h.cfg.Dir, 2, logger)
	if err != nil {
		return errors.Join(fmt.Errorf("ha: snapshots: %w", err), trans.Close())
	}
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(h.cfg.ID)
	rc.HeartbeatTimeout, rc.ElectionTimeout, rc.LeaderLeaseTimeout = h.cfg.HeartbeatTimeout, h.cfg.ElectionTimeout, h.cfg.LeaseTimeout
	rc.CommitTimeout = 5 * time.Millisecond // followers learn commits within a mini-block or so
	rc.BatchApplyCh = true
	rc.SnapshotInterval, rc.SnapshotThreshold, rc.TrailingLogs = 30*time.Second, 4096, 20_000
	rc.NotifyCh = h.notify
	rc.Logger = logger
	exists, err := raft.HasExistingState(h.store, h.store, snaps)
	if err != nil {
		return errors.Join(err, trans.Close())
	}
	logs, stable := &spaceLogStore{LogStore: h.store, space: h.space}, &spaceStableStore{StableStore: h.store, space: h.space}
	r, err := raft.NewRaft(rc, h.fsm, logs, stable, snaps, trans)
	if err != nil {
		return errors.Join(fmt.Errorf("ha: %w", err), trans.Close())
	}
	h.raft = r
	if !exists && len(h.cfg.Peers) > 0 {
		var servers []raft.Server
		for _, p := range h.cfg.Peers {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		// Every initial candidate bootstraps the same configuration; raft
		// allows that, and a second bootstrap of a started group fails
		// harmlessly.
		if err := r.BootstrapCluster(raft.Configuration{Servers: servers}).Error(); err != nil && !errors.Is(err, raft.ErrCantBootstrap) {
			return errors.Join(fmt.Errorf("ha: bootstrap: %w", err), h.shutdown())
		}
	}
	h.wg.Add(2)
	go h.run()
	go h.promoteLoop()
	h.log.Info().Str("addr", ln.Addr().String()).Bool("existing_state", exists).Int("peers", len(h.cfg.Peers)).Msg("ha candidate started")
	return nil
}

// Stop leaves the loops and shuts raft down; the stores stay for a restart.
func (h *HA) Stop(context.Context) error {
	select {
	case <-h.stop:
		return nil
	default:
		close(h.stop)
	}
	h.wg.Wait()
	return h.shutdown()
}

func (h *HA) shutdown() error {
	var errs []error
	if h.raft != nil {
		errs = append(errs, h.raft.Shutdown().Error())
	}
	if h.stream != nil {
		h.stream.partition(true) // close what raft's pool still holds
		errs = append(errs, h.stream.Close())
	}
	return errors.Join(append(errs, h.store.Close())...)
}

// Commit appends data to the raft log and returns once a quorum holds it.
// A full raft directory refuses it before raft sees it.
func (h *HA) Commit(data []byte) error {
	if err := h.space.Err(); err != nil {
		h.commitFailures.Add(1)
		return err
	}
	start := time.Now()
	f := h.raft.Apply(data, h.cfg.LeaseTimeout)
	err := f.Error()
	if err == nil {
		if rerr, ok := f.Response().(error); ok {
			err = rerr
		}
	}
	if err != nil {
		h.commitFailures.Add(1)
		return err
	}
	took := time.Since(start)
	h.commits.Add(1)
	h.commitNanos.Add(uint64(took))
	observe(h.seq.metrics.RaftCommit, took)
	return nil
}

// CheckSpace measures the raft directory's free space (FenceSpace).
func (h *HA) CheckSpace() error { return h.space.Check() }

// DiskFull is the raft directory's last verdict (FenceSpace).
func (h *HA) DiskFull() error { return h.space.Err() }

// Committed returns the committed entries above the local sealed head.
func (h *HA) Committed() []Entry { return h.fsm.committed() }

// Leader is the leader's raft id, "" during an election.
func (h *HA) Leader() string {
	if h.raft == nil {
		return ""
	}
	_, id := h.raft.LeaderWithID()
	return string(id)
}

// IsLeader reports whether this candidate is the raft leader (Fence), also
// while it transfers leadership.
func (h *HA) IsLeader() bool { return h.raft != nil && h.raft.State() == raft.Leader }

// Stats counts commits (with their total latency), failed commits and
// leadership transfers this candidate started.
func (h *HA) Stats() (commits uint64, commitTime time.Duration, failures, transfers uint64) {
	return h.commits.Load(), time.Duration(h.commitNanos.Load()), h.commitFailures.Load(), h.transfers.Load()
}

func (h *HA) run() {
	defer h.wg.Done()
	tick := time.NewTicker(h.cfg.HealthInterval)
	defer tick.Stop()
	var lastMini uint64
	lastAdvance, peersSeen, rpcSeen := time.Now(), time.Now(), time.Now()
	var fullTransfer time.Time // last handover for a full disk
	for {
		select {
		case <-h.stop:
			return
		case leader := <-h.notify:
			if leader {
				h.takeOver()
			} else if err := h.seq.StepDown(errors.New("lost raft leadership")); err != nil {
				h.log.Error().Err(err).Msg("rebuilding from the raft log")
			}
		case <-h.fsm.notify:
			h.seq.Follow(h.fsm.committed())
		case now := <-tick.C:
			// Measured on every candidate, leading or not: a standby's
			// admission error and /ready say disk full only while it is.
			full := h.seq.checkSpace()
			if h.raft.State() != raft.Leader {
				lastAdvance, peersSeen, rpcSeen = now, now, now
				if full == nil && h.seq.holding() {
					h.seq.Follow(h.fsm.committed()) // space is back: write the held block
				}
				continue
			}
			if full != nil {
				// A leader on a full disk can neither seal nor grow the raft
				// log: it hands over at once (not after the stall timeout),
				// and again each second while no follower has taken it.
				if h.seq.Leading() || now.Sub(fullTransfer) >= time.Second {
					fullTransfer = now
					h.transfer(full.Error())
				}
				lastAdvance, peersSeen, rpcSeen = now, now, now
				continue
			}
			if !h.seq.Leading() {
				h.takeOver() // leader whose sequencer failed a commit: try again
				continue
			}
			mini := h.seq.MiniBlockCount()
			if mini != lastMini {
				lastMini, lastAdvance = mini, now
			}
			if h.cfg.MinPeers == 0 || h.peers == nil || h.peers() >= h.cfg.MinPeers {
				peersSeen = now
			}
			if h.rpc == nil || h.rpc() == nil {
				rpcSeen = now
			}
			if reason := h.unhealthy(now.Sub(lastAdvance), now.Sub(peersSeen), now.Sub(rpcSeen)); reason != "" {
				h.transfer(reason)
				lastAdvance, peersSeen, rpcSeen = now, now, now
			}
		}
	}
}

// unhealthy says why the leading sequencer should hand over, or "".
func (h *HA) unhealthy(stalled, isolated, unreachable time.Duration) string {
	if err := h.seq.failure(); err != nil {
		return err.Error()
	}
	if stalled >= h.cfg.StallTimeout {
		return fmt.Sprintf("no mini-block sealed for %v", stalled.Round(time.Millisecond))
	}
	if isolated >= h.cfg.StallTimeout {
		return fmt.Sprintf("fewer than %d p2p peers for %v: its blocks do not reach the network", h.cfg.MinPeers, isolated.Round(time.Millisecond))
	}
	if unreachable >= h.cfg.StallTimeout {
		return fmt.Sprintf("its RPC has failed for %v: clients cannot send to it", unreachable.Round(time.Millisecond))
	}
	return ""
}

// takeOver makes a new leader's sequencer produce once every committed
// entry is applied.
func (h *HA) takeOver() {
	if err := h.raft.Barrier(2 * h.cfg.ElectionTimeout).Error(); err != nil {
		h.log.Warn().Err(err).Msg("elected, but the raft log did not settle; not producing")
		return
	}
	if h.raft.State() != raft.Leader {
		return
	}
	if err := h.seq.Lead(h.fsm.committed()); err != nil {
		h.transfer("cannot produce: " + err.Error())
		return
	}
	h.log.Info().Uint64("term", h.raft.CurrentTerm()).Msg("leader: sequencing")
}

// transfer hands leadership to the most up-to-date follower.
func (h *HA) transfer(reason string) {
	h.log.Warn().Str("reason", reason).Msg("unhealthy leader: transferring leadership")
	h.transfers.Add(1)
	if err := h.seq.StepDown(errors.New("transferring leadership: " + reason)); err != nil {
		h.log.Error().Err(err).Msg("rebuilding from the raft log")
	}
	if err := h.raft.LeadershipTransfer().Error(); err != nil {
		h.log.Error().Err(err).Msg("leadership transfer failed")
	}
}

// promoteLoop makes non-voters added with an RPC URL voters once their
// sequencer is within CatchUp mini-blocks of the leader's.
func (h *HA) promoteLoop() {
	defer h.wg.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-tick.C:
		}
		if h.raft.State() != raft.Leader {
			continue
		}
		h.mu.Lock()
		pending := make(map[string]string, len(h.promoting))
		for id, url := range h.promoting {
			pending[id] = url
		}
		h.mu.Unlock()
		for id, url := range pending {
			h.tryPromote(id, url)
		}
	}
}

func (h *HA) tryPromote(id, url string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	c, err := gethrpc.DialContext(ctx, url)
	if err != nil {
		h.log.Warn().Err(err).Str("member", id).Msg("non-voter unreachable")
		return
	}
	defer c.Close()
	var st chain.HAStatus
	if err := c.CallContext(ctx, &st, "ha_status"); err != nil {
		h.log.Warn().Err(err).Str("member", id).Msg("non-voter status")
		return
	}
	own := h.seq.MiniBlockCount()
	if st.ID != id || st.MiniBlock+h.cfg.CatchUp < own {
		h.log.Info().Str("member", id).Uint64("miniblock", st.MiniBlock).Uint64("leader_miniblock", own).Msg("non-voter catching up")
		return
	}
	addr, ok := h.serverAddr(id)
	if !ok {
		h.forget(id)
		return
	}
	if err := h.raft.AddVoter(raft.ServerID(id), addr, 0, 2*time.Second).Error(); err != nil {
		h.log.Warn().Err(err).Str("member", id).Msg("promotion failed")
		return
	}
	h.forget(id)
	h.log.Info().Str("member", id).Msg("non-voter caught up: promoted to voter")
}

func (h *HA) forget(id string) {
	h.mu.Lock()
	delete(h.promoting, id)
	h.mu.Unlock()
}

func (h *HA) serverAddr(id string) (raft.ServerAddress, bool) {
	f := h.raft.GetConfiguration()
	if f.Error() != nil {
		return "", false
	}
	for _, s := range f.Configuration().Servers {
		if string(s.ID) == id {
			return s.Address, true
		}
	}
	return "", false
}

// Status is this candidate's view of the group.
func (h *HA) Status() chain.HAStatus {
	return chain.HAStatus{
		ID: h.cfg.ID, State: h.raft.State().String(), Leader: h.Leader(), Leading: h.seq.Leading(),
		Term: h.raft.CurrentTerm(), CommitIndex: h.raft.CommitIndex(), AppliedIndex: h.raft.AppliedIndex(),
		MiniBlock: h.seq.MiniBlockCount(), Block: h.seq.store.CurrentHeader().Number.Uint64(),
	}
}

// Members lists the group's configuration.
func (h *HA) Members() ([]chain.HAMember, error) {
	f := h.raft.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	_, leader := h.raft.LeaderWithID()
	var out []chain.HAMember
	for _, s := range f.Configuration().Servers {
		out = append(out, chain.HAMember{ID: string(s.ID), Addr: string(s.Address), Voter: s.Suffrage == raft.Voter, Leader: s.ID == leader})
	}
	return out, nil
}

// TransferLeadership hands leadership to id, or to the most up-to-date
// follower when id is "". Only the leader can.
func (h *HA) TransferLeadership(id string) error {
	if h.raft.State() != raft.Leader {
		return h.seq.notLeader()
	}
	if err := h.seq.StepDown(errors.New("leadership transfer requested")); err != nil {
		return err
	}
	h.transfers.Add(1)
	if id == "" {
		return h.raft.LeadershipTransfer().Error()
	}
	addr, ok := h.serverAddr(id)
	if !ok {
		return fmt.Errorf("no member %q", id)
	}
	return h.raft.LeadershipTransferToServer(raft.ServerID(id), addr).Error()
}

// AddMember adds a candidate as a non-voter; given its RPC URL the leader
// promotes it to voter once its sequencer has caught up.
func (h *HA) AddMember(id, addr, rpcURL string) error {
	if id == "" || addr == "" {
		return errors.New("a member needs an id and a raft address")
	}
	if err := h.raft.AddNonvoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 2*time.Second).Error(); err != nil {
		return h.leaderError(err)
	}
	if rpcURL != "" {
		h.mu.Lock()
		h.promoting[id] = rpcURL
		h.mu.Unlock()
	}
	return nil
}

// AddVoter adds (or promotes) a voting member at once.
func (h *HA) AddVoter(id, addr string) error {
	if err := h.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, 2*time.Second).Error(); err != nil {
		return h.leaderError(err)
	}
	h.forget(id)
	return nil
}

// RemoveMember removes a member from the group.
func (h *HA) RemoveMember(id string) error {
	if err := h.raft.RemoveServer(raft.ServerID(id), 0, 2*time.Second).Error(); err != nil {
		return h.leaderError(err)
	}
	h.forget(id)
	return nil
}

func (h *HA) leaderError(err error) error {
	if errors.Is(err, raft.ErrNotLeader) {
		return h.seq.notLeader()
	}
	return err
}

// ErrNoFaultInjection refuses Partition on a candidate started without it.
var ErrNoFaultInjection = errors.New("fault injection is off (start the candidate with --ha.fault-injection)")

// Partition cuts (on) or restores this candidate's raft traffic, in and
// out, as a network partition would: a test-only fault.
func (h *HA) Partition(on bool) error {
	if !h.cfg.FaultInjection {
		return ErrNoFaultInjection
	}
	h.stream.partition(on)
	h.log.Warn().Bool("partitioned", on).Msg("fault injection: raft traffic")
	return nil
}

// haFSM keeps the committed entries of blocks the local store has not
// sealed yet: what a standby must execute to take over.
type haFSM struct {
	head    func() uint64
	mu      sync.Mutex
	entries []Entry
	notify  chan struct{}
}

func (f *haFSM) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand {
		return nil
	}
	e, err := DecodeEntry(l.Data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	if e.Block() > f.head() {
		f.entries = append(f.entries, e)
	}
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
	return nil
}

func (f *haFSM) committed() []Entry {
	f.mu.Lock()
	defer f.mu.Unlock()
	head := f.head()
	i := 0
	for i < len(f.entries) && f.entries[i].Block() <= head {
		i++
	}
	if i > 0 {
		f.entries = slices.Clone(f.entries[i:])
	}
	return slices.Clone(f.entries)
}

// Snapshot keeps the entries of unsealed blocks; the sealed chain is in the
// store.
func (f *haFSM) Snapshot() (raft.FSMSnapshot, error) {
	var raw [][]byte
	for _, e := range f.committed() {
		data, err := EncodeEntry(e)
		if err != nil {
			return nil, err
		}
		raw = append(raw, data)
	}
	data, err := rlp.EncodeToBytes(raw)
	if err != nil {
		return nil, err
	}
	return haSnapshot(data), nil
}

func (f *haFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		return err
	}
	var raw [][]byte
	if err := rlp.DecodeBytes(data, &raw); err != nil {
		return fmt.Errorf("ha snapshot: %w", err)
	}
	var entries []Entry
	for _, r := range raw {
		e, err := DecodeEntry(r)
		if err != nil {
			return fmt.Errorf("ha snapshot: %w", err)
		}
		entries = append(entries, e)
	}
	f.mu.Lock()
	f.entries = entries
	f.mu.Unlock()
	select {
	case f.notify <- struct{}{}:
	default:
	}
	return nil
}

type haSnapshot []byte

func (s haSnapshot) Persist(sink raft.SnapshotSink) error {
	if _, err := sink.Write(s); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (haSnapshot) Release() {}

// haStream is raft's TCP stream layer with a switch that cuts every raft
// connection in and out (fault injection).
type haStream struct {
	ln    net.Listener
	cut   atomic.Bool
	mu    sync.Mutex
	conns map[*haConn]struct{}
}

var errPartitioned = errors.New("raft traffic cut by fault injection")

func (s *haStream) Accept() (net.Conn, error) {
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return nil, err
		}
		if s.cut.Load() {
			c.Close()
			continue
		}
		return s.track(c), nil
	}
}

func (s *haStream) Close() error   { return s.ln.Close() }
func (s *haStream) Addr() net.Addr { return s.ln.Addr() }

func (s *haStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	if s.cut.Load() {
		return nil, errPartitioned
	}
	c, err := net.DialTimeout("tcp", string(addr), timeout)
	if err != nil {
		return nil, err
	}
	return s.track(c), nil
}

func (s *haStream) track(c net.Conn) net.Conn {
	hc := &haConn{Conn: c, s: s}
	s.mu.Lock()
	s.conns[hc] = struct{}{}
	s.mu.Unlock()
	return hc
}

func (s *haStream) partition(on bool) {
	s.cut.Store(on)
	if !on {
		return
	}
	s.mu.Lock()
	conns := s.conns
	s.conns = map[*haConn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
}

type haConn struct {
	net.Conn
	s *haStream
}

func (c *haConn) Close() error {
	c.s.mu.Lock()
	delete(c.s.conns, c)
	c.s.mu.Unlock()
	return c.Conn.Close()
}

// spaceLogStore refuses raft log appends while the raft directory is below
// its minimum free space, so that bolt does not run into ENOSPC mid-write.
// Raft handles a refused append without losing anything: a leader's fails
// its Apply and steps down; a follower's answers the AppendEntries as
// failed and the leader sends the entries again later.
type spaceLogStore struct {
	raft.LogStore
	space *storage.Space
}

func (s *spaceLogStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

func (s *spaceLogStore) StoreLogs(logs []*raft.Log) error {
	if err := s.space.Check(); err != nil {
		return fmt.Errorf("raft log append of %d entries: %w", len(logs), err)
	}
	if err := s.LogStore.StoreLogs(logs); err != nil {
		return s.space.Failed(err)
	}
	return nil
}

// spaceStableStore writes raft's term and vote whatever the free space:
// raft panics when it cannot. A write that hits ENOSPC deletes the raft
// directory's ballast and is tried once more in its space.
type spaceStableStore struct {
	raft.StableStore
	space *storage.Space
}

func (s *spaceStableStore) Set(key, val []byte) error {
	return s.retry(func() error { return s.StableStore.Set(key, val) })
}

func (s *spaceStableStore) SetUint64(key []byte, val uint64) error {
	return s.retry(func() error { return s.StableStore.SetUint64(key, val) })
}

func (s *spaceStableStore) retry(write func() error) error {
	err := write()
	if err == nil || !errors.Is(s.space.Failed(err), storage.ErrDiskFull) || !s.space.ReleaseBallast() {
		return err
	}
	return write()
}
