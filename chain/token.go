package chain

import (
	"math/big"
	"slices"

	"github.com/ethereum/go-ethereum/common"
)

// TokenInit is the init code of a minimal ERC-20 used for load: only
// transfer(to, amount), balances keyed by address, a Transfer event, revert
// on insufficient balance. The constructor gives the deployer 2^248-1
// tokens. Hand-assembled: the runtime is 79 bytes.
var TokenInit = common.FromHex("7f00ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff3355604f602f600039604f6000f36024353354818110604a570333556004358054602435019055602435600052600435337fddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef60206000a3005b600080fd")

// TokenTransferGas covers one transfer to a fresh holder (two storage
// writes, one of them new, and a log) with room to spare.
const TokenTransferGas = 60_000

// TokenTransfer is the calldata of transfer(to, amount).
func TokenTransfer(to common.Address, amount uint64) []byte {
	return slices.Concat(common.FromHex("a9059cbb"), common.LeftPadBytes(to[:], 32), common.LeftPadBytes(new(big.Int).SetUint64(amount).Bytes(), 32))
}
