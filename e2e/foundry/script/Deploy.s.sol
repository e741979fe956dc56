// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Counter} from "../src/Counter.sol";

// The cheatcodes the script needs, declared here so the test needs no forge-std.
interface Vm {
    function startBroadcast() external;
    function stopBroadcast() external;
    function envOr(string calldata name, uint256 defaultValue) external view returns (uint256);
}

contract Deploy {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run() external returns (Counter plain, Counter salted) {
        vm.startBroadcast();
        plain = new Counter(1);
        // Deployed through the CREATE2 deployer at 0x4e59b44847b379578588920ca78fbf26c0b4956c.
        // SALT lets a second run on the same chain deploy to a fresh address.
        salted = new Counter{salt: bytes32(vm.envOr("SALT", uint256(0x6d656761)))}(2);
        plain.increment();
        vm.stopBroadcast();
    }
}
