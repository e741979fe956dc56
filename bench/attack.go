package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"math/rand/v2"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/chain"
)

// AttackOptions configure an attack run: a steady legitimate load, measured
// for Duration without an attack and then for Duration under the attack
// mix, in one run on one node.
type AttackOptions struct {
	URL       string // the sequencer's public JSON-RPC port
	WS        string // its websocket URL
	Metrics   string // its /metrics: the mini-block interval histogram
	FunderKey *ecdsa.PrivateKey
	Rate      float64       // legitimate ERC-20 transfers per second
	Senders   int           // accounts the legitimate load comes from
	Duration  time.Duration // each phase
	Warmup    time.Duration // before each phase's clock starts
	BigBlock  int           // transfers of the burst that makes the largest block
	HTTPConns int           // attacker's HTTP connections, one call or batch in flight on each
	WSConns   int           // websocket connections the attacker tries to hold
	WSRetry   time.Duration // a refused or dropped websocket slot dials again after this
	// Attacks names the HTTP attacks of the mix to send (AttackKinds);
	// empty: all of them.
	Attacks []string
	Seed    uint64
}

// AttackKinds are the attacks of the HTTP mix, by name.
var AttackKinds = []string{"call", "trace", "logs", "bombs"}

// AttackPhase is what one phase measured.
type AttackPhase struct {
	// Interval is the sequencer's own histogram over the phase (bucket
	// bounds); Observed the exact spacing of the mini_block_timestamps a
	// websocket subscriber received in it.
	Interval *HistogramQuantiles
	Observed Percentiles
	// SubscriberLost: the node closed the subscriber's connection during
	// the phase (too slow a reader), so Observed covers part of it.
	SubscriberLost bool `json:",omitempty"`
	// Sync is eth_sendRawTransactionSync send→receipt from one more honest
	// sender during the phase.
	Sync      *Percentiles `json:",omitempty"`
	SyncError string       `json:",omitempty"`
}

// AttackResult is what an attack run measured.
type AttackResult struct {
	Rate            float64
	Duration        time.Duration
	Baseline        AttackPhase
	Attack          AttackPhase
	LargestBlock    uint64
	LargestBlockTxs int
	Blocks          uint64 // chain length when the attack began
	// LoadErrors counts legitimate sends that failed over both phases.
	LoadErrors     int
	LoadFirstError string `json:",omitempty"`
	// Outcomes counts the attacker's answers by call and outcome.
	Outcomes map[string]int
	// Websocket flood: connections held as the attack phase ended, refused
	// dials, held connections the node closed (too slow a reader).
	WSHeld, WSRefused, WSDropped int64
	// Failures are answers that are not JSON-RPC (5xx, broken connections).
	Failures []string `json:",omitempty"`
}

// loopOverride puts code that runs until the gas runs out at 0x…beef:
// JUMPDEST PUSH1 0 JUMP.
const loopOverride = `{"0x000000000000000000000000000000000000beef":{"code":"0x5b600056"}}`

// attackCall is one request of the mix: a call or a batch.
type attackCall struct {
	name string
	body []byte
}

