package e2e

import (
	"context"
	"encoding/json"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/ethclient"
	"github.com/ethereum/go-ethereum/ethclient/gethclient"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/l1"
	"github.com/meganode/meganode/rpc"
)

// anvil's and Hardhat's first two test keys: funded on anvil; the test
// funds them on geth --dev.
const (
	l1DeployerKey = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
	l1UserKey     = "59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
)

// TestDepositsFromL1: with a real L1 (anvil 1.7.1, geth 1.17.5 --dev) the
// contracts are deployed by `meganode l1 deploy`, a sequencer started with
// --l1.url takes a deposit sent with `cast send` to the portal, and the
// L2 balance, the deposit transaction and its receipt are served through
// the gateway from a replica.
func TestDepositsFromL1(t *testing.T) {
	t.Run("anvil", func(t *testing.T) {
		// --slots-in-an-epoch 1: blocks are finalized at once, as the
		// issue's L1 is run; --block-time: the confirmations come.
		a := startAnvil(t, "--block-time", "1", "--slots-in-an-epoch", "1")
		depositThroughGateway(t, a.URL)
	})
	t.Run("geth", func(t *testing.T) {
		url := startGethDev(t)
		// geth --dev funds its own account only: it sends the test keys ETH.
		dev := run(t, "", tool(t, "cast"), "rpc", "--rpc-url", url, "eth_accounts")
		var accounts []common.Address
		if err := json.Unmarshal([]byte(dev), &accounts); err != nil || len(accounts) == 0 {
			t.Fatalf("geth dev accounts %q: %v", dev, err)
		}
		for _, k := range []string{l1DeployerKey, l1UserKey} {
			key, _ := crypto.HexToECDSA(k)
			run(t, "", tool(t, "cast"), "send", "--rpc-url", url, "--unlocked", "--from", accounts[0].Hex(),
				crypto.PubkeyToAddress(key.PublicKey).Hex(), "--value", "100ether")
		}
		depositThroughGateway(t, url)
	})
}

// TestL1DownKeepsProducing: a sequencer whose L1 does not answer goes on
// making blocks (without deposits) and says why in its log.
func TestL1DownKeepsProducing(t *testing.T) {
	net := startSequencer(t, "--l1.url", "http://127.0.0.1:1", "--l1.portal", "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512", "--l1.poll", "100ms")
	waitBlock(t, "sequencer with its L1 down", dial(t, net.seq.URL), 3)
	waitFor(t, "the L1 failure in the log", func() bool {
		return strings.Contains(net.seq.logs.String(), "L1 unreachable: no new deposits until it answers")
	})
}

