package node

import (
	"context"
	"crypto/ecdsa"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/eigenda"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/storage"
)

var (
	tokenInit     = chain.TokenInit
	benchBlockTxs = 10_000 // about what the sequencer includes in a 1 s block on this machine
)

var erc20Call = chain.TokenTransfer

// roleBench is a sealed block of benchBlockTxs txs and three stores at its
// parent, copies of one data directory: one per way of following it.
type roleBench struct {
	config  *params.ChainConfig
	parent  *types.Header
	sealed  *chain.SealedBlock
	raw     [][]byte // the block's txs, encoded: decoded afresh so no sender is cached
	senders []common.Address
	stores  map[string]*storage.Store
}

func newRoleBench(b *testing.B, erc20 bool) *roleBench {
	b.Helper()
	g, accts, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	seqDir := filepath.Join(dir, "sequencer")
	store, err := storage.Open(storage.Config{Dir: seqDir}, g, zerolog.Nop())
	if err != nil {
		b.Fatal(err)
	}
	config := store.ChainConfig()
	signer := types.LatestSigner(config)
	keys := make([]*ecdsa.PrivateKey, 200)
	for i := range keys {
		keys[i], _ = crypto.ToECDSA(crypto.Keccak256([]byte{byte(i), byte(i >> 8), 'r'}))
	}
	token := crypto.CreateAddress(accts[0].Address, 0)
	nonces := map[common.Address]uint64{}
	sign := func(key *ecdsa.PrivateKey, to *common.Address, value int64, gas uint64, data []byte) *types.Transaction {
		from := crypto.PubkeyToAddress(key.PublicKey)
		tx := types.MustSignNewTx(key, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: nonces[from], To: to, Value: big.NewInt(value), Gas: gas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10), Data: data})
		nonces[from]++
		return tx
	}
	seal := func(txs types.Transactions) *chain.SealedBlock {
		parent := store.CurrentHeader()
		bb, err := chain.NewBlockBuilder(config, store, store.StateDatabase(), parent, chain.NextHeader(config, parent, parent.Time+1, chain.DefaultGasLimit, common.Address{}))
		if err != nil {
			b.Fatal(err)
		}
		for _, tx := range txs {
			if _, err := bb.ApplyTx(tx); err != nil {
				b.Fatal(err)
			}
		}
		sb, err := bb.Seal()
		if err != nil {
			b.Fatal(err)
		}
		return sb
	}
	// Set-up block: the token, then ether and tokens for every sender.
	setup := types.Transactions{sign(accts[0].Key, nil, 0, 300_000, tokenInit)}
	for _, k := range keys {
		addr := crypto.PubkeyToAddress(k.PublicKey)
		setup = append(setup, sign(accts[0].Key, &addr, params.Ether, params.TxGas, nil), sign(accts[0].Key, &token, 0, 100_000, erc20Call(addr, 1<<40)))
	}
	sb := seal(setup)
	if err := store.WriteSealed(sb, 1); err != nil {
		b.Fatal(err)
	}
	for i, r := range sb.Receipts {
		if r.Status != types.ReceiptStatusSuccessful {
			b.Fatalf("set-up tx %d failed", i)
		}
	}
	parent := store.CurrentHeader()
	rb := &roleBench{config: config, parent: parent, stores: map[string]*storage.Store{}}
	var txs types.Transactions
	to := common.HexToAddress("0xbeef")
	for i := 0; i < benchBlockTxs; i++ {
		k := keys[i%len(keys)]
		if erc20 {
			// Steady-state token traffic: holders paying each other.
			txs = append(txs, sign(k, &token, 0, 60_000, erc20Call(crypto.PubkeyToAddress(keys[(i+1)%len(keys)].PublicKey), 1)))
		} else {
			txs = append(txs, sign(k, &to, 1, params.TxGas, nil))
		}
		rb.senders = append(rb.senders, crypto.PubkeyToAddress(k.PublicKey))
		raw, _ := txs[i].MarshalBinary()
		rb.raw = append(rb.raw, raw)
	}
	store.Close()
	// Three copies at the parent, then the block sealed on the original.
	for _, name := range []string{"replica", "witness", "disk"} {
		if err := os.CopyFS(filepath.Join(dir, name), os.DirFS(seqDir)); err != nil {
			b.Fatal(err)
		}
		s, err := storage.Open(storage.Config{Dir: filepath.Join(dir, name)}, g, zerolog.Nop())
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { s.Close() })
		rb.stores[name] = s
	}
	if store, err = storage.Open(storage.Config{Dir: seqDir}, g, zerolog.Nop()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { store.Close() })
	rb.sealed = seal(txs)
	for i, r := range rb.sealed.Receipts {
		if r.Status != types.ReceiptStatusSuccessful {
			b.Fatalf("tx %d failed", i)
		}
	}
	return rb
}

