package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/bitutil"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/tracing"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/crypto"
)

// depositResult is what running a deposit gives the block: its gas and
// status, the EVM error of a failed one, and From's nonce before it ran.
type depositResult struct {
	gasUsed uint64
	failed  bool
	err     error // why it failed: an EVM error or a rejected message
	nonce   uint64
}

// applyDeposit runs d on evm's state with the OP Stack's post-Regolith
// rules:
//   - Mint is credited to From first and stays, whatever happens next;
//   - the call (or creation) runs with d.Gas, bought on L1: no gas is bought
//     from From's L2 balance, nothing is refunded in wei, no base fee is burnt
//     and the coinbase gets no tip (a zero gas price under NoBaseFee);
//   - a deposit the EVM cannot even start (intrinsic gas above d.Gas, Value
//     above From's balance after the mint) fails like a reverted one: the
//     state goes back to just after the mint, From's nonce still goes up by
//     one, and it uses all of d.Gas, as op-geth reports it;
//   - a deposit that runs and reverts or runs out of gas uses the gas the EVM
//     says (refunds included), as any transaction.
//
// d.Gas counts against the block's gas; ErrBlockFull, with the state
// untouched, means d belongs in the next block. The caller has set the
// state's tx context and finalises the state afterwards.
func applyDeposit(evm *vm.EVM, gp *core.GasPool, d *Deposit) (*depositResult, error) {
	if err := d.Check(); err != nil {
		return nil, err
	}
	amsterdam := evm.GetRules().IsAmsterdam
	if d.Gas > gp.Available(amsterdam) {
		return nil, ErrBlockFull
	}
	st := evm.StateDB
	start, gpStart := st.Snapshot(), gp.Snapshot()
	nonce := st.GetNonce(d.From)
	mint, value := d.amounts()
	if !mint.IsZero() {
		st.AddBalance(d.From, mint, tracing.BalanceChangeUnspecified)
	}
	afterMint := st.Snapshot()
	msg := &core.Message{
		From:      d.From,
		To:        d.To,
		Nonce:     nonce,
		Value:     value,
		GasLimit:  d.Gas,
		GasPrice:  new(uint256.Int),
		GasFeeCap: new(uint256.Int),
		GasTipCap: new(uint256.Int),
		Data:      d.Data,
	}
	// The portal vouches for From (an EOA or an aliased L1 contract, which
	// may have code on L2) and the nonce is the state's; EIP-7825's cap is
	// for gas bought on L2.
	msg.SkipNonceCheck().SkipEOACheck().SkipGasLimitCapCheck()
	noBaseFee := evm.Config.NoBaseFee
	evm.Config.NoBaseFee = true // a zero gas price passes the base fee check
	result, err := core.ApplyMessage(evm, msg, gp)
	evm.Config.NoBaseFee = noBaseFee
	switch {
	case errors.Is(err, core.ErrGasLimitReached):
		st.RevertToSnapshot(start)
		gp.Set(gpStart)
		return nil, ErrBlockFull
	case err != nil:
		st.RevertToSnapshot(afterMint)
		gp.Set(gpStart)
		if err := chargeGas(gp, amsterdam, d.Gas); err != nil {
			st.RevertToSnapshot(start)
			return nil, err
		}
		st.SetNonce(d.From, nonce+1, tracing.NonceChangeEoACall)
		return &depositResult{gasUsed: d.Gas, failed: true, err: err, nonce: nonce}, nil
	}
	return &depositResult{gasUsed: result.UsedGas, failed: result.Failed(), err: result.Err, nonce: nonce}, nil
}

// chargeGas takes a failed deposit's whole gas from the block's pool.
func chargeGas(gp *core.GasPool, amsterdam bool, gas uint64) error {
	if amsterdam {
		if err := gp.ChargeGasAmsterdam(gas, 0, gas); err != nil {
			return ErrBlockFull
		}
		return nil
	}
	if err := gp.CheckGasLegacy(gas); err != nil {
		return ErrBlockFull
	}
	return gp.ChargeGasLegacy(0, gas)
}