func depositThroughGateway(t *testing.T, l1URL string) {
	start := time.Now()
	defer func() { t.Logf("took %s", time.Since(start)) }()
	out := run(t, "", meganodeBin(t), "l1", "deploy", "--l1.url", l1URL, "--private-key", l1DeployerKey)
	var dep struct {
		Portal     common.Address `json:"portal"`
		StartBlock uint64         `json:"startBlock"`
	}
	if err := json.Unmarshal([]byte(out), &dep); err != nil || dep.Portal == (common.Address{}) {
		t.Fatalf("meganode l1 deploy printed %q: %v", out, err)
	}
	t.Logf("deployed at %s", time.Since(start))
	net := startSequencer(t, "--l1.url", l1URL, "--l1.portal", dep.Portal.Hex(), "--l1.start-block", strconv.FormatUint(dep.StartBlock, 10),
		"--l1.confirmations", "1", "--l1.poll", "200ms")
	// The replica checks every block's deposits against the same L1.
	rep := startMeganode(t, "replica", "--datadir", t.TempDir(), "--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", net.seq.P2P,
		"--sequencer.address", crypto.PubkeyToAddress(net.seqKey.PublicKey).Hex(), "--sequencer.url", net.seq.URL,
		"--l1.url", l1URL, "--l1.portal", dep.Portal.Hex(), "--l1.start-block", strconv.FormatUint(dep.StartBlock, 10),
		"--l1.confirmations", "1", "--l1.poll", "200ms")
	gw := startMeganode(t, "gateway", "--sequencer", net.seq.URL, "--replica", rep.URL)

	t.Logf("network up at %s", time.Since(start))
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	to := crypto.PubkeyToAddress(key.PublicKey) // empty on L2
	// depositTransaction(to, value, gasLimit, isCreation, data), minting 1 ETH
	r := run(t, "", tool(t, "cast"), "send", "--json", "--rpc-url", l1URL, "--private-key", l1UserKey, dep.Portal.Hex(),
		"depositTransaction(address,uint256,uint64,bool,bytes)", to.Hex(), "1000000000000000000", "100000", "false", "0x", "--value", "1ether")
	var sent struct {
		TransactionHash common.Hash `json:"transactionHash"`
		Status          string      `json:"status"`
	}
	if err := json.Unmarshal([]byte(r), &sent); err != nil || sent.Status != "0x1" {
		t.Fatalf("cast send to the portal: %s (%v)", r, err)
	}
	sentAt := time.Now()
	ctx := context.Background()
	l1c, err := ethclient.Dial(l1URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l1c.Close()
	receipt, err := l1c.TransactionReceipt(ctx, sent.TransactionHash)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := l1.DepositsFromReceipt(receipt, dep.Portal)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deposits in the L1 receipt: %d (%v)", len(ds), err)
	}
	l2Hash := ds[0].Hash()

	c := dial(t, gw.URL)
	want := big.NewInt(1e18)
	waitFor(t, "the deposit's balance through the gateway", func() bool {
		var bal hexutil.Big
		return c.Call(&bal, "eth_getBalance", to, "latest") == nil && bal.ToInt().Cmp(want) == 0
	})
	t.Logf("L2 balance visible through the gateway %s after the L1 receipt (L1 block %d, 1 confirmation)", time.Since(sentAt).Round(time.Millisecond), receipt.BlockNumber)
	var rc map[string]any
	waitFor(t, "the deposit's receipt through the gateway", func() bool {
		return c.Call(&rc, "eth_getTransactionReceipt", l2Hash) == nil && rc != nil
	})
	if rc["type"] != "0x7e" || rc["status"] != "0x1" || rc["transactionIndex"] != "0x0" {
		t.Fatalf("deposit receipt through the gateway: %v", rc)
	}
	var tx map[string]any
	if err := dial(t, rep.URL).Call(&tx, "eth_getTransactionByHash", l2Hash); err != nil || tx == nil {
		t.Fatalf("replica has no deposit %s: %v", l2Hash, err)
	}
	if tx["sourceHash"] != ds[0].SourceHash.Hex() || tx["mint"] != "0xde0b6b3a7640000" {
		t.Fatalf("replica's deposit %v, want source hash %s", tx, ds[0].SourceHash)
	}
	// The receipt may be the preconfirmed one (the deposit's first
	// mini-block): its block is compared once both have sealed it.
	block := rc["blockNumber"].(string)
	waitFor(t, "the deposit's block sealed on the replica", func() bool { return headerAt(t, dial(t, rep.URL), block) != nil })
	if s, r := headerAt(t, dial(t, net.seq.URL), block), headerAt(t, dial(t, rep.URL), block); s == nil || r == nil || s.Hash != r.Hash {
		t.Fatalf("block %s: sequencer %+v, replica %+v", block, s, r)
	}
}

var gethHTTPRe = regexp.MustCompile(`HTTP server started\s+endpoint=(127\.0\.0\.1:\d+)`)

