// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

import {Counter} from "../src/Counter.sol";

interface Vm {
    function startBroadcast() external;
    function stopBroadcast() external;
    function envAddress(string calldata name) external view returns (address);
}

// UsePredeploy runs on a chain started from a genesis file with a predeploy
// at PREDEPLOY whose code returns its storage slot 0 (42 at genesis): it
// reads it, pays it 1 wei and deploys a Counter through the CREATE2 deployer.
contract UsePredeploy {
    Vm constant vm = Vm(address(uint160(uint256(keccak256("hevm cheat code")))));

    function run() external returns (Counter salted) {
        address predeploy = vm.envAddress("PREDEPLOY");
        (bool ok, bytes memory out) = predeploy.staticcall("");
        require(ok && out.length == 32 && abi.decode(out, (uint256)) == 42, "predeploy: not the genesis value");
        vm.startBroadcast();
        (ok,) = predeploy.call{value: 1}("");
        require(ok, "predeploy: payment failed");
        salted = new Counter{salt: bytes32(uint256(0x6d6567))}(42);
        vm.stopBroadcast();
    }
}
