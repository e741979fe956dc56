package rpc

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/chain"
)

// Preparer is a DevChain that puts work off until an answer has gone out
// (the next block's opening after a mined one); the server calls Prepare
// after each answer it writes itself.
type Preparer interface{ Prepare() }

// behindKey marks the context of a single JSON-RPC call over HTTP on a dev
// chain. The server settled the chain before serving it (DevChain.Settle)
// and settles it again before the next request, so the call may leave the
// rest of its work (the seal of the block its tx executed in, the blocks of
// a mine call) behind its answer: whatever the client asks next sees that
// work done. A batch or a websocket message is not marked: a later call of
// the same batch, or a message read meanwhile, would not wait for it.
type behindKey struct{}

// settleDev waits for the work earlier dev answers left behind them and
// returns ctx marked for a single call's body (behindKey).
func (s *Server) settleDev(ctx context.Context, body []byte) context.Context {
	if s.settle == nil {
		return ctx
	}
	s.settle()
	if b := bytes.TrimLeft(body, " \t\r\n"); len(b) > 0 && b[0] == '{' {
		return context.WithValue(ctx, behindKey{}, true)
	}
	return ctx
}

// answersBehind reports whether a dev call may answer before the rest of
// its work is done (behindKey).
func answersBehind(ctx context.Context) bool {
	b, _ := ctx.Value(behindKey{}).(bool)
	return b
}

// DevChain is what the dev methods (anvil's, with Hardhat's and the evm_
// aliases) need of a dev chain's sequencer. A node without one answers
// them with −32601 naming --dev.
type DevChain interface {
	Mine(count, interval uint64, timestamp *uint64) error
	Snapshot() (uint64, error)
	Revert(id uint64) (bool, error)
	Reset() error
	Snapshots() map[uint64]*types.Header
	IncreaseTime(secs int64) (int64, error)
	SetTime(t uint64) (int64, error)
	SetNextBlockTimestamp(t uint64) error
	SetBlockTimestampInterval(secs uint64) (bool, error)
	Mining() (chain.MiningMode, time.Duration)
	SetMining(mode chain.MiningMode, blockTime time.Duration) error
	SetBlockGasLimit(limit uint64) error
	SetCoinbase(addr common.Address) error
	SetNextBlockBaseFee(fee *big.Int) error
	SetNextBlockPrevRandao(v common.Hash) error
	Edit(edits []chain.DevEdit) error
	Impersonate(addr common.Address, on bool) error
	AutoImpersonate(on bool) error
	Impersonating(addr common.Address) bool
	Impersonated() []common.Address
	DropTransaction(hash common.Hash) (bool, error)
	DropAllTransactions() error
	DumpState() (*chain.DevState, error)
	LoadState(st *chain.DevState) (int, error)
	// AwaitMined admits tx and, under automine, returns once its block is
	// sealed (nil outcome when it did not wait: a nonce gap, another mode).
	AwaitMined(tx *types.Transaction, timeout time.Duration) (*chain.TxOutcome, error)
	// AwaitExecuted and MineBehind are AwaitMined and Mine answering before
	// the seal, which Settle waits for.
	AwaitExecuted(tx *types.Transaction, timeout time.Duration) (*chain.TxOutcome, error)
	MineBehind(count, interval uint64, timestamp *uint64) error
	Settle()
}

// devClientVersion is web3_clientVersion on a dev chain. Hardhat's
// network-helpers run only against a node whose version starts with
// "anvil", "hardhat" (v3; "hardhatnetwork" in v1) or "zksync", and Foundry
// treats an "anvil" node as a development node; meganode answers anvil's
// form with itself as build metadata (docs/devnet.md).
func devClientVersion() string { return "anvil/v1.7.1+meganode.v" + Version }

// devMethodPrefixes are the namespaces of dev methods.
var devMethodPrefixes = []string{"anvil_", "hardhat_", "evm_"}

func isDevMethod(method string) bool {
	for _, p := range devMethodPrefixes {
		if strings.HasPrefix(method, p) {
			return true
		}
	}
	return method == "eth_sendUnsignedTransaction"
}

