// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

/// @title RLPReader
/// @notice Reads the items of an RLP list held in memory, by offsets into it
/// (nothing is copied until asked).
library RLPReader {
    /// @notice One item: where its encoding starts (off, len) and where its
    /// payload starts (payOff, payLen), as byte offsets into the list's bytes.
    struct Item {
        uint256 off;
        uint256 len;
        uint256 payOff;
        uint256 payLen;
        bool isList;
    }

    /// @notice The items of the RLP list that is all of b.
    function items(bytes memory b) internal pure returns (Item[] memory out) {
        (uint256 payOff, uint256 payLen, bool isList) = header(b, 0);
        require(isList && payOff + payLen == b.length, "RLPReader: not one RLP list");
        uint256 end = payOff + payLen;
        uint256 n;
        for (uint256 p = payOff; p < end; n++) {
            (uint256 o, uint256 l,) = header(b, p);
            p = o + l;
        }
        out = new Item[](n);
        uint256 q = payOff;
        for (uint256 i = 0; i < n; i++) {
            (uint256 o, uint256 l, bool il) = header(b, q);
            out[i] = Item(q, o + l - q, o, l, il);
            q = o + l;
        }
        require(q == end, "RLPReader: item overruns its list");
    }

    /// @notice Decodes the header of the item at b[p]: its payload's offset
    /// and length, and whether it is a list.
    function header(bytes memory b, uint256 p) internal pure returns (uint256 off, uint256 len, bool isList) {
        require(p < b.length, "RLPReader: truncated");
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
        require(off + len <= b.length, "RLPReader: truncated");
    }

    /// @notice The payload of a string item.
    function payload(bytes memory b, Item memory it) internal pure returns (bytes memory) {
        return slice(b, it.payOff, it.payLen);
    }

    /// @notice A string item of at most 32 bytes as a big-endian number.
    function toUint(bytes memory b, Item memory it) internal pure returns (uint256 v) {
        require(!it.isList && it.payLen <= 32, "RLPReader: not a number");
        for (uint256 i = 0; i < it.payLen; i++) {
            v = (v << 8) | uint8(b[it.payOff + i]);
        }
    }

    /// @notice A 32-byte string item.
    function toBytes32(bytes memory b, Item memory it) internal pure returns (bytes32 w) {
        require(!it.isList && it.payLen == 32, "RLPReader: not a 32-byte string");
        uint256 off = it.payOff;
        assembly {
            w := mload(add(add(b, 32), off))
        }
    }

    function slice(bytes memory b, uint256 off, uint256 len) internal pure returns (bytes memory out) {
        require(off + len <= b.length, "RLPReader: truncated");
        out = new bytes(len);
        assembly {
            mcopy(add(out, 32), add(add(b, 32), off), len)
        }
    }

    function _bigEndian(bytes memory b, uint256 p, uint256 n) private pure returns (uint256 v) {
        require(n <= 8 && p + n <= b.length, "RLPReader: truncated");
        for (uint256 i = 0; i < n; i++) {
            v = (v << 8) | uint8(b[p + i]);
        }
    }
}
