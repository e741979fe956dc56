// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

// A minimal token with a custom error, a panic path and an admin.
contract Token {
    string public constant symbol = "TKN";
    mapping(address => uint256) public balanceOf;
    address public admin;
    uint256 public lastMintBlock;

    error InsufficientBalance(address from, uint256 have, uint256 want);
    error NotAdmin(address caller);

    event Transfer(address indexed from, address indexed to, uint256 value);

    constructor(uint256 supply) {
        admin = msg.sender;
        balanceOf[msg.sender] = supply;
        emit Transfer(address(0), msg.sender, supply);
    }

    function transfer(address to, uint256 value) external returns (bool) {
        uint256 have = balanceOf[msg.sender];
        if (have < value) revert InsufficientBalance(msg.sender, have, value);
        balanceOf[msg.sender] = have - value;
        balanceOf[to] += value;
        emit Transfer(msg.sender, to, value);
        return true;
    }

    function mint(address to, uint256 value) external {
        if (msg.sender != admin) revert NotAdmin(msg.sender);
        balanceOf[to] += value;
        lastMintBlock = block.number;
        emit Transfer(address(0), to, value);
    }

    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }
}
