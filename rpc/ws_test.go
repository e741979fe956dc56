package rpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/sequencer"
	"github.com/meganode/meganode/storage"
)

type stepClock struct{ now time.Time }

func (c *stepClock) Now() time.Time { return c.now }

// wsEnv is a server over a sequencer that the test steps by hand.
type wsEnv struct {
	t     testing.TB
	srv   *Server
	store *storage.Store
	seq   *sequencer.Sequencer
	clock *stepClock
	accts []chain.DevAccount
	cfg   *params.ChainConfig
}

func newWSEnv(t testing.TB, tweak func(*Config)) *wsEnv {
	t.Helper()
	return newServerEnv(t, tweak, nil)
}

// newServerEnv is newWSEnv with an ha namespace when haStub is set, which
// makes raw sends wait for their mini-block as on an HA leader.
func newServerEnv(t testing.TB, tweak func(*Config), haStub HAAdmin) *wsEnv {
	t.Helper()
	return newServerEnvOf(t, tweak, haStub, nil)
}

// newAutomineEnv is a server over an automining dev chain's sequencer.
func newAutomineEnv(t testing.TB) *wsEnv {
	t.Helper()
	return newServerEnvOf(t, nil, nil, func(c *sequencer.Config) { c.Dev, c.Mining = true, chain.MineAuto })
}

// newServerEnvOf is newServerEnv over a sequencer configured by seqTweak.
func newServerEnvOf(t testing.TB, tweak func(*Config), haStub HAAdmin, seqTweak func(*sequencer.Config)) *wsEnv {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.InfoLevel)
	g, accts, err := chain.Genesis(chain.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	store, err := storage.Open(storage.Config{}, g, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	clock := &stepClock{now: time.Unix(1_800_000_000, 0)}
	scfg := sequencer.DefaultConfig()
	scfg.Eager = false
	if seqTweak != nil {
		seqTweak(&scfg)
	}
	seq, err := sequencer.New(scfg, store, clock, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Port = 0
	if tweak != nil {
		tweak(&cfg)
	}
	b := Backend{Chain: store, Latest: seq, Txs: seq, Feeds: seq, Dev: accts}
	if scfg.Dev {
		b.DevChain = seq
	}
	if haStub != nil {
		b.HA = haStub
	}
	srv, err := NewServer(cfg, b, nil, log)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop(context.Background()) })
	return &wsEnv{t: t, srv: srv, store: store, seq: seq, clock: clock, accts: accts, cfg: g.Config}
}

// tick seals one mini-block.
func (e *wsEnv) tick() {
	e.clock.now = e.clock.now.Add(10 * time.Millisecond)
	e.seq.Step(true)
}

func (e *wsEnv) transfer(from int, nonce uint64, tip int64) *types.Transaction {
	to := common.HexToAddress("0xbeef")
	return types.MustSignNewTx(e.accts[from].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{
		ChainID: e.cfg.ChainID, Nonce: nonce, To: &to, Gas: params.TxGas, GasTipCap: big.NewInt(tip), GasFeeCap: big.NewInt(10 * tip), Value: big.NewInt(1),
	})
}

// pooled returns a func that waits until the pool admitted tx: calls on one
// connection run concurrently, so an answer to a later call does not mean an
// earlier one has been processed.
func (e *wsEnv) pooled(tx *types.Transaction) func() {
	sub := e.seq.PendingTxs(64)
	return func() {
		e.t.Helper()
		defer sub.Unsubscribe()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case got := <-sub.C():
				if got.Hash() == tx.Hash() {
					return
				}
			case <-timeout:
				e.t.Fatalf("tx %s never pooled", tx.Hash())
			}
		}
	}
}

// hubCaughtUp waits until the hub has published every sealed mini-block.
func (e *wsEnv) hubCaughtUp() {
	want := e.seq.MiniBlockCount()
	for {
		e.srv.hub.mu.Lock()
		next := e.srv.hub.next
		e.srv.hub.mu.Unlock()
		if next >= want {
			return
		}
		runtime.Gosched()
	}
}

