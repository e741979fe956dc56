package l1

import (
	"context"
	"crypto/ecdsa"
	"fmt"
	"math/big"
	"time"

	"github.com/ethereum/go-ethereum/accounts/abi"
	"github.com/ethereum/go-ethereum/accounts/abi/bind/v2"
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
)

// OutputRoot is the op-stack V0 output root the oracle holds:
// keccak256(bytes32(0) ‖ stateRoot ‖ messagePasserStorageRoot ‖ blockHash).
func OutputRoot(stateRoot, messagePasserStorageRoot, blockHash common.Hash) common.Hash {
	return chain.OutputRoot(stateRoot, messagePasserStorageRoot, blockHash)
}

// Output is one proposal in the oracle.
type Output struct {
	Index         uint64
	OutputRoot    common.Hash
	Timestamp     uint64 // L1 time of the proposal
	L2BlockNumber uint64
}

type outputProposal struct {
	OutputRoot    [32]byte
	Timestamp     *big.Int
	L2BlockNumber *big.Int
}

// ProposeL2Output posts the output root of L2 block l2Block, which must be
// the oracle's NextBlockNumber. A non-zero l1Hash pins the proposal to L1
// block l1Number: one of the 256 before the L1 head (not the head itself,
// whose hash the head's own context, where gas is estimated, does not know).
func (c *Client) ProposeL2Output(ctx context.Context, opts *bind.TransactOpts, root common.Hash, l2Block uint64, l1Hash common.Hash, l1Number uint64) (*types.Receipt, error) {
	return transact(ctx, c.b, opts, c.oracle, "proposeL2Output", root, new(big.Int).SetUint64(l2Block), l1Hash, new(big.Int).SetUint64(l1Number))
}

// DeleteL2Outputs deletes the output at index and every later one (from a
// challenger's account, inside the challenge window).
func (c *Client) DeleteL2Outputs(ctx context.Context, opts *bind.TransactOpts, index uint64) (*types.Receipt, error) {
	return transact(ctx, c.b, opts, c.oracle, "deleteL2Outputs", new(big.Int).SetUint64(index))
}

// Challenge submits a prover's signed dispute of the output at index (see
// SignChallenge); any account may send it.
func (c *Client) Challenge(ctx context.Context, opts *bind.TransactOpts, index uint64, claimed common.Hash, sig []byte) (*types.Receipt, error) {
	return transact(ctx, c.b, opts, c.oracle, "challenge", new(big.Int).SetUint64(index), claimed, sig)
}

// L2Output reads the output at index.
func (c *Client) L2Output(ctx context.Context, index uint64) (*Output, error) {
	out, err := c.oracle.call(ctx, "getL2Output", new(big.Int).SetUint64(index))
	if err != nil {
		return nil, err
	}
	p := *abi.ConvertType(out[0], new(outputProposal)).(*outputProposal)
	return &Output{Index: index, OutputRoot: p.OutputRoot, Timestamp: p.Timestamp.Uint64(), L2BlockNumber: p.L2BlockNumber.Uint64()}, nil
}

// L2OutputIndexAfter is the index of the first output at or after L2 block n.
func (c *Client) L2OutputIndexAfter(ctx context.Context, n uint64) (uint64, error) {
	v, err := c.oracle.callBig(ctx, "getL2OutputIndexAfter", new(big.Int).SetUint64(n))
	if err != nil {
		return 0, err
	}
	return v.Uint64(), nil
}

// NextOutputIndex is the number of standing outputs.
func (c *Client) NextOutputIndex(ctx context.Context) (uint64, error) {
	v, err := c.oracle.callBig(ctx, "nextOutputIndex")
	if err != nil {
		return 0, err
	}
	return v.Uint64(), nil
}

// LatestBlockNumber is the L2 block of the newest output.
func (c *Client) LatestBlockNumber(ctx context.Context) (uint64, error) {
	v, err := c.oracle.callBig(ctx, "latestBlockNumber")
	if err != nil {
		return 0, err
	}
	return v.Uint64(), nil
}

// NextBlockNumber is the L2 block whose output the proposer posts next.
func (c *Client) NextBlockNumber(ctx context.Context) (uint64, error) {
	v, err := c.oracle.callBig(ctx, "nextBlockNumber")
	if err != nil {
		return 0, err
	}
	return v.Uint64(), nil
}