// attackMix is what the attacker sends round-robin: eth_call at the gas cap
// on code that never stops, a trace of the largest block, eth_getLogs over
// all history, and batch bombs (one over the batch limit, one of heavy
// calls at the limit).
func attackMix(largest uint64, kinds []string) ([]attackCall, error) {
	call := `{"jsonrpc":"2.0","id":1,"method":"eth_call","params":[{"to":"0x000000000000000000000000000000000000beef"},"latest",` + loopOverride + `]}`
	logs := `{"jsonrpc":"2.0","id":1,"method":"eth_getLogs","params":[{"fromBlock":"earliest","toBlock":"latest"}]}`
	trace := fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"debug_traceBlockByNumber","params":["%s",{"tracer":"callTracer"}]}`, hexutil.EncodeUint64(largest))
	bomb := func(n int, c string) []byte {
		return []byte("[" + strings.TrimSuffix(strings.Repeat(c+",", n), ",") + "]")
	}
	byKind := map[string][]attackCall{
		"call":  {{"eth_call", []byte(call)}},
		"trace": {{"debug_traceBlockByNumber", []byte(trace)}},
		"logs":  {{"eth_getLogs", []byte(logs)}},
		"bombs": {
			{"batch of 501 eth_chainId", bomb(501, `{"jsonrpc":"2.0","id":1,"method":"eth_chainId"}`)},
			{"batch of 400 eth_call", bomb(400, call)},
			{"batch of 500 eth_getLogs", bomb(500, logs)},
		},
	}
	if len(kinds) == 0 {
		kinds = AttackKinds
	}
	var mix []attackCall
	for _, k := range kinds {
		calls, ok := byKind[k]
		if !ok {
			return nil, fmt.Errorf("unknown attack %q (want %s)", k, strings.Join(AttackKinds, ", "))
		}
		mix = append(mix, calls...)
	}
	return mix, nil
}

// Attack sets up the legitimate load (a token, funded senders, a burst that
// makes one large block), then runs the load at o.Rate through a baseline
// phase and an attack phase of o.Duration each.
func Attack(ctx context.Context, o AttackOptions, progress io.Writer) (*AttackResult, error) {
	if o.Rate <= 0 || o.Senders < 1 || o.Duration <= 0 || o.HTTPConns < 0 || o.WSConns < 0 {
		return nil, errors.New("rate, senders and duration must be positive, connections not negative")
	}
	if _, err := attackMix(0, o.Attacks); err != nil {
		return nil, err
	}
	cl, err := dial(ctx, o.URL)
	if err != nil {
		return nil, err
	}
	defer cl.c.Close()

	// Keys: the senders, the burst's senders, one sync probe per phase.
	phaseTxs := int(o.Rate*(2*(o.Duration+o.Warmup)+5*time.Second).Seconds()) + o.Senders
	keys := make([]*ecdsa.PrivateKey, o.Senders)
	for i := range keys {
		keys[i] = senderKey(o.Seed, i)
	}
	burstKeys := make([]*ecdsa.PrivateKey, 100)
	for i := range burstKeys {
		burstKeys[i] = senderKey(o.Seed, 1_000_000+i)
	}
	probes := []*ecdsa.PrivateKey{senderKey(o.Seed, -10), senderKey(o.Seed, -11)}
	ld, err := fundTokenHolders(ctx, cl, o.URL, o.FunderKey, map[int][]*ecdsa.PrivateKey{
		phaseTxs/o.Senders + 1: keys, o.BigBlock/len(burstKeys) + 1: burstKeys, 20_000: probes,
	})
	if err != nil {
		return nil, err
	}
	sink := crypto.PubkeyToAddress(senderKey(o.Seed, -1).PublicKey)
	fmt.Fprintf(progress, "funded %d senders, token at %s\n", len(keys)+len(burstKeys)+len(probes), ld.token)

	// The largest block: a burst as fast as the node takes it.
	res := &AttackResult{Outcomes: map[string]int{}}
	from, err := cl.blockNumber(ctx)
	if err != nil {
		return nil, err
	}
	res.LargestBlock = from
	if o.BigBlock > 0 {
		burst := make([]*types.Transaction, 0, o.BigBlock)
		for i := 0; i < o.BigBlock; i++ {
			burst = append(burst, ld.tx(burstKeys[i%len(burstKeys)], uint64(i/len(burstKeys)), sink))
		}
		if errs := postBatches(ctx, o.URL, encodeBatches(burst, 100), 4, 0, 100); errs.count > 0 {
			return nil, fmt.Errorf("burst: %d errors, first: %s", errs.count, errs.first)
		}
		// Receipts are preconfirmations: the burst's last block may not be
		// sealed yet when they answer.
		var to uint64
		for _, tx := range burst[max(0, len(burst)-len(burstKeys)):] {
			n, err := cl.receiptBlock(ctx, tx.Hash())
			if err != nil {
				return nil, fmt.Errorf("burst: %w", err)
			}
			to = max(to, n)
		}
		for head := uint64(0); head < to; {
			if head, err = cl.blockNumber(ctx); err != nil {
				return nil, err
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(50 * time.Millisecond):
			}
		}
		if res.LargestBlock, res.LargestBlockTxs, err = largestBlock(ctx, cl, from, to); err != nil {
			return nil, err
		}
		fmt.Fprintf(progress, "burst of %d transfers: largest block %d with %d txs\n", o.BigBlock, res.LargestBlock, res.LargestBlockTxs)
	}
	return attackPhases(ctx, o, cl, ld, keys, probes, sink, phaseTxs, res, progress)
}

// attackPhases runs the steady load through both phases and the attack in
// the second.
func attackPhases(ctx context.Context, o AttackOptions, cl *client, ld load, keys, probes []*ecdsa.PrivateKey, sink common.Address,
	phaseTxs int, res *AttackResult, progress io.Writer) (*AttackResult, error) {
	res.Rate, res.Duration = o.Rate, o.Duration
	// The steady load: pre-signed, posted in batches of 20 ms worth.
	txs := make([]*types.Transaction, 0, phaseTxs)
	for i := 0; i < phaseTxs; i++ {
		txs = append(txs, ld.tx(keys[i%len(keys)], uint64(i/len(keys)), sink))
	}
	batch := max(1, int(o.Rate/50))
	bodies := encodeBatches(txs, batch)
	stopLoad := make(chan struct{})
	loadDone := make(chan sendErrors, 1)
	go func() { loadDone <- postBatchesUntil(ctx, stopLoad, o.URL, bodies, 4, o.Rate, batch) }()
	defer func() {
		select {
		case <-stopLoad:
		default:
			close(stopLoad)
			<-loadDone
		}
	}()

	rec, err := recordIntervals(ctx, o.WS)
	if err != nil {
		return nil, fmt.Errorf("mini-block subscriber: %w", err)
	}
	defer rec.stop()

	measure := func(name string, probe *ecdsa.PrivateKey) (AttackPhase, error) {
		select {
		case <-time.After(o.Warmup):
		case <-ctx.Done():
			return AttackPhase{}, ctx.Err()
		}
		before, bc, bs, err := scrapeHistogram(ctx, o.Metrics, intervalMetric)
		if err != nil {
			return AttackPhase{}, fmt.Errorf("metrics: %w", err)
		}
		p := startSyncProbe(ctx, o.URL, ld, probe, sink)
		from := time.Now()
		select {
		case <-time.After(o.Duration):
		case <-ctx.Done():
			return AttackPhase{}, ctx.Err()
		}
		to := time.Now()
		after, ac, as, err := scrapeHistogram(ctx, o.Metrics, intervalMetric)
		if err != nil {
			return AttackPhase{}, fmt.Errorf("metrics: %w", err)
		}
		for le := range after {
			after[le] -= before[le]
		}
		rec.waitPast(to, 2*time.Second) // mini-blocks of the phase still on their way
		ph := AttackPhase{Interval: quantiles(after, ac-bc, as-bs), Observed: rec.between(from, to)}
		select {
		case <-rec.done:
			ph.SubscriberLost = true
		default:
		}
		ph.Sync, ph.SyncError = p.stop()
		fmt.Fprintf(progress, "%s: interval p50 %v p99 %v over %d mini-blocks seen (histogram: p99 ≤ %gms over %d; subscriber lost: %v)\n",
			name, ph.Observed.P50, ph.Observed.P99, ph.Observed.Count, ph.Interval.P99*1000, ph.Interval.Count, ph.SubscriberLost)
		return ph, nil
	}
	if res.Baseline, err = measure("baseline", probes[0]); err != nil {
		return nil, err
	}
	if n, err := cl.blockNumber(ctx); err == nil {
		res.Blocks = n + 1
	}

	actx, stopAttack := context.WithCancel(ctx)
	at := &attacker{res: res}
	var wg sync.WaitGroup
	mix, _ := attackMix(res.LargestBlock, o.Attacks) // checked in Attack
	at.http(actx, &wg, o.URL, mix, o.HTTPConns)
	at.websockets(actx, &wg, o.WS, o.WSConns, o.WSRetry)
	fmt.Fprintf(progress, "attack: %d HTTP connections, %d websocket slots\n", o.HTTPConns, o.WSConns)
	res.Attack, err = measure("under attack", probes[1])
	res.WSHeld = at.held.Load()
	stopAttack()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	close(stopLoad)
	errs := <-loadDone
	res.LoadErrors, res.LoadFirstError = errs.count, errs.first
	res.WSRefused, res.WSDropped = at.refused.Load(), at.dropped.Load()
	return res, nil
}

// fundTokenHolders deploys a token and pays every key, for each count n of
// perKey, gas for n token transfers and n tokens.
func fundTokenHolders(ctx context.Context, cl *client, url string, funderKey *ecdsa.PrivateKey, perKey map[int][]*ecdsa.PrivateKey) (load, error) {
	funder := crypto.PubkeyToAddress(funderKey.PublicKey)
	nonce, err := cl.nonce(ctx, funder)
	if err != nil {
		return load{}, err
	}
	token := crypto.CreateAddress(funder, nonce)
	ld := load{cl: cl, token: &token}
	fund := []*types.Transaction{cl.sign(funderKey, nonce, nil, new(big.Int), 300_000, chain.TokenInit)}
	nonce++
	fee := new(big.Int).Mul(cl.feeCap, new(big.Int).SetUint64(ld.gas()))
	for n, keys := range perKey {
		for _, k := range keys {
			addr := crypto.PubkeyToAddress(k.PublicKey)
			fund = append(fund, cl.transfer(funderKey, nonce, addr, new(big.Int).Mul(big.NewInt(int64(n)), fee)),
				cl.sign(funderKey, nonce+1, ld.token, new(big.Int), chain.TokenTransferGas, chain.TokenTransfer(addr, uint64(n))))
			nonce += 2
		}
	}
	if errs := postBatches(ctx, url, encodeBatches(fund, 100), 1, 0, 100); errs.count > 0 {
		return load{}, fmt.Errorf("funding senders: %d errors, first: %s", errs.count, errs.first)
	}
	if err := cl.waitReceipt(ctx, fund[len(fund)-1].Hash(), 5*time.Millisecond); err != nil {
		return load{}, fmt.Errorf("funding senders: %w", err)
	}
	return ld, nil
}

// receiptBlock waits for the receipt of hash and returns its block number.
func (cl *client) receiptBlock(ctx context.Context, hash common.Hash) (uint64, error) {
	for {
		var r *struct {
			Block hexutil.Uint64 `json:"blockNumber"`
		}
		if err := cl.c.CallContext(ctx, &r, "eth_getTransactionReceipt", hash); err != nil {
			return 0, err
		}
		if r != nil {
			return uint64(r.Block), nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("receipt of %s: %w", hash, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// largestBlock finds the block with the most transactions in [from, to].
func largestBlock(ctx context.Context, cl *client, from, to uint64) (uint64, int, error) {
	var best uint64
	var most int
	for n := from; n <= to; n++ {
		var b struct {
			Txs []common.Hash `json:"transactions"`
		}
		if err := cl.c.CallContext(ctx, &b, "eth_getBlockByNumber", hexutil.EncodeUint64(n), false); err != nil {
			return 0, 0, fmt.Errorf("block %d: %w", n, err)
		}
		if len(b.Txs) > most {
			best, most = n, len(b.Txs)
		}
	}
	return best, most, nil
}

// waitPast waits until a mini-block stamped after t arrived, the
// subscription ended, or patience ran out.
func (r *intervalRecorder) waitPast(t time.Time, patience time.Duration) {
	at := uint64(t.UnixMicro())
	for deadline := time.Now().Add(patience); time.Now().Before(deadline); {
		r.mu.Lock()
		past := len(r.stamps) > 0 && r.stamps[len(r.stamps)-1] > at
		r.mu.Unlock()
		if past {
			return
		}
		select {
		case <-r.done:
			return
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// between is the spacing of the mini-blocks stamped within [from, to].
func (r *intervalRecorder) between(from, to time.Time) Percentiles {
	lo, hi := uint64(from.UnixMicro()), uint64(to.UnixMicro())
	r.mu.Lock()
	defer r.mu.Unlock()
	var iv []time.Duration
	for i := 1; i < len(r.stamps); i++ {
		if r.stamps[i-1] >= lo && r.stamps[i] <= hi {
			iv = append(iv, time.Duration(r.stamps[i]-r.stamps[i-1])*time.Microsecond)
		}
	}
	return percentiles(iv)
}

// attacker sends the mix and holds the websocket flood, counting what it
// gets back.
type attacker struct {
	res                    *AttackResult
	mu                     sync.Mutex
	held, refused, dropped atomic.Int64
}

func (a *attacker) note(kind string) {
	a.mu.Lock()
	a.res.Outcomes[kind]++
	a.mu.Unlock()
}

func (a *attacker) fail(f string, args ...any) {
	a.mu.Lock()
	if len(a.res.Failures) < 10 {
		a.res.Failures = append(a.res.Failures, fmt.Sprintf(f, args...))
	}
	a.mu.Unlock()
}

// http runs conns workers posting the mix round-robin until ctx ends.
func (a *attacker) http(ctx context.Context, wg *sync.WaitGroup, url string, mix []attackCall, conns int) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer tr.CloseIdleConnections()
			for i := w; ctx.Err() == nil; i++ {
				c := mix[i%len(mix)]
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(c.body))
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						a.fail("%s: %v", c.name, err)
					}
					continue
				}
				body, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				switch {
				case err != nil && ctx.Err() != nil:
				case err != nil:
					a.fail("%s: reading the answer: %v", c.name, err)
				case resp.StatusCode >= 500:
					a.fail("%s: HTTP %d: %.200s", c.name, resp.StatusCode, body)
				default:
					a.note(c.name + ": " + outcome(resp.StatusCode, body))
				}
			}
		}()
	}
}

// outcome classifies an answer: served, or which limit refused it.
func outcome(status int, body []byte) string {
	if status != http.StatusOK {
		return fmt.Sprintf("HTTP %d", status)
	}
	type answer struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	kind := func(a answer) string {
		switch {
		case a.Error == nil:
			return "served"
		case strings.Contains(a.Error.Message, "batch too large"):
			return "batch limit"
		case a.Error.Code == -32005 && strings.Contains(a.Error.Message, "heavy calls"):
			return "concurrency limit (−32005)"
		case a.Error.Code == -32005:
			return "limit (−32005)"
		case strings.Contains(a.Error.Message, "timeout") || strings.Contains(a.Error.Message, "time limit"):
			return "time limit"
		default:
			msg, _, _ := strings.Cut(a.Error.Message, ":")
			return fmt.Sprintf("error %d %.40s", a.Error.Code, msg)
		}
	}
	var many []answer
	if json.Unmarshal(body, &many) == nil {
		counts := map[string]int{}
		for _, a := range many {
			counts[kind(a)]++
		}
		var parts []string
		for k := range counts {
			parts = append(parts, k)
		}
		sort.Strings(parts)
		return "batch: " + strings.Join(parts, ", ")
	}
	var one answer
	if err := json.Unmarshal(body, &one); err != nil {
		return "not JSON-RPC"
	}
	return kind(one)
}

// websockets tries to hold n connections, each subscribed to miniBlocks and
// read one message a second (a slow reader); a refused or closed slot dials
// again after retry.
func (a *attacker) websockets(ctx context.Context, wg *sync.WaitGroup, url string, n int, retry time.Duration) {
	dialer := &websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pause := func(d time.Duration) bool {
				select {
				case <-ctx.Done():
					return false
				case <-time.After(d):
					return true
				}
			}
			// Spread the first dials over one retry period.
			if !pause(time.Duration(rand.Int64N(int64(retry) + 1))) {
				return
			}
			for ctx.Err() == nil {
				ws, resp, err := dialer.DialContext(ctx, url, nil)
				if err != nil {
					if resp != nil {
						a.refused.Add(1)
					} else if ctx.Err() == nil {
						a.fail("websocket dial: %v", err)
					}
					if !pause(retry) {
						return
					}
					continue
				}
				a.held.Add(1)
				stop := context.AfterFunc(ctx, func() { ws.Close() })
				_ = ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": []any{"miniBlocks"}})
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						break
					}
					if !pause(time.Second) {
						break
					}
				}
				stop()
				ws.Close()
				a.held.Add(-1)
				if ctx.Err() != nil {
					return
				}
				a.dropped.Add(1)
				if !pause(retry) {
					return
				}
			}
		}()
	}
}

// attackCommand is `meganode bench attack`.
func attackCommand() *cli.Command {
	return &cli.Command{
		Name:  "attack",
		Usage: "mini-block interval under a steady load, without and then with an attacker flooding the public port, in one run",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Value: "http://127.0.0.1:8545", Usage: "the sequencer's public JSON-RPC URL"},
			&cli.StringFlag{Name: "ws", Usage: "its websocket URL (default: the rpc URL with ws://)"},
			&cli.StringFlag{Name: "metrics", Usage: "its Prometheus /metrics URL (default: the rpc URL + /metrics)"},
			&cli.StringFlag{Name: "key", Usage: "funder private key (hex); default: dev account 0 of the test mnemonic"},
			&cli.Float64Flag{Name: "rate", Value: 500, Usage: "legitimate ERC-20 transfers per second"},
			&cli.IntFlag{Name: "senders", Value: 100, Usage: "accounts the legitimate load comes from"},
			&cli.DurationFlag{Name: "duration", Value: 30 * time.Second, Usage: "length of each phase (without, then with the attack)"},
			&cli.DurationFlag{Name: "warmup", Value: 2 * time.Second, Usage: "before each phase's clock starts"},
			&cli.IntFlag{Name: "big-block", Value: 10_000, Usage: "transfers of the burst that makes the largest block the attacker traces"},
			&cli.IntFlag{Name: "http-conns", Value: 32, Usage: "attacker's HTTP connections"},
			&cli.IntFlag{Name: "ws-conns", Value: 10_000, Usage: "websocket connections the attacker tries to hold"},
			&cli.StringSliceFlag{Name: "attacks", Usage: "HTTP attacks of the mix (" + strings.Join(AttackKinds, ", ") + "); default: all"},
			&cli.DurationFlag{Name: "ws-retry", Value: time.Second, Usage: "a refused or dropped websocket dials again after this"},
			&cli.Uint64Flag{Name: "seed", Value: uint64(time.Now().UnixNano()), Usage: "sender key seed"},
			&cli.StringFlag{Name: "json", Usage: "also write the result as JSON to this file"},
		},
		Action: func(c *cli.Context) error {
			o := AttackOptions{URL: c.String("rpc"), WS: c.String("ws"), Metrics: c.String("metrics"), Rate: c.Float64("rate"),
				Senders: c.Int("senders"), Duration: c.Duration("duration"), Warmup: c.Duration("warmup"), BigBlock: c.Int("big-block"),
				HTTPConns: c.Int("http-conns"), WSConns: c.Int("ws-conns"), WSRetry: c.Duration("ws-retry"), Attacks: c.StringSlice("attacks"), Seed: c.Uint64("seed")}
			if o.WS == "" {
				o.WS = "ws" + strings.TrimPrefix(o.URL, "http")
			}
			if o.Metrics == "" {
				o.Metrics = strings.TrimSuffix(o.URL, "/") + "/metrics"
			}
			if o.WSRetry <= 0 {
				return errors.New("--ws-retry must be positive")
			}
			accts, err := chain.DeriveAccounts(chain.DefaultMnemonic, 1)
			if err != nil {
				return err
			}
			o.FunderKey = accts[0].Key
			if k := c.String("key"); k != "" {
				if o.FunderKey, err = crypto.HexToECDSA(trim0x(k)); err != nil {
					return fmt.Errorf("key: %w", err)
				}
			}
			res, err := Attack(context.Background(), o, os.Stderr)
			if err != nil {
				return err
			}
			return printResult(res, c.String("json"))
		},
	}
}
