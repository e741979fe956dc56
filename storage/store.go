package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"os"
	"runtime/debug"
	"sync"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/ethdb"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/triedb"
	"github.com/ethereum/go-ethereum/triedb/hashdb"
	"github.com/ethereum/go-ethereum/triedb/pathdb"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/chain/progress"
)

// ErrGenesisMismatch means the data directory holds a different chain.
var ErrGenesisMismatch = errors.New("data directory holds a different chain")

// ErrDiskFull means the data directory's file system has too little free
// space to write: the store refuses writes it could not finish, and the
// sequencer stops admitting until space is freed.
var ErrDiskFull = errors.New("disk full")

// largeAlloc is the genesis size (accounts) above which the memory used to
// build it is handed back to the OS at once.
const largeAlloc = 100_000

var (
	bundlePrefix = []byte("mg-bundle-") // + number → RLP(bundleRecord)
	miniCountKey = []byte("mg-miniblock-count")
)

// The state schemes (go-ethereum's names).
const (
	// PathScheme is go-ethereum's pathdb: the newest 128 states as diff
	// layers in memory over one state on disk, and a state history (an
	// ancient store) for reads of older blocks and rewinds; disk stays flat
	// once the history window is full.
	PathScheme = rawdb.PathScheme
	// HashScheme keeps every state ever written (an archive of trie nodes
	// under their hashes).
	HashScheme = rawdb.HashScheme
)

// DefaultHistory is how many blocks of state history a path-scheme store
// keeps by default: 25 hours of 1 s blocks.
const DefaultHistory = 90_000

// EntireChain as ProofHistory keeps every block's trie nodes.
const EntireChain = math.MaxInt64

// ErrSchemeMismatch means the data directory's state was written in
// another state scheme.
var ErrSchemeMismatch = errors.New("data directory holds state of another scheme")

// Config configures the store.
type Config struct {
	Dir     string // data directory; empty keeps everything in memory
	CacheMB int    // pebble cache, default 256
	Handles int    // open file handles, default 256
	// TrieCacheMB caches clean trie nodes read from or flushed to disk
	// (off the Go heap), default 512: a transfer to a cold account then
	// reads its trie path from memory, not from pebble. Unused in memory.
	TrieCacheMB int
	// Scheme is PathScheme or HashScheme. The default is the path scheme
	// on disk and the hash scheme in memory: a dev chain in memory keeps
	// every state, so evm_revert to any snapshot is a head move and a fork
	// can be reset to another block (pathdb cannot start from a second
	// genesis). A forked chain is hash only.
	Scheme string
	// History is how many recent blocks' state a path-scheme store keeps
	// readable (eth_getBalance, eth_call, eth_getStorageAt, debug_trace* at
	// a past block) and can rewind to, default DefaultHistory. Archive
	// keeps the whole chain's.
	History uint64
	Archive bool
	// ProofHistory is how many recent blocks' trie nodes a path-scheme
	// store keeps in its history too, for eth_getProof at those blocks
	// below the 128 diff layers; 0 (the default, as geth's) keeps none,
	// EntireChain all.
	ProofHistory uint64
	// StateCacheMB caches flat state (accounts and slots) of the path
	// scheme's disk layer, default 256; WriteBufferMB is the path scheme's
	// write buffer between the diff layers and disk, default 64 (what a
	// kill -9 loses and re-applies on restart at most).
	StateCacheMB  int
	WriteBufferMB int
	// NoSync skips the fsync after each sealed block: for followers
	// (replicas, full nodes), whose blocks can be fetched again. A killed
	// process still loses nothing (the writes are in the OS); a power cut
	// may lose the newest blocks.
	NoSync bool
	// Preimages records the keys behind the state's hashed trie keys, so the
	// state can be listed (a dev chain's anvil_dumpState, --state).
	Preimages bool
	// Fork, for a devnet forked from another chain, reads what the local
	// state never wrote from that chain (in memory only).
	Fork *chain.Fork
	// FS is the file system Dir is on, default the operating system's.
	// Tests pass pebble's crash-testing memory file system or a
	// fault-injecting one.
	FS vfs.FS
	// MinFreeMB is the free space below which the data directory counts as
	// full (ErrDiskFull: no journal append, no seal until it is back),
	// default 256; negative turns the check and the ballast off. A quarter
	// of it, at most 32 MiB, is kept as a ballast file that is deleted when
	// a write hits ENOSPC anyway, so that pebble finishes that write.
	MinFreeMB int
	// Progress is where long work reports: building a large genesis,
	// an import, re-executing an imported chain (FillBundles).
	Progress progress.Options
}