type wsClient struct {
	t  testing.TB
	ws *websocket.Conn
	id int
}

func (e *wsEnv) dial() *wsClient {
	e.t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+e.srv.Addr(), nil)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { ws.Close() })
	return &wsClient{t: e.t, ws: ws}
}

type wsMsg struct {
	ID     json.RawMessage `json:"id"`
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int             `json:"code"`
		Message string          `json:"message"`
		Data    json.RawMessage `json:"data"`
	} `json:"error"`
	Params struct {
		Subscription string          `json:"subscription"`
		Result       json.RawMessage `json:"result"`
	} `json:"params"`
}

func (c *wsClient) send(method string, params ...interface{}) int {
	c.t.Helper()
	c.id++
	if params == nil {
		params = []interface{}{}
	}
	if err := c.ws.WriteJSON(map[string]interface{}{"jsonrpc": "2.0", "id": c.id, "method": method, "params": params}); err != nil {
		c.t.Fatal(err)
	}
	return c.id
}

func (c *wsClient) read() wsMsg {
	c.t.Helper()
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var m wsMsg
	if err := c.ws.ReadJSON(&m); err != nil {
		c.t.Fatal(err)
	}
	return m
}

// call sends a request and returns its answer; notifications read meanwhile
// are kept for next.
func (c *wsClient) call(method string, params ...interface{}) wsMsg {
	c.t.Helper()
	id := c.send(method, params...)
	for {
		m := c.read()
		if string(m.ID) == fmt.Sprint(id) {
			return m
		}
		if m.ID != nil {
			c.t.Fatalf("answer to %s while waiting for %d", m.ID, id)
		}
	}
}

func (c *wsClient) subscribe(params ...interface{}) string {
	c.t.Helper()
	m := c.call("eth_subscribe", params...)
	if m.Error != nil {
		c.t.Fatalf("subscribe %v: %d %s", params, m.Error.Code, m.Error.Message)
	}
	var id string
	_ = json.Unmarshal(m.Result, &id)
	return id
}

type miniBlockNote struct {
	BlockNumber     hexutil.Uint64   `json:"block_number"`
	Number          hexutil.Uint64   `json:"mini_block_number"`
	Index           hexutil.Uint64   `json:"index"`
	TimestampMicros hexutil.Uint64   `json:"mini_block_timestamp"`
	Transactions    []map[string]any `json:"transactions"`
	Receipts        []map[string]any `json:"receipts"`
}

func (c *wsClient) miniBlock(sub string) miniBlockNote {
	c.t.Helper()
	m := c.read()
	if m.Params.Subscription != sub {
		c.t.Fatalf("notification for %q, want %q: %s", m.Params.Subscription, sub, m.Result)
	}
	var mb miniBlockNote
	if err := json.Unmarshal(m.Params.Result, &mb); err != nil {
		c.t.Fatal(err)
	}
	return mb
}

func TestMiniBlocksStreamEveryMiniBlockInOrder(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.dial()
	sub := c.subscribe("miniBlocks")
	start := e.seq.MiniBlockCount()
	tx := e.transfer(0, 0, params.GWei)
	if err := e.seq.SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 5; i++ {
		e.tick()
	}
	for i := uint64(0); i < 5; i++ {
		mb := c.miniBlock(sub)
		if uint64(mb.Number) != start+i || uint64(mb.Index) != start+i || mb.BlockNumber != 1 {
			t.Fatalf("mini-block %d: number %d index %d block %d", i, mb.Number, mb.Index, mb.BlockNumber)
		}
		if i == 0 {
			if len(mb.Transactions) != 1 || len(mb.Receipts) != 1 || mb.Transactions[0]["hash"] != tx.Hash().Hex() || mb.Receipts[0]["status"] != "0x1" {
				t.Fatalf("first mini-block lacks the tx: %+v", mb)
			}
			continue
		}
		if len(mb.Transactions) != 0 || mb.Transactions == nil {
			t.Fatalf("mini-block %d: want an empty transactions list, got %v", i, mb.Transactions)
		}
	}
}

