package chain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/big"
	"sort"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/bitutil"
	"github.com/ethereum/go-ethereum/consensus"
	"github.com/ethereum/go-ethereum/consensus/beacon"
	"github.com/ethereum/go-ethereum/consensus/ethash"
	"github.com/ethereum/go-ethereum/consensus/misc/eip1559"
	"github.com/ethereum/go-ethereum/consensus/misc/eip4844"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/stateless"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
	"github.com/ethereum/go-ethereum/rlp"
	"github.com/ethereum/go-ethereum/trie"
)

// ErrBlockFull is returned by ApplyTx when the tx does not fit in the gas left
// in the block; it stays pooled for the next block.
var ErrBlockFull = errors.New("block gas limit reached")

// HeaderReader is what execution needs of the chain: headers for BLOCKHASH and
// the witness.
type HeaderReader interface {
	GetHeader(hash common.Hash, number uint64) *types.Header
	GetHeaderByNumber(number uint64) *types.Header
	CurrentHeader() *types.Header
}

// chainContext adapts a HeaderReader to go-ethereum's core.ChainContext, with
// the engine geth uses for post-merge imports.
type chainContext struct {
	HeaderReader
	config *params.ChainConfig
	engine consensus.Engine
}

// postMerge is the engine of every chain context: it keeps no state, so one
// serves every caller (each eth_call builds a chain context).
var postMerge consensus.Engine = beacon.New(ethash.NewFaker())

// NewChainContext returns the core.ChainContext execution runs in.
func NewChainContext(config *params.ChainConfig, hr HeaderReader) core.ChainContext {
	return &chainContext{HeaderReader: hr, config: config, engine: postMerge}
}

func (c *chainContext) Config() *params.ChainConfig { return c.config }
func (c *chainContext) Engine() consensus.Engine    { return c.engine }
func (c *chainContext) GetHeaderByHash(hash common.Hash) *types.Header {
	// Execution only asks by hash and number; a hash-only lookup is not needed.
	return nil
}

// NextHeader returns the header template of the block after parent.
func NextHeader(config *params.ChainConfig, parent *types.Header, time uint64, gasLimit uint64, coinbase common.Address) *types.Header {
	excess := eip4844.CalcExcessBlobGas(config, parent, time)
	return &types.Header{
		ParentHash:       parent.Hash(),
		UncleHash:        types.EmptyUncleHash,
		Coinbase:         coinbase,
		Number:           new(big.Int).Add(parent.Number, common.Big1),
		GasLimit:         gasLimit,
		Time:             time,
		Difficulty:       new(big.Int),
		BaseFee:          eip1559.CalcBaseFee(config, parent),
		WithdrawalsHash:  &types.EmptyWithdrawalsHash,
		BlobGasUsed:      new(uint64),
		ExcessBlobGas:    &excess,
		ParentBeaconRoot: new(common.Hash),
		RequestsHash:     &types.EmptyRequestsHash,
	}
}

// SealedBlock is the result of BlockBuilder.Seal.
type SealedBlock struct {
	Block    *types.Block
	Receipts types.Receipts
	Update   *state.StateUpdate // authoritative diff; Update.Nodes hold the trie nodes to persist
	Diff     *StateDiff
	Witness  []byte
	Edits    []BlockEdits // dev chains: state edits between transactions
	// Deposits ran before the transactions; the header's transaction and
	// receipt roots cover them first.
	Deposits        []*Deposit
	DepositReceipts []*DepositReceipt
	// L1Origin is the block's deposit cursor (BlockBundle.L1Origin).
	L1Origin L1Origin

	finish func() error // set by SealState until Finish runs
}

// Finish completes a block from SealState: the block hash in receipts and
// logs, the state diff and the encoded witness. It does nothing after Seal.
func (sb *SealedBlock) Finish() error {
	if sb.finish == nil {
		return nil
	}
	f := sb.finish
	sb.finish = nil
	return f()
}