// Store is the chain and state database of one node.
type Store struct {
	log      zerolog.Logger
	progress progress.Options
	kv       ethdb.Database
	db       *deferredDB
	triedb   *triedb.Database
	state    state.Database
	historic state.Database // the path scheme's state history; nil in the hash scheme
	scheme   string
	config   *params.ChainConfig

	mu      sync.RWMutex // guards head; writers hold it across the seal batch
	head    *types.Header
	genesis *types.Block
	blocks  *blockCache

	noSync     bool
	fork       *chain.Fork
	fs         vfs.FS // Dir's file system, behind the ballast's ENOSPC handler
	space      *space
	journalDir string // mini-block journal files, one per unsealed block; empty in memory
	jmu        sync.Mutex
	journal    vfs.File
	journalNum uint64
	journalOff int64 // end of the journal's last whole record
}

// Open opens (or creates) the store and initialises it with genesis: a new
// store commits it, an existing one must hold the same genesis. With a nil
// genesis the store must exist and is served with the chain config it holds.
func Open(cfg Config, genesis *core.Genesis, log zerolog.Logger) (*Store, error) {
	cfg = withDefaults(cfg)
	if cfg.FS == nil {
		cfg.FS = vfs.Default
	}
	switch {
	case cfg.Scheme != "" && cfg.Scheme != PathScheme && cfg.Scheme != HashScheme:
		return nil, fmt.Errorf("unknown state scheme %q (path or hash)", cfg.Scheme)
	case cfg.Scheme == PathScheme && cfg.Fork != nil:
		return nil, errors.New("a forked chain keeps its state in the hash scheme")
	}
	log = log.With().Str("component", "storage").Logger()
	tcfg := &triedb.Config{HashDB: hashdb.Defaults}
	var kv ethdb.Database
	var fs vfs.FS
	var sp *space
	if cfg.Dir == "" {
		kv = rawdb.NewMemoryDatabase()
	} else {
		if err := cfg.FS.MkdirAll(cfg.Dir, 0o755); err != nil {
			return nil, fmt.Errorf("data directory: %w", err)
		}
		sp = newSpace(cfg.FS, cfg.Dir, cfg.MinFreeMB, log)
		fs = vfs.OnDiskFull(cfg.FS, sp.onDiskFull)
		pdb, err := openPebble(fs, fs.PathJoin(cfg.Dir, "chaindata"), cfg.CacheMB, cfg.Handles, false)
		if err != nil {
			return nil, fmt.Errorf("open pebble at %s: %w", cfg.Dir, err)
		}
		kv = rawdb.NewDatabase(pdb)
		tcfg = &triedb.Config{HashDB: &hashdb.Config{CleanCacheSize: cfg.TrieCacheMB << 20}}
		scheme, err := dirScheme(cfg.Dir, rawdb.ReadStateScheme(kv), cfg.Scheme)
		if err != nil {
			kv.Close()
			return nil, err
		}
		cfg.Scheme = scheme
	}
	if cfg.Scheme == "" {
		cfg.Scheme = PathScheme
		if cfg.Dir == "" || cfg.Fork != nil {
			cfg.Scheme = HashScheme
		}
	}
	db := &deferredDB{Database: kv}
	if cfg.Scheme == PathScheme {
		tcfg = &triedb.Config{PathDB: pathConfig(cfg)}
		// The state history lives in an ancient store beside chaindata,
		// in memory for a store in memory. go-ethereum's freezer writes
		// to the OS's files only: on a test's file system (crash images,
		// a full disk) the store keeps no history.
		switch {
		case cfg.Dir == "":
			db.ancient = new(string)
		case cfg.FS == vfs.Default:
			ancient := fs.PathJoin(cfg.Dir, "ancient")
			db.ancient = &ancient
		}
	}
	tcfg.Preimages = cfg.Preimages
	s := &Store{log: log, progress: cfg.Progress, kv: kv, db: db, scheme: cfg.Scheme, blocks: newBlockCache(blockCacheSize, blockCacheTxs), noSync: cfg.NoSync, fs: fs, space: sp}
	if cfg.Dir != "" {
		s.journalDir = fs.PathJoin(cfg.Dir, "journal")
		err := fs.MkdirAll(s.journalDir, 0o755)
		// A directory created here must survive a power cut with the
		// journals in it: sync the entries that name it.
		if err == nil && !cfg.NoSync {
			if err = syncDir(fs, cfg.Dir); err == nil {
				syncDir(fs, fs.PathDir(cfg.Dir)) // best effort: the parent may not be ours
			}
		}
		if err != nil {
			kv.Close()
			return nil, fmt.Errorf("journal directory: %w", err)
		}
	}
	s.triedb = triedb.NewDatabase(s.db, tcfg)
	s.state = state.NewDatabase(s.triedb, state.NewCodeDB(s.db))
	if cfg.Scheme == PathScheme {
		s.historic = state.NewHistoricDatabase(s.triedb, state.NewCodeDB(s.db))
	}
	if cfg.Fork != nil {
		if cfg.Dir != "" {
			kv.Close()
			return nil, errors.New("a forked chain is kept in memory: no data directory")
		}
		s.fork = cfg.Fork
		s.state = cfg.Fork.Database(s.state)
		if genesis != nil {
			cfg.Fork.RecordAlloc(genesis.Number, allocSlots(genesis))
		}
	}
	if err := s.init(genesis); err != nil {
		s.triedb.Close()
		kv.Close()
		return nil, err
	}
	return s, nil
}

