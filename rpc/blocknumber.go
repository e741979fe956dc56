package rpc

import (
	"math"
	"strconv"
	"strings"

	gethrpc "github.com/ethereum/go-ethereum/rpc"
)

// blockNumberArg is the block parameter of the by-number block methods
// (eth_getBlockByNumber and its kin), read as anvil reads its
// BlockNumberOrTag: geth's forms, and also a JSON integer or a decimal string.
// ethers' provider.send passes block.number as a JS number (OpenZeppelin's
// TrieProof test does); geth refuses it, anvil and Hardhat answer. Methods
// taking a block number or hash keep geth's strict form, as anvil does.
type blockNumberArg gethrpc.BlockNumber

func (b *blockNumberArg) UnmarshalJSON(data []byte) error {
	s := strings.TrimSpace(string(data))
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	if s != "" && strings.Trim(s, "0123456789") == "" && !strings.HasPrefix(s, "0x") {
		if n, err := strconv.ParseUint(s, 10, 64); err == nil && n <= math.MaxInt64 {
			*b = blockNumberArg(n)
			return nil
		}
	}
	var num gethrpc.BlockNumber
	if err := num.UnmarshalJSON(data); err != nil {
		return err
	}
	*b = blockNumberArg(num)
	return nil
}
