package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
)

// LogsOptions configure an eth_getLogs run over a chain of tools/logchain.
type LogsOptions struct {
	URL      string
	From, To uint64         // the range of the whole-range queries
	Address  common.Address // the emitter queried
	Topics   []any          // the filter's topics; nil: address only
	Reps     int            // sequential whole-range queries
	Window   uint64         // blocks per query of the windowed run; 0: skip it
	Conns    int            // concurrent connections of the windowed run
	Passes   int            // times the windowed run covers [From, To]
}

// LogsPart is what one kind of query measured. Hash is keccak256 over the
// logs of one pass in block order, each log's consensus and position fields
// (address, topics, data, block number and hash, tx hash and index, log
// index): two nodes that answer the same logs have the same Hash whatever
// else their JSON carries.
type LogsPart struct {
	Queries    int
	Logs       int // of one pass
	Elapsed    time.Duration
	LogsPerSec float64
	Latency    Percentiles
	Hash       common.Hash
}

// LogsResult holds the two whole-range runs and the windowed one.
type LogsResult struct {
	Whole, Windows *LogsPart
}

type rpcLog struct {
	Address     common.Address `json:"address"`
	Topics      []common.Hash  `json:"topics"`
	Data        hexutil.Bytes  `json:"data"`
	BlockNumber hexutil.Uint64 `json:"blockNumber"`
	TxHash      common.Hash    `json:"transactionHash"`
	TxIndex     hexutil.Uint   `json:"transactionIndex"`
	BlockHash   common.Hash    `json:"blockHash"`
	Index       hexutil.Uint   `json:"logIndex"`
	Removed     bool           `json:"removed"`
}

func hashLogs(h io.Writer, logs []rpcLog) {
	for _, l := range logs {
		h.Write(l.Address[:])
		for _, t := range l.Topics {
			h.Write(t[:])
		}
		h.Write(l.Data)
		fmt.Fprintf(h, "%d/%s/%s/%d/%d/%v;", l.BlockNumber, l.BlockHash, l.TxHash, l.TxIndex, l.Index, l.Removed)
	}
}

// getLogs posts one eth_getLogs and returns the raw answer body, timed
// to its last byte (decoding is not the node's time).
func getLogs(ctx context.Context, c *http.Client, url string, from, to uint64, addr common.Address, topics []any) ([]byte, time.Duration, error) {
	filter := map[string]any{"fromBlock": hexutil.Uint64(from), "toBlock": hexutil.Uint64(to), "address": addr}
	if topics != nil {
		filter["topics"] = topics
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs", "params": []any{filter}})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return nil, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return nil, 0, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return b, time.Since(start), err
}

func decodeLogs(b []byte, from, to uint64) ([]rpcLog, error) {
	var r struct {
		Result []rpcLog
		Error  *struct{ Message string }
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("blocks %d-%d: %w", from, to, err)
	}
	if r.Error != nil {
		return nil, fmt.Errorf("blocks %d-%d: %s", from, to, r.Error.Message)
	}
	return r.Result, nil
}

// Logs runs o.Reps whole-range queries one after another, then, when
// o.Window is set, o.Passes passes of o.Window-block queries over o.Conns
// connections. Every answer is checked to decode as logs; the hash and
// count come from the first pass.
func Logs(ctx context.Context, o LogsOptions) (*LogsResult, error) {
	if o.Reps < 1 || o.To < o.From {
		return nil, errors.New("want reps ≥ 1 and from ≤ to")
	}
	conns := max(o.Conns, 1)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}, Timeout: 5 * time.Minute}
	res := &LogsResult{}
	whole := &LogsPart{Queries: o.Reps}
	var lat []time.Duration
	for i := 0; i < o.Reps; i++ {
		b, d, err := getLogs(ctx, client, o.URL, o.From, o.To, o.Address, o.Topics)
		if err != nil {
			return nil, err
		}
		logs, err := decodeLogs(b, o.From, o.To)
		if err != nil {
			return nil, err
		}
		lat = append(lat, d)
		whole.Elapsed += d
		if i == 0 {
			h := crypto.NewKeccakState()
			hashLogs(h, logs)
			whole.Logs, whole.Hash = len(logs), common.BytesToHash(h.Sum(nil))
		} else if len(logs) != whole.Logs {
			return nil, fmt.Errorf("query %d answered %d logs, the first %d", i, len(logs), whole.Logs)
		}
	}
	whole.Latency = percentiles(lat)
	whole.LogsPerSec = float64(whole.Logs*o.Reps) / whole.Elapsed.Seconds()
	res.Whole = whole
	if o.Window == 0 {
		return res, nil
	}
	var windows [][2]uint64
	for f := o.From; f <= o.To; f += o.Window {
		windows = append(windows, [2]uint64{f, min(f+o.Window-1, o.To)})
	}
	passes := max(o.Passes, 1)
	jobs := make(chan int)
	bodies := make([][]byte, len(windows))
	lats := make([][]time.Duration, conns)
	counts := make([]int, conns)
	errs := make([]error, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for j := range jobs {
				if errs[w] != nil {
					continue
				}
				win := windows[j%len(windows)]
				b, d, err := getLogs(ctx, client, o.URL, win[0], win[1], o.Address, o.Topics)
				if err == nil && j < len(windows) {
					bodies[j] = b
				}
				if err == nil {
					// A cheap count keeps every answer checked without
					// decoding it on the clock.
					counts[w] += bytes.Count(b, []byte(`"logIndex"`))
				}
				errs[w] = err
				lats[w] = append(lats[w], d)
			}
		}(w)
	}
	for j := 0; j < passes*len(windows); j++ {
		jobs <- j
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	win := &LogsPart{Queries: passes * len(windows), Elapsed: elapsed}
	h := crypto.NewKeccakState()
	for j, b := range bodies {
		logs, err := decodeLogs(b, windows[j][0], windows[j][1])
		if err != nil {
			return nil, err
		}
		hashLogs(h, logs)
		win.Logs += len(logs)
	}
	total := 0
	for _, c := range counts {
		total += c
	}
	if total != passes*win.Logs {
		return nil, fmt.Errorf("windowed run answered %d logs in %d passes of %d", total, passes, win.Logs)
	}
	win.Hash = common.BytesToHash(h.Sum(nil))
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	win.Latency = percentiles(all)
	win.LogsPerSec = float64(total) / elapsed.Seconds()
	res.Windows = win
	return res, nil
}

