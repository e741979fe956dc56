// Package l1 is the L2's side of its L1: bindings of the contracts in
// contracts/ (Portal, OutputOracle, DAInbox) built from their committed ABIs,
// Deploy for any L1 client, an embedded L1 over go-ethereum's simulated
// backend for the devnet and tests, and typed helpers over the contracts'
// calls and logs: deposits (Deposit, with the OP Stack's source hash), output
// roots (propose, read, delete, challenge), DA inbox records, withdrawals
// (prove, finalize).
//
// Pure: artifact parsing, log decoding, hashes and digests. I/O: every Client
// method (calls and transactions on the L1), Embedded (an in-process L1 node).
// Roles use this package; it never imports them (DESIGN.md §3).
package l1
