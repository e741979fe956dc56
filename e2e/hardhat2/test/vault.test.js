const { expect } = require("chai");
const { ethers } = require("hardhat");
const { loadFixture, time } = require("@nomicfoundation/hardhat-network-helpers");
const { anyValue } = require("@nomicfoundation/hardhat-chai-matchers/withArgs");

describe("Vault (Hardhat 2)", function () {
  const ONE_YEAR = 365 * 24 * 60 * 60;
  const LOCKED = 1_000_000_000n;

  async function deployVault() {
    const unlockTime = (await time.latest()) + ONE_YEAR;
    const [owner, other] = await ethers.getSigners();
    const Vault = await ethers.getContractFactory("Vault");
    const vault = await Vault.deploy(unlockTime, { value: LOCKED });
    await vault.waitForDeployment(); // anvil mines after answering; see token.test.js
    return { vault, unlockTime, owner, other };
  }

  it("sets the unlock time and owner", async function () {
    const { vault, unlockTime, owner } = await loadFixture(deployVault);
    expect(await vault.unlockTime()).to.equal(unlockTime);
    expect(await vault.owner()).to.equal(owner.address);
  });

  it("reverts when called too soon", async function () {
    const { vault } = await loadFixture(deployVault);
    await expect(vault.withdraw()).to.be.revertedWith("You can't withdraw yet");
  });

  it("reverts for another account once unlocked", async function () {
    const { vault, unlockTime, other } = await loadFixture(deployVault);
    await time.increaseTo(unlockTime);
    await expect(vault.connect(other).withdraw()).to.be.revertedWith("You aren't the owner");
  });

  it("emits Withdrawal and moves the funds", async function () {
    const { vault, unlockTime, owner } = await loadFixture(deployVault);
    await time.increaseTo(unlockTime);
    await expect(vault.withdraw()).to.emit(vault, "Withdrawal").withArgs(LOCKED, anyValue);
  });

  it("changes ether balances", async function () {
    const { vault, unlockTime, owner } = await loadFixture(deployVault);
    await time.increaseTo(unlockTime);
    await expect(vault.withdraw()).to.changeEtherBalances([owner, vault], [LOCKED, -LOCKED]);
  });

  it("is back at the fixture", async function () {
    const { unlockTime } = await loadFixture(deployVault);
    expect(await time.latest()).to.be.lessThan(unlockTime);
  });
});
