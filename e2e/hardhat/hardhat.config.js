// Hardhat 3 against meganode. e2e/js_test.go copies this project into a temp
// dir next to contracts/Counter.sol and a node_modules link, and sets
// MEGANODE_URL. solc is solcjs's soljson.js from npm: no download.
import { createRequire } from "node:module";
import { configVariable, defineConfig } from "hardhat/config";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatEthers],
  solidity: {
    version: "0.8.30",
    path: require.resolve("solc/soljson.js"),
    settings: { evmVersion: "prague" },
  },
  networks: {
    // Signs locally with the first devnet key.
    meganode: {
      type: "http",
      chainType: "l1",
      url: configVariable("MEGANODE_URL"),
      accounts: ["0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"],
    },
    // Lets the node sign with its unlocked accounts (eth_accounts, eth_sendTransaction).
    meganodeUnlocked: {
      type: "http",
      chainType: "l1",
      url: configVariable("MEGANODE_URL"),
      accounts: "remote",
    },
  },
});
