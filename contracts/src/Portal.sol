// SPDX-License-Identifier: MIT
pragma solidity 0.8.30;

import {OutputOracle} from "./OutputOracle.sol";
import {MerkleTrie} from "./MerkleTrie.sol";

/// @title Portal
/// @notice The L2's bridge on L1, in the shape of the OP Stack's
/// OptimismPortal (before fault proofs): deposits are logged as
/// TransactionDeposited with the OP Stack's packing and become type 0x7E
/// transactions on L2; withdrawals initiated at the L2's L2ToL1MessagePasser
/// are proven against an output root of the OutputOracle and, after the
/// proof matured and the output left its challenge window, finalized here.
/// The portal holds every deposited wei.
contract Portal {
    /// @notice A withdrawal as the L2ToL1MessagePasser hashes it.
    struct WithdrawalTransaction {
        uint256 nonce;
        address sender;
        address target;
        uint256 value;
        uint256 gasLimit;
        bytes data;
    }

    struct ProvenWithdrawal {
        bytes32 outputRoot;
        uint128 timestamp;
        uint128 l2OutputIndex;
    }

    uint256 public constant DEPOSIT_VERSION = 0;
    /// @notice The gas limit of a deposit made by sending ETH to the portal.
    uint64 public constant RECEIVE_DEFAULT_GAS_LIMIT = 100_000;
    /// @dev l2Sender outside a withdrawal's call.
    address internal constant DEFAULT_L2_SENDER = 0x000000000000000000000000000000000000dEaD;
    uint160 internal constant ALIAS_OFFSET = uint160(0x1111000000000000000000000000000000001111);
    /// @dev The gas finalizeWithdrawalTransaction needs after its call
    /// (events, l2Sender reset), beyond the call's own gas and its 1/64.
    uint256 internal constant FINALIZE_GAS_BUFFER = 40_000;

    OutputOracle public immutable L2_ORACLE;
    uint256 public immutable PROOF_MATURITY_DELAY_SECONDS;

    /// @notice The L2 sender of the withdrawal being finalized, for its target
    /// to read; DEFAULT_L2_SENDER otherwise.
    address public l2Sender;
    mapping(bytes32 => ProvenWithdrawal) public provenWithdrawals;
    mapping(bytes32 => bool) public finalizedWithdrawals;

    event TransactionDeposited(address indexed from, address indexed to, uint256 indexed version, bytes opaqueData);
    event WithdrawalProven(bytes32 indexed withdrawalHash, address indexed from, address indexed to);
    event WithdrawalFinalized(bytes32 indexed withdrawalHash, bool success);

    constructor(OutputOracle _l2Oracle, uint256 _proofMaturityDelaySeconds) {
        L2_ORACLE = _l2Oracle;
        PROOF_MATURITY_DELAY_SECONDS = _proofMaturityDelaySeconds;
        l2Sender = DEFAULT_L2_SENDER;
    }

    /// @notice ETH sent to the portal is deposited to the sender on L2.
    receive() external payable {
        depositTransaction(msg.sender, msg.value, RECEIVE_DEFAULT_GAS_LIMIT, false, bytes(""));
    }

    /// @notice The smallest gas limit of a deposit with _byteCount bytes of data:
    ///         EIP-7623's calldata floor for bytes that are all non-zero (as
    ///         OptimismPortal2), so a deposit the portal takes can start on L2.
    function minimumGasLimit(uint64 _byteCount) public pure returns (uint64) {
        return _byteCount * 40 + 21000;
    }

    /// @notice Deposits a transaction to L2: msg.value is minted to the
    /// sender on L2 and _value of it sent to _to (or into a contract created
    /// from _data). A contract's address is aliased, as the OP Stack does, so
    /// it cannot pose as the L2 account at its own address.
    function depositTransaction(address _to, uint256 _value, uint64 _gasLimit, bool _isCreation, bytes memory _data)
        public
        payable
    {
        if (_isCreation) {
            require(_to == address(0), "OptimismPortal: must send to address(0) when creating a contract");
        }
        require(_gasLimit >= minimumGasLimit(uint64(_data.length)), "OptimismPortal: gas limit too small");
        require(_data.length <= 120_000, "OptimismPortal: data too large");
        address from = msg.sender;
        if (msg.sender != tx.origin) {
            unchecked {
                from = address(uint160(msg.sender) + ALIAS_OFFSET);
            }
        }
        bytes memory opaqueData = abi.encodePacked(msg.value, _value, _gasLimit, _isCreation, _data);
        emit TransactionDeposited(from, _to, DEPOSIT_VERSION, opaqueData);
    }

    /// @notice Proves that _tx was initiated on L2: the message passer's
    /// storage in the output at _l2OutputIndex holds sentMessages[hash] = true.
    function proveWithdrawalTransaction(
        WithdrawalTransaction memory _tx,
        uint256 _l2OutputIndex,
        OutputOracle.OutputRootProof calldata _outputRootProof,
        bytes[] calldata _withdrawalProof
    ) external {
        require(_tx.target != address(this), "OptimismPortal: you cannot send messages to the portal contract");
        bytes32 outputRoot = L2_ORACLE.getL2Output(_l2OutputIndex).outputRoot;
        require(outputRoot == hashOutputRootProof(_outputRootProof), "OptimismPortal: invalid output root proof");
        bytes32 withdrawalHash = hashWithdrawal(_tx);
        ProvenWithdrawal memory proven = provenWithdrawals[withdrawalHash];
        // A proof against an output that has since been deleted may be redone.
        require(
            proven.timestamp == 0 || !_outputStands(proven), "OptimismPortal: withdrawal hash has already been proven"
        );
        // sentMessages is the mapping at slot 0 of the message passer.
        bytes32 storageKey = keccak256(abi.encode(withdrawalHash, uint256(0)));
        require(
            MerkleTrie.verifySecureInclusionProof(
                abi.encode(storageKey), hex"01", _withdrawalProof, _outputRootProof.messagePasserStorageRoot
            ),
            "OptimismPortal: invalid withdrawal inclusion proof"
        );
        provenWithdrawals[withdrawalHash] = ProvenWithdrawal(outputRoot, uint128(block.timestamp), uint128(_l2OutputIndex));
        emit WithdrawalProven(withdrawalHash, _tx.sender, _tx.target);
    }

    /// @notice Executes a proven withdrawal once its proof matured and its
    /// output left the challenge window undeleted.
    function finalizeWithdrawalTransaction(WithdrawalTransaction memory _tx) external {
        require(l2Sender == DEFAULT_L2_SENDER, "OptimismPortal: can only trigger one withdrawal per transaction");
        bytes32 withdrawalHash = hashWithdrawal(_tx);
        ProvenWithdrawal memory proven = provenWithdrawals[withdrawalHash];
        require(proven.timestamp != 0, "OptimismPortal: withdrawal has not been proven yet");
        require(
            block.timestamp - proven.timestamp > PROOF_MATURITY_DELAY_SECONDS,
            "OptimismPortal: proven withdrawal has not matured yet"
        );
        require(_outputStands(proven), "OptimismPortal: output root proven is not the same as current output root");
        OutputOracle.OutputProposal memory output = L2_ORACLE.getL2Output(proven.l2OutputIndex);
        require(
            block.timestamp - output.timestamp > L2_ORACLE.FINALIZATION_PERIOD_SECONDS(),
            "OptimismPortal: output proposal finalization period has not elapsed"
        );
        require(!finalizedWithdrawals[withdrawalHash], "OptimismPortal: withdrawal has already been finalized");
        finalizedWithdrawals[withdrawalHash] = true;
        // The target gets at least the gas the withdrawal asked for (a call
        // passes at most 63/64 of what is left), so nobody can finalize it
        // with too little gas to make it fail.
        require(
            gasleft() >= _tx.gasLimit + _tx.gasLimit / 63 + FINALIZE_GAS_BUFFER,
            "OptimismPortal: insufficient gas to finalize withdrawal"
        );
        l2Sender = _tx.sender;
        (bool success,) = _tx.target.call{gas: _tx.gasLimit, value: _tx.value}(_tx.data);
        l2Sender = DEFAULT_L2_SENDER;
        emit WithdrawalFinalized(withdrawalHash, success);
    }

    /// @notice keccak256(abi.encode(nonce, sender, target, value, gasLimit, data)),
    /// the L2ToL1MessagePasser's withdrawal hash.
    function hashWithdrawal(WithdrawalTransaction memory _tx) public pure returns (bytes32) {
        return keccak256(abi.encode(_tx.nonce, _tx.sender, _tx.target, _tx.value, _tx.gasLimit, _tx.data));
    }

    /// @notice The V0 output root: keccak256(version ‖ stateRoot ‖
    /// messagePasserStorageRoot ‖ latestBlockhash).
    function hashOutputRootProof(OutputOracle.OutputRootProof calldata _proof) public pure returns (bytes32) {
        return keccak256(
            abi.encode(_proof.version, _proof.stateRoot, _proof.messagePasserStorageRoot, _proof.latestBlockhash)
        );
    }

    /// @dev Whether the output a withdrawal was proven against is still the
    /// oracle's output at that index (not deleted, not replaced).
    function _outputStands(ProvenWithdrawal memory _proven) internal view returns (bool) {
        return _proven.l2OutputIndex < L2_ORACLE.nextOutputIndex()
            && L2_ORACLE.getL2Output(_proven.l2OutputIndex).outputRoot == _proven.outputRoot;
    }
}