// notDevError answers a dev method on a node that is not a dev chain.
type notDevError struct{ method string }

func (e notDevError) Error() string {
	return fmt.Sprintf("the method %s does not exist/is not available: dev methods are served only by dev chains (meganode devnet, or a sequencer started with --dev)", e.method)
}
func (notDevError) ErrorCode() int { return -32601 }

// timestampError is anvil's −32602 for a timestamp that does not follow
// the head.
type devParamError struct{ err error }

func (e devParamError) Error() string { return e.err.Error() }
func (devParamError) ErrorCode() int  { return -32602 }
func (e devParamError) Unwrap() error { return e.err }
func paramErr(err error) error {
	if err == nil {
		return nil
	}
	return devParamError{err}
}

// quantity is a number as dev clients send it: a JSON number, a hex string
// ("0x" is zero, as Hardhat's helpers may send) or a decimal string.
type quantity struct{ big.Int }

func (q *quantity) UnmarshalJSON(data []byte) error {
	s := strings.TrimSpace(string(data))
	if len(s) >= 2 && s[0] == '"' {
		s = s[1 : len(s)-1]
	}
	switch {
	case s == "0x" || s == "0X":
		q.SetUint64(0)
		return nil
	case strings.HasPrefix(s, "0x") || strings.HasPrefix(s, "0X"):
		if _, ok := q.SetString(s[2:], 16); !ok {
			return fmt.Errorf("invalid hex quantity %s", data)
		}
	default:
		if _, ok := q.SetString(s, 10); !ok {
			return fmt.Errorf("invalid number %s", data)
		}
	}
	if q.Sign() < 0 || q.BitLen() > 256 {
		return fmt.Errorf("number %s out of range", data)
	}
	return nil
}

// uint64 saturates at the largest uint64, as anvil does.
func (q *quantity) uint64() uint64 {
	if q == nil {
		return 0
	}
	if !q.IsUint64() {
		return ^uint64(0)
	}
	return q.Uint64()
}

// word is a 32-byte value given in at most 32 bytes of hex.
type word common.Hash

func (w *word) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("invalid 32-byte value %s", data)
	}
	h, _, err := decodeHash(s)
	if err != nil {
		return err
	}
	*w = word(h)
	return nil
}

// devCore holds the methods of every dev namespace (anvil_, hardhat_, evm_).
type devCore struct {
	d   DevChain
	eth *EthAPI
}

// Snapshot records the chain and returns its id (hex quantity, from 0x0).
func (a *devCore) Snapshot() (hexutil.Uint64, error) {
	id, err := a.d.Snapshot()
	return hexutil.Uint64(id), err
}

// Revert goes back to a snapshot, deleting it and every later one; false
// for an unknown id.
func (a *devCore) Revert(id quantity) (bool, error) {
	if !id.IsUint64() {
		return false, nil
	}
	return a.d.Revert(id.Uint64())
}

// IncreaseTime moves the clock and returns the total offset in seconds.
func (a *devCore) IncreaseTime(secs quantity) (int64, error) {
	v := secs.uint64()
	if v > 1<<62 {
		v = 1 << 62
	}
	return a.d.IncreaseTime(int64(v))
}

// SetNextBlockTimestamp fixes the next block's timestamp.
func (a *devCore) SetNextBlockTimestamp(ts quantity) error {
	return paramErr(a.d.SetNextBlockTimestamp(ts.uint64()))
}

// SetTime sets the clock (seconds; values above 10^12 are milliseconds, as
// anvil reads them) and returns the seconds it jumped forward.
func (a *devCore) SetTime(ts quantity) (int64, error) {
	t := ts.uint64()
	if t > 1_000_000_000_000 {
		t /= 1000
	}
	n, err := a.d.SetTime(t)
	return n, paramErr(err)
}

// SetAutomine turns automine on (a block per tx, at once) or off (nothing
// executes until mined).
func (a *devCore) SetAutomine(on bool) error {
	mode := chain.MineManual
	if on {
		mode = chain.MineAuto
	}
	return a.d.SetMining(mode, 0)
}

