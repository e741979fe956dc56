package chain

import (
	"errors"
	"fmt"
	"math/big"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/params"
)

const (
	// DefaultChainID is the devnet's chain id: our own, not MegaETH's 4326/6343.
	DefaultChainID = 4747
	// DefaultGasLimit is the block gas limit. A block lasts a second and carries
	// every mini-block of that second, so it is far above Ethereum's.
	DefaultGasLimit = 10_000_000_000
	// DefaultMnemonic is the standard test mnemonic anvil and Hardhat use.
	DefaultMnemonic = "test test test test test test test test test test test junk"
)

// Config describes the chain a node runs.
type Config struct {
	ChainID  uint64         // default DefaultChainID
	GasLimit uint64         // block gas limit, default DefaultGasLimit
	Coinbase common.Address // receives priority fees, default the zero address

	Mnemonic     string   // dev accounts are derived from it, default DefaultMnemonic
	Accounts     int      // number of prefunded dev accounts, default 10
	AccountFunds *big.Int // balance of each dev account, default 10,000 ETH

	// StateAccounts more accounts (StateAccount(0…n-1)) hold 1 ETH each at
	// genesis: a state of that size, to measure how costs grow with it.
	StateAccounts int

	// GenesisTime is the built-in genesis's timestamp, default 0: every node
	// of a network computes the same genesis from the same flags. The
	// devnet, which no other node joins, sets its start time as anvil does
	// (node.NewDevnet). A fork's and a Custom genesis's time are their own.
	GenesisTime uint64

	// Fork, when set, makes the genesis stand for that block of another
	// chain: numbered and timed as it, with its base fee (--fork-url).
	Fork *ForkPoint

	// Custom, when set, is the chain's genesis as a file gave it (--genesis,
	// go-ethereum's genesis.json): its config, alloc and header fields make
	// the chain, and ChainID and GasLimit are read from it. A dev chain adds
	// the dev accounts to its alloc (as anvil --init does); no other role
	// changes it, so every node of a network computes the same genesis hash
	// as geth does for that file.
	Custom *core.Genesis
	// DevAccounts funds the dev accounts in a Custom genesis.
	DevAccounts bool
}

// ForkPoint is the block of another chain a devnet forks.
type ForkPoint struct {
	Number     uint64
	Hash       common.Hash
	ParentHash common.Hash
	Time       uint64
	BaseFee    *big.Int
}

// DefaultConfig returns the devnet configuration.
func DefaultConfig() Config {
	return Config{
		ChainID:      DefaultChainID,
		GasLimit:     DefaultGasLimit,
		Mnemonic:     DefaultMnemonic,
		Accounts:     10,
		AccountFunds: new(big.Int).Mul(big.NewInt(10_000), big.NewInt(params.Ether)),
	}
}

// Check reports the first invalid field.
func (c Config) Check() error {
	switch {
	case c.ChainID == 0:
		return errors.New("chain id must be positive")
	case c.GasLimit < params.TxGas:
		return fmt.Errorf("block gas limit %d below the %d a transfer needs", c.GasLimit, params.TxGas)
	case c.Accounts < 0 || c.Accounts > 1000:
		return fmt.Errorf("dev account count %d out of range [0, 1000]", c.Accounts)
	case c.StateAccounts < 0 || c.StateAccounts > 10_000_000:
		return fmt.Errorf("state account count %d out of range [0, 10000000]", c.StateAccounts)
	case c.AccountFunds == nil || c.AccountFunds.Sign() < 0:
		return errors.New("dev account funds must be set and non-negative")
	}
	return nil
}

// ChainConfig returns go-ethereum's chain configuration: every fork through
// Osaka active at genesis, post-merge, EIP-1559 fees.
func (c Config) ChainConfig() *params.ChainConfig {
	if c.Custom != nil {
		return c.Custom.Config
	}
	zero := uint64(0)
	return &params.ChainConfig{
		ChainID:                 new(big.Int).SetUint64(c.ChainID),
		HomesteadBlock:          big.NewInt(0),
		EIP150Block:             big.NewInt(0),
		EIP155Block:             big.NewInt(0),
		EIP158Block:             big.NewInt(0),
		ByzantiumBlock:          big.NewInt(0),
		ConstantinopleBlock:     big.NewInt(0),
		PetersburgBlock:         big.NewInt(0),
		IstanbulBlock:           big.NewInt(0),
		MuirGlacierBlock:        big.NewInt(0),
		BerlinBlock:             big.NewInt(0),
		LondonBlock:             big.NewInt(0),
		ArrowGlacierBlock:       big.NewInt(0),
		GrayGlacierBlock:        big.NewInt(0),
		MergeNetsplitBlock:      big.NewInt(0),
		TerminalTotalDifficulty: big.NewInt(0),
		ShanghaiTime:            &zero,
		CancunTime:              &zero,
		PragueTime:              &zero,
		OsakaTime:               &zero,
		BlobScheduleConfig: &params.BlobScheduleConfig{
			Cancun: params.DefaultCancunBlobConfig,
			Prague: params.DefaultPragueBlobConfig,
		},
	}
}