// BlockBuilder executes transactions one at a time on top of a parent block,
// as geth's miner does, but incrementally: the caller may take the state
// changes after any transaction (a mini-block) and seals the block once.
// It is not safe for concurrent use.
type BlockBuilder struct {
	config   *params.ChainConfig
	chain    core.ChainContext
	header   *types.Header
	state    *state.StateDB
	evm      *vm.EVM
	gp       *core.GasPool
	signer   types.Signer
	txs      types.Transactions
	receipts types.Receipts
	// deposits run before txs; tx indexes count them first
	deposits        []*Deposit
	depositReceipts []*DepositReceipt
	l1Origin        L1Origin
	logs            []*types.Log
	touched         *touchSet
	// The transaction and receipt roots are hashed as txs apply, so sealing
	// does not hash the whole block's lists at once.
	txRoot, receiptRoot *types.ListHashStream
	bloom               types.Bloom // of the receipts so far
	sealed              bool
	faulty              bool // seal a wrong state root (fault injection)
	edits               []BlockEdits
	dev                 bool   // a dev chain: impersonated senders
	lastRevert          []byte // of the newest tx, if it failed
	lastErr             error
}

// NewBlockBuilder opens block header (from NextHeader) on the parent's state
// and runs the pre-execution system calls (EIP-4788, EIP-2935).
func NewBlockBuilder(config *params.ChainConfig, hr HeaderReader, db state.Database, parent, header *types.Header) (*BlockBuilder, error) {
	return newBlockBuilder(config, hr, db, parent, parent.Root, header, true, nil)
}

// NewBlockBuilderWithoutWitness is NewBlockBuilder recording no witness:
// the sealed block's Witness is empty.
func NewBlockBuilderWithoutWitness(config *params.ChainConfig, hr HeaderReader, db state.Database, parent, header *types.Header) (*BlockBuilder, error) {
	return newBlockBuilder(config, hr, db, parent, parent.Root, header, false, nil)
}

// NewFaultyBlockBuilder is NewBlockBuilder for fault-injection tests: it
// builds on the state of root (the real state under a faulty parent) and,
// when faulty is set, seals a header whose state root is wrong while the
// state it commits is right. Nothing but the devnet's fault flag uses it.
func NewFaultyBlockBuilder(config *params.ChainConfig, hr HeaderReader, db state.Database, parent *types.Header, root common.Hash, header *types.Header, faulty bool) (*BlockBuilder, error) {
	b, err := newBlockBuilder(config, hr, db, parent, root, header, true, nil)
	if err == nil {
		b.faulty = faulty
	}
	return b, err
}

// newBlockBuilder is NewBlockBuilder with the witness optional and an
// optional signer (replay with pre-recovered senders).
func newBlockBuilder(config *params.ChainConfig, hr HeaderReader, db state.Database, parent *types.Header, root common.Hash, header *types.Header, collectWitness bool, signer types.Signer) (*BlockBuilder, error) {
	cc := NewChainContext(config, hr)
	statedb, err := state.New(root, db)
	if err != nil {
		return nil, fmt.Errorf("open state %s of block %d: %w", root, parent.Number, err)
	}
	if collectWitness {
		witness, err := stateless.NewWitness(header, cc, false)
		if err != nil {
			return nil, fmt.Errorf("witness for block %d: %w", header.Number, err)
		}
		statedb.StartPrefetcher("sequencer", witness)
	}
	if signer == nil {
		signer = types.MakeSigner(config, header.Number, header.Time)
	}
	touched := newTouchSet()
	hooked := state.NewHookedState(statedb, touched.hooks())
	b := &BlockBuilder{
		config:      config,
		chain:       cc,
		header:      header,
		state:       statedb,
		evm:         vm.NewEVM(core.NewEVMBlockContext(header, cc, &header.Coinbase), hooked, config, vm.Config{}),
		gp:          core.NewGasPool(header.GasLimit),
		signer:      signer,
		touched:     touched,
		txRoot:      types.NewListHashStream(trie.NewStackTrie(nil)),
		receiptRoot: types.NewListHashStream(trie.NewStackTrie(nil)),
	}
	core.PreExecution(context.Background(), header.ParentBeaconRoot, parent, config, b.evm, header.Number, header.Time)
	return b, nil
}

// Header returns the in-progress header (Root and GasUsed unset until Seal).
func (b *BlockBuilder) Header() *types.Header { return b.header }

// SetDev makes the builder read impersonated senders (a dev chain); call it
// before the first transaction.
func (b *BlockBuilder) SetDev() {
	if _, ok := b.signer.(devSigner); !ok {
		b.signer = devSigner{b.signer}
	}
	b.dev = true
}

// Signer is the signer of the block's rules.
func (b *BlockBuilder) Signer() types.Signer { return b.signer }

// GasUsed is the gas used so far.
func (b *BlockBuilder) GasUsed() uint64 { return b.gp.Used() }