// dirScheme is the scheme a data directory holding have-scheme state ("":
// none yet) is opened with when asked was asked for ("": the default).
// A directory of the hash scheme, what earlier versions wrote, is refused
// unless the hash scheme is asked for, and so is any other mismatch.
func dirScheme(dir, have, asked string) (string, error) {
	switch {
	case have == "":
		if asked == "" {
			return PathScheme, nil
		}
		return asked, nil
	case asked == "" && have == HashScheme:
		return "", fmt.Errorf("%w: %s holds hash-scheme state (every state ever written, as earlier meganode versions kept it) and this version keeps the path scheme: start with --state.scheme hash to go on with it as it is, or make a path-scheme directory: sync a new node into an empty one, or meganode import the chain into one", ErrSchemeMismatch, dir)
	case asked == "" || asked == have:
		return have, nil
	default:
		return "", fmt.Errorf("%w: %s holds %s-scheme state and the %s scheme was asked for: open it with --state.scheme %s, or start from an empty data directory", ErrSchemeMismatch, dir, have, asked, have)
	}
}

// withDefaults fills in the defaults of cfg's zero fields.
func withDefaults(cfg Config) Config {
	if cfg.CacheMB == 0 {
		cfg.CacheMB = 256
	}
	if cfg.Handles == 0 {
		cfg.Handles = 256
	}
	if cfg.MinFreeMB == 0 {
		cfg.MinFreeMB = defaultMinFreeMB
	}
	if cfg.TrieCacheMB == 0 {
		cfg.TrieCacheMB = 512
	}
	if cfg.StateCacheMB == 0 {
		cfg.StateCacheMB = 256
	}
	if cfg.WriteBufferMB == 0 {
		cfg.WriteBufferMB = 64
	}
	if cfg.History == 0 {
		cfg.History = DefaultHistory
	}
	return cfg
}

// pathConfig is the pathdb configuration of cfg: state history kept and
// indexed for reads over the window, or the whole chain's in an archive;
// trie-node history (proofs below the diff layers) only when asked for,
// as geth: at 1M accounts it cost a third more disk and memory.
func pathConfig(cfg Config) *pathdb.Config {
	history := cfg.History
	if cfg.Archive {
		history = 0 // pathdb's "entire chain"
	}
	proofs := int64(-1) // pathdb's "none"
	switch {
	case cfg.ProofHistory >= EntireChain:
		proofs = 0
	case cfg.ProofHistory > 0:
		proofs = int64(cfg.ProofHistory)
	}
	return &pathdb.Config{
		TrieCleanSize:       cfg.TrieCacheMB << 20,
		StateCleanSize:      cfg.StateCacheMB << 20,
		WriteBufferSize:     cfg.WriteBufferMB << 20,
		StateHistory:        history,
		TrienodeHistory:     proofs,
		EnableStateIndexing: true,
		FullValueCheckpoint: pathdb.Defaults.FullValueCheckpoint,
		// The chain is written as it is made, never snap-synced: the
		// history is indexed from the start, not once the head is recent.
		NoHistoryIndexDelay: true,
	}
}

// Scheme is the store's state scheme, PathScheme or HashScheme.
func (s *Store) Scheme() string { return s.scheme }

func (s *Store) init(genesis *core.Genesis) error {
	first := uint64(0) // a forked chain's genesis is numbered after the block it forks
	if genesis != nil {
		first = genesis.Number
	}
	stored := rawdb.ReadCanonicalHash(s.kv, first)
	if genesis == nil {
		// An existing chain (imported, or written before) is served as is.
		if stored == (common.Hash{}) {
			return errors.New("no chain in the data directory: import one or give a genesis")
		}
		if s.config = rawdb.ReadChainConfig(s.kv, stored); s.config == nil {
			return fmt.Errorf("genesis %s has no chain config stored", stored)
		}
		s.genesis = rawdb.ReadBlock(s.kv, stored, first)
		return s.loadHead()
	}
	if stored == (common.Hash{}) {
		block, err := s.commitGenesis(genesis)
		if err != nil {
			return fmt.Errorf("commit genesis: %w", err)
		}
		if err := s.commitGenesisState(block.Root()); err != nil {
			return err
		}
		s.log.Info().Stringer("hash", block.Hash()).Msg("wrote genesis")
		if len(genesis.Alloc) > largeAlloc {
			// Building it took gigabytes the process would otherwise keep.
			debug.FreeOSMemory()
		}
		s.genesis = block
		s.config = genesis.Config
		return s.loadHead()
	}
	// Hashing a large alloc again takes as long as committing it: only a
	// store that already holds a chain is checked against it.
	want, err := GenesisBlock(genesis, s.progress, s.log)
	if err != nil {
		return fmt.Errorf("hash genesis: %w", err)
	}
	if stored != want.Hash() {
		return fmt.Errorf("%w: genesis %s, configured %s (accounts or gas limit changed?)", ErrGenesisMismatch, stored, want.Hash())
	} else if cfg := rawdb.ReadChainConfig(s.kv, stored); cfg == nil || cfg.ChainID.Cmp(genesis.Config.ChainID) != 0 {
		// The chain id is not part of the genesis hash.
		have := "none"
		if cfg != nil {
			have = cfg.ChainID.String()
		}
		return fmt.Errorf("%w: chain id %s, configured %s", ErrGenesisMismatch, have, genesis.Config.ChainID)
	}
	s.genesis = rawdb.ReadBlock(s.kv, want.Hash(), first)
	s.config = genesis.Config
	return s.loadHead()
}

