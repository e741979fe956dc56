// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Counter} from "../src/Counter.sol";

interface Vm {
    function envAddress(string calldata name) external view returns (address);
    function envUint(string calldata name) external view returns (uint256);
}

// Run with `forge test --fork-url <node> --fork-block-number <n>`: COUNTER is a
// Counter on that chain and WANT its number at block n.
contract ForkTest {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function testReadsStateAtForkBlock() external view {
        Counter c = Counter(vm.envAddress("COUNTER"));
        require(c.number() == vm.envUint("WANT"), "number at the fork block");
    }

    function testExecutesOnTopOfFork() external {
        Counter c = Counter(vm.envAddress("COUNTER"));
        c.increment();
        require(c.number() == vm.envUint("WANT") + 1, "increment on the fork");
    }

    function testBlockIsPinned() external view {
        require(block.number == vm.envUint("FORK_BLOCK"), "block.number is the fork block");
    }
}