// block decodes the block afresh: no tx carries a cached sender.
func (rb *roleBench) block(b *testing.B) *types.Block {
	txs := make(types.Transactions, len(rb.raw))
	for i, raw := range rb.raw {
		txs[i] = new(types.Transaction)
		if err := txs[i].UnmarshalBinary(raw); err != nil {
			b.Fatal(err)
		}
	}
	return types.NewBlockWithHeader(rb.sealed.Block.Header()).WithBody(types.Body{Transactions: txs, Withdrawals: rb.sealed.Block.Withdrawals()})
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFollowBlock measures the CPU time of following one sealed block
// per role, each including its persistence: a replica applying the state
// diff (body and receipts checked, root recomputed), a full node
// re-executing over the witness with the sequencer's senders, and plain
// re-execution from the node's own state with sender recovery.
func BenchmarkFollowBlock(b *testing.B) {
	for _, load := range []string{"transfers", "erc20"} {
		rb := newRoleBench(b, load == "erc20")
		receipts := rb.sealed.Receipts
		modes := []struct {
			name   string
			follow func(block *types.Block) error
		}{
			{"replica-diff", func(block *types.Block) error {
				s := rb.stores["replica"]
				if err := chain.CheckBody(rb.config, rb.parent, block, receipts); err != nil {
					return err
				}
				sb, err := chain.ApplyDiff(rb.config, s.StateDatabase(), rb.parent, block.Header(), rb.sealed.Diff)
				if err != nil {
					return err
				}
				sb.Block, sb.Receipts = block, receipts
				return s.WriteSealed(sb, 2)
			}},
			{"fullnode-witness", func(block *types.Block) error {
				s := rb.stores["witness"]
				db, _, err := chain.WitnessDatabase(rb.sealed.Witness)
				if err != nil {
					return err
				}
				sb, err := chain.Replay(rb.config, s, db, rb.parent, block, rb.senders)
				if err != nil {
					return err
				}
				return s.WriteReplayed(sb, 2)
			}},
			{"plain-reexec", func(block *types.Block) error {
				s := rb.stores["disk"]
				sb, err := chain.Replay(rb.config, s, s.StateDatabase(), rb.parent, block, nil)
				if err != nil {
					return err
				}
				return s.WriteSealed(sb, 2)
			}},
		}
		for _, m := range modes {
			b.Run(load+"/"+m.name, func(b *testing.B) {
				var cpu time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					block := rb.block(b)
					b.StartTimer()
					start := cpuTime()
					if err := m.follow(block); err != nil {
						b.Fatal(err)
					}
					cpu += cpuTime() - start
				}
				b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/block")
				b.ReportMetric(float64(benchBlockTxs), "txs/block")
			})
		}
	}
}