// loadHead reads the head block and checks its state is there.
func (s *Store) loadHead() error {
	headHash := rawdb.ReadHeadBlockHash(s.kv)
	num, ok := rawdb.ReadHeaderNumber(s.kv, headHash)
	if !ok {
		return fmt.Errorf("head block %s has no number", headHash)
	}
	s.head = rawdb.ReadHeader(s.kv, headHash, num)
	if s.head == nil {
		return fmt.Errorf("head block %d (%s) missing", num, headHash)
	}
	if s.Syncing() {
		// A state sync stopped halfway: no state is usable until one
		// finishes (the node syncs again or refuses to start).
		return nil
	}
	if _, err := state.New(s.head.Root, s.state); err != nil {
		if s.scheme != PathScheme {
			return fmt.Errorf("state of head block %d: %w", num, err)
		}
		// The path scheme writes state behind the blocks: after a kill -9
		// or a power cut the blocks above its disk layer are applied again.
		if err := s.recoverState(); err != nil {
			return err
		}
	}
	s.dropJournals(num)
	return nil
}

// commitGenesisState writes a newly committed genesis's state to disk. The
// path scheme's genesis commit has written it already.
func (s *Store) commitGenesisState(root common.Hash) error {
	if s.scheme == PathScheme {
		return nil
	}
	if err := s.triedb.Commit(root, false); err != nil {
		return fmt.Errorf("commit genesis state: %w", err)
	}
	return nil
}

// Close closes the journal and the database.
func (s *Store) Close() error {
	s.jmu.Lock()
	if s.journal != nil {
		s.journal.Close()
		s.journal = nil
	}
	s.jmu.Unlock()
	if s.scheme == PathScheme {
		// The diff layers and the write buffer go to a journal, so that a
		// restart has them at once instead of applying their blocks again.
		s.mu.RLock()
		root := s.head.Root
		s.mu.RUnlock()
		if err := s.triedb.Journal(root); err != nil {
			s.log.Warn().Err(err).Msg("state journal not written: the next start applies the newest blocks again")
		}
		if err := s.triedb.Close(); err != nil {
			s.log.Warn().Err(err).Msg("close trie database")
		}
	}
	return s.kv.Close()
}

// DiskFull is nil while the data directory has room, else an error wrapping
// ErrDiskFull that says why. It reports the last measurement (CheckSpace,
// which the sequencer makes every step and every seal write makes) or a
// write that failed with ENOSPC since.
func (s *Store) DiskFull() error {
	if s.space == nil {
		return nil
	}
	return s.space.err()
}

// CheckSpace measures the data directory's free space and returns
// DiskFull's answer after it: the disk-full state clears by itself once
// space is freed.
func (s *Store) CheckSpace() error {
	if s.space == nil {
		return nil
	}
	return s.space.check()
}

// ChainConfig is the chain configuration the store was opened with.
func (s *Store) ChainConfig() *params.ChainConfig { return s.config }

// StateDatabase is the state database blocks are executed against. On the
// path scheme a state older than its 128 diff layers is read (not written)
// from the state history while the history holds it.
func (s *Store) StateDatabase() state.Database {
	if s.historic != nil {
		return &withHistory{Database: s.state, historic: s.historic}
	}
	return s.state
}

// Genesis returns the genesis block.
func (s *Store) Genesis() *types.Block { return s.genesis }

// CurrentHeader returns the sealed head.
func (s *Store) CurrentHeader() *types.Header {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.head
}

// GetHeader returns the header of hash at number, or nil.
func (s *Store) GetHeader(hash common.Hash, number uint64) *types.Header {
	return rawdb.ReadHeader(s.kv, hash, number)
}

// GetHeaderByNumber returns the canonical header at number, or nil.
func (s *Store) GetHeaderByNumber(number uint64) *types.Header {
	hash := rawdb.ReadCanonicalHash(s.kv, number)
	if hash == (common.Hash{}) {
		return nil
	}
	return rawdb.ReadHeader(s.kv, hash, number)
}

