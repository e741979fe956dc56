// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title L2ToL1MessagePasser
/// @notice The predeploy at 0x4200000000000000000000000000000000000016 that
/// records withdrawals to L1, with the op-stack's interface. Its storage
/// root is part of every output root (docs/finality.md), so a withdrawal is
/// proven on L1 against an output root with a storage proof of
/// sentMessages[withdrawalHash].
contract L2ToL1MessagePasser {
    uint16 public constant MESSAGE_VERSION = 1;

    /// @notice Hashes of every withdrawal initiated here.
    mapping(bytes32 => bool) public sentMessages;

    uint240 internal msgNonce;

    event MessagePassed(
        uint256 indexed nonce,
        address indexed sender,
        address indexed target,
        uint256 value,
        uint256 gasLimit,
        bytes data,
        bytes32 withdrawalHash
    );

    /// @notice Sending ETH here withdraws it to the sender on L1.
    receive() external payable {
        initiateWithdrawal(msg.sender, 100_000, "");
    }

    /// @notice Records a message (and msg.value) for _target on L1.
    function initiateWithdrawal(address _target, uint256 _gasLimit, bytes memory _data) public payable {
        uint256 nonce = messageNonce();
        bytes32 withdrawalHash = keccak256(abi.encode(nonce, msg.sender, _target, msg.value, _gasLimit, _data));
        sentMessages[withdrawalHash] = true;
        emit MessagePassed(nonce, msg.sender, _target, msg.value, _gasLimit, _data, withdrawalHash);
        unchecked {
            ++msgNonce;
        }
    }

    /// @notice The next withdrawal's nonce, its version in the top two bytes.
    function messageNonce() public view returns (uint256) {
        return (uint256(MESSAGE_VERSION) << 240) | uint256(msgNonce);
    }
}
