// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {RLPReader} from "./RLPReader.sol";

/// @title MerkleTrie
/// @notice Verifies Merkle-Patricia proofs as go-ethereum's trie.Prove writes
/// them: the nodes on the path from the root, in order, each an RLP list of 17
/// items (branch) or 2 (extension or leaf, hex-prefix path). A child of fewer
/// than 32 bytes is embedded in its parent as a list and not repeated in the
/// proof.
library MerkleTrie {

    /// @notice Whether the secure trie (keys hashed with keccak256, as the
    /// state and storage tries) of _root holds _value under _key.
    function verifySecureInclusionProof(bytes memory _key, bytes memory _value, bytes[] memory _proof, bytes32 _root)
        internal
        pure
        returns (bool)
    {
        return keccak256(get(abi.encodePacked(keccak256(_key)), _proof, _root)) == keccak256(_value);
    }

    /// @notice The value under _key in the trie of _root. Reverts when the
    /// proof does not lead from the root to a leaf of _key.
    function get(bytes memory _key, bytes[] memory _proof, bytes32 _root) internal pure returns (bytes memory) {
        uint256 keyLen = _key.length * 2; // in nibbles
        uint256 depth; // nibbles of the key consumed
        uint256 used; // proof elements consumed
        bytes memory node;
        bytes32 want = _root;
        bool embedded;
        while (true) {
            if (!embedded) {
                require(used < _proof.length, "MerkleTrie: ran out of proof elements");
                node = _proof[used++];
                require(keccak256(node) == want, "MerkleTrie: invalid node hash");
            }
            RLPReader.Item[] memory items = RLPReader.items(node);
            RLPReader.Item memory next;
            if (items.length == 17) {
                // Keys of a secure trie all have 64 nibbles: none ends in a branch.
                require(depth < keyLen, "MerkleTrie: key ends in a branch");
                next = items[_nibble(_key, depth++)];
            } else if (items.length == 2) {
                bool leaf;
                (depth, leaf) = _follow(node, items[0], _key, depth);
                if (leaf) {
                    require(depth == keyLen, "MerkleTrie: key not in trie");
                    require(used == _proof.length, "MerkleTrie: proof continues past the leaf");
                    return RLPReader.slice(node, items[1].payOff, items[1].payLen);
                }
                next = items[1];
            } else {
                revert("MerkleTrie: invalid node");
            }
            if (next.isList) {
                node = RLPReader.slice(node, next.off, next.len);
                embedded = true;
            } else if (next.payLen == 32) {
                want = RLPReader.toBytes32(node, next);
                embedded = false;
            } else if (next.payLen == 0) {
                revert("MerkleTrie: key not in trie");
            } else {
                revert("MerkleTrie: bad child reference");
            }
        }
        revert("unreachable"); // the loop returns or reverts
    }

    /// @dev Matches the hex-prefix path of an extension or leaf against the
    /// key from nibble depth on; returns the depth after it and whether the
    /// node is a leaf.
    function _follow(bytes memory _node, RLPReader.Item memory _path, bytes memory _key, uint256 _depth)
        private
        pure
        returns (uint256, bool)
    {
        bytes memory path = RLPReader.slice(_node, _path.payOff, _path.payLen);
        require(path.length > 0, "MerkleTrie: empty node path");
        uint8 flag = uint8(path[0]) >> 4;
        require(flag < 4, "MerkleTrie: bad path prefix");
        uint256 first = (flag & 1) == 1 ? 1 : 2; // nibble of path where the key part starts
        uint256 n = path.length * 2 - first;
        require(_depth + n <= _key.length * 2, "MerkleTrie: key not in trie");
        for (uint256 i = 0; i < n; i++) {
            require(_nibble(path, first + i) == _nibble(_key, _depth + i), "MerkleTrie: key not in trie");
        }
        return (_depth + n, flag >= 2);
    }

    function _nibble(bytes memory b, uint256 i) private pure returns (uint256) {
        uint8 x = uint8(b[i / 2]);
        return i % 2 == 0 ? x >> 4 : x & 0x0f;
    }
}
