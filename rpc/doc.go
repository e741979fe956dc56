// Package rpc serves meganode's Ethereum JSON-RPC and websocket API over
// go-ethereum's rpc server (batches, websocket subscriptions, error codes),
// on one port with /health and /ready beside it.
//
// It knows no role: it declares the small interfaces it needs (ChainReader,
// LatestReader, TxSubmitter, Feeds, DevSigner) and a node hands it whatever
// implements them. JSON shapes follow go-ethereum's internal/ethapi: same
// fields, hex encodings and error codes (unknown method −32601, invalid
// params −32602, revert 3 with the revert data, other failures −32000).
//
// "latest" and "pending" state reads see the newest mini-block (MegaETH
// semantics); block numbers, "safe" and "finalized" read sealed blocks;
// eth_blockNumber is the last sealed block.
package rpc
