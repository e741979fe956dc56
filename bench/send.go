package bench

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

type sendErrors struct {
	count int
	first string
}

func (e *sendErrors) record(mu *sync.Mutex, n int, msg string) {
	mu.Lock()
	defer mu.Unlock()
	if e.count == 0 {
		e.first = msg
	}
	e.count += n
}

// encodeBatches renders txs as JSON-RPC batches of eth_sendRawTransaction,
// done before the clock starts: what is timed is the node, not the encoding.
func encodeBatches(txs []*types.Transaction, batch int) [][]byte {
	var bodies [][]byte
	for lo := 0; lo < len(txs); lo += batch {
		var b bytes.Buffer
		b.WriteByte('[')
		for i, tx := range txs[lo:min(lo+batch, len(txs))] {
			raw, _ := tx.MarshalBinary()
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(`{"jsonrpc":"2.0","id":`)
			b.WriteString(strconv.Itoa(lo + i))
			b.WriteString(`,"method":"eth_sendRawTransaction","params":["`)
			b.WriteString(hexutil.Encode(raw))
			b.WriteString(`"]}`)
		}
		b.WriteByte(']')
		bodies = append(bodies, b.Bytes())
	}
	return bodies
}

// postBatches posts the bodies over conns keep-alive connections, at rate
// tx/s when rate > 0 (batch k is not sent before start + k·batch/rate).
func postBatches(ctx context.Context, url string, bodies [][]byte, conns int, rate float64, batch int) sendErrors {
	return postBatchesUntil(ctx, nil, url, bodies, conns, rate, batch)
}

// postBatchesUntil is postBatches that also stops sending once stop is
// closed, letting the batches in flight answer (a cancelled ctx cuts them
// off, and they count as errors).
func postBatchesUntil(ctx context.Context, stop <-chan struct{}, url string, bodies [][]byte, conns int, rate float64, batch int) sendErrors {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}}
	defer client.CloseIdleConnections()
	var (
		next  atomic.Int64
		mu    sync.Mutex
		errs  sendErrors
		wg    sync.WaitGroup
		start = time.Now()
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				k := int(next.Add(1)) - 1
				if k >= len(bodies) || ctx.Err() != nil {
					return
				}
				select {
				case <-stop:
					return
				default:
				}
				calls := bytes.Count(bodies[k], []byte(`"method"`))
				if rate > 0 {
					at := start.Add(time.Duration(float64(k*batch) / rate * float64(time.Second)))
					select {
					case <-time.After(time.Until(at)):
					case <-ctx.Done():
						return
					case <-stop:
						return
					}
				}
				if n, msg := post(ctx, client, url, bodies[k], calls); n > 0 {
					errs.record(&mu, n, msg)
				}
			}
		}()
	}
	wg.Wait()
	return errs
}

// post sends one batch and returns how many of its calls failed, with the
// first error.
func post(ctx context.Context, client *http.Client, url string, body []byte, calls int) (int, string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return calls, err.Error()
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return calls, err.Error()
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return calls, err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return calls, fmt.Sprintf("HTTP %d: %s", resp.StatusCode, bytes.TrimSpace(out))
	}
	if !bytes.Contains(out, []byte(`"error"`)) && bytes.Count(out, []byte(`"result"`)) == calls {
		return 0, "" // the common case, without decoding
	}
	var answers []struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(out, &answers); err != nil {
		return calls, fmt.Sprintf("answer is not a JSON-RPC batch: %.200s", out)
	}
	failed, first := calls-len(answers), "missing answers"
	for i := len(answers) - 1; i >= 0; i-- {
		if a := answers[i]; a.Error != nil || a.Result == nil {
			failed++
			first = "no result"
			if a.Error != nil {
				first = a.Error.Message
			}
		}
	}
	return failed, first
}

// intervalRecorder keeps the mini_block_timestamp of every mini-block a
// miniBlocks subscriber receives.
type intervalRecorder struct {
	cancel context.CancelFunc
	done   chan struct{}
	mu     sync.Mutex
	stamps []uint64
}

func recordIntervals(ctx context.Context, url string) (*intervalRecorder, error) {
	ws, err := subscribeMiniBlocks(ctx, url)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &intervalRecorder{cancel: cancel, done: make(chan struct{})}
	go func() {
		<-ctx.Done()
		ws.Close()
	}()
	go func() {
		defer close(r.done)
		for {
			_, data, err := ws.ReadMessage()
			if err != nil {
				return
			}
			if _, stamp, ok := miniBlockFields(data); ok {
				r.mu.Lock()
				r.stamps = append(r.stamps, stamp)
				r.mu.Unlock()
			}
		}
	}()
	return r, nil
}

// result is the count, the interval distribution and every interval (µs)
// so far.
func (r *intervalRecorder) result() (int, *Percentiles, []int64) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var iv []time.Duration
	for i := 1; i < len(r.stamps); i++ {
		iv = append(iv, time.Duration(r.stamps[i]-r.stamps[i-1])*time.Microsecond)
	}
	us := micros(iv)
	p := percentiles(iv)
	return len(r.stamps), &p, us
}

// micros is d in whole µs, before percentiles sorts it.
func micros(d []time.Duration) []int64 {
	out := make([]int64, len(d))
	for i, v := range d {
		out[i] = v.Microseconds()
	}
	return out
}

func (r *intervalRecorder) stop() {
	r.cancel()
	<-r.done
}

// syncProbe sends one transfer at a time with eth_sendRawTransactionSync
// from its own sender while the load runs, timing each send→receipt.
type syncProbe struct {
	cancel context.CancelFunc
	done   chan struct{}
	lat    []time.Duration
	err    string
}

func startSyncProbe(ctx context.Context, url string, ld load, key *ecdsa.PrivateKey, to common.Address) *syncProbe {
	ctx, cancel := context.WithCancel(ctx)
	p := &syncProbe{cancel: cancel, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		c, err := gethrpc.DialContext(ctx, url)
		if err != nil {
			p.err = err.Error()
			return
		}
		defer c.Close()
		for nonce := uint64(0); ctx.Err() == nil; nonce++ {
			raw, _ := ld.tx(key, nonce, to).MarshalBinary()
			begin := time.Now()
			var receipt map[string]any
			if err := c.CallContext(ctx, &receipt, "eth_sendRawTransactionSync", hexutil.Bytes(raw)); err != nil {
				if ctx.Err() == nil {
					p.err = err.Error()
				}
				return
			}
			p.lat = append(p.lat, time.Since(begin))
		}
	}()
	return p
}

func (p *syncProbe) stop() (*Percentiles, string) {
	p.cancel()
	<-p.done
	if len(p.lat) == 0 {
		return nil, p.err
	}
	pc := percentiles(p.lat)
	return &pc, p.err
}