// GetHeaderByHash returns the header with hash, or nil.
func (s *Store) GetHeaderByHash(hash common.Hash) *types.Header {
	num, ok := rawdb.ReadHeaderNumber(s.kv, hash)
	if !ok {
		return nil
	}
	return rawdb.ReadHeader(s.kv, hash, num)
}

// BlockByNumber returns the canonical block at number, or nil. Blocks are
// shared with other readers: do not modify them.
func (s *Store) BlockByNumber(number uint64) *types.Block {
	hash := rawdb.ReadCanonicalHash(s.kv, number)
	if hash == (common.Hash{}) {
		return nil
	}
	if c := s.cachedByHash(hash, number); c != nil {
		return c.block
	}
	return nil
}

// BlockByHash returns the block with hash, or nil.
func (s *Store) BlockByHash(hash common.Hash) *types.Block {
	num, ok := rawdb.ReadHeaderNumber(s.kv, hash)
	if !ok {
		return nil
	}
	if c := s.cachedByHash(hash, num); c != nil {
		return c.block
	}
	return nil
}

// Receipts returns the receipts of a block with every derived field set.
// They are shared with other readers: do not modify them.
func (s *Store) Receipts(hash common.Hash, number uint64) types.Receipts {
	c := s.cachedByHash(hash, number)
	if c == nil {
		return nil
	}
	return s.receiptsOf(c)
}

// Transaction looks a sealed transaction up by hash and returns it with its
// block hash, block number and index, or nil.
func (s *Store) Transaction(hash common.Hash) (*types.Transaction, common.Hash, uint64, uint64) {
	num := rawdb.ReadTxLookupEntry(s.kv, hash)
	if num == nil {
		return nil, common.Hash{}, 0, 0
	}
	bh := rawdb.ReadCanonicalHash(s.kv, *num)
	c := s.cachedByHash(bh, *num)
	if c == nil {
		return nil, common.Hash{}, 0, 0
	}
	i, ok := c.index[hash]
	if !ok {
		return nil, common.Hash{}, 0, 0
	}
	return c.block.Transactions()[i], bh, *num, uint64(i)
}

// MiniBlockCount returns how many mini-blocks the sealed chain holds, so
// numbering resumes after a restart.
func (s *Store) MiniBlockCount() uint64 {
	v, _ := s.kv.Get(miniCountKey)
	if len(v) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(v)
}

type bundleRecord struct {
	Diff      *chain.StateDiff
	Witness   []byte
	MiniCount uint64             `rlp:"optional"` // mini-blocks in the chain up to this block
	Edits     []chain.BlockEdits `rlp:"optional"` // dev chains: state edits in the block
}

// Bundle returns the block bundle of a sealed block, or nil.
func (s *Store) Bundle(number uint64) (*chain.BlockBundle, error) {
	m, err := s.BlockMessage(number)
	if m == nil {
		return nil, err
	}
	return m.Bundle, nil
}

// BlockMessage returns a sealed block as the sequencer published it (its
// bundle with the witness, and the mini-block count; not the senders), or
// nil.
func (s *Store) BlockMessage(number uint64) (*chain.BlockMessage, error) {
	block := s.BlockByNumber(number)
	if block == nil {
		return nil, nil
	}
	rec, err := s.bundleRecord(number)
	if rec == nil {
		return nil, err
	}
	bundle := &chain.BlockBundle{Block: block, Receipts: s.Receipts(block.Hash(), number), StateDiff: rec.Diff, Witness: rec.Witness}
	deps, err := s.readDeposits(number)
	if err != nil {
		return nil, err
	}
	if deps != nil {
		bundle.Deposits, bundle.L1Origin = deps.Deposits, deps.L1Origin
		bundle.DepositReceipts = deps.Receipts // consensus fields, as on the wire
	}
	return &chain.BlockMessage{Bundle: bundle, MiniBlockCount: rec.MiniCount, Edits: rec.Edits}, nil
}

// BlockEdits returns the dev edits of the canonical block hash at number
// (none on a chain that is not a dev chain).
func (s *Store) BlockEdits(hash common.Hash, number uint64) ([]chain.BlockEdits, error) {
	if rawdb.ReadCanonicalHash(s.kv, number) != hash {
		return nil, nil
	}
	rec, err := s.bundleRecord(number)
	if rec == nil {
		return nil, err
	}
	return rec.Edits, nil
}

// bundleRecord reads the bundle record of block number; nil without one
// (the genesis block has none).
func (s *Store) bundleRecord(number uint64) (*bundleRecord, error) {
	data, err := s.kv.Get(numKey(bundlePrefix, number))
	if err != nil {
		return nil, nil
	}
	var rec bundleRecord
	if err := rlp.DecodeBytes(data, &rec); err != nil {
		return nil, fmt.Errorf("decode bundle %d: %w", number, err)
	}
	return &rec, nil
}

