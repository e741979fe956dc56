package bench

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"

	"github.com/meganode/meganode/chain"
)

// ReadToken is the init code of the ERC-20 the read load calls:
// balanceOf(address) returns the balance kept in the slot named by the
// holder's address; any other call is chain.TokenInit's transfer(to,
// amount). The constructor gives the deployer 2^248-1 tokens.
// Hand-assembled: a 15-byte selector dispatch, the transfer code of
// chain.TokenInit (its revert jump moved by 15), then balanceOf.
var ReadToken = common.FromHex("7f00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3355606b602f600039606b6000f3" +
	"60003560e01c6370a0823114605e57" +
	"6024353354818110605957033355600435805460243501905560243560005260043533" +
	"7fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef60206000a3005b600080fd" +
	"5b6004355460005260206000f3")

// BalanceOf is the calldata of balanceOf(holder).
func BalanceOf(holder common.Address) []byte {
	return append(common.FromHex("70a08231"), common.LeftPadBytes(holder[:], 32)...)
}

// ReadOptions configure a read-load run.
type ReadOptions struct {
	URL       string
	FunderKey *ecdsa.PrivateKey // deploys the token when Token is nil
	Token     *common.Address   // an already deployed ReadToken
	Holder    common.Address    // account whose balances are read (default: the funder)
	Conns     int               // keep-alive connections, one caller each
	Duration  time.Duration
	Warmup    time.Duration // load before the clock starts, not counted
	// Metrics, when set, is a node's Prometheus /metrics URL: the
	// mini-block interval histogram is read before and after the load.
	Metrics string
}

// ReadResult is what a read-load run measured.
type ReadResult struct {
	Conns      int
	Duration   time.Duration
	Calls      int
	Errors     int
	FirstError string `json:",omitempty"`
	PerSecond  float64
	PerMethod  map[string]int
	Latency    Percentiles
	Token      common.Address
	// MiniBlockInterval is the sequencer's mini-block interval during the
	// load (Options.Metrics), from its histogram: the bounds of the buckets
	// the percentiles fall in.
	MiniBlockInterval *HistogramQuantiles `json:",omitempty"`
}

// HistogramQuantiles are percentiles read off a Prometheus histogram: each
// is the upper bound of the bucket it falls in (+Inf as -1).
type HistogramQuantiles struct {
	Count    uint64
	P50, P99 float64 // seconds
	Sum      float64 // seconds
}

// readCall is one call of the rotation, encoded once.
type readCall struct {
	method string
	body   []byte
}

// readRotation is the calls the load cycles through: the holder's ETH
// balance, its token balance through eth_call, the block number.
func readRotation(token, holder common.Address) []readCall {
	enc := func(method, params string) readCall {
		return readCall{method, []byte(`{"jsonrpc":"2.0","id":1,"method":"` + method + `","params":` + params + `}`)}
	}
	return []readCall{
		enc("eth_getBalance", `["`+holder.Hex()+`","latest"]`),
		enc("eth_call", `[{"to":"`+token.Hex()+`","data":"`+hexutil.Encode(BalanceOf(holder))+`"},"latest"]`),
		enc("eth_blockNumber", `[]`),
	}
}

