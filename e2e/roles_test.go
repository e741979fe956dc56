package e2e

import (
	"context"
	"crypto/ecdsa"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/holiman/uint256"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	gethrpc "github.com/ethereum/go-ethereum/rpc"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
)

const chainID = 4747

// network is a sequencer with followers, each its own process, wired as
// docs/operations.md describes.
type network struct {
	seqKey  *ecdsa.PrivateKey
	keyFile string
	dataDir string
	seq     *devnet
}

// startSequencer starts a sequencer process with its own key and data
// directory; extra are more flags.
func startSequencer(t *testing.T, extra ...string) *network {
	t.Helper()
	key, err := crypto.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "sequencer.key")
	if err := os.WriteFile(keyFile, []byte(hexutil.Encode(crypto.FromECDSA(key))[2:]), 0o600); err != nil {
		t.Fatal(err)
	}
	seq := startMeganode(t, "sequencer", append([]string{"--datadir", filepath.Join(dir, "data"), "--sequencer.key", keyFile, "--p2p.listen", "/ip4/127.0.0.1/tcp/0"}, extra...)...)
	if want := crypto.PubkeyToAddress(key.PublicKey).Hex(); seq.Signer != want || seq.P2P == "" {
		t.Fatalf("sequencer printed signer %q and p2p %q, want signer %s", seq.Signer, seq.P2P, want)
	}
	return &network{seqKey: key, keyFile: keyFile, dataDir: filepath.Join(dir, "data"), seq: seq}
}

// follower starts a replica or full node on datadir, peered with peers.
func (n *network) follower(t *testing.T, role, datadir string, peers ...string) *devnet {
	t.Helper()
	args := []string{"--datadir", datadir, "--p2p.listen", "/ip4/127.0.0.1/tcp/0",
		"--sequencer.address", crypto.PubkeyToAddress(n.seqKey.PublicKey).Hex(), "--sequencer.url", n.seq.URL}
	for _, p := range peers {
		args = append(args, "--p2p.peers", p)
	}
	return startMeganode(t, role, args...)
}

type header struct {
	Number    hexutil.Uint64 `json:"number"`
	Hash      common.Hash    `json:"hash"`
	StateRoot common.Hash    `json:"stateRoot"`
}

// headerAt returns the sealed block at tag, or nil (also for the block in
// progress, which has no hash yet).
func headerAt(t *testing.T, c *gethrpc.Client, tag string) *header {
	t.Helper()
	var h *struct {
		Number    hexutil.Uint64 `json:"number"`
		Hash      *common.Hash   `json:"hash"`
		StateRoot common.Hash    `json:"stateRoot"`
	}
	if err := c.Call(&h, "eth_getBlockByNumber", tag, false); err != nil {
		t.Fatal(err)
	}
	if h == nil || h.Hash == nil {
		return nil
	}
	return &header{Number: h.Number, Hash: *h.Hash, StateRoot: h.StateRoot}
}