// TxCount is the number of transactions applied so far.
func (b *BlockBuilder) TxCount() int { return len(b.txs) }

// Nonce reads an account's nonce in the in-progress state.
func (b *BlockBuilder) Nonce(addr common.Address) uint64 { return b.state.GetNonce(addr) }

// ApplyTx executes tx. On error the state is unchanged and the tx is not part
// of the block; ErrBlockFull means it may fit in the next one.
func (b *BlockBuilder) ApplyTx(tx *types.Transaction) (*types.Receipt, error) {
	if b.sealed {
		return nil, errors.New("block already sealed")
	}
	if tx.Gas() > b.gp.Available(false) {
		return nil, ErrBlockFull
	}
	msg, err := core.TransactionToMessage(tx, b.signer, b.header.BaseFee)
	if err != nil {
		return nil, err
	}
	if _, ok := ImpersonatedSender(tx); ok && b.dev {
		msg.SkipEOACheck() // anvil's impersonation sends from contracts too
	}
	snap, gp := b.state.Snapshot(), b.gp.Snapshot()
	at := len(b.deposits) + len(b.txs)
	b.state.SetTxContext(tx.Hash(), at, uint32(at+1))
	// core.ApplyTransactionWithEVM, keeping the execution result: a dev
	// chain answers a reverted eth_sendTransaction with its revert data.
	result, err := core.ApplyMessage(b.evm, msg, b.gp)
	if err != nil {
		b.state.RevertToSnapshot(snap)
		b.gp.Set(gp)
		return nil, err
	}
	b.evm.StateDB.Finalise(b.evm.GetRules())
	receipt := core.MakeReceipt(b.evm, result, b.state, b.header.Number, common.Hash{}, b.header.Time, tx, b.gp.CumulativeUsed(), nil)
	b.lastRevert, b.lastErr = nil, result.Err
	if result.Failed() {
		b.lastRevert = result.Revert()
	}
	receipt.EffectiveGasPrice = EffectiveGasPrice(tx, b.header.BaseFee)
	b.txs = append(b.txs, tx)
	b.receipts = append(b.receipts, receipt)
	b.logs = append(b.logs, receipt.Logs...)
	b.txRoot.Update(blockTxList{b.deposits, b.txs})
	b.receiptRoot.Update(blockReceiptList{b.depositReceipts, b.receipts})
	bitutil.ORBytes(b.bloom[:], b.bloom[:], receipt.Bloom[:])
	return receipt, nil
}

// LastResult is the EVM error and revert data of the newest applied tx
// (nil for a tx that succeeded).
func (b *BlockBuilder) LastResult() (error, []byte) { return b.lastErr, b.lastRevert }

// ApplyEdits writes dev edits into the block's state before its next
// transaction; TakeChanges reports the accounts, and the sealed block lists
// the edits with their position so re-execution applies them alike.
func (b *BlockBuilder) ApplyEdits(edits []DevEdit) error {
	if b.sealed {
		return errors.New("block already sealed")
	}
	for _, e := range edits {
		if err := e.Check(); err != nil {
			return err
		}
	}
	for _, e := range edits {
		if err := applyEdit(b.state, e); err != nil {
			return err
		}
		slots := b.touched.touch(e.Address)
		switch e.Kind {
		case EditCode:
			b.touched.code[e.Address] = struct{}{}
		case EditStorage:
			slots[e.Slot] = struct{}{}
		}
	}
	b.state.Finalise(b.evm.GetRules())
	at := uint64(len(b.txs))
	if n := len(b.edits); n > 0 && b.edits[n-1].TxIndex == at {
		b.edits[n-1].Edits = append(b.edits[n-1].Edits, edits...)
	} else {
		b.edits = append(b.edits, BlockEdits{TxIndex: at, Edits: append([]DevEdit(nil), edits...)})
	}
	return nil
}

// Edits are the dev edits applied so far with their positions.
func (b *BlockBuilder) Edits() []BlockEdits { return b.edits }