// WriteSealed persists a sealed block, its state and bundle, advances the
// head and clears the block's mini-block journal, in one atomic batch.
// miniCount is the number of mini-blocks in the chain up to this block.
func (s *Store) WriteSealed(sb *chain.SealedBlock, miniCount uint64) error {
	// Refused before the trie database hands its dirty nodes over: a
	// refused seal can be written again.
	if err := s.CheckSpace(); err != nil {
		return fmt.Errorf("write block %d: %w", sb.Block.NumberU64(), err)
	}
	batch := s.kv.NewBatch()
	if s.scheme == PathScheme {
		// The state is a diff layer since Seal; pathdb writes it behind.
		return s.writeBlock(batch, sb, miniCount)
	}
	release := s.db.capture(batch)
	// The state update's nodes are in the triedb's dirty cache since Seal;
	// Commit flushes them, and capture routes the flush into the batch.
	err := s.commitState(sb)
	release()
	if err != nil {
		return err
	}
	return s.writeBlock(batch, sb, miniCount)
}

// WriteSealedState writes a sealed block's state on its own, straight to
// disk. The sequencer's pipelined seal calls it on its loop, then
// WriteSealedBlock on another goroutine while the next block executes on
// that state: state first, so a crash in between leaves no block without
// its state. A full disk refuses it before anything is written, so it can
// be retried.
func (s *Store) WriteSealedState(sb *chain.SealedBlock) error {
	if err := s.CheckSpace(); err != nil {
		return fmt.Errorf("write state of block %d: %w", sb.Block.NumberU64(), err)
	}
	return s.commitState(sb)
}

// WriteSealedBlock writes a block whose state WriteSealedState wrote. A
// full disk refuses it before anything is written, so it can be retried.
func (s *Store) WriteSealedBlock(sb *chain.SealedBlock, miniCount uint64) error {
	if err := s.CheckSpace(); err != nil {
		return fmt.Errorf("write block %d: %w", sb.Block.NumberU64(), err)
	}
	return s.writeBlock(s.kv.NewBatch(), sb, miniCount)
}

// commitState flushes the state update's nodes, dirty in the triedb since
// Seal; the update's root is the header's but under fault injection.
func (s *Store) commitState(sb *chain.SealedBlock) error {
	root := sb.Block.Root()
	if sb.Update != nil {
		root = sb.Update.Root
	}
	// In memory the trie database's dirty nodes are as good as written:
	// flushing them into the memory database would only copy them. The
	// path scheme's diff layer is written behind by pathdb itself (a crash
	// before that re-applies the block's diff on the next start).
	if s.journalDir != "" && s.scheme == HashScheme {
		if err := s.triedb.Commit(root, false); err != nil {
			return fmt.Errorf("commit state of block %d: %w", sb.Block.NumberU64(), err)
		}
	}
	if s.fork != nil {
		s.fork.Record(sb.Update)
	}
	return nil
}

// writeBlock adds the block, its receipts, lookups and bundle to batch and
// writes it durably as the new head.
func (s *Store) writeBlock(batch ethdb.Batch, sb *chain.SealedBlock, miniCount uint64) error {
	block := sb.Block
	rec, err := rlp.EncodeToBytes(&bundleRecord{Diff: sb.Diff, Witness: sb.Witness, MiniCount: miniCount, Edits: sb.Edits})
	if err != nil {
		return fmt.Errorf("encode bundle %d: %w", block.NumberU64(), err)
	}
	hash, num := block.Hash(), block.NumberU64()
	rawdb.WriteBlock(batch, block)
	rawdb.WriteReceipts(batch, hash, num, sb.Receipts)
	rawdb.WriteTxLookupEntriesByBlock(batch, block)
	rawdb.WriteCanonicalHash(batch, hash, num)
	rawdb.WriteHeadBlockHash(batch, hash)
	rawdb.WriteHeadHeaderHash(batch, hash)
	rawdb.WriteHeadFastBlockHash(batch, hash)
	if err := batch.Put(numKey(bundlePrefix, num), rec); err != nil {
		return err
	}
	if err := writeDeposits(batch, sb); err != nil {
		return err
	}
	if err := batch.Put(miniCountKey, binary.BigEndian.AppendUint64(nil, miniCount)); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := batch.Write(); err != nil {
		return fmt.Errorf("write block %d: %w", num, err)
	}
	// Make the block durable before its journal goes: pebble's NoSync
	// writes can still sit in the process when it is killed.
	if s.noSync {
		// Followers re-fetch what a power cut loses.
	} else if err := s.kv.SyncKeyValue(); err != nil {
		return fmt.Errorf("sync block %d: %w", num, err)
	}
	s.head = block.Header()
	var deps *depositsRecord
	if len(sb.Deposits) > 0 || sb.L1Origin != (chain.L1Origin{}) {
		deps = &depositsRecord{Deposits: sb.Deposits, Receipts: sb.DepositReceipts, L1Origin: sb.L1Origin}
	}
	s.blocks.Add(hash, newCachedBlock(block, sb.Receipts, deps))
	s.dropJournals(num)
	return nil
}

