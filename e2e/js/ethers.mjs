// ethers v6 against a running meganode devnet: deploy, tx.wait() on a
// preconfirmed receipt, local and unlocked signers, revert reasons, event
// filters over HTTP (eth_newFilter) and subscriptions over websocket.
// Run by e2e/js_test.go with MEGANODE_URL and MEGANODE_WS set.
import assert from 'node:assert/strict';
import { ethers } from 'ethers';
import { compileCounter, env, key0, addr1, until } from './counter.mjs';

const url = env('MEGANODE_URL');
const wsURL = env('MEGANODE_WS');
const { abi, bytecode } = compileCounter();

// cacheTimeout -1: ethers reuses an answer for 250 ms by default, so a second
// send within that time (easy against a node that confirms in milliseconds)
// signs with the same cached nonce; anvil and geth --dev show the same.
const provider = new ethers.JsonRpcProvider(url, undefined, { pollingInterval: 100, cacheTimeout: -1 });
const wallet = new ethers.Wallet(key0, provider);
const net = await provider.getNetwork();
assert.equal(net.chainId, BigInt(await provider.send('eth_chainId', [])));

// Deploy with a local key; wait() returns on the preconfirmed receipt.
const counter = await new ethers.ContractFactory(abi, bytecode, wallet).deploy(7);
const deployReceipt = await counter.deploymentTransaction().wait();
assert.equal(deployReceipt.status, 1);
assert.equal(deployReceipt.contractAddress, await counter.getAddress());
await counter.waitForDeployment();
assert.equal(await counter.number(), 7n);
console.log('ok deploy', deployReceipt.contractAddress, 'block', deployReceipt.blockNumber);

// Event filter over HTTP: ethers installs eth_newFilter and polls it.
const seen = [];
await counter.on('Incremented', (by, value) => seen.push([by, value]));

const r1 = await (await counter.increment()).wait();
assert.equal(r1.status, 1);
assert.equal(r1.logs.length, 1);
// The node's unlocked account signs through eth_sendTransaction.
const unlocked = await provider.getSigner(addr1);
const r2 = await (await counter.connect(unlocked).increment()).wait();
assert.equal(r2.from, addr1);
assert.equal(await counter.number(), 9n);

await until('two Incremented events over the HTTP filter', () => seen.length >= 2);
assert.deepEqual(seen, [[wallet.address, 8n], [addr1, 9n]]);
await counter.off('Incremented');
console.log('ok http filter events', seen.length);

// wait(2) needs the block sealed and one more on top; the sealed block then
// holds the tx and the receipt carries its real hash.
const tx3 = await counter.increment();
const r3 = await tx3.wait(2);
const block = await provider.getBlock(r3.blockNumber);
assert.equal(r3.blockHash, block.hash);
assert.ok(block.transactions.includes(tx3.hash));
assert.ok((await r3.confirmations()) >= 2);
console.log('ok wait(2) block', r3.blockNumber);

// A revert carries its reason to the caller.
await assert.rejects(counter.fail(), (err) => err.code === 'CALL_EXCEPTION' && err.reason === 'counter: nope');
await assert.rejects(counter.fail.estimateGas(), (err) => err.code === 'CALL_EXCEPTION' && err.reason === 'counter: nope');
console.log('ok revert reason');

// Historical logs through eth_getLogs.
const logs = await counter.queryFilter('Incremented', 0, r3.blockNumber);
assert.deepEqual(logs.map((l) => l.args.value), [8n, 9n, 10n]);
console.log('ok queryFilter', logs.length);

// Websocket subscriptions: new heads, pending transactions, contract logs.
const ws = new ethers.WebSocketProvider(wsURL);
const heads = [];
const pending = new Set();
const wsSeen = [];
await ws.on('block', (n) => heads.push(n));
await ws.on('pending', (h) => pending.add(h));
const wsCounter = counter.connect(ws);
await wsCounter.on('Incremented', (by, value) => wsSeen.push(value));
// eth_subscribe answers before the first message; give the node one block
// to prove heads flow before sending.
await until('a new head over websocket', () => heads.length >= 1);
const tx4 = await counter.increment();
const tx5 = await counter.increment();
await tx5.wait();
await until('two log events over websocket', () => wsSeen.length >= 2);
assert.deepEqual(wsSeen, [11n, 12n]);
await until('the pending hashes over websocket', () => pending.has(tx4.hash) && pending.has(tx5.hash));
await until('three more heads', () => heads.length >= 4);
for (let i = 1; i < heads.length; i++) assert.equal(heads[i], heads[i - 1] + 1, `heads ${heads} skip`);
console.log('ok websocket heads', heads.length, 'logs', wsSeen.length, 'pending', pending.size);

await ws.destroy();
provider.destroy();
console.log('PASS ethers', ethers.version);
