package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// Percentiles summarises a latency sample.
type Percentiles struct {
	Count int
	P50   time.Duration
	P90   time.Duration
	P99   time.Duration
	Max   time.Duration
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[int(float64(len(d)-1)*q)] }
	return Percentiles{Count: len(d), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: d[len(d)-1]}
}

// SyncLatency sends n transfers one after another with
// eth_sendRawTransactionSync over one connection and times each call from
// send to receipt.
func SyncLatency(ctx context.Context, url string, key *ecdsa.PrivateKey, n int) (Percentiles, error) {
	cl, err := dial(ctx, url)
	if err != nil {
		return Percentiles{}, err
	}
	defer cl.c.Close()
	from := crypto.PubkeyToAddress(key.PublicKey)
	nonce, err := cl.nonce(ctx, from)
	if err != nil {
		return Percentiles{}, err
	}
	to := common.HexToAddress("0x000000000000000000000000000000000000beef")
	lat := make([]time.Duration, 0, n)
	for i := 0; i < n+10; i++ { // the first 10 warm the connection up
		tx := cl.transfer(key, nonce, to, big.NewInt(1))
		raw, _ := tx.MarshalBinary()
		start := time.Now()
		var receipt struct {
			Hash   common.Hash    `json:"transactionHash"`
			Status hexutil.Uint64 `json:"status"`
		}
		if err := cl.c.CallContext(ctx, &receipt, "eth_sendRawTransactionSync", hexutil.Bytes(raw)); err != nil {
			return Percentiles{}, fmt.Errorf("send %d: %w", i, err)
		}
		if receipt.Hash != tx.Hash() || receipt.Status != 1 {
			return Percentiles{}, fmt.Errorf("send %d: receipt %s status %d", i, receipt.Hash, receipt.Status)
		}
		if i >= 10 {
			lat = append(lat, time.Since(start))
		}
		nonce++
	}
	return percentiles(lat), nil
}

// miniBlockNote is the part of a miniBlocks notification the bench reads.
type miniBlockNote struct {
	Params struct {
		Result struct {
			Number    hexutil.Uint64 `json:"mini_block_number"`
			Timestamp hexutil.Uint64 `json:"mini_block_timestamp"`
		} `json:"result"`
	} `json:"params"`
}

// miniBlockFields reads mini_block_number and mini_block_timestamp without
// decoding the whole notification, so that a thousand subscribers in the
// bench process do not crowd out the node they measure.
func miniBlockFields(data []byte) (number, stamp uint64, ok bool) {
	field := func(name string) (uint64, bool) {
		i := bytes.Index(data, []byte(`"`+name+`":"`))
		if i < 0 {
			return 0, false
		}
		rest := data[i+len(name)+4:]
		j := bytes.IndexByte(rest, '"')
		if j < 0 {
			return 0, false
		}
		v, err := hexutil.DecodeUint64(string(rest[:j]))
		return v, err == nil
	}
	number, ok1 := field("mini_block_number")
	stamp, ok2 := field("mini_block_timestamp")
	return number, stamp, ok1 && ok2
}

// SubscriberResult is what the subscribers saw.
type SubscriberResult struct {
	Subscribers   int
	Notifications int64
	Gaps          int64 // mini_block_number not previous+1
	Disconnects   int64 // connections that ended before the run did
	FirstError    string
	Delay         Percentiles // receipt time minus mini_block_timestamp
	PerSecond     float64     // mini-blocks per second per subscriber
}

// subscribeMiniBlocks opens a websocket and subscribes to miniBlocks.
func subscribeMiniBlocks(ctx context.Context, url string) (*websocket.Conn, error) {
	ws, _, err := websocket.DefaultDialer.DialContext(ctx, url, nil)
	if err != nil {
		return nil, err
	}
	if err := ws.WriteJSON(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_subscribe", "params": []any{"miniBlocks"}}); err != nil {
		ws.Close()
		return nil, err
	}
	var resp struct {
		Error *struct{ Message string } `json:"error"`
	}
	if err := ws.ReadJSON(&resp); err != nil || resp.Error != nil {
		ws.Close()
		if err == nil {
			err = fmt.Errorf("eth_subscribe: %s", resp.Error.Message)
		}
		return nil, err
	}
	return ws, nil
}

