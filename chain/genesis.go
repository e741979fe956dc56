package chain

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"maps"
	"math/big"
	"os"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/params"
)

// CREATE2DeployerAddress is the deterministic deployment proxy forge scripts
// use to deploy with a salt.
var CREATE2DeployerAddress = params.DeterministicFactoryAddress

// Genesis returns the devnet genesis: the system contracts the forks through
// Osaka call into, the CREATE2 deployer, Multicall3, the L2-to-L1 message
// passer (chain.MessagePasser) and the dev accounts, each
// funded with cfg.AccountFunds.
func Genesis(cfg Config) (*core.Genesis, []DevAccount, error) {
	if err := cfg.Check(); err != nil {
		return nil, nil, err
	}
	accounts, err := DeriveAccounts(cfg.Mnemonic, cfg.Accounts)
	if err != nil {
		return nil, nil, err
	}
	alloc := types.GenesisAlloc{}
	maps.Copy(alloc, core.SystemContractAllocs())
	// The Amsterdam builder queues are not part of a chain that stops at Osaka.
	delete(alloc, params.BuilderDepositAddress)
	delete(alloc, params.BuilderExitAddress)
	alloc[Multicall3Address] = types.Account{Nonce: 1, Code: common.FromHex(multicall3Code), Balance: common.Big0}
	alloc[MessagePasser] = types.Account{Nonce: 1, Code: MessagePasserCode(), Balance: common.Big0}
	for _, a := range accounts {
		alloc[a.Address] = types.Account{Balance: new(big.Int).Set(cfg.AccountFunds)}
	}
	for i := 0; i < cfg.StateAccounts; i++ {
		alloc[StateAccount(i)] = types.Account{Balance: big.NewInt(params.Ether)}
	}
	if _, ok := alloc[CREATE2DeployerAddress]; !ok {
		return nil, nil, fmt.Errorf("genesis lacks the CREATE2 deployer at %s", CREATE2DeployerAddress)
	}
	g := &core.Genesis{
		Config:     cfg.ChainConfig(),
		GasLimit:   cfg.GasLimit,
		BaseFee:    big.NewInt(params.InitialBaseFee),
		Difficulty: big.NewInt(0),
		Coinbase:   cfg.Coinbase,
		Alloc:      alloc,
	}
	if f := cfg.Fork; f != nil {
		g.Number, g.ParentHash, g.Timestamp = f.Number, f.ParentHash, f.Time
		if f.BaseFee != nil {
			g.BaseFee = new(big.Int).Set(f.BaseFee)
		}
	}
	return g, accounts, nil
}

// StateAccount is the i-th of Config.StateAccounts: an address nobody holds
// the key of, derived from i.
func StateAccount(i int) common.Address {
	return common.BytesToAddress(crypto.Keccak256(binary.BigEndian.AppendUint64([]byte("meganode state account"), uint64(i))))
}

// ReadGenesisFile reads a genesis.json in go-ethereum's format.
func ReadGenesisFile(path string) (*core.Genesis, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	g := new(core.Genesis)
	if err := json.Unmarshal(data, g); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if g.Config == nil {
		return nil, fmt.Errorf("%s: no chain config", path)
	}
	return g, nil
}
