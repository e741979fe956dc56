// viem against a running meganode devnet: deploy, waitForTransactionReceipt
// on a preconfirmed receipt and with confirmations, local and node-held
// accounts, writeContractSync (eth_sendRawTransactionSync), simulateBlocks
// (eth_simulateV1), revert reasons, event filters over HTTP and
// subscriptions over websocket.
// Run by e2e/js_test.go with MEGANODE_URL and MEGANODE_WS set.
import assert from 'node:assert/strict';
import {
  createPublicClient, createWalletClient, defineChain, http, webSocket,
  BaseError, ContractFunctionRevertedError,
} from 'viem';
import { privateKeyToAccount } from 'viem/accounts';
import { compileCounter, env, key0, addr1, until } from './counter.mjs';

const url = env('MEGANODE_URL');
const wsURL = env('MEGANODE_WS');
const { abi, bytecode } = compileCounter();

const probe = createPublicClient({ transport: http(url) });
const chain = defineChain({
  id: await probe.getChainId(),
  name: 'meganode devnet',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [url], webSocket: [wsURL] } },
});
const client = createPublicClient({ chain, transport: http(url), pollingInterval: 100 });
const local = privateKeyToAccount(key0);
const wallet = createWalletClient({ chain, transport: http(url), account: local });
// A json-rpc account: the node signs with its unlocked key (eth_sendTransaction).
const nodeWallet = createWalletClient({ chain, transport: http(url), account: addr1 });

// Deploy; the receipt comes back preconfirmed, before its block is sealed.
const deployHash = await wallet.deployContract({ abi, bytecode, args: [7n] });
const deployed = await client.waitForTransactionReceipt({ hash: deployHash });
assert.equal(deployed.status, 'success');
const address = deployed.contractAddress;
assert.equal(await client.readContract({ address, abi, functionName: 'number' }), 7n);
console.log('ok deploy', address, 'block', deployed.blockNumber);

// Event filter over HTTP: viem installs eth_newFilter and polls it.
const seen = [];
const unwatch = client.watchContractEvent({
  address, abi, eventName: 'Incremented', pollingInterval: 100,
  onLogs: (logs) => seen.push(...logs.map((l) => [l.args.by, l.args.value])),
  onError: (e) => { throw e; },
});

const h1 = await wallet.writeContract({ address, abi, functionName: 'increment' });
const r1 = await client.waitForTransactionReceipt({ hash: h1 });
assert.equal(r1.status, 'success');
const h2 = await nodeWallet.writeContract({ address, abi, functionName: 'increment' });
const r2 = await client.waitForTransactionReceipt({ hash: h2 });
assert.equal(r2.from.toLowerCase(), addr1.toLowerCase());
await until('two Incremented events over the HTTP filter', () => seen.length >= 2);
assert.deepEqual(seen, [[local.address, 8n], [addr1, 9n]]);
unwatch();
console.log('ok http filter events', seen.length);

// writeContractSync sends with eth_sendRawTransactionSync and gets the receipt
// in the same round trip.
const r3 = await wallet.writeContractSync({ address, abi, functionName: 'increment' });
assert.equal(r3.status, 'success');
assert.equal(r3.logs.length, 1);
console.log('ok writeContractSync block', r3.blockNumber);

// confirmations: 2 waits for the block to be sealed and built on; the sealed
// receipt then carries the block's hash.
const h4 = await wallet.writeContract({ address, abi, functionName: 'increment' });
const r4 = await client.waitForTransactionReceipt({ hash: h4, confirmations: 2 });
// viem hands back the receipt it first fetched (preconfirmed, blockHash the
// sentinel); asked again, the node answers with the sealed block's hash.
const sealed = await client.getTransactionReceipt({ hash: h4 });
const block = await client.getBlock({ blockNumber: r4.blockNumber });
assert.equal(sealed.blockNumber, r4.blockNumber);
assert.equal(sealed.blockHash, block.hash);
assert.ok((await client.getBlockNumber()) >= r4.blockNumber + 1n);
assert.ok(block.transactions.includes(h4));
console.log('ok confirmations 2 block', r4.blockNumber);

// A revert carries its reason.
try {
  await client.simulateContract({ address, abi, functionName: 'fail', account: local });
  assert.fail('fail() did not revert');
} catch (err) {
  assert.ok(err instanceof BaseError);
  const revert = err.walk((e) => e instanceof ContractFunctionRevertedError);
  assert.ok(revert, `not a revert: ${err.message}`);
  assert.equal(revert.reason, 'counter: nope');
}
console.log('ok revert reason');

// eth_simulateV1 through simulateBlocks: two blocks on top of latest; the
// second sees the first's increment and reverts with its reason.
const before = await client.readContract({ address, abi, functionName: 'number' });
const simulated = await client.simulateBlocks({
  blocks: [
    { calls: [{ account: local.address, to: address, abi, functionName: 'increment' }] },
    { calls: [
      { account: local.address, to: address, abi, functionName: 'number' },
      { account: local.address, to: address, abi, functionName: 'fail' },
    ] },
  ],
});
assert.equal(simulated.length, 2);
assert.equal(simulated[1].number, simulated[0].number + 1n);
assert.equal(simulated[0].calls[0].status, 'success');
assert.equal(simulated[0].calls[0].logs.length, 1);
assert.equal(simulated[1].calls[0].result, before + 1n);
assert.equal(simulated[1].calls[1].status, 'failure');
assert.match(simulated[1].calls[1].error.message, /counter: nope/);
assert.equal(await client.readContract({ address, abi, functionName: 'number' }), before, 'simulation changed state');
console.log('ok simulateBlocks', simulated.length);

// Historical logs.
const logs = await client.getContractEvents({ address, abi, eventName: 'Incremented', fromBlock: 0n, toBlock: r4.blockNumber });
assert.deepEqual(logs.map((l) => l.args.value), [8n, 9n, 10n, 11n]);
console.log('ok getContractEvents', logs.length);

// Websocket subscriptions: heads, pending transactions, contract logs.
const ws = createPublicClient({ chain, transport: webSocket(wsURL) });
const heads = [];
const pending = new Set();
const wsSeen = [];
const stops = [
  ws.watchBlockNumber({ onBlockNumber: (n) => heads.push(n), onError: (e) => { throw e; } }),
  ws.watchPendingTransactions({ onTransactions: (hs) => hs.forEach((h) => pending.add(h)), onError: (e) => { throw e; } }),
  ws.watchContractEvent({ address, abi, eventName: 'Incremented', onLogs: (ls) => wsSeen.push(...ls.map((l) => l.args.value)), onError: (e) => { throw e; } }),
];
await until('a new head over websocket', () => heads.length >= 1);
const h5 = await wallet.writeContract({ address, abi, functionName: 'increment' });
const h6 = await wallet.writeContract({ address, abi, functionName: 'increment' });
await client.waitForTransactionReceipt({ hash: h6 });
await until('two log events over websocket', () => wsSeen.length >= 2);
assert.deepEqual(wsSeen, [12n, 13n]);
await until('the pending hashes over websocket', () => pending.has(h5) && pending.has(h6));
await until('three more heads', () => heads.length >= 4);
for (let i = 1; i < heads.length; i++) assert.equal(heads[i], heads[i - 1] + 1n, `heads ${heads} skip`);
console.log('ok websocket heads', heads.length, 'logs', wsSeen.length, 'pending', pending.size);

stops.forEach((s) => s());
await (await ws.transport.getRpcClient()).close();
console.log('PASS viem');
