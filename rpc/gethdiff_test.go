package rpc_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/node"
	"github.com/meganode/meganode/rpc"
	"github.com/meganode/meganode/storage"
)

// divergences are the answers meganode gives on purpose differently from geth
// v1.17.5, by file and request id, with the reason.
var divergences = map[string]string{
	// Before Berlin a transaction cannot carry an access list. geth v1.17.5
	// still charges the list's intrinsic gas in eth_createAccessList's
	// gasUsed; v1.17.10 (meganode's executor) refuses such a message, so
	// meganode traces without the list and reports the gas the call uses.
	"state.io#50": "pre-Berlin access list gas",
	"state.io#75": "pre-Berlin access list gas",
	// eth_simulateV1 follows go-ethereum v1.17.10, the version meganode
	// executes with, where v1.17.5 differs: unknown override keys are
	// rejected (v1.17.5 ignores them), a difficulty override after the merge
	// and a set-code call without "to" are errors (v1.17.5 crashes: "method
	// handler crashed"), and gasPrice with an access list is an EIP-2930 tx
	// (v1.17.5 makes a legacy tx).
	"simulate.io#17": "unknown block override key",
	"simulate.io#18": "unknown state override key",
	"simulate.io#19": "difficulty override after the merge",
	"simulate.io#27": "set-code call without to",
	"simulate.io#29": "gasPrice with an access list",
}

// TestGethDifferential replays the requests of rpc/testdata/geth/*.io against
// meganode serving tools/mkchain's chain and wants go-ethereum's answers,
// which tools/gethdiff recorded from geth v1.17.5 serving the same chain.
func TestGethDifferential(t *testing.T) {
	genesis, err := chain.ReadGenesisFile("testdata/chain/genesis.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel)
	if _, err := storage.Import(storage.Config{Dir: dir}, genesis, "testdata/chain/chain.rlp", log); err != nil {
		t.Fatal(err)
	}
	cfg := rpc.DefaultConfig()
	cfg.Port = 0
	srv, err := node.NewServed(node.ServeConfig{Storage: storage.Config{Dir: dir}, RPC: cfg}, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	url := "http://" + srv.RPCAddr()

	files, _ := filepath.Glob("testdata/geth/*.io")
	if len(files) == 0 {
		t.Fatal("no recorded geth answers")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			reqs, wants := readExchanges(t, file)
			for i, req := range reqs {
				var id struct{ ID int }
				json.Unmarshal([]byte(req), &id)
				if _, ok := divergences[fmt.Sprintf("%s#%d", filepath.Base(file), id.ID)]; ok {
					continue
				}
				if got := post(t, url, req); got != wants[i] {
					t.Errorf("request %s\nmeganode: %s\n    geth: %s", req, got, wants[i])
				}
			}
		})
	}
}
