package storage

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/rawdb"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
)

// importBatch is how many blocks are verified and written at a time.
const importBatch = 2048

// ImportResult summarises an import.
type ImportResult struct {
	Blocks, Txs uint64
	Head        *types.Header
	Elapsed     time.Duration
}

// Import verifies and writes a chain export (concatenated RLP blocks, as
// `geth export` writes them, optionally gzipped) into the store at cfg.Dir,
// creating it from genesis. Every block runs through go-ethereum's block
// processor under the genesis rules: header checks, execution, and the state
// root, receipt root, bloom and gas of the result against the header. The
// first bad block stops the import with an error naming it; the blocks before
// it stay imported. Blocks already in the store are skipped, so an import can
// be resumed.
func Import(cfg Config, genesis *core.Genesis, path string, log zerolog.Logger) (*ImportResult, error) {
	if cfg.Dir == "" {
		return nil, errors.New("import needs a data directory")
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size := int64(0)
	if fi, err := f.Stat(); err == nil {
		size = fi.Size()
	}
	read := &countingReader{r: f}
	var r io.Reader = read
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(read)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	cfg = withDefaults(cfg)
	pdb, err := openPebble(vfs.Default, filepath.Join(cfg.Dir, "chaindata"), cfg.CacheMB, cfg.Handles, false)
	if err != nil {
		return nil, fmt.Errorf("open pebble at %s: %w", cfg.Dir, err)
	}
	kv := rawdb.NewDatabase(pdb)
	defer kv.Close()
	scheme, err := dirScheme(cfg.Dir, rawdb.ReadStateScheme(kv), cfg.Scheme)
	if err != nil {
		return nil, err
	}
	db := &deferredDB{Database: kv}
	bcfg := core.DefaultConfig()
	bcfg.SnapshotLimit = 0
	bcfg.StateScheme = scheme
	if scheme == PathScheme {
		// The state the store opens with: the newest blocks' as diff
		// layers (journaled at the end), the history window's in the
		// ancient store beside chaindata, indexed for reads.
		ancient := filepath.Join(cfg.Dir, "ancient")
		db.ancient = &ancient
		pc := pathConfig(cfg)
		bcfg.ArchiveMode = true // go-ethereum indexes the state history in archive mode only
		bcfg.StateHistory, bcfg.TrienodeHistory = pc.StateHistory, pc.TrienodeHistory
	} else {
		// Archive mode over the hash scheme: every block's state stays
		// readable, which is what the store serves from.
		bcfg = bcfg.WithArchive(true)
	}
	bc, err := core.NewBlockChain(db, genesis, beacon.New(ethash.NewFaker()), bcfg)
	if err != nil {
		return nil, fmt.Errorf("open chain: %w", err)
	}
	defer bc.Stop()

	log = log.With().Str("component", "import").Logger()
	start := time.Now()
	res := &ImportResult{}
	// The file's size is known, its block count is not: the total is
	// extrapolated from the bytes read so far.
	meter := cfg.Progress.Start(log, "import", "blocks", 0)
	defer meter.Done()
	stream := rlp.NewStream(r, 0)
	batch := make(types.Blocks, 0, importBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		// Skip what the store already holds (a resumed import).
		for len(batch) > 0 && bc.HasBlock(batch[0].Hash(), batch[0].NumberU64()) {
			batch = batch[1:]
		}
		if len(batch) == 0 {
			return nil
		}
		n, err := bc.InsertChain(batch)
		if err != nil {
			n = min(n, len(batch)-1)
		} else {
			n = len(batch)
		}
		for _, b := range batch[:n] {
			rawdb.WriteTxLookupEntriesByBlock(kv, b)
			res.Blocks++
			res.Txs += uint64(len(b.Transactions()))
		}
		if err != nil {
			bad := batch[n]
			return fmt.Errorf("block %d (%s): %w", bad.NumberU64(), bad.Hash(), err)
		}
		last := batch[len(batch)-1]
		log.Debug().Uint64("number", last.NumberU64()).Stringer("hash", last.Hash()).Uint64("blocks", res.Blocks).Uint64("txs", res.Txs).
			Str("elapsed", time.Since(start).Round(time.Millisecond).String()).Msg("imported chain segment")
		if n := read.n; n > 0 && size > 0 {
			meter.SetTotal(max(res.Blocks, uint64(float64(res.Blocks)*float64(size)/float64(n))))
		}
		meter.Set(res.Blocks)
		batch = batch[:0]
		return nil
	}
	var prev *types.Block
	for n := 0; ; n++ {
		var b types.Block
		if err := stream.Decode(&b); err == io.EOF {
			break
		} else if err != nil {
			if ferr := flush(); ferr != nil {
				return res, ferr
			}
			return res, fmt.Errorf("%s: block at position %d does not decode: %w", path, n, err)
		}
		if b.NumberU64() == 0 {
			if b.Hash() != bc.Genesis().Hash() {
				return res, fmt.Errorf("%s: its genesis %s is not the configured genesis %s", path, b.Hash(), bc.Genesis().Hash())
			}
			continue
		}
		if prev != nil && (b.NumberU64() != prev.NumberU64()+1 || b.ParentHash() != prev.Hash()) {
			if err := flush(); err != nil {
				return res, err
			}
			return res, fmt.Errorf("block %d (%s): does not follow block %d (%s): parent hash %s", b.NumberU64(), b.Hash(), prev.NumberU64(), prev.Hash(), b.ParentHash())
		}
		prev = &b
		batch = append(batch, &b)
		if len(batch) == importBatch {
			if err := flush(); err != nil {
				return res, err
			}
		}
	}
	if err := flush(); err != nil {
		return res, err
	}
	res.Head = bc.CurrentBlock()
	res.Elapsed = time.Since(start)
	return res, nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
