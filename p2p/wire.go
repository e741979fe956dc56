// Package p2p carries the sequencer's output to the other roles: gossipsub
// topics for mini-blocks, sealed blocks, witnesses and attestations, every
// message signed by its producer and checked before it is relayed, and a
// request-response protocol that fills gaps (DESIGN.md §6).
package p2p

import (
	"crypto/ecdsa"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/golang/snappy"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/crypto"
	"github.com/ethereum/go-ethereum/rlp"
)

// Kind names a message stream; each has its own topic and signing domain.
type Kind string

const (
	MiniBlocks   Kind = "miniblocks"
	Blocks       Kind = "blocks"
	Witnesses    Kind = "witnesses"
	Attestations Kind = "attestations"
	FraudProofs  Kind = "fraudproofs"
	// DACommitments are the sequencer's posted DA blobs (chain.DACommitment).
	DACommitments Kind = "dacommitments"
)

// Kinds lists every gossiped kind.
var Kinds = []Kind{MiniBlocks, Blocks, Witnesses, Attestations, FraudProofs, DACommitments}

// Topic is the gossipsub topic of kind on chainID.
func Topic(chainID uint64, kind Kind) string {
	return fmt.Sprintf("/meganode/%d/1/%s", chainID, kind)
}

const (
	// Version is the first byte of every message; a node drops versions it
	// does not know.
	Version byte = 1
	// MaxMessageSize bounds every message on the network, compressed and
	// decompressed (gossip and request-response alike).
	MaxMessageSize = 10 << 20
)

// Errors a received message can fail with.
var (
	ErrTooLarge   = errors.New("message exceeds the network size limit")
	ErrVersion    = errors.New("unknown message version")
	ErrMalformed  = errors.New("malformed message")
	ErrWrongKey   = errors.New("message not signed by the expected key")
	ErrBadSigning = errors.New("bad signature")
)

// envelope is what travels: the producer's signature over the payload.
type envelope struct {
	Signature []byte
	Payload   []byte
}

// SigningHash is keccak256(domain ‖ chainID ‖ keccak256(payload)): domain is
// the message kind padded to 32 bytes, chainID 8 bytes big-endian, so a
// signature is valid for one kind on one chain only.
func SigningHash(kind Kind, chainID uint64, payload []byte) common.Hash {
	var domain [32]byte
	copy(domain[:], kind)
	var id [8]byte
	binary.BigEndian.PutUint64(id[:], chainID)
	return crypto.Keccak256Hash(domain[:], id[:], crypto.Keccak256(payload))
}

// Seal signs payload (the RLP of a message) for kind and returns the wire
// bytes: the version byte, then the snappy-compressed RLP envelope.
func Seal(key *ecdsa.PrivateKey, kind Kind, chainID uint64, payload []byte) ([]byte, error) {
	sig, err := crypto.Sign(SigningHash(kind, chainID, payload).Bytes(), key)
	if err != nil {
		return nil, err
	}
	raw, err := rlp.EncodeToBytes(&envelope{Signature: sig, Payload: payload})
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrTooLarge, len(raw))
	}
	return Wrap(raw), nil
}

// Envelope returns the signed envelope inside wire bytes, decompressed:
// what a DA blob carries. Wrap turns it back into wire bytes. It never
// decompresses more than MaxMessageSize.
func Envelope(data []byte) ([]byte, error) {
	if len(data) > MaxMessageSize {
		return nil, ErrTooLarge
	}
	if len(data) == 0 || data[0] != Version {
		return nil, ErrVersion
	}
	n, err := snappy.DecodedLen(data[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if n > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes decompressed", ErrTooLarge, n)
	}
	raw, err := snappy.Decode(nil, data[1:])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return raw, nil
}

// Wrap makes wire bytes of an envelope Envelope returned.
func Wrap(raw []byte) []byte {
	return append([]byte{Version}, snappy.Encode(nil, raw)...)
}

// Open checks wire bytes of kind and returns the payload and its signer. It
// never decompresses more than MaxMessageSize.
func Open(data []byte, kind Kind, chainID uint64) ([]byte, common.Address, error) {
	raw, err := Envelope(data)
	if err != nil {
		return nil, common.Address{}, err
	}
	var env envelope
	if err := rlp.DecodeBytes(raw, &env); err != nil {
		return nil, common.Address{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if len(env.Signature) != crypto.SignatureLength {
		return nil, common.Address{}, fmt.Errorf("%w: %d-byte signature", ErrBadSigning, len(env.Signature))
	}
	pub, err := crypto.SigToPub(SigningHash(kind, chainID, env.Payload).Bytes(), env.Signature)
	if err != nil {
		return nil, common.Address{}, fmt.Errorf("%w: %v", ErrBadSigning, err)
	}
	return env.Payload, crypto.PubkeyToAddress(*pub), nil
}

// OpenFrom is Open that also wants a given signer.
func OpenFrom(data []byte, kind Kind, chainID uint64, signer common.Address) ([]byte, error) {
	payload, _, err := OpenFromAny(data, kind, chainID, []common.Address{signer})
	return payload, err
}

// OpenFromAny is Open that wants one of signers and returns which it was.
func OpenFromAny(data []byte, kind Kind, chainID uint64, signers []common.Address) ([]byte, common.Address, error) {
	payload, from, err := Open(data, kind, chainID)
	if err != nil {
		return nil, common.Address{}, err
	}
	if !slices.Contains(signers, from) {
		return nil, common.Address{}, fmt.Errorf("%w: signed by %s, want one of %v", ErrWrongKey, from.Hex(), signers)
	}
	return payload, from, nil
}