// logsCommand is `meganode bench logs`.
func logsCommand() *cli.Command {
	return &cli.Command{
		Name:  "logs",
		Usage: "time eth_getLogs over a chain of tools/logchain: whole-range queries, then windows over concurrent connections",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "rpc", Value: "http://127.0.0.1:8545", Usage: "JSON-RPC URL"},
			&cli.Uint64Flag{Name: "from", Value: 1, Usage: "first block"},
			&cli.Uint64Flag{Name: "to", Required: true, Usage: "last block"},
			&cli.StringFlag{Name: "address", Required: true, Usage: "emitter address to filter by"},
			&cli.StringSliceFlag{Name: "topic", Usage: "topic positions, in order: a hash, or \"null\" for any (none: address only)"},
			&cli.IntFlag{Name: "reps", Value: 3, Usage: "sequential whole-range queries"},
			&cli.Uint64Flag{Name: "window", Usage: "blocks per query of the windowed run (0: skip it)"},
			&cli.IntFlag{Name: "conns", Value: 8, Usage: "connections of the windowed run"},
			&cli.IntFlag{Name: "passes", Value: 1, Usage: "passes of the windowed run over the range"},
			&cli.StringFlag{Name: "json", Usage: "also write the result as JSON to this file"},
		},
		Action: func(c *cli.Context) error {
			if !common.IsHexAddress(c.String("address")) {
				return fmt.Errorf("--address %q: want a 20-byte hex address", c.String("address"))
			}
			var topics []any
			for _, t := range c.StringSlice("topic") {
				if t == "null" {
					topics = append(topics, nil)
					continue
				}
				if b, err := hexutil.Decode(t); err != nil || len(b) != common.HashLength {
					return fmt.Errorf("--topic %q: want a 32-byte hex hash or null", t)
				}
				topics = append(topics, common.HexToHash(t))
			}
			r, err := Logs(c.Context, LogsOptions{URL: c.String("rpc"), From: c.Uint64("from"), To: c.Uint64("to"),
				Address: common.HexToAddress(c.String("address")), Topics: topics, Reps: c.Int("reps"),
				Window: c.Uint64("window"), Conns: c.Int("conns"), Passes: c.Int("passes")})
			if err != nil {
				return err
			}
			return printResult(r, c.String("json"))
		},
	}
}