// TakeChanges returns every account changed since the previous call, with its
// current values, sorted by address.
func (b *BlockBuilder) TakeChanges() []AccountChange {
	out := make([]AccountChange, 0, len(b.touched.accounts))
	for addr, slots := range b.touched.accounts {
		c := AccountChange{Address: addr}
		if !b.state.Exist(addr) {
			c.Deleted = true
			c.Balance = new(uint256.Int)
			c.CodeHash = types.EmptyCodeHash
		} else {
			c.Nonce = b.state.GetNonce(addr)
			c.Balance = new(uint256.Int).Set(b.state.GetBalance(addr))
			c.CodeHash = b.state.GetCodeHash(addr)
			if _, ok := b.touched.code[addr]; ok {
				c.Code = b.state.GetCode(addr)
			}
		}
		for slot := range slots {
			c.Storage = append(c.Storage, SlotChange{Slot: slot, Value: b.state.GetState(addr, slot)})
		}
		sort.Slice(c.Storage, func(i, j int) bool { return bytes.Compare(c.Storage[i].Slot[:], c.Storage[j].Slot[:]) < 0 })
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return bytes.Compare(out[i].Address[:], out[j].Address[:]) < 0 })
	b.touched.reset()
	return out
}

// Seal runs the post-execution system calls, computes the state root and
// assembles the block. The builder is unusable afterwards. The state update
// is computed but its trie nodes are handed to the state database's dirty
// cache only; the caller persists them with the block.
func (b *BlockBuilder) Seal() (*SealedBlock, error) {
	sb, err := b.SealState()
	if err != nil {
		return nil, err
	}
	return sb, sb.Finish()
}

// SealState is the part of Seal the next block waits for: the block with
// its hash and the state update. SealedBlock.Finish does the rest and may
// run on another goroutine; until it returns, the receipts lack the block
// hash and Diff and Witness are unset.
func (b *BlockBuilder) SealState() (*SealedBlock, error) {
	if b.sealed {
		return nil, errors.New("block already sealed")
	}
	b.sealed = true
	defer b.evm.Release()
	h := b.header
	requests, _, err := core.PostExecution(context.Background(), b.config, h.Number, h.Time, b.logs, nil, b.evm, uint32(len(b.deposits)+len(b.txs)+1))
	if err != nil {
		return nil, fmt.Errorf("post-execution of block %d: %w", h.Number, err)
	}
	if requests != nil {
		rh := types.CalcRequestsHash(requests)
		h.RequestsHash = &rh
	}
	h.GasUsed = b.gp.Used()
	body := &types.Body{Transactions: b.txs, Withdrawals: make([]*types.Withdrawal, 0)}
	block := b.assemble(h, body)
	if err := b.state.Error(); err != nil {
		return nil, fmt.Errorf("state of block %d: %w", h.Number, err)
	}
	witness := b.state.Witness()
	b.state.StopPrefetcher()
	rules := b.config.Rules(h.Number, true, h.Time)
	root, update, err := b.state.CommitWithUpdate(rules, h.Number.Uint64())
	if err != nil {
		return nil, fmt.Errorf("commit state of block %d: %w", h.Number, err)
	}
	if root != block.Root() {
		return nil, fmt.Errorf("block %d: committed root %s differs from intermediate root %s", h.Number, root, block.Root())
	}
	if b.faulty {
		fh := block.Header()
		fh.Root = crypto.Keccak256Hash([]byte("meganode fault injection"), root[:])
		block = types.NewBlockWithHeader(fh).WithBody(*block.Body())
	}
	sb := &SealedBlock{Block: block, Receipts: b.receipts, Update: update, Edits: b.edits,
		Deposits: b.deposits, DepositReceipts: b.depositReceipts, L1Origin: b.l1Origin}
	sb.finish = func() error {
		hash := block.Hash()
		for _, r := range sb.DepositReceipts {
			r.BlockHash = hash
			for _, l := range r.Logs {
				l.BlockHash = hash
			}
		}
		for _, r := range sb.Receipts {
			r.BlockHash = hash
			for _, l := range r.Logs {
				l.BlockHash = hash
			}
		}
		var wbuf bytes.Buffer
		if witness != nil {
			if err := witness.EncodeRLP(&wbuf); err != nil {
				return fmt.Errorf("encode witness of block %d: %w", block.NumberU64(), err)
			}
		}
		sb.Diff, sb.Witness = DiffFromUpdate(update), wbuf.Bytes()
		return nil
	}
	return sb, nil
}

