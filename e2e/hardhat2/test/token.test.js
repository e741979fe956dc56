const { expect } = require("chai");
const { ethers } = require("hardhat");
const helpers = require("@nomicfoundation/hardhat-network-helpers");
const { loadFixture, mine, time, takeSnapshot } = helpers;

describe("Token (Hardhat 2)", function () {
  async function deployToken() {
    const [admin, alice, bob] = await ethers.getSigners();
    const token = await ethers.deployContract("Token", [1000n]);
    // anvil mines an automined tx after eth_sendTransaction has answered, so
    // without this wait loadFixture's snapshot can precede the deployment on a
    // loaded machine (meganode answers once the tx's block is sealed).
    await token.waitForDeployment();
    return { token, admin, alice, bob };
  }

  it("changes token balances", async function () {
    const { token, admin, alice } = await loadFixture(deployToken);
    await expect(token.transfer(alice.address, 100n)).to.changeTokenBalances(token, [admin, alice], [-100n, 100n]);
  });

  it("changes one ether balance", async function () {
    const { token, admin, alice } = await loadFixture(deployToken);
    await expect(token.transfer(alice.address, 1n)).to.changeEtherBalance(admin, 0n);
  });

  it("reverts with a custom error", async function () {
    const { token, alice, bob } = await loadFixture(deployToken);
    await expect(token.connect(alice).transfer(bob.address, 1n))
      .to.be.revertedWithCustomError(token, "InsufficientBalance")
      .withArgs(alice.address, 0n, 1n);
  });

  it("reverts with a panic", async function () {
    const { token } = await loadFixture(deployToken);
    await expect(token.divide(1n, 0n)).to.be.revertedWithPanic(0x12);
  });

  it("impersonates a funded account", async function () {
    const { token } = await loadFixture(deployToken);
    const whale = "0x00000000000000000000000000000000000a11ce";
    await helpers.setBalance(whale, ethers.parseEther("10"));
    await helpers.impersonateAccount(whale);
    const signer = await ethers.getSigner(whale);
    await expect(token.connect(signer).mint(whale, 1n)).to.be.revertedWithCustomError(token, "NotAdmin");
    const sink = "0x000000000000000000000000000000000000beef";
    await expect(signer.sendTransaction({ to: sink, value: 1n })).to.changeEtherBalance(sink, 1n);
    await helpers.stopImpersonatingAccount(whale);
  });

  it("mines and moves time", async function () {
    await loadFixture(deployToken);
    const before = await time.latestBlock();
    await mine(20);
    expect(await time.latestBlock()).to.equal(before + 20);
    const t0 = await time.latest();
    await time.increase(7200);
    expect(await time.latest()).to.equal(t0 + 7200);
    await helpers.mineUpTo(before + 30);
    expect(await time.latestBlock()).to.equal(before + 30);
  });

  it("restores a snapshot", async function () {
    const { token, alice } = await loadFixture(deployToken);
    const snapshot = await takeSnapshot();
    await token.transfer(alice.address, 3n);
    await snapshot.restore();
    expect(await token.balanceOf(alice.address)).to.equal(0n);
  });

  it("edits code, nonce and storage", async function () {
    const { token, alice } = await loadFixture(deployToken);
    await helpers.setCode("0x000000000000000000000000000000000000c0de", await ethers.provider.getCode(token.target));
    expect(await ethers.provider.getCode("0x000000000000000000000000000000000000c0de")).to.equal(await ethers.provider.getCode(token.target));
    await helpers.setNonce(alice.address, 7);
    expect(await ethers.provider.getTransactionCount(alice.address)).to.equal(7);
    await helpers.setStorageAt(token.target, 1, ethers.zeroPadValue(alice.address, 32));
    expect(await token.admin()).to.equal(alice.address);
  });

  it("finds the tx alone in its block", async function () {
    const { token, admin } = await loadFixture(deployToken);
    const tx = await token.mint(admin.address, 1n);
    const receipt = await tx.wait();
    const block = await ethers.provider.getBlock(receipt.blockHash);
    expect(block.transactions).to.deep.equal([tx.hash]);
    expect(await token.lastMintBlock()).to.equal(BigInt(receipt.blockNumber));
  });
});
