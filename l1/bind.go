package l1

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"sync"

	"github.com/ethereum/go-ethereum"
	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/types"

	"github.com/meganode/meganode/contracts"
)

// Backend is what the package needs of an L1 client: go-ethereum's
// ethclient.Client and the embedded L1's client both are one.
type Backend interface {
	bind.ContractBackend
	bind.DeployBackend
	ethereum.ChainIDReader
}

// ErrReverted says an L1 transaction was mined and failed.
var ErrReverted = errors.New("l1 transaction reverted")

// Artifact is a compiled contract from contracts/artifacts.
type Artifact struct {
	Name             string
	ABI              *abi.ABI
	Bytecode         []byte // creation code
	DeployedBytecode []byte
}

type artifactJSON struct {
	ContractName     string          `json:"contractName"`
	ABI              json.RawMessage `json:"abi"`
	Bytecode         hexutil.Bytes   `json:"bytecode"`
	DeployedBytecode hexutil.Bytes   `json:"deployedBytecode"`
}

var (
	artifactsOnce sync.Once
	artifacts     map[string]*Artifact
	artifactsErr  error
)

// LoadArtifact returns the parsed artifact of a contract (contracts.Portal…).
func LoadArtifact(name string) (*Artifact, error) {
	artifactsOnce.Do(func() {
		artifacts = make(map[string]*Artifact)
		for _, n := range contracts.Names {
			raw, err := contracts.Artifact(n)
			if err != nil {
				artifactsErr = err
				return
			}
			var j artifactJSON
			if err := json.Unmarshal(raw, &j); err != nil {
				artifactsErr = fmt.Errorf("artifact %s: %w", n, err)
				return
			}
			parsed, err := abi.JSON(bytes.NewReader(j.ABI))
			if err != nil {
				artifactsErr = fmt.Errorf("artifact %s abi: %w", n, err)
				return
			}
			artifacts[n] = &Artifact{Name: n, ABI: &parsed, Bytecode: j.Bytecode, DeployedBytecode: j.DeployedBytecode}
		}
	})
	if artifactsErr != nil {
		return nil, artifactsErr
	}
	a, ok := artifacts[name]
	if !ok {
		return nil, fmt.Errorf("l1: no contract %q", name)
	}
	return a, nil
}

// mustArtifact is for the embedded artifacts, which a test parses: a
// failure is a broken build, not input.
func mustArtifact(name string) *Artifact {
	a, err := LoadArtifact(name)
	if err != nil {
		panic(err)
	}
	return a
}

// bound is one deployed contract.
type bound struct {
	abi  *abi.ABI
	addr common.Address
	c    *bind.BoundContract
}

func newBound(b Backend, name string, addr common.Address) *bound {
	a := mustArtifact(name)
	return &bound{abi: a.ABI, addr: addr, c: bind.NewBoundContract(addr, *a.ABI, b, b, b)}
}

// call runs a view method at the latest block and unpacks its results.
func (x *bound) call(ctx context.Context, method string, args ...any) ([]any, error) {
	var out []any
	if err := x.c.Call(&bind.CallOpts{Context: ctx}, &out, method, args...); err != nil {
		return nil, fmt.Errorf("call %s: %w", method, err)
	}
	return out, nil
}

func (x *bound) callBig(ctx context.Context, method string, args ...any) (*big.Int, error) {
	out, err := x.call(ctx, method, args...)
	if err != nil {
		return nil, err
	}
	return out[0].(*big.Int), nil
}

// transact sends method and waits for its receipt; a failed one is
// ErrReverted. A call that would revert fails in gas estimation already, with
// the contract's reason in the error.
func transact(ctx context.Context, b Backend, opts *bind.TransactOpts, x *bound, method string, args ...any) (*types.Receipt, error) {
	o := *opts
	o.Context = ctx
	tx, err := x.c.Transact(&o, method, args...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", method, err)
	}
	r, err := bind.WaitMined(ctx, b, tx.Hash())
	if err != nil {
		return nil, fmt.Errorf("%s: wait for %s: %w", method, tx.Hash(), err)
	}
	if r.Status != types.ReceiptStatusSuccessful {
		return r, fmt.Errorf("%s in %s: %w", method, tx.Hash(), ErrReverted)
	}
	return r, nil
}
