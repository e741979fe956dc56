// Package bench is meganode's load generator: it funds senders from a test
// account, pre-signs ETH transfers (or ERC-20 transfers of a token it
// deploys), submits them with batched JSON-RPC over
// several connections, and measures inclusion throughput and send→receipt
// latency against any Ethereum JSON-RPC URL (meganode, anvil, geth).
package bench

import (
	"context"
	"crypto/ecdsa"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"strings"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
)

// Options configure a run.
type Options struct {
	URL       string
	FunderKey *ecdsa.PrivateKey
	Senders   int           // accounts the transfers come from
	Txs       int           // transfers in the throughput run
	Conns     int           // concurrent connections
	Batch     int           // calls per JSON-RPC batch
	Latency   int           // sequential sends timed for latency
	Timeout   time.Duration // whole run
	Inclusion time.Duration // how long to wait for inclusion after submitting
	Seed      uint64        // varies the sender keys between runs on one chain
	ERC20     bool          // token transfers instead of ETH transfers
	Rate      float64       // target submission rate in tx/s; 0: as fast as the node takes them
	WS        string        // websocket URL: record mini-block intervals during the load ("": none)
	SyncProbe bool          // time eth_sendRawTransactionSync from one more sender during the load
	// Recipients > 0 spreads ETH transfers over chain.StateAccount(0…n-1)
	// (a devnet started with --state-accounts n) instead of one sink.
	Recipients int
}

// Result is what a run measured.
type Result struct {
	Submitted    int
	Included     int
	Stalled      bool // not every submitted tx was included within Options.Inclusion; Included is the frontier reached
	Errors       int
	FirstError   string
	SubmitTPS    float64
	IncludedTPS  float64
	Blocks       uint64
	LatencyP50   time.Duration
	LatencyP90   time.Duration
	LatencyP99   time.Duration
	LatencyCount int
	// Mini-block intervals a websocket miniBlocks subscriber saw from the
	// first send until every tx was included (Options.WS).
	MiniBlocks        int
	MiniBlockInterval *Percentiles `json:",omitempty"`
	// Every one of those intervals in µs, in arrival order: the
	// distribution tools/plot draws.
	MiniBlockIntervalsUS []int64 `json:",omitempty"`
	// eth_sendRawTransactionSync send→receipt times during the load
	// (Options.SyncProbe), or why there are none.
	SyncUnderLoad *Percentiles `json:",omitempty"`
	SyncError     string       `json:",omitempty"`
}

type client struct {
	c       *gethrpc.Client
	chainID *big.Int
	signer  types.Signer
	tip     *big.Int
	feeCap  *big.Int
}

func dial(ctx context.Context, url string) (*client, error) {
	c, err := gethrpc.DialContext(ctx, url)
	if err != nil {
		return nil, err
	}
	var id hexutil.Big
	if err := c.CallContext(ctx, &id, "eth_chainId"); err != nil {
		return nil, fmt.Errorf("eth_chainId: %w", err)
	}
	var head struct {
		BaseFee *hexutil.Big `json:"baseFeePerGas"`
	}
	if err := c.CallContext(ctx, &head, "eth_getBlockByNumber", "latest", false); err != nil {
		return nil, fmt.Errorf("latest block: %w", err)
	}
	tip := big.NewInt(params.GWei)
	feeCap := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee.ToInt(), big.NewInt(4)))
	return &client{c: c, chainID: id.ToInt(), signer: types.LatestSignerForChainID(id.ToInt()), tip: tip, feeCap: feeCap}, nil
}

func (cl *client) transfer(key *ecdsa.PrivateKey, nonce uint64, to common.Address, value *big.Int) *types.Transaction {
	return cl.sign(key, nonce, &to, value, params.TxGas, nil)
}

func (cl *client) sign(key *ecdsa.PrivateKey, nonce uint64, to *common.Address, value *big.Int, gas uint64, data []byte) *types.Transaction {
	tx, err := types.SignNewTx(key, cl.signer, &types.DynamicFeeTx{ChainID: cl.chainID, Nonce: nonce, To: to, Gas: gas, GasTipCap: cl.tip, GasFeeCap: cl.feeCap, Value: value, Data: data})
	if err != nil {
		panic(err) // signing with a valid key cannot fail
	}
	return tx
}

// load is what the measured txs do: an ETH transfer, or a token transfer.
type load struct {
	cl    *client
	token *common.Address // nil: ETH
}

func (l load) gas() uint64 {
	if l.token != nil {
		return chain.TokenTransferGas
	}
	return params.TxGas
}

func (l load) tx(key *ecdsa.PrivateKey, nonce uint64, to common.Address) *types.Transaction {
	if l.token == nil {
		return l.cl.transfer(key, nonce, to, big.NewInt(1))
	}
	return l.cl.sign(key, nonce, l.token, new(big.Int), chain.TokenTransferGas, chain.TokenTransfer(to, 1))
}

func (cl *client) nonce(ctx context.Context, addr common.Address) (uint64, error) {
	var n hexutil.Uint64
	err := cl.c.CallContext(ctx, &n, "eth_getTransactionCount", addr, "pending")
	return uint64(n), err
}

