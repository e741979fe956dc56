// Compiles e2e/foundry/src/Counter.sol with solcjs (offline) for the ethers
// and viem scripts, and holds what they share: the devnet's endpoints and keys.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';

const require = createRequire(import.meta.url);
const solc = require('solc');

export function compileCounter() {
  const source = readFileSync(new URL('../foundry/src/Counter.sol', import.meta.url), 'utf8');
  const input = {
    language: 'Solidity',
    sources: { 'Counter.sol': { content: source } },
    settings: { evmVersion: 'prague', outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object'] } } },
  };
  const out = JSON.parse(solc.compile(JSON.stringify(input)));
  const errors = (out.errors || []).filter((e) => e.severity === 'error');
  if (errors.length) throw new Error(errors.map((e) => e.formattedMessage).join('\n'));
  const c = out.contracts['Counter.sol'].Counter;
  return { abi: c.abi, bytecode: '0x' + c.evm.bytecode.object };
}

export function env(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set (the Go e2e test sets it)`);
  return v;
}

// The first accounts of the test mnemonic (test test ... junk).
export const key0 = '0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80';
export const addr1 = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';

// until polls cond every 20 ms until it holds or ms pass.
export async function until(what, cond, ms = 20_000) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