func TestMiniBlocksResumeFromNumber(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.WS.ReplayMiniBlocks = 8 })
	first := e.dial()
	first.subscribe("miniBlocks") // the hub is running once a subscriber saw a mini-block
	start := e.seq.MiniBlockCount()
	for i := 0; i < 20; i++ {
		e.tick()
	}
	for i := 0; i < 20; i++ {
		first.read()
	}
	c := e.dial()
	sub := c.subscribe("miniBlocks", map[string]any{"from_mini_block_number": start + 15})
	e.tick() // live mini-blocks follow the replayed ones without a gap
	for want := start + 15; want <= start+20; want++ {
		if mb := c.miniBlock(sub); uint64(mb.Number) != want {
			t.Fatalf("resumed stream: mini-block %d, want %d", mb.Number, want)
		}
	}
	m := c.call("eth_subscribe", "miniBlocks", map[string]any{"from_mini_block_number": hexutil.Uint64(start + 2).String()})
	if m.Error == nil || !strings.Contains(m.Error.Message, "no longer kept") {
		t.Fatalf("resume from an evicted mini-block: %+v", m)
	}
	m = c.call("eth_subscribe", "miniBlocks", map[string]any{"from_mini_block_number": start + 1000})
	if m.Error == nil || m.Error.Code != -32602 {
		t.Fatalf("resume from the future: %+v", m)
	}
}

func TestSlowSubscriberIsDisconnectedWithReasonAndCanResume(t *testing.T) {
	e := newWSEnv(t, func(c *Config) {
		c.WS.SendQueue = 1024
		c.WS.ReplayMiniBlocks = 1 << 20
	})
	c := e.dial()
	sub := c.subscribe("miniBlocks")
	// The client stops reading; the sequencer goes on until the server gives
	// up on it (kernel buffers absorb some first).
	for i := 0; ; i++ {
		if i == 400_000 {
			t.Fatal("server never closed the slow subscriber")
		}
		e.tick()
		e.hubCaughtUp()
		failed := false
		e.srv.ws.mu.Lock()
		for conn := range e.srv.ws.conns {
			failed = failed || conn.closed()
		}
		e.srv.ws.mu.Unlock()
		if failed {
			break
		}
	}
	var last uint64
	var got int
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		var m wsMsg
		err := c.ws.ReadJSON(&m)
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			if ce.Code != websocket.ClosePolicyViolation || !strings.Contains(ce.Text, "slow consumer") {
				t.Fatalf("close %d %q", ce.Code, ce.Text)
			}
			break
		}
		if err != nil {
			t.Fatalf("read: %v (want a close frame)", err)
		}
		var mb miniBlockNote
		_ = json.Unmarshal(m.Params.Result, &mb)
		if got > 0 && uint64(mb.Number) != last+1 {
			t.Fatalf("gap before the close: %d after %d", mb.Number, last)
		}
		last, got = uint64(mb.Number), got+1
	}
	if got == 0 {
		t.Fatal("nothing delivered before the close")
	}
	// Reconnect and fill the gap.
	c2 := e.dial()
	sub = c2.subscribe("miniBlocks", map[string]any{"from_mini_block_number": last + 1})
	for want := last + 1; want < last+50; want++ {
		if mb := c2.miniBlock(sub); uint64(mb.Number) != want {
			t.Fatalf("after resume: %d, want %d", mb.Number, want)
		}
	}
}

