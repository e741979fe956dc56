package l1

import (
	"bytes"
	"context"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/params"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/contracts"
)

// env is an embedded L1 with the contracts deployed and named accounts.
type env struct {
	t          *testing.T
	ctx        context.Context
	l1         *Embedded
	c          *Client
	dep        *Deployment
	deployer   chain.DevAccount
	proposer   chain.DevAccount
	prover     chain.DevAccount // in the challenger set
	batcher    chain.DevAccount
	user       chain.DevAccount
	outsider   chain.DevAccount
	startTime  uint64
	deployConf Config
}

func newEnv(t *testing.T, edit func(*Config)) *env {
	t.Helper()
	return newEnvOn(t, DefaultEmbeddedConfig(), edit)
}

func newEnvOn(t *testing.T, ecfg EmbeddedConfig, edit func(*Config)) *env {
	t.Helper()
	l1, err := NewEmbedded(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l1.Close() })
	a := l1.Accounts
	e := &env{t: t, ctx: context.Background(), l1: l1, deployer: a[0], proposer: a[1], prover: a[2], batcher: a[3], user: a[4], outsider: a[5]}
	cfg := DefaultConfig()
	cfg.Proposer, cfg.Challengers, cfg.Batcher = e.proposer.Address, []common.Address{e.prover.Address}, e.batcher.Address
	cfg.FinalizationPeriod, cfg.ProofMaturityDelay = 100*time.Second, 50*time.Second
	if edit != nil {
		edit(&cfg)
	}
	l1.Commit() // genesis has time 0; this block has the wall clock's
	head, err := l1.Client().HeaderByNumber(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	e.startTime = head.Time
	cfg.StartingTimestamp = head.Time
	e.deployConf = cfg
	id, err := l1.Client().ChainID(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	if e.dep, err = Deploy(e.ctx, l1.Client(), bind.NewKeyedTransactor(e.deployer.Key, id), cfg); err != nil {
		t.Fatal(err)
	}
	if e.c, err = NewClient(e.ctx, l1.Client(), e.dep.Addresses); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) opts(a chain.DevAccount) *bind.TransactOpts { return e.c.Transactor(a.Key) }

func (e *env) advance(d time.Duration) {
	e.t.Helper()
	if err := e.l1.AdjustTime(d); err != nil {
		e.t.Fatal(err)
	}
}

func (e *env) balance(a common.Address) *big.Int {
	e.t.Helper()
	b, err := e.l1.Client().BalanceAt(e.ctx, a, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// wantRevert wants err to carry the contract's revert reason.
func wantRevert(t *testing.T, what string, err error, reason string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error, want revert %q", what, reason)
	}
	if !strings.Contains(err.Error(), reason) {
		t.Fatalf("%s: got %v, want revert %q", what, err, reason)
	}
}

func ether(n int64) *big.Int { return new(big.Int).Mul(big.NewInt(n), big.NewInt(params.Ether)) }

// TestUserDepositSourceHash checks the source hash against the OP Stack's
// own test vectors (contracts-bedrock's Hashing.t.sol and viem's op-stack
// utilities).
func TestUserDepositSourceHash(t *testing.T) {
	for _, tc := range []struct {
		block string
		index uint64
		want  string
	}{
		{"0xd25df7858efc1778118fb133ac561b138845361626dfb976699c5287ed0f4959", 1, "0xf923fb07134d7d287cb52c770cc619e17e82606c21a875c92f4c63b65280a5cc"},
		{"0x9ba3933dc6ce43c145349770a39c30f9b647f17668f004bd2e05c80a2e7262f7", 196, "0xd0868c8764d81f1749edb7dec4a550966963540d9fe50aefce8cdb38ea7b2213"},
	} {
		if got := UserDepositSourceHash(common.HexToHash(tc.block), tc.index); got != common.HexToHash(tc.want) {
			t.Errorf("source hash of (%s, %d): got %s, want %s", tc.block, tc.index, got, tc.want)
		}
	}
}

func TestApplyAlias(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"0x0000000000000000000000000000000000000000", "0x1111000000000000000000000000000000001111"},
		{"0xffffffffffffffffffffffffffffffffffffffff", "0x1111000000000000000000000000000000001110"}, // wraps as uint160
	} {
		if got := ApplyAlias(common.HexToAddress(tc.in)); got != common.HexToAddress(tc.want) {
			t.Errorf("alias of %s: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

// TestMessagePasserArtifact: the artifact compiled from chain/contracts is
// the code the L2 genesis deploys.
func TestMessagePasserArtifact(t *testing.T) {
	a, err := LoadArtifact(contracts.MessagePasser)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.DeployedBytecode, chain.MessagePasserCode()) {
		t.Fatal("artifacts/L2ToL1MessagePasser.json's deployed code is not chain.MessagePasserCode()")
	}
}

func TestDeployConfigCheck(t *testing.T) {
	good := DefaultConfig()
	good.Proposer, good.Batcher = common.Address{1}, common.Address{2}
	if err := good.Check(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Config)
	}{
		{"zero interval", func(c *Config) { c.SubmissionInterval = 0 }},
		{"zero block time", func(c *Config) { c.L2BlockTime = 0 }},
		{"fractional window", func(c *Config) { c.FinalizationPeriod = 1500 * time.Millisecond }},
		{"no proposer", func(c *Config) { c.Proposer = common.Address{} }},
		{"no batcher", func(c *Config) { c.Batcher = common.Address{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			tc.edit(&c)
			if c.Check() == nil {
				t.Fatal("got no error")
			}
		})
	}
}

func TestDeployment(t *testing.T) {
	e := newEnv(t, nil)
	// Account 0 of the test mnemonic at nonces 0, 1, 2 (docs/l1.md).
	want := Addresses{
		OutputOracle: common.HexToAddress("0x5FbDB2315678afecb367f032d93F642f64180aa3"),
		Portal:       common.HexToAddress("0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512"),
		DAInbox:      common.HexToAddress("0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0"),
	}
	if e.dep.Addresses != want {
		t.Errorf("addresses: got %+v, want %+v", e.dep.Addresses, want)
	}
	for name, addr := range map[string]common.Address{"portal": e.dep.Addresses.Portal, "oracle": e.dep.Addresses.OutputOracle, "inbox": e.dep.Addresses.DAInbox} {
		code, err := e.l1.Client().CodeAt(e.ctx, addr, nil)
		if err != nil || len(code) == 0 {
			t.Fatalf("%s at %s: %d bytes of code, %v", name, addr, len(code), err)
		}
	}
	window, err := e.c.FinalizationPeriod(e.ctx)
	if err != nil || window != 100*time.Second {
		t.Fatalf("finalization period: got %s (%v), want 100s", window, err)
	}
	out, err := e.c.portal.call(e.ctx, "L2_ORACLE")
	if err != nil || out[0].(common.Address) != e.dep.Addresses.OutputOracle {
		t.Fatalf("portal's oracle: got %v (%v), want %s", out, err, e.dep.Addresses.OutputOracle)
	}
}

func TestDepositFromEOA(t *testing.T) {
	e := newEnv(t, nil)
	to := common.HexToAddress("0x00000000000000000000000000000000000000aa")
	opts := e.opts(e.user)
	opts.Value = ether(2)
	r, err := e.c.Deposit(e.ctx, opts, DepositArgs{To: to, Value: ether(1), GasLimit: 100_000, Data: []byte{0x12, 0x34}})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := DepositsFromReceipt(r, e.dep.Addresses.Portal)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deposits in receipt: got %d (%v), want 1", len(ds), err)
	}
	d := ds[0]
	log := r.Logs[0]
	switch {
	case d.From != e.user.Address:
		t.Errorf("from: got %s, want the EOA %s unaliased", d.From, e.user.Address)
	case d.To == nil || *d.To != to:
		t.Errorf("to: got %v, want %s", d.To, to)
	case d.Mint.Cmp(ether(2)) != 0 || d.Value.Cmp(ether(1)) != 0:
		t.Errorf("mint, value: got %s, %s, want 2 and 1 ether", d.Mint, d.Value)
	case d.Gas != 100_000 || string(d.Data) != "\x12\x34" || d.IsSystemTx:
		t.Errorf("gas, data, system: got %d, %x, %v", d.Gas, d.Data, d.IsSystemTx)
	case d.SourceHash != UserDepositSourceHash(r.BlockHash, uint64(log.Index)):
		t.Errorf("source hash: got %s, want the user deposit hash of (%s, %d)", d.SourceHash, r.BlockHash, log.Index)
	case d.L1BlockHash != r.BlockHash || d.L1BlockNumber != r.BlockNumber.Uint64() || d.L1TxHash != r.TxHash:
		t.Errorf("L1 position: got %s/%d/%s", d.L1BlockHash, d.L1BlockNumber, d.L1TxHash)
	}
	// OP's exact opaqueData: mint ‖ value ‖ gasLimit (8) ‖ isCreation (1) ‖ data.
	opaque := append(append(common.LeftPadBytes(ether(2).Bytes(), 32), common.LeftPadBytes(ether(1).Bytes(), 32)...), 0, 0, 0, 0, 0, 1, 0x86, 0xa0, 0, 0x12, 0x34)
	if got := log.Data[64 : 64+len(opaque)]; string(got) != string(opaque) {
		t.Errorf("opaqueData: got %x, want %x", got, opaque)
	}
	if got := e.balance(e.dep.Addresses.Portal); got.Cmp(ether(2)) != 0 {
		t.Errorf("portal holds %s, want 2 ether", got)
	}

	// ETH sent to the portal is a deposit to the sender, gas 100,000.
	plain, err := e.sendValue(e.user, e.dep.Addresses.Portal, ether(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	ds, _ = DepositsFromReceipt(plain, e.dep.Addresses.Portal)
	if len(ds) != 1 || *ds[0].To != e.user.Address || ds[0].Mint.Cmp(ether(1)) != 0 || ds[0].Value.Cmp(ether(1)) != 0 || ds[0].Gas != 100_000 {
		t.Errorf("receive deposit: got %+v", ds)
	}

	// A creation goes to no address.
	r, err = e.c.Deposit(e.ctx, e.opts(e.user), DepositArgs{IsCreation: true, GasLimit: 200_000, Data: []byte{0x60, 0x00}})
	if err != nil {
		t.Fatal(err)
	}
	ds, _ = DepositsFromReceipt(r, e.dep.Addresses.Portal)
	if len(ds) != 1 || ds[0].To != nil || ds[0].Mint.Sign() != 0 {
		t.Errorf("creation deposit: got %+v", ds[0])
	}

	// The L1 range read finds all three, in order.
	all, err := e.c.Deposits(e.ctx, 0, r.BlockNumber.Uint64())
	if err != nil || len(all) != 3 || all[2].SourceHash != ds[0].SourceHash {
		t.Errorf("Deposits: got %d (%v), want 3 ending with the creation", len(all), err)
	}

	_, err = e.c.Deposit(e.ctx, e.opts(e.user), DepositArgs{To: to, IsCreation: true, GasLimit: 100_000})
	wantRevert(t, "creation to an address", err, "OptimismPortal: must send to address(0) when creating a contract")
	_, err = e.c.Deposit(e.ctx, e.opts(e.user), DepositArgs{To: to, GasLimit: 21_000 + 40*2 - 1, Data: []byte{1, 2}})
	wantRevert(t, "gas below 21000 + 40/byte", err, "OptimismPortal: gas limit too small")
	_, err = e.c.Deposit(e.ctx, e.opts(e.user), DepositArgs{To: to, GasLimit: 21_000 + 40*2, Data: []byte{1, 2}})
	if err != nil {
		t.Errorf("deposit at exactly the minimum gas limit: %v", err)
	}
}

// forwarder is creation code of a contract that calls the address baked
// into it with its own calldata and value, and reverts if that call does.
func forwarder(target common.Address) []byte {
	runtime := []byte{0x36, 0x5f, 0x5f, 0x37, // calldatacopy(0, 0, calldatasize)
		0x5f, 0x5f, 0x36, 0x5f, 0x34, 0x73} // retSize, retOffset, argsSize, argsOffset, callvalue, push20
	runtime = append(runtime, target[:]...)
	runtime = append(runtime, 0x5a, 0xf1)                                   // gas, call
	ok := byte(len(runtime) + 6)                                            // the JUMPDEST below
	runtime = append(runtime, 0x60, ok, 0x57, 0x5f, 0x5f, 0xfd, 0x5b, 0x00) // jumpi ok; revert(0,0); ok: stop
	initCode := []byte{0x60, byte(len(runtime)), 0x80, 0x60, 0x09, 0x5f, 0x39, 0x5f, 0xf3}
	return append(initCode, runtime...)
}

func (e *env) sendValue(from chain.DevAccount, to common.Address, value *big.Int, data []byte) (*types.Receipt, error) {
	c := e.l1.Client()
	nonce, err := c.PendingNonceAt(e.ctx, from.Address)
	if err != nil {
		return nil, err
	}
	tip := big.NewInt(params.GWei)
	head, err := c.HeaderByNumber(e.ctx, nil)
	if err != nil {
		return nil, err
	}
	fee := new(big.Int).Add(tip, new(big.Int).Mul(head.BaseFee, big.NewInt(2)))
	var toPtr *common.Address
	if to != (common.Address{}) {
		toPtr = &to
	}
	tx := types.MustSignNewTx(from.Key, types.LatestSignerForChainID(e.c.ChainID()), &types.DynamicFeeTx{
		ChainID: e.c.ChainID(), Nonce: nonce, GasTipCap: tip, GasFeeCap: fee, Gas: 500_000, To: toPtr, Value: value, Data: data,
	})
	if err := c.SendTransaction(e.ctx, tx); err != nil {
		return nil, err
	}
	return bind.WaitMined(e.ctx, c, tx.Hash())
}

func TestDepositFromContract(t *testing.T) {
	e := newEnv(t, nil)
	r, err := e.sendValue(e.user, common.Address{}, nil, forwarder(e.dep.Addresses.Portal))
	if err != nil || r.Status != 1 {
		t.Fatalf("deploy forwarder: %v, status %d", err, r.Status)
	}
	fwd := r.ContractAddress
	to := common.HexToAddress("0x00000000000000000000000000000000000000bb")
	input, err := e.c.portal.abi.Pack("depositTransaction", to, ether(1), uint64(50_000), false, []byte{})
	if err != nil {
		t.Fatal(err)
	}
	r, err = e.sendValue(e.user, fwd, ether(3), input)
	if err != nil || r.Status != 1 {
		t.Fatalf("deposit through the forwarder: %v, status %d", err, r.Status)
	}
	ds, err := DepositsFromReceipt(r, e.dep.Addresses.Portal)
	if err != nil || len(ds) != 1 {
		t.Fatalf("deposits: got %d (%v), want 1", len(ds), err)
	}
	want := common.BigToAddress(new(big.Int).Add(fwd.Big(), AliasOffset.Big()))
	if ds[0].From != want || ApplyAlias(fwd) != want {
		t.Errorf("from: got %s, want the alias %s of contract %s", ds[0].From, want, fwd)
	}
	if *ds[0].To != to || ds[0].Mint.Cmp(ether(3)) != 0 || ds[0].Value.Cmp(ether(1)) != 0 || ds[0].Gas != 50_000 {
		t.Errorf("deposit: got %+v", ds[0])
	}
}

func bigU(x uint64) *big.Int { return new(big.Int).SetUint64(x) }

// TestDepositTxHash decodes an OP Mainnet TransactionDeposited log and wants
// the L2 transaction hash OP derived from it (viem's op-stack test vector).
func TestDepositTxHash(t *testing.T) {
	from := common.HexToAddress("0x1a1E021A302C237453D3D45c7B82B19cEEB7E2e6")
	opaque := common.FromHex("0x00000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000045000000000000520800")
	data, err := mustArtifact(contracts.Portal).ABI.Events["TransactionDeposited"].Inputs.NonIndexed().Pack(opaque)
	if err != nil {
		t.Fatal(err)
	}
	l := &types.Log{
		Topics:    []common.Hash{depositTopic(), common.BytesToHash(from[:]), common.BytesToHash(from[:]), {}},
		Data:      data,
		BlockHash: common.HexToHash("0x634c52556471c589f42db9131467e0c9484f5c73049e32d1a74e2a4ce0f91d57"),
		Index:     109,
	}
	d, err := DepositFromLog(l)
	if err != nil {
		t.Fatal(err)
	}
	if d.Value.Int64() != 0x45 || d.Gas != 21000 || d.Mint.Sign() != 0 || *d.To != from {
		t.Fatalf("deposit: got %+v", d)
	}
	if got, want := d.Hash(), common.HexToHash("0x0a60b983815ed475c5919609025204a479654d93afc610feca7d99ae0befc329"); got != want {
		t.Fatalf("L2 tx hash: got %s, want %s", got, want)
	}
	enc, _ := d.MarshalBinary()
	if enc[0] != DepositTxType {
		t.Errorf("type byte: got %#x, want 0x7e", enc[0])
	}
}

// TestDepositsInOneBlock: with automining off, deposits sealed together get
// consecutive log indexes and distinct source hashes.
func TestDepositsInOneBlock(t *testing.T) {
	e := newEnv(t, nil)
	e.l1.SetAutoMine(false)
	ctx, c, client := e.ctx, e.l1.Client(), e.c
	l1 := e.l1
	portal := client.portal
	for i := 0; i < 3; i++ {
		opts := client.Transactor(l1.Accounts[2+i].Key)
		opts.Context, opts.Value, opts.GasLimit = ctx, ether(1), 100_000
		if _, err := portal.c.Transact(opts, "depositTransaction", l1.Accounts[2+i].Address, ether(1), uint64(50_000), false, []byte{}); err != nil {
			t.Fatal(err)
		}
	}
	l1.Commit()
	head, _ := c.HeaderByNumber(ctx, nil)
	ds, err := client.Deposits(ctx, head.Number.Uint64(), head.Number.Uint64())
	if err != nil || len(ds) != 3 {
		t.Fatalf("deposits in the block: got %d (%v), want 3", len(ds), err)
	}
	seen := map[common.Hash]bool{}
	for i, d := range ds {
		if d.LogIndex != uint(i) || d.L1BlockHash != head.Hash() || seen[d.SourceHash] {
			t.Errorf("deposit %d: log %d in %s, source hash %s (seen %v)", i, d.LogIndex, d.L1BlockHash, d.SourceHash, seen[d.SourceHash])
		}
		seen[d.SourceHash] = true
	}
}
