package e2e

import (
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// genesisPredeploy returns its storage slot 0, 42 in the genesis file.
var genesisPredeploy = common.HexToAddress("0x00000000000000000000000000000000000c0de1")

// writeGenesis writes a genesis.json as a user would: go-ethereum's --dev
// genesis (every fork through Osaka, the system contracts, the CREATE2
// deployer) on chain 777 with key1's account funded and a predeploy; extra
// accounts make another genesis of the same chain id.
func writeGenesis(t *testing.T, extra ...common.Address) string {
	t.Helper()
	key, err := crypto.HexToECDSA(strings.TrimPrefix(key1, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	funded := crypto.PubkeyToAddress(key.PublicKey)
	g := core.DeveloperGenesisBlock(30_000_000, &funded)
	g.Config.ChainID = big.NewInt(777)
	g.Config.BogotaTime = nil // not a fork this node runs
	g.Alloc[genesisPredeploy] = types.Account{
		Code:    common.FromHex("0x60005460005260206000f3"), // return sload(0)
		Storage: map[common.Hash]common.Hash{{}: common.BigToHash(big.NewInt(42))},
		Balance: new(big.Int),
	}
	for _, a := range extra {
		g.Alloc[a] = types.Account{Balance: big.NewInt(1)}
	}
	data, err := json.MarshalIndent(g, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "genesis.json")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestCustomGenesis: a devnet, and a sequencer with its replica, start
// from a genesis.json with a predeploy that a forge script uses; a replica
// of another genesis is refused by the network.
func TestCustomGenesis(t *testing.T) {
	file := writeGenesis(t)
	cast, forge := tool(t, "cast"), tool(t, "forge")

	t.Run("devnet and a forge script", func(t *testing.T) {
		d := startDevnet(t, "--genesis", file)
		if got := run(t, "", cast, "chain-id", "--rpc-url", d.URL); got != "777" {
			t.Fatalf("chain id %s, want the file's 777", got)
		}
		if got := run(t, "", cast, "call", genesisPredeploy.Hex(), "--rpc-url", d.URL); !strings.HasSuffix(got, "2a") {
			t.Fatalf("predeploy answered %s, want 42", got)
		}
		if got := run(t, "", cast, "balance", addr0, "--rpc-url", d.URL); got != "10000000000000000000000" {
			t.Fatalf("dev account 0 holds %s, want the devnet's 10000 ETH", got)
		}
		dir := foundryProject(t)
		runEnv(t, dir, []string{"PREDEPLOY=" + genesisPredeploy.Hex()}, forge, "script", "script/Predeploy.s.sol:UsePredeploy",
			"--rpc-url", d.URL, "--broadcast", "--private-key", key1)
		if got := run(t, "", cast, "balance", genesisPredeploy.Hex(), "--rpc-url", d.URL); got != "1" {
			t.Fatalf("predeploy holds %s wei after the script, want 1", got)
		}
	})

	t.Run("flags the file decides are refused", func(t *testing.T) {
		out, err := exec.Command(meganodeBin(t), "devnet", "--http.port", "0", "--genesis", file, "--chain-id", "5").CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--chain-id cannot be given with --genesis") {
			t.Fatalf("devnet --genesis --chain-id: %v\n%s", err, out)
		}
		garbage := filepath.Join(t.TempDir(), "garbage.json")
		if err := os.WriteFile(garbage, []byte(`{"config": {"chainId": 7}, "alloc": `), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err = exec.Command(meganodeBin(t), "devnet", "--http.port", "0", "--genesis", garbage).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "--genesis "+garbage) || strings.Contains(string(out), "panic") {
			t.Fatalf("devnet --genesis of a truncated file: %v\n%s", err, out)
		}
	})

	t.Run("sequencer and replicas", func(t *testing.T) {
		n := startSequencer(t, "--genesis", file)
		seq, dir := n.seq, t.TempDir()
		replica := func(name, genesis string) *devnet {
			return startMeganode(t, "replica", "--genesis", genesis, "--datadir", filepath.Join(dir, name), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
				"--sequencer.address", crypto.PubkeyToAddress(n.seqKey.PublicKey).Hex(), "--sequencer.url", seq.URL, "--p2p.peers", seq.P2P)
		}
		good := replica("good", file)
		other := replica("other", writeGenesis(t, common.HexToAddress("0x0ddba11")))

		run(t, "", cast, "send", "0x000000000000000000000000000000000000beef", "--value", "1", "--private-key", key1, "--rpc-url", seq.URL)
		sc, rc := dial(t, seq.URL), dial(t, good.URL)
		want := waitBlock(t, "sequencer", sc, 1)
		if got := waitBlock(t, "replica", rc, 1); got.Hash != want.Hash {
			t.Fatalf("replica's block 1 is %s, the sequencer's %s", got.Hash, want.Hash)
		}
		deadline := time.Now().Add(20 * time.Second)
		for !strings.Contains(other.logs.String()+seq.logs.String(), "every node of a network needs the same genesis") {
			if time.Now().After(deadline) {
				t.Fatalf("no refusal of the replica of another genesis:\n%s", other.logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
		if h := headerAt(t, dial(t, other.URL), "latest"); h == nil || h.Number != 0 {
			t.Fatalf("the replica of another genesis is at %v, want its genesis", h)
		}
	})
}

// TestCustomGenesisNetwork: every role of a network, each its own process,
// starts from the same genesis.json; a forge script uses its predeploy
// through the sequencer, the replica and the full node serve the result,
// and the prover's attestations finalize it.
func TestCustomGenesisNetwork(t *testing.T) {
	file, cast, forge := writeGenesis(t), tool(t, "cast"), tool(t, "forge")
	dir := t.TempDir()
	seqKey, seqAddr := writeKey(t, dir, "sequencer.key")
	proverKey, proverAddr := writeKey(t, dir, "prover.key")
	fin := []string{"--genesis", file, "--prover.addresses", proverAddr.Hex(), "--finality.window", "1s"}
	seq := startMeganode(t, "sequencer", append([]string{"--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/0"}, fin...)...)
	prover := startMeganode(t, "prover", "--genesis", file, "--datadir", filepath.Join(dir, "prover"), "--prover.key", proverKey, "--sequencer.address", seqAddr.Hex(),
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P)
	var followers []*devnet
	for _, role := range []string{"replica", "fullnode"} {
		args := append([]string{"--datadir", filepath.Join(dir, role), "--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P,
			"--sequencer.address", seqAddr.Hex(), "--sequencer.url", seq.URL}, fin...)
		followers = append(followers, startMeganode(t, role, args...))
	}
	replica, full := followers[0], followers[1]

	project := foundryProject(t)
	runEnv(t, project, []string{"PREDEPLOY=" + genesisPredeploy.Hex()}, forge, "script", "script/Predeploy.s.sol:UsePredeploy",
		"--rpc-url", seq.URL, "--broadcast", "--private-key", key1)
	head := headerAt(t, dial(t, seq.URL), "latest")
	deadline := time.Now().Add(30 * time.Second)
	for _, d := range []*devnet{replica, full} {
		for {
			got := run(t, "", cast, "balance", genesisPredeploy.Hex(), "--block", "finalized", "--rpc-url", d.URL)
			if got == "1" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: the predeploy holds %s wei at the finalized block, want the script's 1\n%s", d.URL, got, d.logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if v := metric(t, prover, "meganode_prover_attested_total"); v < 1 {
		t.Fatalf("the prover attested %v blocks", v)
	}
	if v := metric(t, full, "meganode_fullnode_refused_blocks_total"); v != 0 {
		t.Fatalf("the full node refused %v blocks of the custom genesis", v)
	}
	if got, want := headerAt(t, dial(t, full.URL), hexutil.EncodeUint64(uint64(head.Number))), head; got == nil || got.Hash != want.Hash {
		t.Fatalf("the full node's block %d is %v, the sequencer's %s", head.Number, got, want.Hash)
	}
}

func dial(t *testing.T, url string) *gethrpc.Client {
	t.Helper()
	c, err := gethrpc.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// importableChain writes n blocks on the genesis in file as `geth export`
// would: each pays 0xbeef 1 wei from key1's account.
func importableChain(t *testing.T, file string, n int) string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var g core.Genesis
	if err := json.Unmarshal(data, &g); err != nil {
		t.Fatal(err)
	}
	key, err := crypto.HexToECDSA(strings.TrimPrefix(key1, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	signer := types.LatestSigner(g.Config)
	_, blocks, _ := core.GenerateChainWithGenesis(&g, beacon.New(ethash.NewFaker()), n, func(i int, b *core.BlockGen) {
		tx := types.MustSignNewTx(key, signer, &types.DynamicFeeTx{
			ChainID: g.Config.ChainID, Nonce: uint64(i), GasTipCap: big.NewInt(1), GasFeeCap: new(big.Int).Mul(b.BaseFee(), big.NewInt(2)),
			Gas: 21_000, To: &beef, Value: big.NewInt(1),
		})
		b.AddTx(tx)
	})
	path := filepath.Join(t.TempDir(), "chain.rlp")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, b := range blocks {
		if err := rlp.Encode(f, b); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

var beef = common.HexToAddress("0x000000000000000000000000000000000000beef")

// TestSequencerContinuesImport: `meganode import` writes a chain of a
// genesis file, and a sequencer started with that file on the same data
// directory continues it: its first block follows the imported head, and
// the imported state (a balance, a predeploy) stays readable.
func TestSequencerContinuesImport(t *testing.T) {
	const imported = 5
	file, cast := writeGenesis(t), tool(t, "cast")
	dir := filepath.Join(t.TempDir(), "data")
	out, err := exec.Command(meganodeBin(t), "import", "--log.format", "json", "--genesis", file, "--datadir", dir, importableChain(t, file, imported)).CombinedOutput()
	if err != nil {
		t.Fatalf("import: %v\n%s", err, out)
	}
	seq := startMeganode(t, "sequencer", "--genesis", file, "--datadir", dir, "--p2p.listen", "/ip4/127.0.0.1/tcp/0")
	url := seq.URL
	if got := run(t, "", cast, "block-number", "--rpc-url", url); got != fmt.Sprint(imported) {
		t.Fatalf("the sequencer starts at block %s, want the imported head %d", got, imported)
	}
	importedHead := headerAt(t, dial(t, url), hexutil.EncodeUint64(imported))
	if got := run(t, "", cast, "balance", beef.Hex(), "--rpc-url", url); got != fmt.Sprint(imported) {
		t.Fatalf("0xbeef holds %s wei, want the imported %d", got, imported)
	}
	if got := run(t, "", cast, "nonce", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8", "--rpc-url", url); got != fmt.Sprint(imported) {
		t.Fatalf("the sender's nonce is %s, want %d after the import", got, imported)
	}
	run(t, "", cast, "send", beef.Hex(), "--value", "1", "--private-key", key1, "--rpc-url", url)
	next := waitBlock(t, "sequencer", dial(t, url), imported+1)
	var parent struct {
		ParentHash common.Hash `json:"parentHash"`
	}
	if err := dial(t, url).Call(&parent, "eth_getBlockByNumber", next.Number, false); err != nil {
		t.Fatal(err)
	}
	if parent.ParentHash != importedHead.Hash {
		t.Fatalf("block %d's parent is %s, want the imported head %s", imported+1, parent.ParentHash, importedHead.Hash)
	}
	if got := run(t, "", cast, "balance", beef.Hex(), "--rpc-url", url); got != fmt.Sprint(imported+1) {
		t.Fatalf("0xbeef holds %s wei, want %d", got, imported+1)
	}
	if got := run(t, "", cast, "call", genesisPredeploy.Hex(), "--rpc-url", url); !strings.HasSuffix(got, "2a") {
		t.Fatalf("predeploy answered %s, want 42", got)
	}
	if got := run(t, "", cast, "balance", beef.Hex(), "--block", "3", "--rpc-url", url); got != "3" {
		t.Fatalf("0xbeef held %s wei at imported block 3, want 3", got)
	}

	// A replica of the same file joins: the imported blocks too come from
	// the sequencer.
	replica := startMeganode(t, "replica", "--genesis", file, "--datadir", t.TempDir(), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--sequencer.address", seq.Signer, "--sequencer.url", url, "--p2p.peers", seq.P2P)
	run(t, "", cast, "send", beef.Hex(), "--value", "1", "--private-key", key1, "--rpc-url", url)
	want := waitBlock(t, "sequencer", dial(t, url), imported+2)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("replica:\n%s\nsequencer:\n%s", replica.logs.String(), seq.logs.String())
		}
	})
	if got := waitBlock(t, "replica", dial(t, replica.URL), imported+2); got.Hash != want.Hash || got.StateRoot != want.StateRoot {
		t.Fatalf("replica's block %d is %s (root %s), the sequencer's %s (root %s)", imported+2, got.Hash, got.StateRoot, want.Hash, want.StateRoot)
	}
	if got := run(t, "", cast, "balance", beef.Hex(), "--block", "3", "--rpc-url", replica.URL); got != "3" {
		t.Fatalf("the replica says 0xbeef held %s wei at imported block 3, want 3", got)
	}
}
