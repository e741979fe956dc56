// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title MerkleTrie
/// @notice Verifies Merkle-Patricia proofs as go-ethereum's trie.Prove writes
/// them: the nodes on the path from the root, in order, each an RLP list of 17
/// items (branch) or 2 (extension or leaf, hex-prefix path). A child of fewer
/// than 32 bytes is embedded in its parent as a list and not repeated in the
/// proof.
library MerkleTrie {
    /// @dev One RLP item inside a node: where its encoding starts (off, len)
    /// and where its payload starts (payOff, payLen), as byte offsets.
    struct Item {
        uint256 off;
        uint256 len;
        uint256 payOff;
        uint256 payLen;
        bool isList;
    }

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
            Item[] memory items = _list(node);
            Item memory next;
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
                    return _slice(node, items[1].payOff, items[1].payLen);
                }
                next = items[1];
            } else {
                revert("MerkleTrie: invalid node");
            }
            if (next.isList) {
                node = _slice(node, next.off, next.len);
                embedded = true;
            } else if (next.payLen == 32) {
                want = _word(node, next.payOff);
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
    function _follow(bytes memory _node, Item memory _path, bytes memory _key, uint256 _depth)
        private
        pure
        returns (uint256, bool)
    {
        bytes memory path = _slice(_node, _path.payOff, _path.payLen);
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

    /// @dev The items of the RLP list that is all of b.
    function _list(bytes memory b) private pure returns (Item[] memory items) {
        (uint256 payOff, uint256 payLen, bool isList) = _header(b, 0);
        require(isList && payOff + payLen == b.length, "MerkleTrie: node is not one RLP list");
        items = new Item[](17);
        uint256 n;
        uint256 p = payOff;
        uint256 end = payOff + payLen;
        while (p < end) {
            require(n < 17, "MerkleTrie: invalid node");
            (uint256 o, uint256 l, bool il) = _header(b, p);
            items[n++] = Item(p, o + l - p, o, l, il);
            p = o + l;
        }
        require(p == end, "MerkleTrie: item overruns its node");
        assembly {
            mstore(items, n)
        }
    }

    /// @dev Decodes the RLP header at b[p]: the payload's offset and length.
    function _header(bytes memory b, uint256 p) private pure returns (uint256 off, uint256 len, bool isList) {
        require(p < b.length, "MerkleTrie: truncated RLP");
        uint256 f = uint8(b[p]);
        if (f < 0x80) {
            return (p, 1, false);
        } else if (f < 0xb8) {
            (off, len) = (p + 1, f - 0x80);
        } else if (f < 0xc0) {
            (off, len) = (p + 1 + (f - 0xb7), _bigEndian(b, p + 1, f - 0xb7));
        } else if (f < 0xf8) {
            (off, len, isList) = (p + 1, f - 0xc0, true);
        } else {
            (off, len, isList) = (p + 1 + (f - 0xf7), _bigEndian(b, p + 1, f - 0xf7), true);
        }
        require(off + len <= b.length, "MerkleTrie: truncated RLP");
    }

    function _bigEndian(bytes memory b, uint256 p, uint256 n) private pure returns (uint256 v) {
        require(n <= 8 && p + n <= b.length, "MerkleTrie: truncated RLP");
        for (uint256 i = 0; i < n; i++) {
            v = (v << 8) | uint8(b[p + i]);
        }
    }

    function _nibble(bytes memory b, uint256 i) private pure returns (uint256) {
        uint8 x = uint8(b[i / 2]);
        return i % 2 == 0 ? x >> 4 : x & 0x0f;
    }

    function _slice(bytes memory b, uint256 off, uint256 len) private pure returns (bytes memory out) {
        out = new bytes(len);
        assembly {
            mcopy(add(out, 32), add(add(b, 32), off), len)
        }
    }

    function _word(bytes memory b, uint256 off) private pure returns (bytes32 w) {
        assembly {
            w := mload(add(add(b, 32), off))
        }
    }
}
