package rpc

import (
	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
)

// Web3API is the web3 namespace.
type Web3API struct{ version string }

// ClientVersion names the node.
func (w *Web3API) ClientVersion() string { return w.version }

// Sha3 is keccak256.
func (w *Web3API) Sha3(input hexutil.Bytes) hexutil.Bytes {
	return common.BytesToHash(keccak(input)).Bytes()
}

// NetAPI is the net namespace.
type NetAPI struct{ chainID uint64 }

// Version is the chain id in decimal, as geth answers.
func (n *NetAPI) Version() string { return uitoa(n.chainID) }

// Listening is true while the server runs.
func (n *NetAPI) Listening() bool { return true }

// PeerCount is zero: the devnet has no peers.
func (n *NetAPI) PeerCount() hexutil.Uint { return 0 }
