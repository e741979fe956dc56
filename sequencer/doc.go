// Package sequencer admits transactions into a mempool, executes them as they
// arrive on one goroutine, seals a mini-block every MiniBlockTime (10 ms) and
// an EVM block every BlockTime (1 s), and publishes both.
//
// Data flow: RPC → Pool.Add (validation, sender recovery on the caller's
// goroutine, so recovery runs in parallel across connections) → loop: Pool.Next
// → chain.BlockBuilder.ApplyTx → at each mini-block: journal the txs to
// storage, push the state changes onto the streaming overlay, publish a new
// View and send the MiniBlock on the feed → at each block: Seal (state root,
// witness, state diff) → storage.WriteSealed (one atomic batch) → newHeads.
//
// Readers never touch the builder's StateDB: they read the published View,
// whose overlay answers "latest" from the mini-block changes over the sealed
// trie. Time is injected (Clock) and the loop's steps are methods, so tests
// drive production without timers.
package sequencer