func TestWebsocketLimits(t *testing.T) {
	e := newWSEnv(t, func(c *Config) {
		c.WS.MaxSubsPerConn = 2
		c.WS.MaxConnsPerIP = 2
		c.WS.MsgsPerSecond = 3
	})
	c := e.dial()
	c.subscribe("newHeads")
	c.subscribe("miniBlocks")
	if m := c.call("eth_subscribe", "logs", map[string]any{}); m.Error == nil || m.Error.Code != -32005 || !strings.Contains(m.Error.Message, "limit 2") {
		t.Fatalf("third subscription: %+v", m.Error)
	}
	e.dial()
	_, resp, err := websocket.DefaultDialer.Dial("ws://"+e.srv.Addr(), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("third connection from one IP: %v %v", err, resp)
	}
	// Over the message rate a request gets -32005 and the connection stays.
	var limited int
	for i := 0; i < 10; i++ {
		c.send("eth_chainId")
	}
	for i := 0; i < 10; i++ {
		m := c.read()
		if m.ID == nil {
			i-- // a notification
			continue
		}
		if m.Error != nil {
			if m.Error.Code != -32005 {
				t.Fatalf("rate limited answer: %+v", m.Error)
			}
			limited++
		}
	}
	if limited == 0 {
		t.Fatal("10 requests at 3/s were all served")
	}
}