// SetBlockGasLimit sets the next blocks' gas limit.
func (a *devCore) SetBlockGasLimit(limit quantity) (bool, error) {
	if err := a.d.SetBlockGasLimit(limit.uint64()); err != nil {
		return false, paramErr(err)
	}
	return true, nil
}

// mine is Mine, answering before the blocks are made when the call's
// context allows it (answersBehind).
func (a *devCore) mine(ctx context.Context, count, interval uint64, timestamp *uint64) error {
	if answersBehind(ctx) {
		return a.d.MineBehind(count, interval, timestamp)
	}
	return a.d.Mine(count, interval, timestamp)
}

// setInterval is evm_setIntervalMining: realtime blocks every interval, 0
// for manual mining.
func (a *devCore) setInterval(interval time.Duration) error {
	if interval == 0 {
		return a.d.SetMining(chain.MineManual, 0)
	}
	return a.d.SetMining(chain.MineRealtime, interval)
}

// EvmAPI is the evm_ namespace (Hardhat's and Ganache's names).
type EvmAPI struct{ devCore }

// MineOptions is evm_mine's optional parameter: a timestamp, or
// {timestamp, blocks}.
type MineOptions struct {
	Timestamp *quantity
	Blocks    *quantity
}

func (o *MineOptions) UnmarshalJSON(data []byte) error {
	if strings.HasPrefix(strings.TrimSpace(string(data)), "{") {
		var obj struct {
			Timestamp *quantity `json:"timestamp"`
			Blocks    *quantity `json:"blocks"`
		}
		if err := json.Unmarshal(data, &obj); err != nil {
			return err
		}
		o.Timestamp, o.Blocks = obj.Timestamp, obj.Blocks
		return nil
	}
	o.Timestamp = new(quantity)
	return json.Unmarshal(data, o.Timestamp)
}

// Mine seals a block (or opts.Blocks), the first at opts' timestamp.
func (a *EvmAPI) Mine(ctx context.Context, opts *MineOptions) (string, error) {
	count := uint64(1)
	var ts *uint64
	if opts != nil {
		if opts.Blocks != nil {
			count = opts.Blocks.uint64()
		}
		if opts.Timestamp != nil {
			t := opts.Timestamp.uint64()
			ts = &t
		}
	}
	return "0x0", paramErr(a.mine(ctx, count, 1, ts))
}

// SetIntervalMining seals a block every interval: milliseconds as Hardhat
// takes them, or seconds as anvil's alias does for values below 1000.
func (a *EvmAPI) SetIntervalMining(interval quantity) error {
	v := interval.uint64()
	if v < 1000 {
		return a.setInterval(time.Duration(v) * time.Second)
	}
	return a.setInterval(time.Duration(v) * time.Millisecond)
}

// SetAccountNonce is anvil's alias of anvil_setNonce.
func (a *EvmAPI) SetAccountNonce(addr common.Address, nonce quantity) error {
	return a.d.Edit([]chain.DevEdit{chain.NonceEdit(addr, nonce.uint64())})
}

// devState holds the anvil_ and hardhat_ methods the two share.
type devState struct {
	devCore
	instance common.Hash
}

// Mine seals count blocks (default 1), each interval seconds after the
// one before.
func (a *devState) Mine(ctx context.Context, count, interval *quantity) error {
	n, step := uint64(1), uint64(1)
	if count != nil {
		n = count.uint64()
	}
	if interval != nil {
		step = interval.uint64()
	}
	return paramErr(a.mine(ctx, n, step, nil))
}

// GetAutomine reports whether automine is on.
func (a *devState) GetAutomine() bool {
	mode, _ := a.d.Mining()
	return mode == chain.MineAuto
}

// GetIntervalMining is the realtime block time in seconds, null when
// blocks are not made by interval.
func (a *devState) GetIntervalMining() *uint64 {
	mode, bt := a.d.Mining()
	if mode != chain.MineRealtime {
		return nil
	}
	s := uint64(bt / time.Second)
	return &s
}

// SetBalance sets an account's balance.
func (a *devState) SetBalance(addr common.Address, value quantity) error {
	v, _ := uint256.FromBig(&value.Int)
	return a.d.Edit([]chain.DevEdit{chain.BalanceEdit(addr, v)})
}

