// viem's test client (mode anvil) against a dev node: the actions test
// suites built on viem and Foundry call. Run by e2e/devmethods_test.go with
// TARGET_URL set, against anvil and against `meganode devnet --automine`;
// prints "PASS testclient" when every check held.
import assert from 'node:assert/strict';
import {
  createPublicClient, createTestClient, createWalletClient, defineChain, http, parseEther, getAddress, pad, toHex,
} from 'viem';
import { compileCounter, env, addr1 } from './counter.mjs';

const url = env('TARGET_URL');
const probe = createPublicClient({ transport: http(url) });
const chain = defineChain({
  id: await probe.getChainId(),
  name: 'dev node',
  nativeCurrency: { name: 'Ether', symbol: 'ETH', decimals: 18 },
  rpcUrls: { default: { http: [url] } },
});
const transport = http(url);
const client = createPublicClient({ chain, transport, pollingInterval: 50 });
const test = createTestClient({ chain, mode: 'anvil', transport });
const { abi, bytecode } = compileCounter();
const whale = getAddress('0x00000000000000000000000000000000000a11ce');

// Automine: a tx is in a sealed block of its own when its receipt returns.
assert.equal(await test.getAutomine(), true);
const node = createWalletClient({ chain, transport, account: addr1 });
const deployHash = await node.deployContract({ abi, bytecode, args: [1n] });
const deployed = await client.waitForTransactionReceipt({ hash: deployHash });
const counter = deployed.contractAddress;
const block = await client.getBlock({ blockHash: deployed.blockHash });
assert.deepEqual(block.transactions, [deployHash]);
console.log('ok automine', deployed.blockNumber);

// mine: count blocks, the timestamps interval seconds apart.
const before = await client.getBlock();
await test.mine({ blocks: 5, interval: 12 });
const after = await client.getBlock();
assert.equal(after.number, before.number + 5n);
assert.ok(after.timestamp >= before.timestamp + 4n * 12n, `timestamps ${before.timestamp} -> ${after.timestamp}`);
console.log('ok mine');

// Time.
const t0 = (await client.getBlock()).timestamp;
await test.increaseTime({ seconds: 3600 });
await test.mine({ blocks: 1 });
assert.ok((await client.getBlock()).timestamp >= t0 + 3600n);
const next = (await client.getBlock()).timestamp + 1000n;
await test.setNextBlockTimestamp({ timestamp: next });
await test.mine({ blocks: 1 });
assert.equal((await client.getBlock()).timestamp, next);
console.log('ok time');

// State edits.
await test.setBalance({ address: whale, value: parseEther('7') });
assert.equal(await client.getBalance({ address: whale }), parseEther('7'));
await test.setNonce({ address: whale, nonce: 5 });
assert.equal(await client.getTransactionCount({ address: whale }), 5);
const code = await client.getCode({ address: counter });
const copy = getAddress('0x000000000000000000000000000000000000c0de');
await test.setCode({ address: copy, bytecode: code });
assert.equal(await client.getCode({ address: copy }), code);
await test.setStorageAt({ address: copy, index: 0, value: pad(toHex(42)) });
assert.equal(await client.readContract({ address: copy, abi, functionName: 'number' }), 42n);
console.log('ok edits');

// Impersonation: a json-rpc account the node does not hold.
await test.impersonateAccount({ address: whale });
const imp = createWalletClient({ chain, transport, account: whale });
const impHash = await imp.sendTransaction({ to: addr1, value: 1n });
const impReceipt = await client.waitForTransactionReceipt({ hash: impHash });
assert.equal(getAddress(impReceipt.from), whale);
assert.equal(impReceipt.status, 'success');
await test.stopImpersonatingAccount({ address: whale });
await assert.rejects(imp.sendTransaction({ to: addr1, value: 1n }));
console.log('ok impersonation');

// Snapshots.
const id = await test.snapshot();
const height = await client.getBlockNumber({ cacheTime: 0 });
await node.writeContract({ address: counter, abi, functionName: 'increment' });
await test.mine({ blocks: 3 });
await test.revert({ id });
assert.equal(await client.getBlockNumber({ cacheTime: 0 }), height);
assert.equal(await client.readContract({ address: counter, abi, functionName: 'number' }), 1n);
console.log('ok snapshot');

// Manual mining: nothing executes until mined; the pool can drop a tx.
await test.setAutomine(false);
assert.equal(await test.getAutomine(), false);
const pendingHash = await node.sendTransaction({ to: whale, value: 1n });
assert.equal(await client.getBlockNumber({ cacheTime: 0 }), height);
const pool = await test.getTxpoolContent();
assert.ok(Object.keys(pool.pending).length > 0);
await test.mine({ blocks: 1 });
const mined = await client.getTransactionReceipt({ hash: pendingHash });
assert.equal(mined.blockNumber, height + 1n);
const dropHash = await node.sendTransaction({ to: whale, value: 2n });
await test.dropTransaction({ hash: dropHash });
await test.mine({ blocks: 1 });
await assert.rejects(client.getTransactionReceipt({ hash: dropHash }));
await test.setAutomine(true);
console.log('ok manual mining');

// Header settings.
await test.setBlockGasLimit({ gasLimit: 50_000_000n });
await test.setCoinbase({ address: whale });
await test.setNextBlockBaseFeePerGas({ baseFeePerGas: 123_456_789n });
await test.mine({ blocks: 1 });
const h = await client.getBlock();
assert.equal(h.gasLimit, 50_000_000n);
assert.equal(getAddress(h.miner), whale);
assert.equal(h.baseFeePerGas, 123_456_789n);
console.log('ok header settings');

// reset goes back to genesis (anvil_reset without forking; viem's
// test.reset() always sends a forking object, which anvil 1.7.1 refuses).
await test.request({ method: 'anvil_reset', params: [] });
assert.equal(await client.getBlockNumber({ cacheTime: 0 }), 0n);
console.log('PASS testclient');