// Subscribers holds n websocket miniBlocks subscriptions open for d and
// checks that every one sees every mini-block, in order, without a
// disconnect. Each subscriber reads from the moment it subscribed; delays
// count from when the last one connected.
func Subscribers(ctx context.Context, url string, n int, d time.Duration, progress io.Writer) (*SubscriberResult, error) {
	res := &SubscriberResult{Subscribers: n}
	var (
		mu      sync.Mutex
		delays  []time.Duration
		wg      sync.WaitGroup
		from    atomic.Int64 // µs; delays of mini-blocks from then on count
		stopped = make(chan struct{})
		conns   []*websocket.Conn
	)
	from.Store(1 << 62)
	fail := func(err error) {
		atomic.AddInt64(&res.Disconnects, 1)
		mu.Lock()
		if res.FirstError == "" {
			res.FirstError = err.Error()
		}
		mu.Unlock()
	}
	read := func(ws *websocket.Conn) {
		defer wg.Done()
		var last uint64
		var local []time.Duration
		var count int64
		for {
			_, data, err := ws.ReadMessage()
			select {
			case <-stopped:
				atomic.AddInt64(&res.Notifications, count)
				mu.Lock()
				delays = append(delays, local...)
				mu.Unlock()
				return
			default:
			}
			if err != nil {
				fail(err)
				return
			}
			now := time.Now()
			number, stamp, ok := miniBlockFields(data)
			if !ok {
				continue
			}
			if count > 0 && number != last+1 {
				atomic.AddInt64(&res.Gaps, 1)
			}
			last, count = number, count+1
			if int64(stamp) >= from.Load() {
				local = append(local, now.Sub(time.UnixMicro(int64(stamp))))
			}
		}
	}
	for i := 0; i < n; i++ {
		ws, err := subscribeMiniBlocks(ctx, url)
		if err != nil {
			close(stopped)
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("subscriber %d: %w", i, err)
		}
		conns = append(conns, ws)
		wg.Add(1)
		go read(ws)
	}
	fmt.Fprintf(progress, "%d subscribers connected; streaming for %v\n", n, d)
	from.Store(time.Now().UnixMicro())
	select {
	case <-time.After(d):
	case <-ctx.Done():
	}
	close(stopped)
	for _, c := range conns {
		c.Close()
	}
	wg.Wait()
	res.Delay = percentiles(delays)
	res.PerSecond = float64(res.Delay.Count) / float64(n) / d.Seconds()
	return res, nil
}

// JitterResult describes mini-block spacing under load.
type JitterResult struct {
	MiniBlocks int
	Interval   Percentiles // time between consecutive mini_block_timestamps
	Jitter     Percentiles // |interval - target|
	// IntervalsUS is every interval in µs, in arrival order (tools/plot).
	IntervalsUS []int64 `json:",omitempty"`
	Load        *Result
}

// Jitter runs the transfer load of o against a node while one websocket
// subscriber records mini-block timestamps, and reports how far the spacing
// strays from target.
func Jitter(ctx context.Context, o Options, wsURL string, target time.Duration, progress io.Writer) (*JitterResult, error) {
	ws, err := subscribeMiniBlocks(ctx, wsURL)
	if err != nil {
		return nil, err
	}
	defer ws.Close()
	var (
		stamps []uint64
		done   = make(chan struct{})
		load   *Result
		runErr error
	)
	go func() {
		defer close(done)
		load, runErr = Run(ctx, o, progress)
	}()
	for {
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, data, err := ws.ReadMessage()
		if err != nil {
			return nil, fmt.Errorf("subscriber: %w", err)
		}
		var note miniBlockNote
		if json.Unmarshal(data, &note) == nil && note.Params.Result.Timestamp != 0 {
			stamps = append(stamps, uint64(note.Params.Result.Timestamp))
		}
		select {
		case <-done:
			if runErr != nil {
				return nil, runErr
			}
			var intervals, jitter []time.Duration
			for i := 1; i < len(stamps); i++ {
				iv := time.Duration(stamps[i]-stamps[i-1]) * time.Microsecond
				intervals = append(intervals, iv)
				j := iv - target
				if j < 0 {
					j = -j
				}
				jitter = append(jitter, j)
			}
			us := micros(intervals)
			return &JitterResult{MiniBlocks: len(stamps), Interval: percentiles(intervals), Jitter: percentiles(jitter), IntervalsUS: us, Load: load}, nil
		default:
		}
	}
}