func (cl *client) blockNumber(ctx context.Context) (uint64, error) {
	var n hexutil.Uint64
	err := cl.c.CallContext(ctx, &n, "eth_blockNumber")
	return uint64(n), err
}

// waitReceipt polls until the receipt of hash exists.
func (cl *client) waitReceipt(ctx context.Context, hash common.Hash, poll time.Duration) error {
	for {
		var r map[string]interface{}
		if err := cl.c.CallContext(ctx, &r, "eth_getTransactionReceipt", hash); err != nil {
			return err
		}
		if r != nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("receipt of %s: %w", hash, ctx.Err())
		case <-time.After(poll):
		}
	}
}

func senderKey(seed uint64, i int) *ecdsa.PrivateKey {
	b := binary.BigEndian.AppendUint64([]byte("meganode bench"), seed)
	key, _ := crypto.ToECDSA(crypto.Keccak256(binary.BigEndian.AppendUint64(b, uint64(i))))
	return key
}

// Run funds the senders, measures latency with sequential sends, then
// measures throughput with batched concurrent sends.
func Run(ctx context.Context, o Options, progress io.Writer) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	cl, err := dial(ctx, o.URL)
	if err != nil {
		return nil, err
	}
	defer cl.c.Close()
	funder := crypto.PubkeyToAddress(o.FunderKey.PublicKey)
	keys := make([]*ecdsa.PrivateKey, o.Senders, o.Senders+1)
	for i := range keys {
		keys[i] = senderKey(o.Seed, i)
	}
	probeKey := senderKey(o.Seed, -2)
	if o.SyncProbe { // funded like a sender; its sends are not counted
		keys = append(keys, probeKey)
	}
	nonce, err := cl.nonce(ctx, funder)
	if err != nil {
		return nil, err
	}
	ld := load{cl: cl}
	var fund []*types.Transaction
	if o.ERC20 { // the funder deploys the token and holds its supply
		token := crypto.CreateAddress(funder, nonce)
		ld.token = &token
		fund = append(fund, cl.sign(o.FunderKey, nonce, nil, new(big.Int), 300_000, chain.TokenInit))
		nonce++
		fmt.Fprintf(progress, "token at %s\n", token)
	}
	// Fund every sender with enough for its share plus the latency sends.
	per := o.Txs/o.Senders + 1
	amount := new(big.Int).Mul(big.NewInt(int64(per+o.Latency+10)), new(big.Int).Add(new(big.Int).Mul(cl.feeCap, new(big.Int).SetUint64(ld.gas())), big.NewInt(1)))
	for i, k := range keys {
		addr := crypto.PubkeyToAddress(k.PublicKey)
		amt, tokens := amount, uint64(per+o.Latency+10)
		if i == o.Senders { // the sync probe sends for as long as the load lasts
			amt, tokens = new(big.Int).Mul(amount, big.NewInt(20)), 20*tokens
		}
		fund = append(fund, cl.transfer(o.FunderKey, nonce, addr, amt))
		nonce++
		if ld.token != nil {
			fund = append(fund, cl.sign(o.FunderKey, nonce, ld.token, new(big.Int), chain.TokenTransferGas, chain.TokenTransfer(addr, tokens)))
			nonce++
		}
	}
	if errs := postBatches(ctx, o.URL, encodeBatches(fund, o.Batch), 1, 0, o.Batch); errs.count > 0 {
		return nil, fmt.Errorf("funding senders: %d errors, first: %s", errs.count, errs.first)
	}
	if err := cl.waitReceipt(ctx, fund[len(fund)-1].Hash(), 5*time.Millisecond); err != nil {
		return nil, fmt.Errorf("funding senders: %w", err)
	}
	if o.SyncProbe {
		keys = keys[:o.Senders]
	}
	fmt.Fprintf(progress, "funded %d senders\n", len(keys))

	res := &Result{}
	// Latency: one tx at a time from sender 0, receipt polled as fast as the
	// node answers.
	lat := make([]time.Duration, 0, o.Latency)
	sink := crypto.PubkeyToAddress(senderKey(o.Seed, -1).PublicKey)
	for i := 0; i < o.Latency; i++ {
		tx := ld.tx(keys[0], uint64(i), sink)
		raw, _ := tx.MarshalBinary()
		start := time.Now()
		var h common.Hash
		err := cl.c.CallContext(ctx, &h, "eth_sendRawTransaction", hexutil.Bytes(raw))
		// geth's pool may validate against the state before the funding
		// block for a moment after its receipt appeared: retry the first.
		for deadline := time.Now().Add(5 * time.Second); i == 0 && err != nil && strings.Contains(err.Error(), "insufficient funds") && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
			start = time.Now()
			err = cl.c.CallContext(ctx, &h, "eth_sendRawTransaction", hexutil.Bytes(raw))
		}
		if err != nil {
			return nil, fmt.Errorf("latency send: %w", err)
		}
		if err := cl.waitReceipt(ctx, tx.Hash(), 0); err != nil {
			return nil, err
		}
		lat = append(lat, time.Since(start))
	}
	if len(lat) > 0 {
		p := percentiles(lat)
		res.LatencyP50, res.LatencyP90, res.LatencyP99, res.LatencyCount = p.P50, p.P90, p.P99, p.Count
		fmt.Fprintf(progress, "latency p50 %v p99 %v over %d sends\n", res.LatencyP50, res.LatencyP99, len(lat))
	}

	// Throughput: pre-sign everything, then send round-robin across senders.
	txs := make([]*types.Transaction, 0, o.Txs)
	next := make([]uint64, len(keys))
	next[0] = uint64(o.Latency)
	for i := 0; i < o.Txs; i++ {
		s, to := i%len(keys), sink
		if o.Recipients > 0 && ld.token == nil {
			to = chain.StateAccount(int(uint64(i) * 2654435761 % uint64(o.Recipients))) // spread over the whole state
		}
		txs = append(txs, ld.tx(keys[s], next[s], to))
		next[s]++
	}
	bodies := encodeBatches(txs, o.Batch)
	startBlock, err := cl.blockNumber(ctx)
	if err != nil {
		return nil, err
	}
	var intervals *intervalRecorder
	if o.WS != "" {
		if intervals, err = recordIntervals(ctx, o.WS); err != nil {
			return nil, fmt.Errorf("mini-block subscriber: %w", err)
		}
		defer intervals.stop()
	}
	var probe *syncProbe
	if o.SyncProbe {
		probe = startSyncProbe(ctx, o.URL, ld, probeKey, crypto.PubkeyToAddress(senderKey(o.Seed, -3).PublicKey)) // not the sink: its token balance is checked
	}
	start := time.Now()
	errs := postBatches(ctx, o.URL, bodies, o.Conns, o.Rate, o.Batch)
	submitted := time.Since(start)
	res.Submitted, res.Errors, res.FirstError = len(txs)-errs.count, errs.count, errs.first
	res.SubmitTPS = float64(len(txs)) / submitted.Seconds()
	// Inclusion is followed round by round (a round is one tx per sender, in
	// submission order): the last tx of each round marks a frontier, so a
	// node that stalls still shows how far it got. Then every sender's last
	// tx must have a receipt, which implies all of its earlier ones.
	ictx, icancel := context.WithTimeout(ctx, o.Inclusion)
	defer icancel()
	wait := func(tx *types.Transaction) bool {
		return cl.waitReceipt(ictx, tx.Hash(), 2*time.Millisecond) == nil
	}
	for r := 0; r*len(keys) < len(txs); r++ {
		idx := min((r+1)*len(keys), len(txs)) - 1
		if !wait(txs[idx]) {
			res.Stalled = true
			break
		}
		res.Included = idx + 1
	}
	for i := max(0, len(txs)-len(keys)); i < len(txs) && !res.Stalled; i++ {
		if !wait(txs[i]) {
			res.Stalled = true
			res.Included = i
		}
	}
	included := time.Since(start)
	if intervals != nil {
		res.MiniBlocks, res.MiniBlockInterval, res.MiniBlockIntervalsUS = intervals.result()
	}
	if probe != nil {
		res.SyncUnderLoad, res.SyncError = probe.stop()
	}
	if res.Stalled {
		fmt.Fprintf(progress, "stalled: about %d of %d included after %v\n", res.Included, res.Submitted, included.Round(time.Millisecond))
	}
	res.IncludedTPS = float64(res.Included) / included.Seconds()
	if !res.Stalled {
		endBlock, err := cl.blockNumber(ctx)
		if err != nil {
			return nil, err
		}
		res.Blocks = endBlock - startBlock + 1
	}
	fmt.Fprintf(progress, "throughput: submitted %.0f tx/s, included %.0f tx/s, %d errors\n", res.SubmitTPS, res.IncludedTPS, res.Errors)
	if p := res.MiniBlockInterval; p != nil {
		fmt.Fprintf(progress, "mini-block interval over %d mini-blocks: p50 %v p99 %v max %v\n", res.MiniBlocks, p.P50, p.P99, p.Max)
	}
	if p := res.SyncUnderLoad; p != nil {
		fmt.Fprintf(progress, "eth_sendRawTransactionSync under load: p50 %v p99 %v over %d sends\n", p.P50, p.P99, p.Count)
	}
	if ld.token != nil && !res.Stalled && res.Errors == 0 {
		// The token keeps a balance in the slot named by the holder's
		// address: every transfer must have paid the sink, none reverted.
		var bal common.Hash
		if err := cl.c.CallContext(ctx, &bal, "eth_getStorageAt", ld.token, common.BytesToHash(sink[:]), "latest"); err != nil {
			return nil, err
		}
		if got, want := new(big.Int).SetBytes(bal[:]).Int64(), int64(o.Latency+len(txs)); got != want {
			return nil, fmt.Errorf("token transfers: the sink holds %d tokens, want %d: some transfers reverted", got, want)
		}
	}
	return res, nil
}