// BenchmarkReplicaLag runs a sequencer and a replica as separate roles in
// this process, connected over libp2p on loopback, under a load of about
// 1,000 transfers/s, and measures for each mini-block the time from its
// sealing on the sequencer (mini_block_timestamp) to its application on the
// replica. b.N is the number of mini-blocks measured (eager sealing makes
// about one per transfer).
func BenchmarkReplicaLag(b *testing.B) {
	log := zerolog.Nop()
	if os.Getenv("LAGDEBUG") != "" {
		log = zerolog.New(os.Stderr).Level(zerolog.DebugLevel).With().Timestamp().Logger()
		zerolog.TimeFieldFormat = zerolog.TimeFormatUnixMicro
	}
	key, _ := crypto.GenerateKey()
	cfg := DefaultRoleConfig()
	cfg.RPC.Port, cfg.SequencerKey, cfg.P2P.Listen = 0, key, []string{"/ip4/127.0.0.1/tcp/0"}
	seq, err := NewSequencer(cfg, log)
	if err != nil {
		b.Fatal(err)
	}
	if err := seq.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer seq.Stop(context.Background())
	rcfg := DefaultRoleConfig()
	rcfg.RPC.Port, rcfg.P2P.Listen, rcfg.P2P.Peers = 0, []string{"/ip4/127.0.0.1/tcp/0"}, seq.P2PAddrs()
	rcfg.SequencerAddress, rcfg.SequencerURL = crypto.PubkeyToAddress(key.PublicKey), "http://"+seq.RPCAddr()
	rep, err := NewReplica(rcfg, log)
	if err != nil {
		b.Fatal(err)
	}
	sub := rep.Replica().MiniBlocks(1 << 16)
	if err := rep.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	defer rep.Stop(context.Background())

	_, accts, _ := chain.Genesis(chain.DefaultConfig())
	config := seq.Store().ChainConfig()
	signer, to := types.LatestSigner(config), common.HexToAddress("0xbeef")
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		for i := uint64(0); ; i++ {
			select {
			case <-stop:
				return
			case <-t.C:
			}
			a := accts[i%uint64(len(accts))]
			tx := types.MustSignNewTx(a.Key, signer, &types.DynamicFeeTx{ChainID: config.ChainID, Nonce: i / uint64(len(accts)), To: &to, Value: big.NewInt(1), Gas: params.TxGas, GasTipCap: big.NewInt(1), GasFeeCap: big.NewInt(params.GWei * 10)})
			_ = seq.seq.SendTransaction(tx)
		}
	}()
	// Warm up until the replica has applied two sealed blocks (the mesh is
	// formed and the start-up gap filled), then measure.
	heads := rep.Replica().Heads(16)
	for h := uint64(0); h < 2; {
		select {
		case head := <-heads.C():
			h = head.Header.Number.Uint64()
		case <-time.After(30 * time.Second):
			b.Fatal("the replica applied no sealed block")
		}
	}
	heads.Unsubscribe()
	for len(sub.C()) > 0 {
		<-sub.C()
	}
	lags := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for len(lags) < b.N {
		select {
		case mb := <-sub.C():
			lags = append(lags, time.Since(time.UnixMicro(int64(mb.TimestampMicros))))
		case err := <-sub.Err():
			b.Fatal(err)
		case <-time.After(30 * time.Second):
			b.Fatalf("replica stalled after %d mini-blocks", len(lags))
		}
	}
	b.StopTimer()
	slices.Sort(lags)
	pct := func(p float64) float64 { return float64(lags[int(p*float64(len(lags)-1))].Microseconds()) / 1000 }
	b.ReportMetric(pct(0.5), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	b.ReportMetric(pct(1), "max-ms")
	b.ReportMetric(float64(rep.Replica().Stats().Fetched), "fetched")
}

// BenchmarkDABlob measures what a sealed block of benchBlockTxs txs costs on
// the DA layer: the sequencer's signed block message (block, receipts, state
// diff, senders) and witness message, packed as the batcher packs them
// (eigenda.EncodeBlob: RLP, zstd). It reports blob bytes per tx and the
// time to pack.
func BenchmarkDABlob(b *testing.B) {
	key, _ := crypto.GenerateKey()
	for _, load := range []string{"transfers", "erc20"} {
		rb := newRoleBench(b, load == "erc20")
		chainID := rb.config.ChainID.Uint64()
		sb := rb.sealed
		bb := blobBlock(b, key, chainID, sb, 100, rb.senders)
		b.Run(load, func(b *testing.B) {
			var size int
			for i := 0; i < b.N; i++ {
				blob, err := eigenda.EncodeBlob([]eigenda.BlobBlock{bb})
				if err != nil {
					b.Fatal(err)
				}
				size = len(blob)
			}
			b.ReportMetric(float64(size)/float64(benchBlockTxs), "bytes/tx")
			b.ReportMetric(float64(size)/1024, "blob-KiB")
			b.ReportMetric(float64(len(bb.Block)+len(bb.Witness))/float64(size), "compression")
		})
	}
}

// blobBlock is a sealed block's blob entry as the batcher makes it: the
// signed block and witness messages, as envelopes.
func blobBlock(b *testing.B, key *ecdsa.PrivateKey, chainID uint64, sb *chain.SealedBlock, miniCount uint64, senders []common.Address) eigenda.BlobBlock {
	b.Helper()
	envelope := func(kind p2p.Kind, msg any) []byte {
		payload, err := rlp.EncodeToBytes(msg)
		if err != nil {
			b.Fatal(err)
		}
		data, err := p2p.Seal(key, kind, chainID, payload)
		if err != nil {
			b.Fatal(err)
		}
		env, err := p2p.Envelope(data)
		if err != nil {
			b.Fatal(err)
		}
		return env
	}
	num := sb.Block.NumberU64()
	return eigenda.BlobBlock{
		Number:  num,
		Block:   envelope(p2p.Blocks, &chain.BlockMessage{Bundle: &chain.BlockBundle{Block: sb.Block, Receipts: sb.Receipts, StateDiff: sb.Diff}, MiniBlockCount: miniCount, Senders: senders}),
		Witness: envelope(p2p.Witnesses, &chain.WitnessMessage{Number: num, Hash: sb.Block.Hash(), Witness: sb.Witness}),
	}
}