// Reads deploys the token (unless given one), checks that balanceOf
// answers, then drives the rotation over o.Conns connections for
// o.Duration.
func Reads(ctx context.Context, o ReadOptions, progress io.Writer) (*ReadResult, error) {
	if o.Conns < 1 || o.Duration <= 0 {
		return nil, errors.New("conns and duration must be positive")
	}
	cl, err := dial(ctx, o.URL)
	if err != nil {
		return nil, err
	}
	defer cl.c.Close()
	holder := o.Holder
	if holder == (common.Address{}) && o.FunderKey != nil {
		holder = crypto.PubkeyToAddress(o.FunderKey.PublicKey)
	}
	var token common.Address
	if o.Token != nil {
		token = *o.Token
	} else {
		if o.FunderKey == nil {
			return nil, errors.New("no token and no key to deploy one")
		}
		funder := crypto.PubkeyToAddress(o.FunderKey.PublicKey)
		nonce, err := cl.nonce(ctx, funder)
		if err != nil {
			return nil, err
		}
		tx := cl.sign(o.FunderKey, nonce, nil, new(big.Int), 300_000, ReadToken)
		raw, _ := tx.MarshalBinary()
		var h common.Hash
		if err := cl.c.CallContext(ctx, &h, "eth_sendRawTransaction", hexutil.Bytes(raw)); err != nil {
			return nil, fmt.Errorf("deploy token: %w", err)
		}
		if err := cl.waitReceipt(ctx, tx.Hash(), 5*time.Millisecond); err != nil {
			return nil, fmt.Errorf("deploy token: %w", err)
		}
		token = crypto.CreateAddress(funder, nonce)
		fmt.Fprintf(progress, "token at %s\n", token)
	}
	var bal hexutil.Bytes
	if err := cl.c.CallContext(ctx, &bal, "eth_call", map[string]any{"to": token, "data": hexutil.Bytes(BalanceOf(holder))}, "latest"); err != nil {
		return nil, fmt.Errorf("balanceOf: %w", err)
	}
	if len(bal) != 32 {
		return nil, fmt.Errorf("balanceOf answered %d bytes, want 32", len(bal))
	}
	var before map[float64]uint64
	var beforeCount uint64
	var beforeSum float64
	if o.Metrics != "" {
		if before, beforeCount, beforeSum, err = scrapeHistogram(ctx, o.Metrics, intervalMetric); err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
	}
	res, err := driveReads(ctx, o.URL, readRotation(token, holder), o.Conns, o.Warmup, o.Duration)
	if err != nil {
		return nil, err
	}
	res.Token = token
	if o.Metrics != "" {
		after, count, sum, err := scrapeHistogram(ctx, o.Metrics, intervalMetric)
		if err != nil {
			return nil, fmt.Errorf("metrics: %w", err)
		}
		for le := range after {
			after[le] -= before[le]
		}
		res.MiniBlockInterval = quantiles(after, count-beforeCount, sum-beforeSum)
	}
	fmt.Fprintf(progress, "reads: %.0f/s over %d connections, p50 %v p99 %v, %d errors\n",
		res.PerSecond, res.Conns, res.Latency.P50, res.Latency.P99, res.Errors)
	return res, nil
}

// driveReads runs calls round-robin over conns keep-alive connections,
// each with one call in flight; only calls that start after warmup and end
// within duration after it are counted.
func driveReads(ctx context.Context, url string, calls []readCall, conns int, warmup, duration time.Duration) (*ReadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns, DisableCompression: true}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	start := time.Now().Add(warmup)
	end := start.Add(duration)
	type worker struct {
		lat    []time.Duration
		counts []int
		errs   int
		first  string
	}
	workers := make([]worker, conns)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func(wk *worker, offset int) {
			defer wg.Done()
			wk.counts = make([]int, len(calls))
			buf := make([]byte, 0, 512)
			for i := offset; ctx.Err() == nil; i++ {
				c := calls[i%len(calls)]
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				var err error
				buf, err = postRead(ctx, client, url, c.body, buf[:0])
				t1 := time.Now()
				if t0.Before(start) || t1.After(end) {
					continue
				}
				wk.counts[i%len(calls)]++
				wk.lat = append(wk.lat, t1.Sub(t0))
				if err != nil {
					if wk.errs == 0 {
						wk.first = c.method + ": " + err.Error()
					}
					wk.errs++
				}
			}
		}(&workers[w], w)
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	res := &ReadResult{Conns: conns, Duration: duration, PerMethod: map[string]int{}}
	var lat []time.Duration
	for _, wk := range workers {
		lat = append(lat, wk.lat...)
		for i, n := range wk.counts {
			res.PerMethod[calls[i].method] += n
		}
		if wk.errs > 0 && res.Errors == 0 {
			res.FirstError = wk.first
		}
		res.Errors += wk.errs
	}
	res.Calls = len(lat)
	res.PerSecond = float64(res.Calls) / duration.Seconds()
	res.Latency = percentiles(lat)
	return res, nil
}

// postRead posts one call and checks that it has a result; the answer is
// read into buf.
func postRead(ctx context.Context, client *http.Client, url string, body, buf []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return buf, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return buf, err
	}
	defer resp.Body.Close()
	w := bytes.NewBuffer(buf)
	if _, err := w.ReadFrom(resp.Body); err != nil {
		return w.Bytes(), err
	}
	out := w.Bytes()
	if resp.StatusCode != http.StatusOK {
		return out, fmt.Errorf("HTTP %d: %.200s", resp.StatusCode, bytes.TrimSpace(out))
	}
	if bytes.Contains(out, []byte(`"error"`)) || !bytes.Contains(out, []byte(`"result"`)) {
		return out, fmt.Errorf("answer without a result: %.200s", out)
	}
	return out, nil
}

const intervalMetric = "meganode_sequencer_miniblock_interval_seconds"

