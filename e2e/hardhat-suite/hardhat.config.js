// A Hardhat 3 project whose tests use what real suites use: fixtures,
// time travel, mining, impersonation, state edits and chai matchers. The e2e
// test runs it unchanged against `meganode devnet --automine` and against
// anvil (TARGET_URL); solc is solcjs from npm, so nothing is downloaded.
import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatEthersChaiMatchers from "@nomicfoundation/hardhat-ethers-chai-matchers";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import hardhatMocha from "@nomicfoundation/hardhat-mocha";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatEthers, hardhatEthersChaiMatchers, hardhatNetworkHelpers, hardhatMocha],
  solidity: {
    version: "0.8.30",
    path: require.resolve("solc/soljson.js"),
    settings: { evmVersion: "prague" },
  },
  networks: {
    target: {
      type: "http",
      chainType: "l1",
      url: configVariable("TARGET_URL"),
      accounts: "remote",
    },
  },
  test: { mocha: { timeout: 60000 } },
});
