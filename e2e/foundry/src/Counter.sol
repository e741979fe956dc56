// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

contract Counter {
    uint256 public number;
    event Incremented(address indexed by, uint256 value);

    constructor(uint256 start) {
        number = start;
    }

    function increment() external {
        number += 1;
        emit Incremented(msg.sender, number);
    }

    function fail() external pure {
        revert("counter: nope");
    }
}