// AddBalance adds to an account's balance (saturating).
func (a *devState) AddBalance(addr common.Address, value quantity) error {
	st, _, err := a.eth.b.Latest.LatestState()
	if err != nil {
		return err
	}
	sum := new(big.Int).Add(st.GetBalance(addr).ToBig(), &value.Int)
	v, overflow := uint256.FromBig(sum)
	if overflow {
		v = new(uint256.Int).SetAllOne()
	}
	return a.d.Edit([]chain.DevEdit{chain.BalanceEdit(addr, v)})
}

// SetCode sets an account's code (test predeploys: EntryPoint, Permit2).
func (a *devState) SetCode(addr common.Address, code hexutil.Bytes) error {
	return a.d.Edit([]chain.DevEdit{chain.CodeEdit(addr, code)})
}

// SetNonce sets an account's nonce.
func (a *devState) SetNonce(addr common.Address, nonce quantity) error {
	return a.d.Edit([]chain.DevEdit{chain.NonceEdit(addr, nonce.uint64())})
}

// SetStorageAt sets a storage slot; true as anvil answers.
func (a *devState) SetStorageAt(addr common.Address, slot quantity, value word) (bool, error) {
	var key common.Hash
	slot.FillBytes(key[:])
	if err := a.d.Edit([]chain.DevEdit{chain.StorageEdit(addr, key, common.Hash(value))}); err != nil {
		return false, err
	}
	return true, nil
}

// SetCoinbase sets the next blocks' fee recipient.
func (a *devState) SetCoinbase(addr common.Address) error { return a.d.SetCoinbase(addr) }

// SetNextBlockBaseFeePerGas sets the next block's base fee.
func (a *devState) SetNextBlockBaseFeePerGas(fee quantity) error {
	return paramErr(a.d.SetNextBlockBaseFee(&fee.Int))
}

// SetMinGasPrice is refused as anvil and Hardhat refuse it: every fork
// through Osaka is active, and a legacy minimum gas price has no meaning
// beside EIP-1559's base fee.
func (a *devState) SetMinGasPrice(quantity) error {
	return paramErr(errors.New("anvil_setMinGasPrice is not supported when EIP-1559 is active"))
}

// SetNextBlockPrevRandao sets the next block's prevrandao (mixHash).
func (a *devState) SetNextBlockPrevRandao(v word) error {
	return a.d.SetNextBlockPrevRandao(common.Hash(v))
}

// SetPrevRandao is Hardhat's name of SetNextBlockPrevRandao.
func (a *devState) SetPrevRandao(v word) error { return a.SetNextBlockPrevRandao(v) }

// ImpersonateAccount lets eth_sendTransaction send as addr unsigned.
func (a *devState) ImpersonateAccount(addr common.Address) error {
	return a.d.Impersonate(addr, true)
}

// StopImpersonatingAccount ends it.
func (a *devState) StopImpersonatingAccount(addr common.Address) error {
	return a.d.Impersonate(addr, false)
}

// AutoImpersonateAccount impersonates every account (or stops).
func (a *devState) AutoImpersonateAccount(on bool) error { return a.d.AutoImpersonate(on) }

// DropAllTransactions empties the pool.
func (a *devState) DropAllTransactions() error { return a.d.DropAllTransactions() }

// RemovePoolTransactions drops every pooled tx of addr.
func (a *devState) RemovePoolTransactions(addr common.Address) error {
	if a.eth.b.Pool == nil {
		return nil
	}
	pending, queued := a.eth.b.Pool.Content()
	for _, txs := range [][]*types.Transaction{pending[addr], queued[addr]} {
		for i := len(txs) - 1; i >= 0; i-- {
			if _, err := a.d.DropTransaction(txs[i].Hash()); err != nil {
				return err
			}
		}
	}
	return nil
}

// DevFork is a forked dev chain's fork: what it forks and a way to fork
// anew (anvil_reset with forking parameters).
type DevFork interface {
	// Forked is what is forked: URL "" when not (or no longer) forked.
	Forked() ForkInfo
	// Refork forks url ("": the current endpoint) at block (nil: its
	// latest) anew; an empty url with disable forks nothing any more.
	Refork(url string, block *uint64, disable bool) error
}

