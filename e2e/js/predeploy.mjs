// Compiles chain/contracts/L2ToL1MessagePasser.sol with solcjs and prints its
// runtime bytecode: the e2e test compares it with the code in genesis.
import fs from 'node:fs';
import { createRequire } from 'node:module';

const solc = createRequire(import.meta.url)('solc');
const file = 'L2ToL1MessagePasser.sol';
const input = {
  language: 'Solidity',
  sources: { [file]: { content: fs.readFileSync(process.argv[2], 'utf8') } },
  settings: {
    optimizer: { enabled: true, runs: 200 },
    evmVersion: 'prague',
    outputSelection: { '*': { '*': ['evm.deployedBytecode.object'] } },
  },
};
const out = JSON.parse(solc.compile(JSON.stringify(input)));
const errors = (out.errors || []).filter((e) => e.severity === 'error');
if (errors.length > 0) {
  console.error(errors.map((e) => e.formattedMessage).join('\n'));
  process.exit(1);
}
console.log('0x' + out.contracts[file].L2ToL1MessagePasser.evm.deployedBytecode.object);
