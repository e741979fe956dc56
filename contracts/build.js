#!/usr/bin/env node
// Compiles the L1 contracts (src/*.sol) and the L2's message passer
// (../chain/contracts/L2ToL1MessagePasser.sol) with solcjs, the npm `solc`
// package e2e/package.json pins, and writes one JSON artifact per contract
// (abi, bytecode, deployedBytecode) into the directory given (artifacts/ by
// default). `make contracts` runs it; contracts_test.go runs it into a
// temporary directory and wants the committed artifacts back byte for byte.
const fs = require('fs');
const path = require('path');

const solc = require(require.resolve('solc', { paths: [path.join(__dirname, '..', 'e2e', 'node_modules')] }));
const VERSION = '0.8.30'; // the pragma of every source
if (!solc.version().startsWith(VERSION + '+')) {
  console.error(`solc ${solc.version()}, want ${VERSION}`);
  process.exit(1);
}
const out = path.resolve(process.argv[2] || path.join(__dirname, 'artifacts'));
const settings = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'prague',
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

// compile builds one compilation unit; the source names are file names, so
// the metadata hash (and the bytecode) does not depend on where the repo is.
function compile(dir, files) {
  const sources = {};
  for (const f of files) sources[f] = { content: fs.readFileSync(path.join(dir, f), 'utf8') };
  const res = JSON.parse(solc.compile(JSON.stringify({ language: 'Solidity', sources, settings })));
  const errors = (res.errors || []).filter((e) => e.severity === 'error');
  if (errors.length > 0) {
    console.error(errors.map((e) => e.formattedMessage).join('\n'));
    process.exit(1);
  }
  for (const w of res.errors || []) console.error(w.formattedMessage);
  return res.contracts;
}

function write(contracts, names) {
  for (const [file, byName] of Object.entries(contracts)) {
    for (const [name, c] of Object.entries(byName)) {
      if (!names.includes(name)) continue; // libraries are inlined
      const artifact = {
        contractName: name,
        sourceName: file,
        compiler: solc.version(),
        abi: c.abi,
        bytecode: '0x' + c.evm.bytecode.object,
        deployedBytecode: '0x' + c.evm.deployedBytecode.object,
      };
      fs.writeFileSync(path.join(out, name + '.json'), JSON.stringify(artifact, null, 2) + '\n');
    }
  }
}

fs.mkdirSync(out, { recursive: true });
const src = path.join(__dirname, 'src');
const files = fs.readdirSync(src).filter((f) => f.endsWith('.sol')).sort();
write(compile(src, files), ['Portal', 'OutputOracle', 'DAInbox']);
// The message passer is compiled alone, as chain/messagepasser.go's genesis code was.
write(compile(path.join(__dirname, '..', 'chain', 'contracts'), ['L2ToL1MessagePasser.sol']), ['L2ToL1MessagePasser']);