// ForkInfo is a dev chain's fork: the endpoint, the block forked and its
// hash there, and the number of the chain's own genesis (the block forked;
// 0 once forking ended).
type ForkInfo struct {
	URL     string
	Block   uint64
	Hash    common.Hash
	Genesis uint64
}

// ResetOptions is anvil_reset's optional parameter: {forking: {jsonRpcUrl,
// blockNumber}} (Hardhat's form) or the forking object itself.
type ResetOptions struct {
	URL         string
	BlockNumber *quantity
}

func (o *ResetOptions) UnmarshalJSON(data []byte) error {
	type forking struct {
		URL         string    `json:"jsonRpcUrl"`
		BlockNumber *quantity `json:"blockNumber"`
	}
	var obj struct {
		Forking *forking `json:"forking"`
		forking
	}
	if err := json.Unmarshal(data, &obj); err != nil {
		return err
	}
	f := obj.forking
	if obj.Forking != nil {
		f = *obj.Forking
	}
	o.URL, o.BlockNumber = f.URL, f.BlockNumber
	return nil
}

// Reset goes back to genesis. On a forked devnet, as on anvil: forking
// parameters fork anew (the endpoint kept unless given, its latest block
// unless given), none end forking.
func (a *devState) Reset(opts *ResetOptions) error {
	fork := a.eth.b.Fork
	var err error
	switch {
	case opts != nil && fork == nil && opts.URL == "":
		return paramErr(errors.New("Forking not enabled and RPC URL not provided to start forking")) // anvil's words
	case opts != nil && fork == nil:
		// anvil starts forking here; a devnet that did not start forked
		// has followers and a store that cannot read a remote chain.
		return paramErr(errors.New("Forking not enabled: start the devnet with --fork-url to fork"))
	case fork != nil:
		var block *uint64
		if opts != nil && opts.BlockNumber != nil {
			n := opts.BlockNumber.uint64()
			block = &n
		}
		url := ""
		if opts != nil {
			url = opts.URL
		}
		err = fork.Refork(url, block, opts == nil)
	default:
		err = a.d.Reset()
	}
	if err != nil {
		return err
	}
	a.instance = newInstanceID()
	return nil
}

// DumpState is the chain as a state file: hex of gzipped JSON in anvil's
// shape (accounts, block environment) with meganode's chain beside it.
func (a *devState) DumpState(preserveHistory *bool) (hexutil.Bytes, error) {
	st, err := a.d.DumpState()
	if err != nil {
		return nil, err
	}
	return chain.EncodeDevState(st)
}

// LoadState loads a state file (gzipped or plain JSON, anvil's or
// meganode's): true once loaded.
func (a *devState) LoadState(data hexutil.Bytes) (bool, error) {
	st, err := chain.DecodeDevState(data)
	if err != nil {
		return false, paramErr(fmt.Errorf("Failed to decode state dump: %v", err))
	}
	if _, err := a.d.LoadState(st); err != nil {
		return false, err
	}
	return true, nil
}

// SetLoggingEnabled is accepted and ignored: the node's log level is a flag.
func (a *devState) SetLoggingEnabled(bool) error { return nil }

// RemoveBlockTimestampInterval ends anvil_setBlockTimestampInterval; true
// if one was set.
func (a *devState) RemoveBlockTimestampInterval() (bool, error) {
	return a.d.SetBlockTimestampInterval(0)
}

// devMetadata is anvil_metadata's and hardhat_metadata's answer.
type devMetadata struct {
	ClientVersion     string                        `json:"clientVersion"`
	ChainID           uint64                        `json:"chainId"`
	InstanceID        common.Hash                   `json:"instanceId"`
	LatestBlockNumber uint64                        `json:"latestBlockNumber"`
	LatestBlockHash   common.Hash                   `json:"latestBlockHash"`
	ForkedNetwork     *forkedNetwork                `json:"forkedNetwork"`
	Snapshots         map[string][2]json.RawMessage `json:"snapshots"`
}

