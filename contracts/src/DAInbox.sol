// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title DAInbox
/// @notice Where the batcher records each EigenDA blob it posted: the
/// commitment the DA layer returned (eigenda-proxy's, docs/eigenda.md) and the
/// sealed L2 blocks firstBlock..lastBlock the blob holds. Derivation reads the
/// BlobRecorded logs; nothing is stored.
contract DAInbox {
    address public immutable BATCHER;

    event BlobRecorded(uint64 indexed firstBlock, uint64 lastBlock, bytes32 lastBlockHash, bytes commitment);

    constructor(address _batcher) {
        BATCHER = _batcher;
    }

    function record(uint64 _firstBlock, uint64 _lastBlock, bytes32 _lastBlockHash, bytes calldata _commitment) external {
        require(msg.sender == BATCHER, "DAInbox: only the batcher can record blobs");
        require(_firstBlock <= _lastBlock, "DAInbox: empty block range");
        require(_commitment.length > 0, "DAInbox: empty commitment");
        emit BlobRecorded(_firstBlock, _lastBlock, _lastBlockHash, _commitment);
    }
}
