package bench_test

import (
	"context"
	"io"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/meganode/meganode/bench"
	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/node"
)

func TestRunAgainstDevnet(t *testing.T) {
	cfg := node.DefaultConfig()
	cfg.RPC.Port = 0
	d, err := node.NewDevnet(cfg, zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer d.Stop(context.Background())
	accts, _ := chain.DeriveAccounts(chain.DefaultMnemonic, 1)
	res, err := bench.Run(context.Background(), bench.Options{
		URL: "http://" + d.RPCAddr(), FunderKey: accts[0].Key, Senders: 10, Txs: 500, Conns: 2, Batch: 50,
		Latency: 5, Timeout: time.Minute, Inclusion: 30 * time.Second, Seed: 1,
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Stalled || res.Included != 500 || res.Submitted != 500 {
		t.Fatalf("result %+v, want 500 submitted and included without errors", res)
	}
	if res.LatencyCount != 5 || res.LatencyP50 <= 0 || res.IncludedTPS <= 0 {
		t.Fatalf("result %+v lacks latency or throughput", res)
	}
	// Every transfer is on chain: the senders' nonces account for all of them.
	st, _, err := d.Sequencer().LatestState()
	if err != nil {
		t.Fatal(err)
	}
	if n := st.GetNonce(accts[0].Address); n != 10 {
		t.Fatalf("funder nonce %d, want 10 funding transfers", n)
	}

	// ERC-20: the funder deploys the token and pays each sender ETH and
	// tokens; Run itself checks the sink received every transfer.
	res, err = bench.Run(context.Background(), bench.Options{
		URL: "http://" + d.RPCAddr(), FunderKey: accts[0].Key, Senders: 10, Txs: 500, Conns: 2, Batch: 50,
		Latency: 5, Timeout: time.Minute, Inclusion: 30 * time.Second, Seed: 2, ERC20: true,
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Stalled || res.Included != 500 {
		t.Fatalf("erc20 result %+v, want 500 included without errors", res)
	}
	if st, _, err = d.Sequencer().LatestState(); err != nil {
		t.Fatal(err)
	}
	if n := st.GetNonce(accts[0].Address); n != 10+1+2*10 {
		t.Fatalf("funder nonce %d, want 10 + a deployment + 20 funding txs", n)
	}
}
