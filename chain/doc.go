// Package chain holds what every meganode role agrees on: the chain
// configuration and devnet genesis, the domain types that travel between roles
// (MiniBlock, StateChanges, StateDiff, BlockBundle), and the adapters through
// which the rest of the module calls go-ethereum's executor (core, core/state,
// triedb).
//
// Deposits (type 0x7E, from L1) are a domain type of their own, since
// go-ethereum's Transaction cannot hold them: BlockBuilder.ApplyDeposit runs
// them first in a block, the header's transaction and receipt roots cover
// them first, and CheckBodyWithDeposits, ReplayOptions.Deposits and
// VerifyWithDeposits let the other roles check them (docs/l1.md).
//
// go-ethereum's executor API moves between minor releases, so no other package
// calls core.ApplyTransaction, state.New or triedb directly: they go through
// BlockBuilder, Call and OverlayReader here. The package starts no goroutines
// and does no I/O of its own beyond the state database it is handed.
package chain