// scrapeHistogram reads the cumulative buckets, count and sum of one
// histogram from a Prometheus text exposition.
func scrapeHistogram(ctx context.Context, url, name string) (map[float64]uint64, uint64, float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, 0, 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, 0, err
	}
	defer resp.Body.Close()
	buckets := map[float64]uint64{}
	var count uint64
	var sum float64
	found := false
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		key, val, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(key, name) {
			continue
		}
		switch {
		case strings.HasPrefix(key, name+`_bucket{le="`):
			le := strings.TrimSuffix(strings.TrimPrefix(key, name+`_bucket{le="`), `"}`)
			bound := math.Inf(1)
			if le != "+Inf" {
				if bound, err = strconv.ParseFloat(le, 64); err != nil {
					return nil, 0, 0, fmt.Errorf("bucket %q: %w", le, err)
				}
			}
			n, err := strconv.ParseUint(val, 10, 64)
			if err != nil {
				return nil, 0, 0, fmt.Errorf("bucket %q: %w", le, err)
			}
			buckets[bound] = n
			found = true
		case key == name+"_count":
			count, _ = strconv.ParseUint(val, 10, 64)
		case key == name+"_sum":
			sum, _ = strconv.ParseFloat(val, 64)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, 0, 0, err
	}
	if !found {
		return nil, 0, 0, fmt.Errorf("no histogram %s at %s", name, url)
	}
	return buckets, count, sum, nil
}

// quantiles reads p50 and p99 off cumulative buckets: the upper bound of
// the first bucket holding that share of the observations.
func quantiles(buckets map[float64]uint64, count uint64, sum float64) *HistogramQuantiles {
	bounds := make([]float64, 0, len(buckets))
	for le := range buckets {
		bounds = append(bounds, le)
	}
	sort.Float64s(bounds)
	at := func(q float64) float64 {
		for _, le := range bounds {
			if float64(buckets[le]) >= q*float64(count) {
				if math.IsInf(le, 1) {
					return -1
				}
				return le
			}
		}
		return -1
	}
	return &HistogramQuantiles{Count: count, P50: at(0.50), P99: at(0.99), Sum: sum}
}

// readsCommand is `meganode bench reads`.
func readsCommand() *cli.Command {
	return &cli.Command{
		Name:  "reads",
		Usage: "read load: eth_getBalance, eth_call of an ERC-20 balanceOf and eth_blockNumber in rotation over keep-alive connections",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Value: "http://127.0.0.1:8545", Usage: "JSON-RPC URL"},
			&cli.StringFlag{Name: "key", Usage: "private key (hex) that deploys the token; default: dev account 0 of the test mnemonic"},
			&cli.StringFlag{Name: "token", Usage: "address of a deployed token (bench.ReadToken) instead of deploying one"},
			&cli.StringFlag{Name: "holder", Usage: "account whose balances are read (default: the key's)"},
			&cli.IntFlag{Name: "conns", Value: 16, Usage: "keep-alive connections, one call in flight on each"},
			&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long the load is measured"},
			&cli.DurationFlag{Name: "warmup", Value: time.Second, Usage: "load before the measurement, not counted"},
			&cli.StringFlag{Name: "metrics", Usage: "Prometheus /metrics URL of the sequencer: report its mini-block interval during the load"},
			&cli.StringFlag{Name: "json", Usage: "also write the result as JSON to this file"},
		},
		Action: func(c *cli.Context) error {
			o := ReadOptions{URL: c.String("rpc"), Conns: c.Int("conns"), Duration: c.Duration("duration"), Warmup: c.Duration("warmup"), Metrics: c.String("metrics")}
			if k := c.String("key"); k != "" {
				key, err := crypto.HexToECDSA(trim0x(k))
				if err != nil {
					return fmt.Errorf("key: %w", err)
				}
				o.FunderKey = key
			} else {
				accts, err := chain.DeriveAccounts(chain.DefaultMnemonic, 1)
				if err != nil {
					return err
				}
				o.FunderKey = accts[0].Key
			}
			for flag, dst := range map[string]*common.Address{"token": new(common.Address), "holder": &o.Holder} {
				if s := c.String(flag); s != "" {
					if !common.IsHexAddress(s) {
						return fmt.Errorf("--%s: not an address: %q", flag, s)
					}
					*dst = common.HexToAddress(s)
					if flag == "token" {
						o.Token = dst
					}
				}
			}
			res, err := Reads(context.Background(), o, os.Stderr)
			if err != nil {
				return err
			}
			return printResult(res, c.String("json"))
		},
	}
}