// forkedNetwork is hardhat_metadata's description of a fork.
type forkedNetwork struct {
	ChainID         uint64      `json:"chainId"`
	ForkBlockNumber uint64      `json:"forkBlockNumber"`
	ForkBlockHash   common.Hash `json:"forkBlockHash"`
}

// Metadata describes the dev chain (hardhat-ethers and hardhat-viem read it
// to recognise a development node).
func (a *devState) Metadata() devMetadata {
	head := a.eth.b.Chain.CurrentHeader()
	snaps := map[string][2]json.RawMessage{}
	for id, h := range a.d.Snapshots() {
		hash, _ := json.Marshal(h.Hash())
		snaps[hexutil.EncodeUint64(id)] = [2]json.RawMessage{json.RawMessage(strconv.FormatUint(h.Number.Uint64(), 10)), hash}
	}
	md := devMetadata{
		ClientVersion: devClientVersion(), ChainID: a.eth.config.ChainID.Uint64(), InstanceID: a.instance,
		LatestBlockNumber: head.Number.Uint64(), LatestBlockHash: head.Hash(), Snapshots: snaps,
	}
	if f := a.forked(); f.URL != "" {
		md.ForkedNetwork = &forkedNetwork{ChainID: md.ChainID, ForkBlockNumber: f.Block, ForkBlockHash: f.Hash}
	}
	return md
}

func (a *devState) forked() ForkInfo {
	if a.eth.b.Fork == nil {
		return ForkInfo{}
	}
	return a.eth.b.Fork.Forked()
}

// NodeInfo is anvil_nodeInfo.
func (a *devState) NodeInfo() map[string]interface{} {
	head := a.eth.b.Chain.CurrentHeader()
	pending := a.eth.pendingHeader()
	forkConfig := map[string]interface{}{"forkUrl": nil, "forkBlockNumber": nil, "forkRetryBackoff": nil}
	if f := a.forked(); f.URL != "" {
		forkConfig = map[string]interface{}{"forkUrl": f.URL, "forkBlockNumber": f.Block, "forkRetryBackoff": 0}
	}
	return map[string]interface{}{
		"currentBlockNumber":    hexutil.Uint64(head.Number.Uint64()),
		"currentBlockTimestamp": head.Time,
		"currentBlockHash":      head.Hash(),
		"hardFork":              "Osaka",
		"transactionOrder":      "fees",
		"environment": map[string]interface{}{
			"baseFee":  (*hexutil.Big)(pending.BaseFee),
			"chainId":  a.eth.config.ChainID.Uint64(),
			"gasLimit": hexutil.Uint64(pending.GasLimit),
			"gasPrice": a.eth.GasPrice(),
		},
		"forkConfig": forkConfig,
	}
}

func newInstanceID() common.Hash {
	var h common.Hash
	_, _ = rand.Read(h[:])
	return h
}

// AnvilAPI is the anvil_ namespace.
type AnvilAPI struct{ *devState }

// SetIntervalMining seals a block every secs seconds; 0 for manual mining.
func (a *AnvilAPI) SetIntervalMining(secs quantity) error {
	return a.setInterval(time.Duration(secs.uint64()) * time.Second)
}

// SetBlockTimestampInterval makes every block follow its parent by secs.
func (a *AnvilAPI) SetBlockTimestampInterval(secs quantity) error {
	_, err := a.d.SetBlockTimestampInterval(secs.uint64())
	return err
}

// DropTransaction removes a pooled tx: its hash, or null if not pooled.
func (a *AnvilAPI) DropTransaction(hash common.Hash) (*common.Hash, error) {
	ok, err := a.d.DropTransaction(hash)
	if !ok || err != nil {
		return nil, err
	}
	return &hash, nil
}

// HardhatAPI is the hardhat_ namespace.
type HardhatAPI struct{ *devState }

// SetBlockTimestampInterval takes milliseconds, as viem's hardhat mode
// sends them.
func (a *HardhatAPI) SetBlockTimestampInterval(ms quantity) error {
	_, err := a.d.SetBlockTimestampInterval(ms.uint64() / 1000)
	return err
}

// DropTransaction removes a pooled tx; false if not pooled.
func (a *HardhatAPI) DropTransaction(hash common.Hash) (bool, error) {
	return a.d.DropTransaction(hash)
}