// waitBlock polls a node (another process) until it has block n.
func waitBlock(t *testing.T, name string, c *gethrpc.Client, n uint64) *header {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if h := headerAt(t, c, hexutil.EncodeUint64(n)); h != nil {
			return h
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never reached block %d", name, n)
	return nil
}

// metric reads one value from a node's /metrics.
func metric(t testing.TB, d *devnet, name string) float64 {
	t.Helper()
	resp, err := http.Get(d.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
	if m == nil {
		t.Fatalf("no %s in /metrics:\n%s", name, body)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

func waitMetric(t testing.TB, d *devnet, name string, atLeast float64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if metric(t, d, name) >= atLeast {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s stayed below %v\n%s", name, atLeast, d.logs.String())
}

func TestSeparateRoles(t *testing.T) {
	net := startSequencer(t)
	dirB := t.TempDir()
	repA := net.follower(t, "replica", t.TempDir(), net.seq.P2P)
	repB := net.follower(t, "replica", dirB, net.seq.P2P)
	dirF := t.TempDir()
	full := net.follower(t, "fullnode", dirF, net.seq.P2P)
	nodes := map[string]*devnet{"sequencer": net.seq, "replica A": repA, "replica B": repB, "full node": full}
	clients := map[string]*gethrpc.Client{}
	for name, d := range nodes {
		clients[name] = d.client(t)
	}
	cast := tool(t, "cast")

	// Transfers and a deployment, all sent through replica A.
	key := mustKey(t, key0)
	var txs []common.Hash
	for i := uint64(0); i < 3; i++ {
		txs = append(txs, sendTransfer(t, clients["replica A"], key, i, addr3, big.NewInt(params.Ether)))
	}
	out := run(t, "", cast, "send", "--rpc-url", repA.URL, "--private-key", key1, "--json", "--create", "0x602a60015560006000a0600a6016600039600a6000f33360005560006000a000")
	var deployed struct {
		TransactionHash common.Hash    `json:"transactionHash"`
		ContractAddress common.Address `json:"contractAddress"`
		Status          string         `json:"status"`
	}
	if err := json.Unmarshal([]byte(out), &deployed); err != nil || deployed.Status != "0x1" {
		t.Fatalf("cast send --create through the replica: %v\n%s", err, out)
	}
	txs = append(txs, deployed.TransactionHash)
	last := waitReceipt(t, clients["sequencer"], deployed.TransactionHash, true)

	agree := func(upTo uint64, names ...string) {
		t.Helper()
		for n := uint64(1); n <= upTo; n++ {
			want := waitBlock(t, "sequencer", clients["sequencer"], n)
			for _, name := range names {
				got := waitBlock(t, name, clients[name], n)
				if got.Hash != want.Hash || got.StateRoot != want.StateRoot {
					t.Fatalf("%s block %d = %s (root %s), sequencer's %s (root %s)", name, n, got.Hash, got.StateRoot, want.Hash, want.StateRoot)
				}
			}
		}
		// Each node's own state at upTo, not only the header it stores: a
		// proof of addr3 is read from the node's trie.
		var want json.RawMessage
		if err := clients["sequencer"].Call(&want, "eth_getProof", addr3, []string{}, hexutil.EncodeUint64(upTo)); err != nil {
			t.Fatal(err)
		}
		for _, name := range names {
			var got json.RawMessage
			if err := clients[name].Call(&got, "eth_getProof", addr3, []string{}, hexutil.EncodeUint64(upTo)); err != nil {
				t.Fatalf("%s eth_getProof at block %d: %v", name, upTo, err)
			}
			if string(got) != string(want) {
				t.Fatalf("%s proof of %s at block %d:\n%s\nsequencer's:\n%s", name, addr3, upTo, got, want)
			}
		}
		for _, h := range txs {
			var want json.RawMessage
			if err := clients["sequencer"].Call(&want, "eth_getTransactionReceipt", h); err != nil {
				t.Fatal(err)
			}
			for _, name := range names {
				var got json.RawMessage
				if err := clients[name].Call(&got, "eth_getTransactionReceipt", h); err != nil {
					t.Fatal(err)
				}
				if string(got) != string(want) {
					t.Fatalf("%s receipt of %s:\n%s\nsequencer's:\n%s", name, h, got, want)
				}
			}
		}
	}
	agree(uint64(last.BlockNumber), "replica A", "replica B", "full node")

	// A refused tx: the replica answers what the sequencer answers.
	stale := staleTransfer(t, key)
	var seqErr, repErr gethrpc.Error
	for name, e := range map[string]*gethrpc.Error{"sequencer": &seqErr, "replica A": &repErr} {
		var h common.Hash
		err := clients[name].Call(&h, "eth_sendRawTransactionSync", stale)
		if !errors.As(err, e) {
			t.Fatalf("%s accepted a replayed nonce: %v", name, err)
		}
	}
	if seqErr.Error() != repErr.Error() || seqErr.ErrorCode() != repErr.ErrorCode() {
		t.Fatalf("replica forwarded %d %q, sequencer says %d %q", repErr.ErrorCode(), repErr, seqErr.ErrorCode(), seqErr)
	}
	var code hexutil.Bytes
	if err := clients["replica B"].Call(&code, "eth_getCode", deployed.ContractAddress, "latest"); err != nil || len(code) != 10 {
		t.Fatalf("replica B code at %s: %x, %v", deployed.ContractAddress, code, err)
	}
	var ready struct{ Status string }
	getJSON(t, full.URL+"/ready", &ready)
	if ready.Status != "ready" {
		t.Fatalf("full node /ready %q", ready.Status)
	}

	// Processes restarted in a subtest live as long as the whole test.
	outer := t
	// restart kills a follower with -9, seals three transfers from nonce
	// while it is down, starts it again on its data directory and checks
	// that it agrees with the sequencer, and so do the others.
	restart := func(t *testing.T, d **devnet, name, role, dir string, nonce uint64, others ...string) {
		(*d).kill(syscall.SIGKILL)
		for i := nonce; i < nonce+3; i++ {
			txs = append(txs, sendTransfer(t, clients["replica A"], key, i, addr3, big.NewInt(params.Ether)))
		}
		r := waitReceipt(t, clients["sequencer"], txs[len(txs)-1], true)
		*d = net.follower(outer, role, dir, net.seq.P2P)
		clients[name] = (*d).client(outer)
		agree(uint64(r.BlockNumber), append(others, name)...)
	}
	t.Run("replica killed and restarted catches up", func(t *testing.T) {
		restart(t, &repB, "replica B", "replica", dirB, 3, "full node")
	})
	t.Run("full node killed and restarted catches up", func(t *testing.T) {
		restart(t, &full, "full node", "fullnode", dirF, 6, "replica A", "replica B")
	})

	t.Run("sequencer killed and restarted, followers resume", func(t *testing.T) {
		// Same data directory, key and addresses: followers re-dial it.
		p2pPort := regexp.MustCompile(`/tcp/(\d+)/`).FindStringSubmatch(net.seq.P2P)[1]
		httpPort := net.seq.URL[strings.LastIndex(net.seq.URL, ":")+1:]
		net.seq.kill(syscall.SIGKILL)
		net.seq = startMeganode(outer, "sequencer", "--datadir", net.dataDir, "--sequencer.key", net.keyFile,
			"--p2p.listen", "/ip4/127.0.0.1/tcp/"+p2pPort, "--http.port", httpPort)
		clients["sequencer"] = net.seq.client(outer)
		var nonce hexutil.Uint64
		if err := clients["replica A"].Call(&nonce, "eth_getTransactionCount", addr0, "pending"); err != nil {
			t.Fatal(err)
		}
		txs = append(txs, sendTransfer(t, clients["replica A"], key, uint64(nonce), addr3, big.NewInt(params.Ether)))
		r := waitReceipt(t, clients["sequencer"], txs[len(txs)-1], true)
		agree(uint64(r.BlockNumber), "replica A", "replica B", "full node")
	})

	t.Run("message signed by the wrong key is rejected", func(t *testing.T) {
		wrong, _ := crypto.GenerateKey()
		forger := testNode(t, map[p2p.Kind]common.Address{p2p.Blocks: crypto.PubkeyToAddress(wrong.PublicKey)}, repA.P2P)
		before := metric(t, repA, "meganode_p2p_rejected_messages_total")
		m := fetchBlock(t, net, 1)
		publish(t, forger, wrong, p2p.Blocks, m, repA.P2P)
		waitMetric(t, repA, "meganode_p2p_rejected_messages_total", before+1)
	})

	t.Run("tampered state diff is refused by replica and full node", func(t *testing.T) {
		// A replica and a full node whose only peer is the test: what they
		// get is what it sends, signed with the real sequencer key.
		seqAddr := crypto.PubkeyToAddress(net.seqKey.PublicKey)
		feeder := testNode(t, map[p2p.Kind]common.Address{p2p.Blocks: seqAddr, p2p.Witnesses: seqAddr})
		isoRep := net.follower(t, "replica", t.TempDir(), feeder.Addrs()[0])
		isoFull := net.follower(t, "fullnode", t.TempDir(), feeder.Addrs()[0])
		clients["isolated replica"], clients["isolated full node"] = isoRep.client(t), isoFull.client(t)
		genuine, witness := fetchBlock(t, net, 1), fetchWitness(t, net, 1)
		tampered := *genuine.Bundle
		diff := *tampered.StateDiff
		diff.Accounts = append([]chain.AccountChange(nil), diff.Accounts...)
		diff.Accounts[0].Balance = new(uint256.Int).AddUint64(diff.Accounts[0].Balance, 1)
		tampered.StateDiff = &diff
		bad := &chain.BlockMessage{Bundle: &tampered, MiniBlockCount: genuine.MiniBlockCount, Senders: genuine.Senders}

		publish(t, feeder, net.seqKey, p2p.Witnesses, witness, isoFull.P2P)
		publish(t, feeder, net.seqKey, p2p.Blocks, bad, isoRep.P2P, isoFull.P2P)
		waitMetric(t, isoRep, "meganode_replica_refused_total", 1)
		waitMetric(t, isoFull, "meganode_fullnode_refused_blocks_total", 1)
		var ready struct{ Status, Reason string }
		code := getJSON(t, isoFull.URL+"/ready", &ready)
		hash := genuine.Bundle.Block.Hash().Hex()
		if code != http.StatusServiceUnavailable || ready.Status != "degraded" || !strings.Contains(ready.Reason, "block 1 ("+hash+")") {
			t.Fatalf("full node /ready %d %+v: want degraded naming block 1 %s", code, ready, hash)
		}
		if h := headerAt(t, clients["isolated replica"], "0x1"); h != nil {
			t.Fatalf("isolated replica took the tampered block: %+v", h)
		}
		if !strings.Contains(isoFull.logs.String(), `"level":"error"`) {
			t.Fatal("full node logged no error for the refused block")
		}
		// The genuine block is taken by both.
		publish(t, feeder, net.seqKey, p2p.Blocks, genuine, isoRep.P2P, isoFull.P2P)
		want := waitBlock(t, "sequencer", clients["sequencer"], 1)
		for _, name := range []string{"isolated replica", "isolated full node"} {
			if got := waitBlock(t, name, clients[name], 1); got.Hash != want.Hash {
				t.Fatalf("%s block 1 %s, want %s", name, got.Hash, want.Hash)
			}
		}
	})
}

// staleTransfer is a signed transfer with nonce 0, already used.
func staleTransfer(t *testing.T, key *ecdsa.PrivateKey) hexutil.Bytes {
	t.Helper()
	to := common.HexToAddress(addr3)
	tx := types.MustSignNewTx(key, types.LatestSignerForChainID(big.NewInt(chainID)), &types.DynamicFeeTx{
		ChainID: big.NewInt(chainID), To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Value: big.NewInt(2),
	})
	raw, _ := tx.MarshalBinary()
	return raw
}

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode
}

// testNode is a p2p node of the test's own, peered with peers.
func testNode(t testing.TB, signers map[p2p.Kind]common.Address, peers ...string) *p2p.Node {
	t.Helper()
	sets := make(map[p2p.Kind][]common.Address, len(signers))
	for k, a := range signers {
		sets[k] = []common.Address{a}
	}
	n, err := p2p.New(context.Background(), p2p.Config{ChainID: chainID, Genesis: devGenesisHash(t), Signers: sets, Peers: peers}, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	return n
}

// fetchBlock asks the sequencer for a sealed block over request-response.
func fetchBlock(t *testing.T, net *network, number uint64) *chain.BlockMessage {
	t.Helper()
	var m chain.BlockMessage
	fetchPayload(t, net, p2p.Blocks, number, &m)
	return &m
}

func fetchWitness(t *testing.T, net *network, number uint64) *chain.WitnessMessage {
	t.Helper()
	var w chain.WitnessMessage
	fetchPayload(t, net, p2p.Witnesses, number, &w)
	return &w
}

func fetchPayload(t *testing.T, net *network, kind p2p.Kind, number uint64, v any) {
	t.Helper()
	seqAddr := crypto.PubkeyToAddress(net.seqKey.PublicKey)
	n := testNode(t, map[p2p.Kind]common.Address{kind: seqAddr}, net.seq.P2P)
	info := peerID(t, net.seq.P2P)
	msgs, err := n.Fetch(context.Background(), info, kind, number, 1)
	if err != nil || len(msgs) != 1 {
		t.Fatalf("fetch %s %d: %d messages, %v", kind, number, len(msgs), err)
	}
	if err := rlp.DecodeBytes(msgs[0].Payload, v); err != nil {
		t.Fatal(err)
	}
}

func peerID(t *testing.T, addr string) peer.ID {
	t.Helper()
	i := strings.LastIndex(addr, "/p2p/")
	id, err := peer.Decode(addr[i+len("/p2p/"):])
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// publish signs msg with key and gossips it once every target has joined
// the topic (gossipsub sends only to peers it knows are subscribed).
func publish(t *testing.T, n *p2p.Node, key *ecdsa.PrivateKey, kind p2p.Kind, msg any, targets ...string) {
	t.Helper()
	payload, err := rlp.EncodeToBytes(msg)
	if err != nil {
		t.Fatal(err)
	}
	data, err := p2p.Seal(key, kind, chainID, payload)
	if err != nil {
		t.Fatal(err)
	}
	want := map[peer.ID]bool{}
	for _, a := range targets {
		if err := n.Connect(context.Background(), a); err != nil {
			t.Fatal(err)
		}
		want[peerID(t, a)] = true
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	joins, err := n.PeerJoins(ctx, kind)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range n.TopicPeers(kind) {
		delete(want, p)
	}
	for len(want) > 0 {
		select {
		case p := <-joins:
			delete(want, p)
		case <-ctx.Done():
			t.Fatalf("peers %v never joined %s", want, kind)
		}
	}
	if err := n.Publish(context.Background(), kind, data); err != nil {
		t.Fatal(fmt.Errorf("publish %s: %w", kind, err))
	}
}

// devGenesisHash is the built-in devnet genesis's hash, which a p2p node
// of the test must state to be let in (the status exchange).
func devGenesisHash(t testing.TB) common.Hash {
	t.Helper()
	g, _, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return g.ToBlock().Hash()
}
