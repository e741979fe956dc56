// Package storage is meganode's persistence: a pebble database (go-ethereum's
// ethdb/pebble) holding the chain in go-ethereum's rawdb schema (headers,
// bodies, receipts, canonical index, tx lookups), the state in a hash-scheme
// triedb, and meganode's own records under their own prefixes: block bundles
// (state diff and witness), the mini-block journal and the mini-block counter.
//
// Every sealed block is one atomic pebble batch: trie nodes, contract code,
// block, receipts, lookups, bundle, head markers and the journal cleanup
// commit together or not at all, so a kill -9 leaves either the old head or
// the new one. Mini-blocks are journaled as they seal so that their
// transactions survive a crash before the block seals.
//
// Writes use pebble's NoSync mode (as geth does); the WAL is fsynced once per
// sealed block and each journal append is fdatasync'ed (unless Config.NoSync,
// for followers), so a sealed block and a preconfirmed tx survive a power
// cut. Pebble is opened on a vfs.FS (pebble.go) so tests run the store on
// pebble's crash-testing memory file system; space.go pauses writes on a full
// disk.
package storage