// registerDev serves the dev namespaces over d.
func registerDev(srv interface {
	RegisterName(string, interface{}) error
}, d DevChain, eth *EthAPI) error {
	state := &devState{devCore: devCore{d: d, eth: eth}, instance: newInstanceID()}
	for name, api := range map[string]interface{}{
		"evm":      &EvmAPI{devCore{d: d, eth: eth}},
		"anvil":    &AnvilAPI{state},
		"hardhat":  &HardhatAPI{state},
		"personal": &PersonalAPI{eth: eth},
	} {
		if err := srv.RegisterName(name, api); err != nil {
			return err
		}
	}
	return nil
}

// PersonalAPI is personal_sign over the unlocked accounts.
type PersonalAPI struct{ eth *EthAPI }

// Sign is personal_sign: EIP-191 over data by addr (password ignored).
func (p *PersonalAPI) Sign(data hexutil.Bytes, addr common.Address, _ *string) (hexutil.Bytes, error) {
	return p.eth.Sign(addr, data)
}

// sendImpersonated sends args unsigned as args.From, which the dev chain
// impersonates (or force: eth_sendUnsignedTransaction).
func (api *EthAPI) sendImpersonated(ctx context.Context, args TransactionArgs) (common.Hash, error) {
	if args.From == nil {
		return common.Hash{}, paramErr(errors.New("No Signer available"))
	}
	unlock := api.lockNonce(*args.From)
	defer unlock()
	data, err := api.txData(ctx, args, *args.From)
	if err != nil {
		return common.Hash{}, err
	}
	tx, err := chain.Impersonate(api.signer, types.NewTx(data), *args.From)
	if err != nil {
		return common.Hash{}, err
	}
	return api.submitDev(ctx, tx)
}

// SendUnsignedTransaction sends as args.From without a signature, whether
// or not it is impersonated (anvil's eth_sendUnsignedTransaction).
func (api *EthAPI) SendUnsignedTransaction(ctx context.Context, args TransactionArgs) (common.Hash, error) {
	if api.b.DevChain == nil {
		return common.Hash{}, notDevError{"eth_sendUnsignedTransaction"}
	}
	if args.From == nil {
		return common.Hash{}, paramErr(errors.New("No Signer available"))
	}
	if !api.b.DevChain.Impersonating(*args.From) {
		if err := api.b.DevChain.Impersonate(*args.From, true); err != nil {
			return common.Hash{}, err
		}
		defer func() { _ = api.b.DevChain.Impersonate(*args.From, false) }()
	}
	return api.sendImpersonated(ctx, args)
}

// submitDev submits a tx built by eth_sendTransaction on a dev chain: under
// automine it returns once the tx's block is sealed. A tx that reverted is
// answered with its revert data as Hardhat's node does (the tx is in the
// block all the same), so fixed-gas sends get their revertedWith; one that
// failed without revert data (out of gas, invalid opcode) is answered with
// its hash as anvil does, its receipt saying status 0: test suites send txs
// estimated together (Promise.all) and rely on that answer.
func (api *EthAPI) submitDev(ctx context.Context, tx *types.Transaction) (common.Hash, error) {
	out, err := api.awaitMined(ctx, tx)
	if err != nil || out == nil || out.Receipt == nil || out.Receipt.Status == types.ReceiptStatusSuccessful {
		return tx.Hash(), err
	}
	if errors.Is(out.VMErr, chain.ErrExecutionReverted) {
		return tx.Hash(), newRevertError(out.Revert)
	}
	return tx.Hash(), nil
}

// awaitMined is DevChain.AwaitMined, or AwaitExecuted when the call's
// context allows answering before the seal (answersBehind): either way the
// outcome has the tx's result.
func (api *EthAPI) awaitMined(ctx context.Context, tx *types.Transaction) (*chain.TxOutcome, error) {
	if answersBehind(ctx) {
		return api.b.DevChain.AwaitExecuted(tx, api.realtime.SyncTimeout)
	}
	return api.b.DevChain.AwaitMined(tx, api.realtime.SyncTimeout)
}