// FinalizationPeriod is the oracle's challenge window.
func (c *Client) FinalizationPeriod(ctx context.Context) (time.Duration, error) {
	v, err := c.oracle.callBig(ctx, "FINALIZATION_PERIOD_SECONDS")
	if err != nil {
		return 0, err
	}
	return time.Duration(v.Uint64()) * time.Second, nil
}

// challengeDomain is the oracle's CHALLENGE_DOMAIN.
var challengeDomain = crypto.Keccak256Hash([]byte("meganode.OutputOracle.challenge.v1"))

// ChallengeDigest is what a prover signs to dispute the output at index of
// the oracle at oracle on L1 chainID: that block l2Block's output is claimed,
// not disputed. It is the oracle's challengeDigest:
// keccak256(abi.encode(domain, chainID, oracle, index, disputed, l2Block, claimed)).
func ChallengeDigest(chainID *big.Int, oracle common.Address, index uint64, disputed common.Hash, l2Block uint64, claimed common.Hash) common.Hash {
	word := func(b []byte) []byte { return common.LeftPadBytes(b, 32) }
	return crypto.Keccak256Hash(
		challengeDomain[:], word(chainID.Bytes()), word(oracle[:]), word(new(big.Int).SetUint64(index).Bytes()),
		disputed[:], word(new(big.Int).SetUint64(l2Block).Bytes()), claimed[:],
	)
}

// SignChallenge signs a dispute of out with a prover's key: the 65-byte
// signature Challenge takes.
func (c *Client) SignChallenge(key *ecdsa.PrivateKey, out *Output, claimed common.Hash) ([]byte, error) {
	sig, err := crypto.Sign(ChallengeDigest(c.chainID, c.addrs.OutputOracle, out.Index, out.OutputRoot, out.L2BlockNumber, claimed).Bytes(), key)
	if err != nil {
		return nil, fmt.Errorf("sign dispute of output %d: %w", out.Index, err)
	}
	return sig, nil
}

// fraudDomain is the oracle's FRAUD_DOMAIN.
var fraudDomain = crypto.Keccak256Hash([]byte("meganode.OutputOracle.fraud.v1"))

// FraudDigest is what a prover signs to claim that L2 block blockHash, the
// block of the output at index of the oracle at oracle on L1 chainID,
// re-executes to claimedStateRoot: the oracle's fraudDigest,
// keccak256(abi.encode(domain, chainID, oracle, index, blockHash, claimedStateRoot)).
func FraudDigest(chainID *big.Int, oracle common.Address, index uint64, blockHash, claimedStateRoot common.Hash) common.Hash {
	word := func(b []byte) []byte { return common.LeftPadBytes(b, 32) }
	return crypto.Keccak256Hash(fraudDomain[:], word(chainID.Bytes()), word(oracle[:]), word(new(big.Int).SetUint64(index).Bytes()),
		blockHash[:], claimedStateRoot[:])
}

// SignFraud signs a fraud claim about the block of the output at index with
// a prover's key: the signature ChallengeBlock takes.
func (c *Client) SignFraud(key *ecdsa.PrivateKey, index uint64, blockHash, claimedStateRoot common.Hash) ([]byte, error) {
	sig, err := crypto.Sign(FraudDigest(c.chainID, c.addrs.OutputOracle, index, blockHash, claimedStateRoot).Bytes(), key)
	if err != nil {
		return nil, fmt.Errorf("sign fraud claim on output %d: %w", index, err)
	}
	return sig, nil
}

// ChallengeBlock deletes the output at index on a fraud claim about its
// block: disputed is the output's preimage, header its block's header (the
// one in the sequencer's signed block of a chain.FraudProof), claimed the
// state root the prover's re-execution gave and sig its SignFraud. An output
// whose state root is not its header's needs no signature (sig may be empty).
func (c *Client) ChallengeBlock(ctx context.Context, opts *bind.TransactOpts, index uint64, disputed OutputRootProof, header *types.Header, claimed common.Hash, sig []byte) (*types.Receipt, error) {
	enc, err := rlp.EncodeToBytes(header)
	if err != nil {
		return nil, fmt.Errorf("challengeBlock: encode header %d: %w", header.Number, err)
	}
	if sig == nil {
		sig = []byte{}
	}
	return transact(ctx, c.b, opts, c.oracle, "challengeBlock", new(big.Int).SetUint64(index), disputed, enc, claimed, sig)
}
