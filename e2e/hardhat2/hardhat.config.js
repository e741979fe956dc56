// A Hardhat 2 project: e2e/devmethods_test.go copies e2e/hardhat-suite's
// contracts in and runs `hardhat test` against TARGET_URL, as the networks
// "target" (gas estimated) and "localhost" (hardhat-ethers sends with a
// fixed gas limit once hardhat_metadata answers, so reverts must come back
// from eth_sendTransaction itself). Compiles offline with solcjs.
require("@nomicfoundation/hardhat-chai-matchers");
require("@nomicfoundation/hardhat-ethers");
const { subtask } = require("hardhat/config");
const { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } = require("hardhat/builtin-tasks/task-names");

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args, hre, runSuper) => {
  if (args.solcVersion !== "0.8.30") return runSuper();
  const solc = require("solc");
  return { compilerPath: require.resolve("solc/soljson.js"), isSolcJs: true, version: args.solcVersion, longVersion: solc.version() };
});

module.exports = {
  solidity: { version: "0.8.30", settings: { evmVersion: "prague" } },
  networks: {
    target: { url: process.env.TARGET_URL || "http://127.0.0.1:8545" },
    localhost: { url: process.env.TARGET_URL || "http://127.0.0.1:8545" },
  },
  mocha: { timeout: 60000 },
};
