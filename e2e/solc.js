#!/usr/bin/env node
// A `solc` command line for forge, backed by solcjs: forge asks for
// `--version` and compiles with `--standard-json` on stdin.
const solc = require('solc');

const args = process.argv.slice(2);
if (args.includes('--version')) {
  const v = solc.version(); // e.g. 0.8.30+commit.73712a01.Emscripten.clang
  console.log('solc, the solidity compiler commandline interface');
  console.log('Version: ' + v.replace('.Emscripten.clang', '.Linux.g++'));
  process.exit(0);
}
if (!args.includes('--standard-json')) {
  console.error('solc.js supports only --version and --standard-json');
  process.exit(2);
}
let input = '';
process.stdin.setEncoding('utf8');
process.stdin.on('data', (c) => { input += c; });
process.stdin.on('end', () => {
  const fs = require('fs');
  const path = require('path');
  const bases = [];
  for (let i = 0; i < args.length; i++) {
    if ((args[i] === '--base-path' || args[i] === '--include-path' || args[i] === '--allow-paths') && args[i + 1]) {
      bases.push(...args[i + 1].split(','));
    }
  }
  const findImports = (p) => {
    for (const b of ['', ...bases]) {
      const f = path.resolve(b, p);
      if (fs.existsSync(f)) return { contents: fs.readFileSync(f, 'utf8') };
    }
    return { error: 'File not found: ' + p };
  };
  process.stdout.write(solc.compile(input, { import: findImports }));
});
