// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {RLPReader} from "./RLPReader.sol";

/// @title OutputOracle
/// @notice The L2's output roots on L1, in the shape of the OP Stack's
/// L2OutputOracle: one proposer posts the output root of every
/// SUBMISSION_INTERVAL-th L2 block; during FINALIZATION_PERIOD_SECONDS a
/// challenger (one of the provers' keys, permissioned as the OP Stack's
/// permissioned games) deletes a wrong output and every output after it.
/// What L1 checks and what it trusts: docs/l1.md.
contract OutputOracle {
    /// @notice One proposed output: its root, the L1 time it was proposed at
    /// and the L2 block it is the output of.
    struct OutputProposal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2BlockNumber;
    }

    /// @notice The preimage of a V0 output root.
    struct OutputRootProof {
        bytes32 version;
        bytes32 stateRoot;
        bytes32 messagePasserStorageRoot;
        bytes32 latestBlockhash;
    }

    /// @notice The domain of a prover's signed dispute (challengeDigest).
    bytes32 public constant CHALLENGE_DOMAIN = keccak256("meganode.OutputOracle.challenge.v1");
    /// @notice The domain of a prover's signed fraud claim (fraudDigest).
    bytes32 public constant FRAUD_DOMAIN = keccak256("meganode.OutputOracle.fraud.v1");

    uint256 public immutable SUBMISSION_INTERVAL;
    uint256 public immutable L2_BLOCK_TIME;
    uint256 public immutable FINALIZATION_PERIOD_SECONDS;
    uint256 public immutable startingBlockNumber;
    uint256 public immutable startingTimestamp;
    address public immutable PROPOSER;

    /// @notice The challenger set: the provers' signing addresses.
    mapping(address => bool) public isChallenger;
    address[] internal challengerList;

    OutputProposal[] internal l2Outputs;

    event OutputProposed(
        bytes32 indexed outputRoot, uint256 indexed l2OutputIndex, uint256 indexed l2BlockNumber, uint256 l1Timestamp
    );
    event OutputsDeleted(uint256 indexed prevNextOutputIndex, uint256 indexed newNextOutputIndex);
    /// @notice A prover's signed dispute deleted the output at l2OutputIndex.
    event OutputChallenged(
        uint256 indexed l2OutputIndex, address indexed prover, bytes32 disputedOutputRoot, bytes32 claimedOutputRoot
    );

    /// @notice The block of the output at l2OutputIndex was shown not to
    /// re-execute to its header's state root (prover: who signed it), or the
    /// output not to hold its own header's state root (prover: zero).
    event BlockChallenged(
        uint256 indexed l2OutputIndex, address indexed prover, bytes32 blockHash, bytes32 claimedStateRoot
    );

    constructor(
        uint256 _submissionInterval,
        uint256 _l2BlockTime,
        uint256 _startingBlockNumber,
        uint256 _startingTimestamp,
        address _proposer,
        address[] memory _challengers,
        uint256 _finalizationPeriodSeconds
    ) {
        require(_submissionInterval > 0, "L2OutputOracle: submission interval must be greater than 0");
        require(_l2BlockTime > 0, "L2OutputOracle: L2 block time must be greater than 0");
        require(_startingTimestamp <= block.timestamp, "L2OutputOracle: starting L2 timestamp must be less than current time");
        SUBMISSION_INTERVAL = _submissionInterval;
        L2_BLOCK_TIME = _l2BlockTime;
        FINALIZATION_PERIOD_SECONDS = _finalizationPeriodSeconds;
        startingBlockNumber = _startingBlockNumber;
        startingTimestamp = _startingTimestamp;
        PROPOSER = _proposer;
        for (uint256 i = 0; i < _challengers.length; i++) {
            if (!isChallenger[_challengers[i]]) {
                isChallenger[_challengers[i]] = true;
                challengerList.push(_challengers[i]);
            }
        }
    }

    /// @notice The proposer posts the output root of block nextBlockNumber().
    /// _l1BlockHash, when not zero, pins the proposal to the L1 chain it was
    /// made on: it must be the hash of L1 block _l1BlockNumber.
    function proposeL2Output(bytes32 _outputRoot, uint256 _l2BlockNumber, bytes32 _l1BlockHash, uint256 _l1BlockNumber)
        external
    {
        require(msg.sender == PROPOSER, "L2OutputOracle: only the proposer address can propose new outputs");
        require(
            _l2BlockNumber == nextBlockNumber(),
            "L2OutputOracle: block number must be equal to next expected block number"
        );
        require(
            computeL2Timestamp(_l2BlockNumber) < block.timestamp,
            "L2OutputOracle: cannot propose L2 output in the future"
        );
        require(_outputRoot != bytes32(0), "L2OutputOracle: L2 output proposal cannot be the zero hash");
        if (_l1BlockHash != bytes32(0)) {
            require(
                blockhash(_l1BlockNumber) == _l1BlockHash,
                "L2OutputOracle: block hash does not match the hash at the expected height"
            );
        }
        emit OutputProposed(_outputRoot, l2Outputs.length, _l2BlockNumber, block.timestamp);
        l2Outputs.push(OutputProposal(_outputRoot, uint128(block.timestamp), uint128(_l2BlockNumber)));
    }

    /// @notice A challenger deletes the output at _l2OutputIndex and every
    /// later one, while it is inside its challenge window.
    function deleteL2Outputs(uint256 _l2OutputIndex) external {
        require(isChallenger[msg.sender], "L2OutputOracle: only the challenger address can delete outputs");
        _delete(_l2OutputIndex);
    }

    /// @notice Deletes the output at _l2OutputIndex (and every later one) on
    /// a challenger's signed dispute: the prover re-executed block
    /// l2BlockNumber of that output and got _claimedOutputRoot instead. Anyone
    /// may submit it; the signature is the permission.
    function challenge(uint256 _l2OutputIndex, bytes32 _claimedOutputRoot, bytes calldata _signature) external {
        require(_l2OutputIndex < l2Outputs.length, "L2OutputOracle: cannot delete outputs after the latest output index");
        OutputProposal memory disputed = l2Outputs[_l2OutputIndex];
        require(_claimedOutputRoot != bytes32(0), "L2OutputOracle: the claimed output root is zero");
        require(_claimedOutputRoot != disputed.outputRoot, "L2OutputOracle: the claimed output root is the proposed one");
        address prover = _recover(
            challengeDigest(_l2OutputIndex, disputed.outputRoot, disputed.l2BlockNumber, _claimedOutputRoot), _signature
        );
        require(isChallenger[prover], "L2OutputOracle: the dispute is not signed by a challenger");
        emit OutputChallenged(_l2OutputIndex, prover, disputed.outputRoot, _claimedOutputRoot);
        _delete(_l2OutputIndex);
    }

    /// @notice Deletes the output at _l2OutputIndex (and every later one) on
    /// a fraud claim about the L2 block it names. L1 checks that _disputed is
    /// the output's preimage, _header the RLP header of its block (hash,
    /// number) and that the output holds the header's state root; then that a
    /// challenger signed that the block re-executes to _claimedStateRoot
    /// instead (the re-execution is what L1 takes on the prover's word). An
    /// output whose state root is not its own header's is deleted on anyone's
    /// word: the mismatch is its own proof.
    function challengeBlock(
        uint256 _l2OutputIndex,
        OutputRootProof calldata _disputed,
        bytes calldata _header,
        bytes32 _claimedStateRoot,
        bytes calldata _signature
    ) external {
        require(_l2OutputIndex < l2Outputs.length, "L2OutputOracle: cannot delete outputs after the latest output index");
        OutputProposal memory o = l2Outputs[_l2OutputIndex];
        require(
            keccak256(
                abi.encode(
                    _disputed.version, _disputed.stateRoot, _disputed.messagePasserStorageRoot, _disputed.latestBlockhash
                )
            ) == o.outputRoot,
            "L2OutputOracle: not the preimage of the disputed output"
        );
        require(keccak256(_header) == _disputed.latestBlockhash, "L2OutputOracle: not the header of the output's block");
        bytes memory h = _header;
        RLPReader.Item[] memory fields = RLPReader.items(h);
        require(fields.length > 8, "L2OutputOracle: not a block header");
        require(RLPReader.toUint(h, fields[8]) == o.l2BlockNumber, "L2OutputOracle: the header is not of the output's block number");
        bytes32 headerRoot = RLPReader.toBytes32(h, fields[3]);
        if (headerRoot != _disputed.stateRoot) {
            emit BlockChallenged(_l2OutputIndex, address(0), _disputed.latestBlockhash, headerRoot);
            _delete(_l2OutputIndex);
            return;
        }
        require(
            _claimedStateRoot != bytes32(0) && _claimedStateRoot != headerRoot,
            "L2OutputOracle: the claimed state root is the header's"
        );
        address prover = _recover(fraudDigest(_l2OutputIndex, _disputed.latestBlockhash, _claimedStateRoot), _signature);
        require(isChallenger[prover], "L2OutputOracle: the fraud claim is not signed by a challenger");
        emit BlockChallenged(_l2OutputIndex, prover, _disputed.latestBlockhash, _claimedStateRoot);
        _delete(_l2OutputIndex);
    }

    /// @notice What a prover signs to claim that the L2 block _blockHash, the
    /// block of the output at _l2OutputIndex, re-executes to _claimedStateRoot.
    function fraudDigest(uint256 _l2OutputIndex, bytes32 _blockHash, bytes32 _claimedStateRoot)
        public
        view
        returns (bytes32)
    {
        return keccak256(abi.encode(FRAUD_DOMAIN, block.chainid, address(this), _l2OutputIndex, _blockHash, _claimedStateRoot));
    }

    /// @notice What a prover signs to dispute an output: bound to this
    /// oracle on this L1, the output's index, root and L2 block, and the root
    /// the prover computed.
    function challengeDigest(uint256 _l2OutputIndex, bytes32 _disputedRoot, uint256 _l2BlockNumber, bytes32 _claimedRoot)
        public
        view
        returns (bytes32)
    {
        return keccak256(
            abi.encode(
                CHALLENGE_DOMAIN, block.chainid, address(this), _l2OutputIndex, _disputedRoot, _l2BlockNumber, _claimedRoot
            )
        );
    }

    function _delete(uint256 _l2OutputIndex) internal {
        require(_l2OutputIndex < l2Outputs.length, "L2OutputOracle: cannot delete outputs after the latest output index");
        require(
            block.timestamp - l2Outputs[_l2OutputIndex].timestamp < FINALIZATION_PERIOD_SECONDS,
            "L2OutputOracle: cannot delete outputs that have already been finalized"
        );
        uint256 prevNextL2OutputIndex = l2Outputs.length;
        // Shortening the array leaves the old slots; the next push overwrites them.
        OutputProposal[] storage outputs = l2Outputs;
        assembly {
            sstore(outputs.slot, _l2OutputIndex)
        }
        emit OutputsDeleted(prevNextL2OutputIndex, _l2OutputIndex);
    }

    /// @dev ecrecover of a 65-byte [r ‖ s ‖ v] signature, v 0/1 (go-ethereum's
    /// crypto.Sign) or 27/28; a high s or a bad v recovers nobody.
    function _recover(bytes32 _digest, bytes calldata _sig) internal pure returns (address) {
        require(_sig.length == 65, "L2OutputOracle: signature must be 65 bytes");
        bytes32 r = bytes32(_sig[0:32]);
        bytes32 s = bytes32(_sig[32:64]);
        uint8 v = uint8(_sig[64]);
        if (v < 27) v += 27;
        if (uint256(s) > 0x7FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF5D576E7357A4501DDFE92F46681B20A0 || (v != 27 && v != 28)) {
            return address(0);
        }
        return ecrecover(_digest, v, r, s);
    }

    /// @notice The challenger set.
    function challengers() external view returns (address[] memory) {
        return challengerList;
    }

    function getL2Output(uint256 _l2OutputIndex) external view returns (OutputProposal memory) {
        require(_l2OutputIndex < l2Outputs.length, "L2OutputOracle: no output at this index");
        return l2Outputs[_l2OutputIndex];
    }

    /// @notice The index of the first output at or after _l2BlockNumber.
    function getL2OutputIndexAfter(uint256 _l2BlockNumber) public view returns (uint256) {
        require(l2Outputs.length > 0, "L2OutputOracle: cannot get output as no outputs have been proposed yet");
        require(
            _l2BlockNumber <= l2Outputs[l2Outputs.length - 1].l2BlockNumber,
            "L2OutputOracle: cannot get output for a block that has not been proposed"
        );
        uint256 lo = 0;
        uint256 hi = l2Outputs.length;
        while (lo < hi) {
            uint256 mid = (lo + hi) / 2;
            if (l2Outputs[mid].l2BlockNumber < _l2BlockNumber) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        return lo;
    }

    function getL2OutputAfter(uint256 _l2BlockNumber) external view returns (OutputProposal memory) {
        return l2Outputs[getL2OutputIndexAfter(_l2BlockNumber)];
    }

    /// @notice The index of the newest output; reverts while there is none.
    function latestOutputIndex() external view returns (uint256) {
        return l2Outputs.length - 1;
    }

    function nextOutputIndex() public view returns (uint256) {
        return l2Outputs.length;
    }

    /// @notice The L2 block of the newest output (startingBlockNumber while there is none).
    function latestBlockNumber() public view returns (uint256) {
        return l2Outputs.length == 0 ? startingBlockNumber : l2Outputs[l2Outputs.length - 1].l2BlockNumber;
    }

    function nextBlockNumber() public view returns (uint256) {
        return latestBlockNumber() + SUBMISSION_INTERVAL;
    }

    function computeL2Timestamp(uint256 _l2BlockNumber) public view returns (uint256) {
        return startingTimestamp + ((_l2BlockNumber - startingBlockNumber) * L2_BLOCK_TIME);
    }
}