// assemble is core.AssembleBlock with the transaction and receipt roots the
// builder hashed as it went.
func (b *BlockBuilder) assemble(h *types.Header, body *types.Body) *types.Block {
	rules := b.config.Rules(h.Number, h.Difficulty.Sign() == 0, h.Time)
	if rules.IsAmsterdam { // block access lists: geth's assembly
		return core.AssembleBlock(b.chain, h, b.state, body, b.receipts, nil)
	}
	h.Root = b.state.IntermediateRoot(rules)
	h.TxHash, h.ReceiptHash = types.EmptyTxsHash, types.EmptyReceiptsHash
	if len(b.deposits)+len(b.txs) > 0 {
		h.TxHash, h.ReceiptHash = b.txRoot.Hash(), b.receiptRoot.Hash()
		h.Bloom = b.bloom
	}
	h.UncleHash, h.WithdrawalsHash = types.EmptyUncleHash, &types.EmptyWithdrawalsHash
	return types.NewBlockWithHeader(h).WithBody(*body)
}

// DiffFromUpdate converts go-ethereum's StateUpdate into the StateDiff
// replicas apply: final account values keyed by address, plain storage keys.
func DiffFromUpdate(u *state.StateUpdate) *StateDiff {
	d := &StateDiff{OriginRoot: u.OriginRoot, Root: u.Root}
	for addr := range u.AccountsOrigin {
		addrHash := crypto.Keccak256Hash(addr[:])
		c := AccountChange{Address: addr}
		if acct := u.Accounts[addrHash]; acct == nil {
			c.Deleted = true
			c.Balance = new(uint256.Int)
			c.CodeHash = types.EmptyCodeHash
		} else {
			c.Nonce = acct.Nonce
			c.Balance = new(uint256.Int).Set(acct.Balance)
			c.CodeHash = common.BytesToHash(acct.CodeHash)
		}
		if code, ok := u.Codes[addr]; ok {
			c.Code = code.Blob
		}
		for slot := range u.StoragesOrigin[addr] {
			key := slot
			if u.StorageKeyType == state.StorageKeyPlain {
				key = crypto.Keccak256Hash(slot[:])
			}
			c.Storage = append(c.Storage, SlotChange{Slot: slot, Value: u.Storages[addrHash][key]})
		}
		sort.Slice(c.Storage, func(i, j int) bool { return bytes.Compare(c.Storage[i].Slot[:], c.Storage[j].Slot[:]) < 0 })
		d.Accounts = append(d.Accounts, c)
	}
	sort.Slice(d.Accounts, func(i, j int) bool { return bytes.Compare(d.Accounts[i].Address[:], d.Accounts[j].Address[:]) < 0 })
	return d
}

// EncodeBundle and DecodeBundle give BlockBundle its storage and wire form.
func EncodeBundle(b *BlockBundle) ([]byte, error) { return rlp.EncodeToBytes(b) }

// DecodeBundle decodes what EncodeBundle produced.
func DecodeBundle(data []byte) (*BlockBundle, error) {
	var b BlockBundle
	if err := rlp.DecodeBytes(data, &b); err != nil {
		return nil, fmt.Errorf("decode block bundle: %w", err)
	}
	return &b, nil
}

// touchSet records the accounts and slots a state hook saw change.
type touchSet struct {
	accounts map[common.Address]map[common.Hash]struct{}
	code     map[common.Address]struct{}
}

func newTouchSet() *touchSet {
	t := &touchSet{}
	t.reset()
	return t
}

func (t *touchSet) reset() {
	t.accounts = make(map[common.Address]map[common.Hash]struct{})
	t.code = make(map[common.Address]struct{})
}

func (t *touchSet) touch(addr common.Address) map[common.Hash]struct{} {
	slots, ok := t.accounts[addr]
	if !ok {
		slots = make(map[common.Hash]struct{})
		t.accounts[addr] = slots
	}
	return slots
}

func (t *touchSet) hooks() *tracing.Hooks {
	return &tracing.Hooks{
		OnBalanceChange: func(addr common.Address, _, _ *big.Int, _ tracing.BalanceChangeReason) { t.touch(addr) },
		OnNonceChangeV2: func(addr common.Address, _, _ uint64, _ tracing.NonceChangeReason) { t.touch(addr) },
		OnCodeChangeV2: func(addr common.Address, _ common.Hash, _ []byte, _ common.Hash, _ []byte, _ tracing.CodeChangeReason) {
			t.touch(addr)
			t.code[addr] = struct{}{}
		},
		OnStorageChange: func(addr common.Address, slot common.Hash, _, _ common.Hash) { t.touch(addr)[slot] = struct{}{} },
	}
}