// WriteReplayed persists a block re-executed over its witness: the trie
// nodes its execution produced live in the witness's throw-away database, so
// they (and new code) are inserted into this store's first; the parent's
// nodes they reference are already here. Then it is written like a sealed
// block.
func (s *Store) WriteReplayed(sb *chain.SealedBlock, miniCount uint64) error {
	if u := sb.Update; u != nil && u.Nodes != nil {
		// The update's nodes and states (the path scheme's diff layer and
		// history need both) and its new code.
		if err := s.state.Commit(u); err != nil {
			return fmt.Errorf("insert state of block %d: %w", sb.Block.NumberU64(), err)
		}
	}
	return s.WriteSealed(sb, miniCount)
}

// JournalEntry is a mini-block of the unsealed block as the journal keeps
// it: with its position (number, index, timestamps), a restart rebuilds the
// very mini-block followers already have instead of numbering its txs again.
type JournalEntry struct {
	// Legacy marks a record of the journal format before positions (its
	// transactions only): recovery numbers its txs anew.
	Legacy bool `rlp:"-"`

	BlockTime       uint64 // header time of the block it belongs to
	Index           uint64 // within the block
	Number          uint64 // global mini-block number
	TimestampMicros uint64
	Txs             types.Transactions
	// The block's deposits and L1 cursor, in its first mini-block (Index
	// 0): recovery runs the same ones, the L1 may have confirmed more since.
	Deposits []*chain.Deposit `rlp:"optional"`
	L1Origin chain.L1Origin   `rlp:"optional"`
}

// JournalMiniBlock appends a mini-block of the unsealed block number to that
// block's journal file. When it returns the record survives a kill -9 of the
// process (the write reached the OS) and, if it carries transactions or
// deposits and the store is not NoSync, a power cut too: the record is
// fdatasync'ed, and a new journal file's directory entry is synced. An empty
// mini-block is written without a sync (one per interval when idle): its
// record only keeps the numbering, and the next synced record syncs it. A
// failed append leaves the journal as it was (the next one overwrites what
// it wrote); a full disk returns an error wrapping ErrDiskFull.
func (s *Store) JournalMiniBlock(number uint64, e *JournalEntry) error {
	if s.journalDir == "" {
		return nil
	}
	data, err := rlp.EncodeToBytes(e)
	if err != nil {
		return fmt.Errorf("encode journal of block %d: %w", number, err)
	}
	// Only a measured shortage refuses the append up front: after a failed
	// one it is simply tried again.
	if e := s.space.low.Load(); e != nil {
		return fmt.Errorf("journal mini-block of block %d: %w", number, *e)
	}
	s.jmu.Lock()
	defer s.jmu.Unlock()
	if s.journal == nil || s.journalNum != number {
		if err := s.openJournal(number); err != nil {
			return s.space.failed(fmt.Errorf("open journal of block %d: %w", number, err))
		}
	}
	if _, err := s.journal.WriteAt(data, s.journalOff); err != nil {
		return s.space.failed(fmt.Errorf("journal mini-block of block %d: %w", number, err))
	}
	if !s.noSync && (len(e.Txs) > 0 || len(e.Deposits) > 0) {
		if err := s.journal.SyncData(); err != nil {
			return s.space.failed(fmt.Errorf("sync journal of block %d: %w", number, err))
		}
	}
	s.journalOff += int64(len(data))
	s.space.wrote()
	return nil
}

// openJournal opens block number's journal for appending after its last
// whole record: a record cut short by a crash is overwritten, not followed.
// jmu is held.
func (s *Store) openJournal(number uint64) error {
	if s.journal != nil {
		s.journal.Close()
		s.journal = nil
	}
	path := s.journalPath(number)
	data, err := s.readJournal(path)
	if err != nil {
		return err
	}
	var f vfs.File
	if data == nil {
		if f, err = s.fs.Create(path, vfs.WriteCategoryUnspecified); err != nil {
			return err
		}
		if !s.noSync {
			// The file's name must survive a power cut with its records.
			if err := syncDir(s.fs, s.journalDir); err != nil {
				f.Close()
				return err
			}
		}
	} else if f, err = s.fs.OpenReadWrite(path, vfs.WriteCategoryUnspecified); err != nil {
		return err
	}
	_, whole := decodeJournal(data)
	s.journal, s.journalNum, s.journalOff = f, number, int64(whole)
	return nil
}

