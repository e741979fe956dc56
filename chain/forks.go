package chain

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/forkid"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/core/vm"
	"github.com/ethereum/go-ethereum/params"
)

// ForkConfig is one fork as EIP-7910's eth_config describes it.
type ForkConfig struct {
	ActivationTime  uint64                    `json:"activationTime"`
	BlobSchedule    *params.BlobConfig        `json:"blobSchedule"`
	ChainId         *hexutil.Big              `json:"chainId"`
	ForkId          hexutil.Bytes             `json:"forkId"`
	Precompiles     map[string]common.Address `json:"precompiles"`
	SystemContracts map[string]common.Address `json:"systemContracts"`
}

// ForkConfigs is the eth_config answer.
type ForkConfigs struct {
	Current *ForkConfig `json:"current"`
	Next    *ForkConfig `json:"next"`
	Last    *ForkConfig `json:"last"`
}

// DescribeForks describes the fork in force at headTime, the next scheduled
// one (skipping unconfigured optional forks) and the last one; Next and Last
// are nil without a future fork.
func DescribeForks(c *params.ChainConfig, genesis *types.Header, headTime uint64) *ForkConfigs {
	describe := func(ts *uint64) *ForkConfig {
		if ts == nil {
			return nil
		}
		rules := c.Rules(c.LondonBlock, true, *ts)
		pre := make(map[string]common.Address)
		for addr, p := range vm.ActivePrecompiledContracts(rules) {
			pre[p.Name()] = addr
		}
		activation := *ts
		if genesis.Time >= activation {
			activation = 0
		}
		id := forkid.NewID(c, types.NewBlockWithHeader(genesis), ^uint64(0), *ts).Hash
		return &ForkConfig{
			ActivationTime:  activation,
			BlobSchedule:    c.BlobConfig(c.LatestFork(*ts)),
			ChainId:         (*hexutil.Big)(c.ChainID),
			ForkId:          id[:],
			Precompiles:     pre,
			SystemContracts: c.ActiveSystemContracts(*ts),
		}
	}
	current := c.LatestFork(headTime)
	last := c.LatestFork(^uint64(0))
	var next *uint64
	for f := current + 1; f <= last; f++ {
		if ts := c.Timestamp(f); ts != nil {
			next = ts
			break
		}
	}
	res := &ForkConfigs{Current: describe(c.Timestamp(current)), Next: describe(next)}
	if res.Next != nil {
		res.Last = describe(c.Timestamp(last))
	}
	return res
}
