import { expect } from "chai";
import { network } from "hardhat";
import { anyValue } from "@nomicfoundation/hardhat-ethers-chai-matchers/withArgs";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, time } = networkHelpers;

describe("Vault", function () {
  const ONE_YEAR = 365 * 24 * 60 * 60;
  const LOCKED = 1_000_000_000n;

  async function deployVault() {
    const unlockTime = (await time.latest()) + ONE_YEAR;
    const [owner, other] = await ethers.getSigners();
    const vault = await ethers.deployContract("Vault", [unlockTime], { value: LOCKED });
    // anvil mines an automined tx after eth_sendTransaction has answered, so
    // without this wait loadFixture's snapshot can precede the deployment on a
    // loaded machine (meganode serves nothing after an answer before its seal).
    await vault.waitForDeployment();
    return { vault, unlockTime, owner, other };
  }

  describe("Deployment", function () {
    it("sets the unlock time", async function () {
      const { vault, unlockTime } = await loadFixture(deployVault);
      expect(await vault.unlockTime()).to.equal(unlockTime);
    });

    it("sets the owner", async function () {
      const { vault, owner } = await loadFixture(deployVault);
      expect(await vault.owner()).to.equal(owner.address);
    });

    it("holds the locked funds", async function () {
      const { vault } = await loadFixture(deployVault);
      expect(await ethers.provider.getBalance(vault.target)).to.equal(LOCKED);
    });

    it("refuses an unlock time in the past", async function () {
      const latest = await time.latest();
      await expect(ethers.deployContract("Vault", [latest], { value: 1 })).to.be.revertedWith(
        "Unlock time should be in the future",
      );
    });
  });

  describe("Withdrawals", function () {
    it("reverts when called too soon", async function () {
      const { vault } = await loadFixture(deployVault);
      await expect(vault.withdraw()).to.be.revertedWith("You can't withdraw yet");
    });

    it("reverts when called by another account", async function () {
      const { vault, unlockTime, other } = await loadFixture(deployVault);
      await time.increaseTo(unlockTime);
      await expect(vault.connect(other).withdraw()).to.be.revertedWith("You aren't the owner");
    });

    it("lets the owner withdraw once the time has come", async function () {
      const { vault, unlockTime } = await loadFixture(deployVault);
      await time.increaseTo(unlockTime);
      await expect(vault.withdraw()).not.to.revert(ethers);
    });

    it("emits Withdrawal", async function () {
      const { vault, unlockTime } = await loadFixture(deployVault);
      await time.increaseTo(unlockTime);
      await expect(vault.withdraw()).to.emit(vault, "Withdrawal").withArgs(LOCKED, anyValue);
    });

    it("moves the funds to the owner", async function () {
      const { vault, unlockTime, owner } = await loadFixture(deployVault);
      await time.increaseTo(unlockTime);
      await expect(vault.withdraw()).to.changeEtherBalances(ethers, [owner, vault], [LOCKED, -LOCKED]);
    });

    it("starts again from the fixture after a test moved time", async function () {
      const { unlockTime } = await loadFixture(deployVault);
      expect(await time.latest()).to.be.lessThan(unlockTime);
    });
  });
});
