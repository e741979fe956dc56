// Deploys Counter and calls it through hardhat-ethers, once with a local key
// (network meganode, the first devnet key) and once with the node's second
// unlocked account (meganodeUnlocked). Prints one JSON line per network for
// the Go test.
import assert from "node:assert/strict";
import { network } from "hardhat";

for (const [name, index] of [["meganode", 0], ["meganodeUnlocked", 1]]) {
  const { ethers } = await network.create({ network: name });
  const signer = (await ethers.getSigners())[index];
  const counter = await ethers.deployContract("Counter", [41n], signer);
  await counter.waitForDeployment();
  const deployReceipt = await counter.deploymentTransaction().wait();
  assert.equal(deployReceipt.status, 1);

  const receipt = await (await counter.increment()).wait();
  assert.equal(receipt.status, 1);
  const event = counter.interface.parseLog(receipt.logs[0]);
  assert.equal(event.name, "Incremented");
  assert.equal(event.args.by, signer.address);
  assert.equal(event.args.value, 42n);
  assert.equal(await counter.number(), 42n);
  // A revert reaches the caller as geth's code 3 with the revert data.
  await assert.rejects(counter.fail(), (err) => {
    assert.equal(err.code, 3, err.message);
    assert.equal(counter.interface.parseError(err.data).args[0], "counter: nope");
    return true;
  });

  console.log(JSON.stringify({
    network: name,
    signer: signer.address,
    address: await counter.getAddress(),
    deployTx: deployReceipt.hash,
    incrementTx: receipt.hash,
  }));
}