func TestWebsocketBadInputKeepsConnection(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.dial()
	sub := c.subscribe("miniBlocks")
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"jsonrpc":"2.0","id":1,"method":`)); err != nil {
		t.Fatal(err)
	}
	if m := c.read(); m.Error == nil || m.Error.Code != -32700 {
		t.Fatalf("malformed JSON: %+v", m)
	}
	if m := c.call("eth_subscribe", "nope"); m.Error == nil || m.Error.Code != -32601 {
		t.Fatalf("unknown subscription: %+v", m)
	}
	for _, params := range [][]interface{}{
		{},
		{42},
		{"stateChanges", "0xbeef"},
		{"miniBlocks", map[string]any{"from_mini_block_number": "soon"}},
		{"logs", map[string]any{"topics": []any{1, 2, 3, 4, 5}}},
		{"newPendingTransactions", "yes"},
	} {
		if m := c.call("eth_subscribe", params...); m.Error == nil || m.Error.Code != -32602 {
			t.Fatalf("eth_subscribe %v: %+v", params, m)
		}
	}
	if m := c.call("eth_unsubscribe", 1, 2); m.Error == nil || m.Error.Code != -32602 {
		t.Fatalf("eth_unsubscribe garbage: %+v", m)
	}
	e.tick()
	c.miniBlock(sub) // still subscribed
	if m := c.call("eth_unsubscribe", sub); string(m.Result) != "true" {
		t.Fatalf("unsubscribe: %s", m.Result)
	}
	if m := c.call("eth_unsubscribe", sub); string(m.Result) != "false" {
		t.Fatalf("second unsubscribe: %s", m.Result)
	}
}

func TestIdleConnectionClosedWithReason(t *testing.T) {
	e := newWSEnv(t, func(c *Config) { c.WS.IdleTimeout = 300 * time.Millisecond })
	c := e.dial()
	// Keepalives hold it open past the timeout ...
	deadline := time.Now().Add(900 * time.Millisecond)
	for time.Now().Before(deadline) {
		if m := c.call("eth_chainId"); m.Error != nil {
			t.Fatal(m.Error.Message)
		}
		<-time.After(100 * time.Millisecond)
	}
	// ... and silence closes it with a reason.
	_ = c.ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.CloseGoingAway || !strings.Contains(ce.Text, "idle timeout") {
		t.Fatalf("idle close: %v", err)
	}
}

func TestRealtimeSubscriptions(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.dial()
	watched := common.HexToAddress("0xbeef")
	changes := c.subscribe("stateChanges", []common.Address{watched})
	pending := c.subscribe("newPendingTransactions")
	full := c.subscribe("newPendingTransactions", true)
	heads := c.subscribe("newHeads")

	tx := e.transfer(0, 0, params.GWei)
	if err := e.seq.SendTransaction(tx); err != nil {
		t.Fatal(err)
	}
	got := map[string]json.RawMessage{}
	for len(got) < 2 {
		m := c.read()
		got[m.Params.Subscription] = m.Params.Result
	}
	if string(got[pending]) != fmt.Sprintf("%q", tx.Hash().Hex()) {
		t.Fatalf("newPendingTransactions: %s", got[pending])
	}
	var ftx map[string]any
	_ = json.Unmarshal(got[full], &ftx)
	if ftx["hash"] != tx.Hash().Hex() || ftx["from"] != strings.ToLower(e.accts[0].Address.Hex()) {
		t.Fatalf("full pending tx: %s", got[full])
	}
	e.tick()
	m := c.read()
	var sc struct {
		Address common.Address `json:"address"`
		Nonce   uint64         `json:"nonce"`
		Balance hexutil.Big    `json:"balance"`
	}
	if m.Params.Subscription != changes || json.Unmarshal(m.Params.Result, &sc) != nil || sc.Address != watched || sc.Balance.ToInt().Int64() != 1 {
		t.Fatalf("stateChanges: %s %s", m.Params.Subscription, m.Params.Result)
	}
	for i := 0; i < 99; i++ {
		e.tick()
	}
	m = c.read()
	var h struct {
		Number hexutil.Uint64 `json:"number"`
		Count  hexutil.Uint64 `json:"miniBlockCount"`
		Offset hexutil.Uint64 `json:"miniBlockOffset"`
		Hash   common.Hash    `json:"hash"`
	}
	if m.Params.Subscription != heads || json.Unmarshal(m.Params.Result, &h) != nil || h.Number != 1 || h.Count != 100 || h.Hash == (common.Hash{}) {
		t.Fatalf("newHeads: %s", m.Params.Result)
	}
}

func TestLogsSubscriptionPendingAndSealed(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.dial()
	// LOG1 with topic 0x2a from a contract created by the tx.
	code := common.FromHex("602a60006000a1") // PUSH1 0x2a PUSH1 0 PUSH1 0 LOG1
	initCode := append(common.FromHex(fmt.Sprintf("60%02x600c60003960%02x6000f3", len(code), len(code))), code...)
	deploy := types.MustSignNewTx(e.accts[0].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{ChainID: e.cfg.ChainID, Nonce: 0, Gas: 200_000, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei), Data: initCode})
	if err := e.seq.SendTransaction(deploy); err != nil {
		t.Fatal(err)
	}
	e.tick()
	contract := crypto.CreateAddress(e.accts[0].Address, 0)
	topic := common.BigToHash(big.NewInt(0x2a))
	realtime := c.subscribe("logs", map[string]any{"address": contract, "topics": []any{topic}, "fromBlock": "pending", "toBlock": "pending"})
	sealed := c.subscribe("logs", map[string]any{"address": contract})
	call := types.MustSignNewTx(e.accts[0].Key, types.LatestSigner(e.cfg), &types.DynamicFeeTx{ChainID: e.cfg.ChainID, Nonce: 1, To: &contract, Gas: 100_000, GasTipCap: big.NewInt(params.GWei), GasFeeCap: big.NewInt(10 * params.GWei)})
	if err := e.seq.SendTransaction(call); err != nil {
		t.Fatal(err)
	}
	e.tick()
	m := c.read()
	var l types.Log
	if m.Params.Subscription != realtime || json.Unmarshal(m.Params.Result, &l) != nil || l.TxHash != call.Hash() || l.BlockHash != chain.PreconfBlockHash || l.BlockNumber != 1 {
		t.Fatalf("realtime log: %s %s", m.Params.Subscription, m.Params.Result)
	}
	for i := 0; i < 98; i++ {
		e.tick()
	}
	m = c.read()
	if m.Params.Subscription != sealed || json.Unmarshal(m.Params.Result, &l) != nil || l.TxHash != call.Hash() || l.BlockHash == chain.PreconfBlockHash {
		t.Fatalf("sealed log: %s %s", m.Params.Subscription, m.Params.Result)
	}
}

func TestSendRawTransactionSync(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.dial()
	raw := func(tx *types.Transaction) string {
		b, _ := tx.MarshalBinary()
		return hexutil.Encode(b)
	}
	// The answer comes with the mini-block, not before.
	tx := e.transfer(0, 0, params.GWei)
	wait := e.pooled(tx)
	id := c.send("eth_sendRawTransactionSync", raw(tx))
	wait()
	e.tick()
	m := c.read()
	var r map[string]any
	if string(m.ID) != fmt.Sprint(id) || m.Error != nil || json.Unmarshal(m.Result, &r) != nil || r["transactionHash"] != tx.Hash().Hex() || r["blockNumber"] != "0x1" || r["blockHash"] != chain.PreconfBlockHash.Hex() {
		t.Fatalf("sync receipt: %s %+v", m.Result, m.Error)
	}
	// Timeout: code 4 with the hash; the tx stays pooled.
	tx = e.transfer(0, 1, params.GWei)
	m = c.call("eth_sendRawTransactionSync", raw(tx), 5)
	if m.Error == nil || m.Error.Code != 4 || string(m.Error.Data) != fmt.Sprintf("%q", tx.Hash().Hex()) {
		t.Fatalf("timeout: %+v", m.Error)
	}
	if e.seq.PooledTx(tx.Hash()) == nil {
		t.Fatal("timed-out tx left the pool")
	}
	// Replaced while waiting: code 5 with the hash.
	tx = e.transfer(1, 0, params.GWei)
	wait = e.pooled(tx)
	id = c.send("eth_sendRawTransactionSync", raw(tx), "0x2710")
	wait()
	if err := e.seq.SendTransaction(e.transfer(1, 0, 2*params.GWei)); err != nil {
		t.Fatal(err)
	}
	m = c.read()
	if string(m.ID) != fmt.Sprint(id) || m.Error == nil || m.Error.Code != 5 || !strings.Contains(m.Error.Message, "replaced") {
		t.Fatalf("replaced: %s %+v", m.ID, m.Error)
	}
	// realtime_sendRawTransaction answers with the receipt too.
	tx = e.transfer(2, 0, params.GWei)
	wait = e.pooled(tx)
	id = c.send("realtime_sendRawTransaction", raw(tx))
	wait()
	e.tick()
	for {
		m = c.read()
		if string(m.ID) == fmt.Sprint(id) {
			break
		}
	}
	if m.Error != nil || json.Unmarshal(m.Result, &r) != nil || r["transactionHash"] != tx.Hash().Hex() {
		t.Fatalf("realtime receipt: %s %+v", m.Result, m.Error)
	}
}

func TestCallAfterWaitsForNonce(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.dial()
	// The overriding code returns BALANCE(0xbeef).
	code := "0x61beef3160005260206000f3"
	target := "0x0000000000000000000000000000000000001234"
	id := c.send("eth_callAfter", map[string]any{"to": target},
		map[string]any{"account": e.accts[0].Address, "nonce": "0x1", "timeout": 10_000},
		map[string]any{target: map[string]any{"code": code}})
	if m := c.call("eth_chainId"); m.Error != nil {
		t.Fatal(m.Error.Message)
	}
	if err := e.seq.SendTransaction(e.transfer(0, 0, params.GWei)); err != nil {
		t.Fatal(err)
	}
	e.tick()
	m := c.read()
	if string(m.ID) != fmt.Sprint(id) || m.Error != nil || string(m.Result) != `"0x0000000000000000000000000000000000000000000000000000000000000001"` {
		t.Fatalf("callAfter: %s %s %+v", m.ID, m.Result, m.Error)
	}
}

// mega_miniBlockNumber names the newest mini-block: null before the first,
// then the number a miniBlocks subscriber last received.
func TestMiniBlockNumber(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.dial()
	if m := c.call("mega_miniBlockNumber"); m.Error != nil || string(m.Result) != "null" {
		t.Fatalf("before any mini-block: %s %+v", m.Result, m.Error)
	}
	sub := c.subscribe("miniBlocks")
	e.tick()
	e.tick()
	c.miniBlock(sub)
	last := c.miniBlock(sub)
	m := c.call("mega_miniBlockNumber")
	var n hexutil.Uint64
	if err := json.Unmarshal(m.Result, &n); err != nil || n != last.Number {
		t.Fatalf("mega_miniBlockNumber %s, newest delivered %d", m.Result, last.Number)
	}
}