func syncDir(fs vfs.FS, dir string) error {
	d, err := fs.OpenDir(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// readJournal returns a journal file's bytes, nil if there is none.
func (s *Store) readJournal(path string) ([]byte, error) {
	f, err := s.fs.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, err
	}
	if data == nil {
		data = []byte{}
	}
	return data, nil
}

// decodeJournal returns the journal's mini-blocks and the length of its
// whole records; a partial or corrupt record ends it.
func decodeJournal(data []byte) ([]JournalEntry, int) {
	var entries []JournalEntry
	whole := 0
	r := bytes.NewReader(data)
	stream := rlp.NewStream(r, uint64(len(data)))
	for {
		raw, err := stream.Raw()
		if err != nil {
			return entries, whole
		}
		var e JournalEntry
		if err := rlp.DecodeBytes(raw, &e); err != nil {
			// The older format: a list of txs. Neither a legacy tx (a list)
			// nor a typed one (a string longer than 8 bytes) decodes as the
			// leading integer of an entry, so the two cannot be confused.
			var txs types.Transactions
			if rlp.DecodeBytes(raw, &txs) != nil {
				return entries, whole
			}
			e = JournalEntry{Txs: txs, Legacy: true}
		}
		entries = append(entries, e)
		whole = len(data) - r.Len()
	}
}

// JournaledMiniBlocks returns the journaled mini-blocks of the unsealed
// block number, in order. A record cut short by a crash mid-write ends the
// journal.
func (s *Store) JournaledMiniBlocks(number uint64) ([]JournalEntry, error) {
	if s.journalDir == "" {
		return nil, nil
	}
	data, err := s.readJournal(s.journalPath(number))
	if err != nil {
		return nil, fmt.Errorf("read journal of block %d: %w", number, err)
	}
	entries, whole := decodeJournal(data)
	if whole < len(data) {
		s.log.Warn().Uint64("block", number).Int("recovered", len(entries)).Int("dropped_bytes", len(data)-whole).Msg("journal ends in a partial record")
	}
	return entries, nil
}

// Journaled returns the journaled transactions of the unsealed block number,
// in order.
func (s *Store) Journaled(number uint64) (types.Transactions, error) {
	entries, err := s.JournaledMiniBlocks(number)
	var txs types.Transactions
	for _, e := range entries {
		txs = append(txs, e.Txs...)
	}
	return txs, err
}

// dropJournals removes the journals of blocks up to number (sealed ones).
func (s *Store) dropJournals(number uint64) {
	s.dropJournalsIf(func(n uint64) bool { return n <= number })
}

// dropJournalsIf removes the journals of the blocks drop names. The removal
// needs no sync: a journal that reappears after a power cut belongs to a
// sealed block, and opening the store drops it again.
func (s *Store) dropJournalsIf(drop func(block uint64) bool) {
	if s.journalDir == "" {
		return
	}
	s.jmu.Lock()
	if s.journal != nil && drop(s.journalNum) {
		s.journal.Close()
		s.journal = nil
	}
	s.jmu.Unlock()
	names, _ := s.fs.List(s.journalDir)
	for _, name := range names {
		var n uint64
		if _, err := fmt.Sscanf(name, "%d.rlp", &n); err == nil && drop(n) {
			s.fs.Remove(s.fs.PathJoin(s.journalDir, name))
		}
	}
}

func (s *Store) journalPath(number uint64) string {
	return s.fs.PathJoin(s.journalDir, fmt.Sprintf("%d.rlp", number))
}

func numKey(prefix []byte, n uint64) []byte {
	return binary.BigEndian.AppendUint64(append([]byte{}, prefix...), n)
}

// commitGenesis is core.Genesis.Commit for any genesis number: a forked
// chain's genesis stands for the block it forks (go-ethereum commits block
// 0 only, so one numbered after it is written as block 0 and moved).
func (s *Store) commitGenesis(genesis *core.Genesis) (*types.Block, error) {
	if genesis.Number == 0 {
		return s.commitGenesisAt0(genesis)
	}
	db := s.kv
	at0 := *genesis
	at0.Number = 0
	first, err := s.commitGenesisAt0(&at0)
	if err != nil {
		return nil, err
	}
	header := first.Header()
	header.Number = new(big.Int).SetUint64(genesis.Number)
	block := types.NewBlockWithHeader(header).WithBody(*first.Body())
	batch := db.NewBatch()
	rawdb.DeleteBlock(batch, first.Hash(), 0)
	rawdb.DeleteCanonicalHash(batch, 0)
	rawdb.WriteBlock(batch, block)
	rawdb.WriteReceipts(batch, block.Hash(), block.NumberU64(), nil)
	rawdb.WriteCanonicalHash(batch, block.Hash(), block.NumberU64())
	rawdb.WriteHeadBlockHash(batch, block.Hash())
	rawdb.WriteHeadFastBlockHash(batch, block.Hash())
	rawdb.WriteHeadHeaderHash(batch, block.Hash())
	rawdb.WriteChainConfig(batch, block.Hash(), genesis.Config)
	return block, batch.Write()
}
