import { expect } from "chai";
import { network } from "hardhat";

const { ethers, networkHelpers } = await network.create();
const { loadFixture, mine, time, takeSnapshot, impersonateAccount, stopImpersonatingAccount, setBalance, setCode, setNonce, setStorageAt, getStorageAt } = networkHelpers;

describe("Token", function () {
  async function deployToken() {
    const [admin, alice, bob] = await ethers.getSigners();
    const token = await ethers.deployContract("Token", [1000n]);
    // anvil mines an automined tx after eth_sendTransaction has answered, so
    // without this wait loadFixture's snapshot can precede the deployment on a
    // loaded machine (meganode serves nothing after an answer before its seal).
    await token.waitForDeployment();
    return { token, admin, alice, bob };
  }

  it("transfers and changes token balances", async function () {
    const { token, admin, alice } = await loadFixture(deployToken);
    await expect(token.transfer(alice.address, 100n)).to.changeTokenBalances(ethers, token, [admin, alice], [-100n, 100n]);
  });

  it("changes the sender's ether balance by the fee only", async function () {
    const { token, admin, alice } = await loadFixture(deployToken);
    await expect(token.transfer(alice.address, 1n)).to.changeEtherBalance(ethers, admin, 0n, { includeFee: false });
  });

  it("emits Transfer with its arguments", async function () {
    const { token, admin, bob } = await loadFixture(deployToken);
    await expect(token.transfer(bob.address, 7n)).to.emit(token, "Transfer").withArgs(admin.address, bob.address, 7n);
  });

  it("reverts with a custom error and its arguments", async function () {
    const { token, alice, bob } = await loadFixture(deployToken);
    await expect(token.connect(alice).transfer(bob.address, 1n))
      .to.be.revertedWithCustomError(token, "InsufficientBalance")
      .withArgs(alice.address, 0n, 1n);
  });

  it("reverts with a panic on division by zero", async function () {
    const { token } = await loadFixture(deployToken);
    await expect(token.divide(1n, 0n)).to.be.revertedWithPanic(0x12);
  });

  it("sends as an impersonated account funded with setBalance", async function () {
    const { token } = await loadFixture(deployToken);
    const whale = "0x00000000000000000000000000000000000a11ce";
    await setBalance(whale, ethers.parseEther("10"));
    expect(await ethers.provider.getBalance(whale)).to.equal(ethers.parseEther("10"));
    await impersonateAccount(whale);
    const signer = await ethers.getSigner(whale);
    await expect(token.connect(signer).mint(whale, 1n)).to.be.revertedWithCustomError(token, "NotAdmin");
    const tx = await signer.sendTransaction({ to: ethers.ZeroAddress, value: 1n });
    const receipt = await tx.wait();
    expect(receipt.from.toLowerCase()).to.equal(whale);
    await stopImpersonatingAccount(whale);
  });

  it("lets the admin contract's account be impersonated", async function () {
    const { token, admin } = await loadFixture(deployToken);
    await impersonateAccount(admin.address);
    const signer = await ethers.getImpersonatedSigner(admin.address);
    await expect(token.connect(signer).mint(admin.address, 5n)).to.changeTokenBalance(ethers, token, admin, 5n);
  });

  it("mines blocks", async function () {
    await loadFixture(deployToken);
    const before = await time.latestBlock();
    await mine(10);
    expect(await time.latestBlock()).to.equal(before + 10);
    const t0 = await time.latest();
    await mine(5, { interval: 60 });
    expect(await time.latest()).to.be.greaterThanOrEqual(t0 + 4 * 60);
  });

  it("moves time with increase and setNextBlockTimestamp", async function () {
    await loadFixture(deployToken);
    const t0 = await time.latest();
    const t1 = await time.increase(3600);
    expect(t1).to.equal(t0 + 3600);
    await time.setNextBlockTimestamp(t1 + 100);
    await mine();
    expect(await time.latest()).to.equal(t1 + 100);
  });

  it("refuses a timestamp in the past", async function () {
    await loadFixture(deployToken);
    const t = await time.latest();
    let failed = false;
    try {
      await time.setNextBlockTimestamp(t - 10);
    } catch {
      failed = true;
    }
    expect(failed).to.equal(true);
  });

  it("takes and restores snapshots", async function () {
    const { token, alice } = await loadFixture(deployToken);
    const snapshot = await takeSnapshot();
    const block = await time.latestBlock();
    await token.transfer(alice.address, 10n);
    expect(await token.balanceOf(alice.address)).to.equal(10n);
    await snapshot.restore();
    expect(await token.balanceOf(alice.address)).to.equal(0n);
    expect(await time.latestBlock()).to.equal(block);
  });

  it("edits code, nonce and storage", async function () {
    const { token, alice } = await loadFixture(deployToken);
    const code = await ethers.provider.getCode(token.target);
    const copy = "0x000000000000000000000000000000000000c0de";
    await setCode(copy, code);
    expect(await ethers.provider.getCode(copy)).to.equal(code);
    await setNonce(alice.address, 42);
    expect(await ethers.provider.getTransactionCount(alice.address)).to.equal(42);
    // slot 1 is admin
    await setStorageAt(token.target, 1, ethers.zeroPadValue(alice.address, 32));
    expect(await token.admin()).to.equal(alice.address);
    expect(await getStorageAt(token.target, 1)).to.equal(ethers.zeroPadValue(alice.address, 32).toLowerCase());
  });

  it("records the block number of the tx that minted", async function () {
    const { token, admin } = await loadFixture(deployToken);
    const tx = await token.mint(admin.address, 1n);
    const receipt = await tx.wait();
    expect(await token.lastMintBlock()).to.equal(BigInt(receipt.blockNumber));
    const block = await ethers.provider.getBlock(receipt.blockHash);
    expect(block.transactions).to.deep.equal([tx.hash]);
  });
});