// newDepositReceipt is the receipt of d after applyDeposit: type 0x7E, the
// logs it left (none when it failed), a creation's address from From's nonce
// before it ran, and a zero effective gas price.
func newDepositReceipt(st *state.StateDB, d *Deposit, res *depositResult, cumGas uint64, number *big.Int, time uint64) *DepositReceipt {
	hash := d.Hash()
	r := &types.Receipt{
		Type:              DepositTxType,
		Status:            types.ReceiptStatusSuccessful,
		CumulativeGasUsed: cumGas,
		TxHash:            hash,
		GasUsed:           res.gasUsed,
		EffectiveGasPrice: new(big.Int),
		Logs:              st.GetLogs(hash, number.Uint64(), common.Hash{}, time),
		BlockNumber:       number,
		TransactionIndex:  uint(st.TxIndex()),
	}
	if res.failed {
		r.Status = types.ReceiptStatusFailed
	}
	if d.To == nil {
		r.ContractAddress = crypto.CreateAddress(d.From, res.nonce)
	}
	r.Bloom = types.CreateBloom(r)
	return &DepositReceipt{Receipt: r, DepositNonce: res.nonce, Version: DepositReceiptVersion}
}

// ApplyDeposit executes deposit d at the start of the block, before any
// transaction (deposits come first, as on the OP Stack). A deposit that
// fails is still part of the block, with a status 0 receipt and its mint
// kept; an error means d is not: ErrBlockFull (it waits for the next block,
// and so do the deposits after it) or ErrBadDeposit.
func (b *BlockBuilder) ApplyDeposit(d *Deposit) (*DepositReceipt, error) {
	switch {
	case b.sealed:
		return nil, errors.New("block already sealed")
	case len(b.txs) > 0:
		return nil, fmt.Errorf("%w: deposit %s after %d transactions", ErrBadDeposit, d.SourceHash, len(b.txs))
	}
	i := len(b.deposits)
	b.state.SetTxContext(d.Hash(), i, uint32(i+1))
	res, err := applyDeposit(b.evm, b.gp, d)
	if err != nil {
		return nil, err
	}
	b.evm.StateDB.Finalise(b.evm.GetRules())
	r := newDepositReceipt(b.state, d, res, b.gp.CumulativeUsed(), b.header.Number, b.header.Time)
	b.lastRevert, b.lastErr = nil, res.err
	b.deposits = append(b.deposits, d)
	b.depositReceipts = append(b.depositReceipts, r)
	b.logs = append(b.logs, r.Logs...)
	b.txRoot.Update(blockTxList{b.deposits, b.txs})
	b.receiptRoot.Update(blockReceiptList{b.depositReceipts, b.receipts})
	bitutil.ORBytes(b.bloom[:], b.bloom[:], r.Bloom[:])
	return r, nil
}

// SetL1Origin sets the block's deposit cursor: the newest L1 block whose
// deposits it and its ancestors include. The sealed block returns it.
func (b *BlockBuilder) SetL1Origin(o L1Origin) { b.l1Origin = o }

// L1Origin is the cursor SetL1Origin set.
func (b *BlockBuilder) L1Origin() L1Origin { return b.l1Origin }

// Deposits are the deposits applied so far, in order, and their receipts.
func (b *BlockBuilder) Deposits() ([]*Deposit, []*DepositReceipt) {
	return b.deposits, b.depositReceipts
}

// L1Deposits are the deposits one L1 block logged, in log order.
type L1Deposits struct {
	Origin   L1Origin
	Deposits []*Deposit
}

// DepositGas is the gas the deposits may use in all: what a block must
// have left to take them.
func (l L1Deposits) DepositGas() uint64 {
	var gas uint64
	for _, d := range l.Deposits {
		gas += d.Gas
	}
	return gas
}

// ApplyL1Deposits runs the deposits of L1 blocks after the parent's cursor,
// oldest L1 block first, and moves the block's cursor (SetL1Origin) past
// them. An L1 block's deposits go in whole or wait for the next L2 block:
// while every group fits in the gas left, the cursor ends at through (the
// newest confirmed L1 block, with or without deposits); at the first that
// does not, at the last group that ran (parent when none did). A deposit
// ApplyDeposit refuses as malformed (ErrBadDeposit) is left out, as every
// node leaves it out. It returns how many deposits ran.
func (b *BlockBuilder) ApplyL1Deposits(parent L1Origin, groups []L1Deposits, through L1Origin) (int, error) {
	b.l1Origin = parent
	n := 0
	for _, g := range groups {
		if g.DepositGas() > b.gp.Available(b.evm.GetRules().IsAmsterdam) {
			return n, nil
		}
		for _, d := range g.Deposits {
			if _, err := b.ApplyDeposit(d); err != nil {
				if errors.Is(err, ErrBadDeposit) {
					continue
				}
				return n, fmt.Errorf("deposit %s of L1 block %d: %w", d.SourceHash, g.Origin.Number, err)
			}
			n++
		}
		b.l1Origin = g.Origin
	}
	if through != (L1Origin{}) && through.Number >= b.l1Origin.Number {
		b.l1Origin = through
	}
	return n, nil
}