// startGethDev runs bin/geth-v1.17.5 (built by make, as the gethdiff suite
// uses it) in --dev mode with a block a second, on ephemeral ports.
func startGethDev(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	bin := filepath.Join(filepath.Dir(file), "..", "bin", "geth-v1.17.5")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("geth 1.17.5 not built (run `make bin/geth-v1.17.5`): %v", err)
	}
	cmd := exec.Command(bin, "--dev", "--dev.period", "1", "--datadir", t.TempDir(), "--ipcdisable", "--port", "0", "--nodiscover", "--maxpeers", "0",
		"--http", "--http.addr", "127.0.0.1", "--http.port", "0", "--http.api", "eth,net,web3", "--authrpc.port", "0", "--verbosity", "3")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + startListening(t, "geth", cmd, stderr, gethHTTPRe)
	// geth logs its HTTP endpoint as it opens it; the test's first call
	// waits until the endpoint answers (a refused connection in CI).
	waitFor(t, "geth --dev answering on "+url, func() bool {
		c, err := ethclient.Dial(url)
		if err != nil {
			return false
		}
		defer c.Close()
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, err = c.ChainID(ctx)
		return err == nil
	})
	return url
}

// TestWithdrawalToL1: with anvil as the L1, a full node proposes the output
// roots its prover proved; a withdrawal started on L2 (cast send to the
// message passer) is proven on L1 with the full node's eth_getProof and
// finalized after a short window, paying the target from the portal.
func TestWithdrawalToL1(t *testing.T) {
	a := startAnvil(t, "--block-time", "1", "--slots-in-an-epoch", "1")
	dir := t.TempDir()
	proposerKey := filepath.Join(dir, "proposer.key")
	const anvilKey2 = "5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a"
	if err := os.WriteFile(proposerKey, []byte(anvilKey2), 0o600); err != nil {
		t.Fatal(err)
	}
	pk, _ := crypto.HexToECDSA(anvilKey2)
	out := run(t, "", meganodeBin(t), "l1", "deploy", "--l1.url", a.URL, "--private-key", l1DeployerKey, "--proposer", crypto.PubkeyToAddress(pk.PublicKey).Hex(),
		"--submission-interval", "1", "--finalization-period", "2s", "--proof-maturity-delay", "2s")
	var dep l1.Addresses
	if err := json.Unmarshal([]byte(out), &dep); err != nil || dep.OutputOracle == (common.Address{}) {
		t.Fatalf("meganode l1 deploy printed %q: %v", out, err)
	}
	seqKey, seqAddr := writeKey(t, dir, "sequencer.key")
	proverKey, proverAddr := writeKey(t, dir, "prover.key")
	fin := []string{"--prover.addresses", proverAddr.Hex(), "--finality.window", "1s"}
	seq := startMeganode(t, "sequencer", append([]string{"--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--l1.url", a.URL, "--l1.portal", dep.Portal.Hex()}, fin...)...)
	startMeganode(t, "prover", "--datadir", filepath.Join(dir, "prover"), "--prover.key", proverKey, "--sequencer.address", seqAddr.Hex(),
		"--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P)
	full := startMeganode(t, "fullnode", append([]string{"--datadir", filepath.Join(dir, "full"), "--p2p.listen", "/ip4/127.0.0.1/tcp/0", "--p2p.peers", seq.P2P,
		"--sequencer.address", seqAddr.Hex(), "--sequencer.url", seq.URL,
		"--l1.url", a.URL, "--l1.output-oracle", dep.OutputOracle.Hex(), "--l1.proposer-key", proposerKey}, fin...)...)

	// The portal pays withdrawals from deposits: 2 ETH in.
	run(t, "", tool(t, "cast"), "send", "--rpc-url", a.URL, "--private-key", l1UserKey, dep.Portal.Hex(), "--value", "2ether")
	// On L2: initiateWithdrawal(target, 100000, "") with 1 ETH.
	target := common.HexToAddress("0x00000000000000000000000000000000000dead1")
	r := run(t, "", tool(t, "cast"), "send", "--json", "--rpc-url", seq.URL, "--private-key", key0, "0x4200000000000000000000000000000000000016",
		"initiateWithdrawal(address,uint256,bytes)", target.Hex(), "100000", "0x", "--value", "1ether")
	var sent struct {
		TransactionHash common.Hash `json:"transactionHash"`
	}
	if err := json.Unmarshal([]byte(r), &sent); err != nil {
		t.Fatalf("cast send to the message passer: %s (%v)", r, err)
	}
	ctx := context.Background()
	l2, err := ethclient.Dial(full.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	var w *l1.Withdrawal
	var block uint64
	waitFor(t, "the withdrawal on the full node", func() bool {
		rc, err := l2.TransactionReceipt(ctx, sent.TransactionHash)
		if err != nil || rc.Status != 1 || len(rc.Logs) != 1 {
			return false
		}
		w, _, err = l1.WithdrawalFromLog(rc.Logs[0])
		block = rc.BlockNumber.Uint64()
		return err == nil
	})
	l1c, err := ethclient.Dial(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l1c.Close()
	lc, err := l1.NewClient(ctx, l1c, dep)
	if err != nil {
		t.Fatal(err)
	}
	var index uint64
	var output *l1.Output
	waitFor(t, "the full node's output root on L1 covering the withdrawal", func() bool {
		var err error
		if index, err = lc.L2OutputIndexAfter(ctx, block); err != nil {
			return false
		}
		output, err = lc.L2Output(ctx, index)
		return err == nil
	})
	oh, err := l2.HeaderByNumber(ctx, new(big.Int).SetUint64(output.L2BlockNumber))
	if err != nil {
		t.Fatal(err)
	}
	res, err := gethclient.New(dial(t, full.URL)).GetProof(ctx, chain.MessagePasser, []string{w.StorageSlot().Hex()}, oh.Number)
	if err != nil {
		t.Fatal(err)
	}
	pre := l1.OutputRootProof{StateRoot: oh.Root, MessagePasserStorageRoot: res.StorageHash, LatestBlockhash: oh.Hash()}
	if pre.Root() != output.OutputRoot {
		t.Fatalf("output %d on L1 is %s; the full node's block %d gives %s", index, output.OutputRoot, output.L2BlockNumber, pre.Root())
	}
	proof := make([][]byte, len(res.StorageProof[0].Proof))
	for i, p := range res.StorageProof[0].Proof {
		proof[i] = common.FromHex(p)
	}
	uk, _ := crypto.HexToECDSA(l1UserKey)
	if _, err := lc.ProveWithdrawal(ctx, lc.Transactor(uk), w, index, pre, proof); err != nil {
		t.Fatalf("prove on L1: %v", err)
	}
	waitFor(t, "the withdrawal finalized on L1", func() bool {
		_, err := lc.FinalizeWithdrawal(ctx, lc.Transactor(uk), w)
		return err == nil
	})
	if got, err := l1c.BalanceAt(ctx, target, nil); err != nil || got.Cmp(big.NewInt(1e18)) != 0 {
		t.Fatalf("target's L1 balance %s (%v), want 1 ETH", got, err)
	}
	if n := metric(t, full, "meganode_l1_outputs_proposed_total"); n < 1 {
		t.Fatalf("full node proposed %v outputs", n)
	}
	// op-node's sync status names the L1 the full node read and the L1
	// origin of its blocks: the deposit above came from L1.
	var st rpc.SyncStatus
	if err := dial(t, full.URL).Call(&st, "optimism_syncStatus"); err != nil {
		t.Fatal(err)
	}
	l1Head, err := l1c.HeaderByNumber(ctx, new(big.Int).SetUint64(st.HeadL1.Number))
	if err != nil || st.HeadL1.Hash != l1Head.Hash() || st.HeadL1.Time != l1Head.Time || st.CurrentL1.Number == 0 {
		t.Fatalf("head_l1 %+v, current_l1 %+v: want anvil's block %d (%v)", st.HeadL1, st.CurrentL1, st.HeadL1.Number, err)
	}
	if st.FinalizedL1.Number == 0 || st.FinalizedL1.Number > st.HeadL1.Number || st.SafeL1.Number < st.FinalizedL1.Number {
		t.Fatalf("finalized_l1 %d, safe_l1 %d, head_l1 %d", st.FinalizedL1.Number, st.SafeL1.Number, st.HeadL1.Number)
	}
	if o := st.UnsafeL2.L1Origin; o.Number == 0 || o.Number > st.HeadL1.Number {
		t.Fatalf("unsafe_l2 %+v: want an L1 origin at or below L1 block %d", st.UnsafeL2, st.HeadL1.Number)
	}
}

// TestDeriveFromL1AndDA: a sequencer posts every block to DA and records
// each blob in the L1 inbox (anvil); a replica and a full node given only
// the L1 and the DA layer (no peers, no index but the inbox) rebuild the
// chain, a deposit's block included, with the sequencer's block hashes, and
// no block is safe before its blob is recorded on L1.
func TestDeriveFromL1AndDA(t *testing.T) {
	a := startAnvil(t, "--block-time", "1", "--slots-in-an-epoch", "1")
	dir := t.TempDir()
	batcherKey := filepath.Join(dir, "batcher.key")
	const anvilKey3 = "7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6"
	if err := os.WriteFile(batcherKey, []byte(anvilKey3), 0o600); err != nil {
		t.Fatal(err)
	}
	bk, _ := crypto.HexToECDSA(anvilKey3)
	out := run(t, "", meganodeBin(t), "l1", "deploy", "--l1.url", a.URL, "--private-key", l1DeployerKey, "--batcher", crypto.PubkeyToAddress(bk.PublicKey).Hex())
	var dep struct {
		l1.Addresses
		StartBlock uint64 `json:"startBlock"`
	}
	if err := json.Unmarshal([]byte(out), &dep); err != nil || dep.DAInbox == (common.Address{}) {
		t.Fatalf("meganode l1 deploy printed %q: %v", out, err)
	}
	start := strconv.FormatUint(dep.StartBlock, 10)
	da := startMeganode(t, "da", "--port", "0", "--datadir", filepath.Join(dir, "da"))
	seqKey, seqAddr := writeKey(t, dir, "sequencer.key")
	_, proverAddr := writeKey(t, dir, "prover.key") // no prover runs: the nodes keep a finality ladder all the same
	seq := startMeganode(t, "sequencer", "--datadir", filepath.Join(dir, "seq"), "--sequencer.key", seqKey, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--da.url", da.URL, "--l1.url", a.URL, "--l1.portal", dep.Portal.Hex(), "--l1.start-block", start,
		"--l1.da-inbox", dep.DAInbox.Hex(), "--l1.batcher-key", batcherKey, "--l1.poll", "200ms", "--prover.addresses", proverAddr.Hex())

	// A deposit and some transfers.
	sentJSON := run(t, "", tool(t, "cast"), "send", "--json", "--rpc-url", a.URL, "--private-key", l1UserKey, dep.Portal.Hex(), "--value", "3ether")
	var sent struct {
		TransactionHash common.Hash `json:"transactionHash"`
	}
	if err := json.Unmarshal([]byte(sentJSON), &sent); err != nil {
		t.Fatal(err)
	}
	c := seq.client(t)
	key := mustKey(t, key0)
	var last common.Hash
	for i := range 5 {
		last = sendTransfer(t, c, key, uint64(i), "0x00000000000000000000000000000000000da001", big.NewInt(1e9))
	}
	l1c, err := ethclient.Dial(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer l1c.Close()
	l1r, err := l1c.TransactionReceipt(context.Background(), sent.TransactionHash)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := l1.DepositsFromReceipt(l1r, dep.Portal)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deposits in the L1 receipt: %d (%v)", len(ds), err)
	}
	var target uint64
	waitFor(t, "the deposit and the transfers sealed, posted and recorded on L1", func() bool {
		var dr, tr struct {
			BlockNumber hexutil.Uint64 `json:"blockNumber"`
		}
		if c.Call(&dr, "eth_getTransactionReceipt", ds[0].Hash()) != nil || c.Call(&tr, "eth_getTransactionReceipt", last) != nil || dr.BlockNumber == 0 || tr.BlockNumber == 0 {
			return false
		}
		target = uint64(max(dr.BlockNumber, tr.BlockNumber))
		return metric(t, seq, "meganode_l1_blobs_recorded_total") > 0 && postedUpTo(t, seq) > target
	})
	lc, err := l1.NewClient(context.Background(), l1c, dep.Addresses)
	if err != nil {
		t.Fatal(err)
	}
	follower := func(role, name string) *devnet {
		return startMeganode(t, role, "--datadir", filepath.Join(dir, name), "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
			"--sequencer.address", seqAddr.Hex(), "--sequencer.url", "http://127.0.0.1:1", // nothing is read from the sequencer
			"--da.url", da.URL, "--sync-from-da", "--l1.url", a.URL, "--l1.da-inbox", dep.DAInbox.Hex(), "--l1.start-block", start, "--l1.poll", "200ms",
			"--prover.addresses", proverAddr.Hex())
	}
	derived, full := follower("replica", "derived"), follower("fullnode", "full")
	waitFor(t, "the L1+DA replica and full node at the transfers' block", func() bool {
		return blockNumber(t, derived) >= target && blockNumber(t, full) >= target
	})
	var deposits int
	for n := uint64(1); n <= target; n++ {
		var blocks [3]struct {
			Hash         common.Hash      `json:"hash"`
			StateRoot    common.Hash      `json:"stateRoot"`
			Transactions []map[string]any `json:"transactions"`
		}
		for i, d := range []*devnet{seq, derived, full} {
			if err := d.client(t).Call(&blocks[i], "eth_getBlockByNumber", hexutil.EncodeUint64(n), true); err != nil {
				t.Fatal(err)
			}
		}
		if blocks[1].Hash != blocks[0].Hash || blocks[2].Hash != blocks[0].Hash || blocks[1].StateRoot != blocks[0].StateRoot {
			t.Fatalf("block %d: sequencer %s, L1+DA replica %s, L1+DA full node %s", n, blocks[0].Hash, blocks[1].Hash, blocks[2].Hash)
		}
		for _, tx := range blocks[1].Transactions {
			if tx["type"] == "0x7e" {
				deposits++
			}
		}
	}
	if deposits != 1 {
		t.Fatalf("the L1+DA replica's blocks hold %d deposits, want 1", deposits)
	}
	// Safe never runs ahead of the inbox.
	var safe struct {
		Number hexutil.Uint64 `json:"number"`
	}
	if err := full.client(t).Call(&safe, "eth_getBlockByNumber", "safe", false); err != nil {
		t.Fatal(err)
	}
	head, _ := l1c.BlockNumber(context.Background())
	records, err := lc.BlobRecords(context.Background(), dep.StartBlock, head)
	if err != nil || len(records) == 0 {
		t.Fatalf("inbox records: %d (%v)", len(records), err)
	}
	if last := records[len(records)-1].Last; uint64(safe.Number) > last {
		t.Fatalf("full node's safe head %d is past the inbox's last record %d", safe.Number, last)
	}
	// mega_getFinality names the inbox record behind a block: on the full
	// node, which read it from L1, and on the sequencer, which sent it.
	rec := records[0]
	for _, d := range []*devnet{full, seq} {
		var f rpc.Finality
		if err := d.client(t).Call(&f, "mega_getFinality", hexutil.EncodeUint64(rec.Last)); err != nil {
			t.Fatal(err)
		}
		if f.Inbox == nil || uint64(f.Inbox.Seq) != 1 || uint64(f.Inbox.L1BlockNumber) != rec.L1BlockNumber || f.Inbox.TransactionHash != rec.L1TxHash {
			t.Fatalf("%s: mega_getFinality(%d).inbox %+v, want blob 1's record in L1 block %d, tx %s", d.URL, rec.Last, f.Inbox, rec.L1BlockNumber, rec.L1TxHash)
		}
	}
}

// TestCensoredDepositForcedIn: a devnet on anvil whose sequencer censors
// every deposit (--dev.censor-deposits: it never moves its L1 cursor). A
// deposit sent with `cast send` breaks no rule until the sequencing window
// passes; then the full node replaces the sequencer's block by the block
// that forces it in: the balance is on the full node and not on the
// sequencer, and the full node's /ready names the replaced block.
func TestCensoredDepositForcedIn(t *testing.T) {
	a := startAnvil(t, "--block-time", "1", "--slots-in-an-epoch", "1")
	d := startDevnet(t, "--l1.url", a.URL, "--l1.poll", "200ms", "--dev.censor-deposits", "--l1.sequencing-window", "3s")
	var portal common.Address
	waitFor(t, "the devnet deploying its contracts on anvil", func() bool {
		m := regexp.MustCompile(`"portal":"(0x[0-9a-fA-F]{40})"`).FindStringSubmatch(d.logs.String())
		if m != nil {
			portal = common.HexToAddress(m[1])
		}
		return m != nil
	})
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	to := crypto.PubkeyToAddress(key.PublicKey)
	r := run(t, "", tool(t, "cast"), "send", "--json", "--rpc-url", a.URL, "--private-key", l1UserKey, portal.Hex(),
		"depositTransaction(address,uint256,uint64,bool,bytes)", to.Hex(), "1000000000000000000", "100000", "false", "0x", "--value", "1ether")
	if !strings.Contains(r, `"status":"0x1"`) {
		t.Fatalf("cast send to the portal: %s", r)
	}
	sentAt := time.Now()
	full, seq := dial(t, d.FullNodeURL), dial(t, d.URL)
	balance := func(c interface {
		Call(any, string, ...any) error
	}) *big.Int {
		var bal hexutil.Big
		if err := c.Call(&bal, "eth_getBalance", to, "latest"); err != nil {
			return nil
		}
		return bal.ToInt()
	}
	want := big.NewInt(1e18)
	waitFor(t, "the full node forcing the deposit in", func() bool {
		b := balance(full)
		return b != nil && b.Cmp(want) == 0
	})
	t.Logf("forced in on the full node %s after the L1 receipt (window 3 s)", time.Since(sentAt).Round(time.Millisecond))
	if b := balance(seq); b == nil || b.Sign() != 0 {
		t.Fatalf("the censoring sequencer shows %v for %s", b, to)
	}
	status, reason := ready(t, &devnet{URL: d.FullNodeURL})
	if status != 503 || !strings.Contains(reason, "replaced by the block the deposit rules force") || !strings.Contains(reason, "sequencing window") {
		t.Fatalf("full node /ready: %d %q, want 503 naming the forced block and the window", status, reason)
	}
	// The replica checks the same rules and stops before that block.
	waitFor(t, "the replica halting", func() bool { status, _ := ready(t, &devnet{URL: d.ReplicaURL}); return status == 503 })
	if _, reason := ready(t, &devnet{URL: d.ReplicaURL}); !strings.Contains(reason, "breaks the deposit rules") {
		t.Fatalf("replica /ready reason %q, want the deposit rule", reason)
	}
	// The sequencer's later blocks are re-derived on the forced chain.
	head := func(c interface {
		Call(any, string, ...any) error
	}) uint64 {
		var n hexutil.Uint64
		_ = c.Call(&n, "eth_blockNumber")
		return uint64(n)
	}
	at := head(full)
	waitFor(t, "the full node following the sequencer's height", func() bool { return head(full) >= at+2 })
}
