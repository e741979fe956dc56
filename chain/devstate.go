package chain

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"sort"

	"github.com/holiman/uint256"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/core/state"
	"github.com/ethereum/go-ethereum/core/types"
	"github.com/ethereum/go-ethereum/rlp"
)

// DevState is a dev chain's state file (anvil_dumpState, --state): anvil's
// SerializableState shape (block environment, every account, the best block
// number), which anvil and meganode both load, plus meganode's own chain:
// every block with its dev edits, from which a meganode devnet of the same
// genesis rebuilds its blocks, receipts and history exactly.
type DevState struct {
	Block           DevStateBlock                       `json:"block"`
	Accounts        map[common.Address]*DevStateAccount `json:"accounts"`
	BestBlockNumber uint64                              `json:"best_block_number"`
	Blocks          []json.RawMessage                   `json:"blocks"`
	Transactions    []json.RawMessage                   `json:"transactions"`
	Genesis         *common.Hash                        `json:"meganode_genesis,omitempty"`
	// GenesisTime is the genesis's timestamp, which a devnet started with
	// the file takes to make the same genesis; absent in files written
	// before devnets took their start time (their genesis is at 0).
	GenesisTime *DevQuantity  `json:"meganode_genesis_timestamp,omitempty"`
	Chain       hexutil.Bytes `json:"meganode_chain,omitempty"` // RLP of []DevBlock
}

// DevStateBlock is the block environment of the head (anvil's "block").
// Quantities are written as anvil writes them (number and timestamp hex,
// gas limit and base fee JSON numbers) and read in either form.
type DevStateBlock struct {
	Number      DevQuantity    `json:"number"`
	Beneficiary common.Address `json:"beneficiary"`
	Timestamp   DevQuantity    `json:"timestamp"`
	GasLimit    uint64         `json:"gas_limit"`
	BaseFee     uint64         `json:"basefee"`
	Difficulty  DevQuantity    `json:"difficulty"`
	PrevRandao  common.Hash    `json:"prevrandao"`
}

func (b *DevStateBlock) UnmarshalJSON(data []byte) error {
	var raw struct {
		Number      DevQuantity    `json:"number"`
		Beneficiary common.Address `json:"beneficiary"`
		Coinbase    common.Address `json:"coinbase"`
		Timestamp   DevQuantity    `json:"timestamp"`
		GasLimit    DevQuantity    `json:"gas_limit"`
		BaseFee     DevQuantity    `json:"basefee"`
		Difficulty  DevQuantity    `json:"difficulty"`
		PrevRandao  common.Hash    `json:"prevrandao"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	if raw.Beneficiary == (common.Address{}) {
		raw.Beneficiary = raw.Coinbase
	}
	*b = DevStateBlock{Number: raw.Number, Beneficiary: raw.Beneficiary, Timestamp: raw.Timestamp, GasLimit: uint64(raw.GasLimit),
		BaseFee: uint64(raw.BaseFee), Difficulty: raw.Difficulty, PrevRandao: raw.PrevRandao}
	return nil
}

// DevQuantity is a uint64 written as hex and read as hex, a decimal string
// or a JSON number.
type DevQuantity uint64

func (q DevQuantity) MarshalJSON() ([]byte, error) { return json.Marshal(hexutil.Uint64(q)) }

func (q *DevQuantity) UnmarshalJSON(data []byte) error {
	var n uint64
	if err := json.Unmarshal(data, &n); err == nil {
		*q = DevQuantity(n)
		return nil
	}
	var s string
	if err := json.Unmarshal(data, &s); err != nil {
		return fmt.Errorf("invalid quantity %s", data)
	}
	v, ok := new(big.Int).SetString(trimHex(s), map[bool]int{true: 16, false: 10}[len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X")])
	if !ok || !v.IsUint64() {
		return fmt.Errorf("invalid quantity %q", s)
	}
	*q = DevQuantity(v.Uint64())
	return nil
}

// DevStateAccount is one account of a state file.
type DevStateAccount struct {
	Nonce   uint64                      `json:"nonce"`
	Balance *hexutil.Big                `json:"balance"`
	Code    hexutil.Bytes               `json:"code"`
	Storage map[common.Hash]common.Hash `json:"storage"`
}

// UnmarshalJSON reads anvil's forms too: a nonce as a number or hex,
// storage keys and values as short hex quantities.
func (a *DevStateAccount) UnmarshalJSON(data []byte) error {
	var raw struct {
		Nonce   json.RawMessage   `json:"nonce"`
		Balance *hexutil.Big      `json:"balance"`
		Code    hexutil.Bytes     `json:"code"`
		Storage map[string]string `json:"storage"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	a.Balance, a.Code = raw.Balance, raw.Code
	if len(raw.Nonce) > 0 && string(raw.Nonce) != "null" {
		var n uint64
		if err := json.Unmarshal(raw.Nonce, &n); err != nil {
			var s hexutil.Uint64
			if err := json.Unmarshal(raw.Nonce, &s); err != nil {
				return fmt.Errorf("nonce %s: %w", raw.Nonce, err)
			}
			n = uint64(s)
		}
		a.Nonce = n
	}
	a.Storage = make(map[common.Hash]common.Hash, len(raw.Storage))
	for k, v := range raw.Storage {
		key, err := shortHash(k)
		if err != nil {
			return err
		}
		val, err := shortHash(v)
		if err != nil {
			return err
		}
		a.Storage[key] = val
	}
	return nil
}

// shortHash parses a hex word that may omit leading zeros.
func shortHash(s string) (common.Hash, error) {
	v, ok := new(big.Int).SetString(trimHex(s), 16)
	if !ok && trimHex(s) != "" {
		return common.Hash{}, fmt.Errorf("invalid storage word %q", s)
	}
	if v == nil {
		v = new(big.Int)
	}
	if v.BitLen() > 256 {
		return common.Hash{}, fmt.Errorf("storage word %q above 32 bytes", s)
	}
	return common.BigToHash(v), nil
}

func trimHex(s string) string {
	if len(s) >= 2 && (s[:2] == "0x" || s[:2] == "0X") {
		return s[2:]
	}
	return s
}

// DevBlock is a sealed block of a state file's chain: re-executed with its
// edits when the file is loaded.
type DevBlock struct {
	Block      *types.Block
	Edits      []BlockEdits
	MiniBlocks uint64 // mini-blocks in the chain up to this block
}

// EncodeDevChain and DecodeDevChain give a state file's chain its form.
func EncodeDevChain(blocks []DevBlock) ([]byte, error) { return rlp.EncodeToBytes(blocks) }

func DecodeDevChain(data []byte) ([]DevBlock, error) {
	var blocks []DevBlock
	if err := rlp.DecodeBytes(data, &blocks); err != nil {
		return nil, fmt.Errorf("decode the state file's chain: %w", err)
	}
	return blocks, nil
}

// ErrMissingPreimages means a state was written without the preimages that
// name its accounts and slots, so it cannot be listed.
var ErrMissingPreimages = errors.New("the state lacks the preimages of some keys (dev chains record them)")

// DumpAccounts lists every account of the state at root with its code and
// storage. The trie database must record preimages.
func DumpAccounts(db state.Database, root common.Hash) (map[common.Address]*DevStateAccount, error) {
	st, err := state.New(root, db)
	if err != nil {
		return nil, fmt.Errorf("open state %s: %w", root, err)
	}
	dump := st.RawDump(&state.DumpConfig{})
	out := make(map[common.Address]*DevStateAccount, len(dump.Accounts))
	for key, a := range dump.Accounts {
		if !common.IsHexAddress(key) {
			return nil, fmt.Errorf("%w: account %s", ErrMissingPreimages, key)
		}
		bal, ok := new(big.Int).SetString(a.Balance, 10)
		if !ok {
			return nil, fmt.Errorf("account %s: balance %q", key, a.Balance)
		}
		acct := &DevStateAccount{Nonce: a.Nonce, Balance: (*hexutil.Big)(bal), Code: a.Code, Storage: make(map[common.Hash]common.Hash, len(a.Storage))}
		for slot, v := range a.Storage {
			val, err := shortHash(v)
			if err != nil {
				return nil, err
			}
			acct.Storage[slot] = val
		}
		out[common.HexToAddress(key)] = acct
	}
	return out, nil
}

// ApplyEditsToDump writes edits into a dump's accounts.
func ApplyEditsToDump(accounts map[common.Address]*DevStateAccount, edits []DevEdit) {
	for _, e := range edits {
		a := accounts[e.Address]
		if a == nil {
			a = &DevStateAccount{Balance: (*hexutil.Big)(new(big.Int)), Storage: map[common.Hash]common.Hash{}}
			accounts[e.Address] = a
		}
		switch e.Kind {
		case EditBalance:
			a.Balance = (*hexutil.Big)(new(big.Int).SetBytes(e.Value))
		case EditNonce:
			a.Nonce = new(big.Int).SetBytes(e.Value).Uint64()
		case EditCode:
			a.Code = common.CopyBytes(e.Value)
		case EditStorage:
			a.Storage[e.Slot] = common.BytesToHash(e.Value)
		}
	}
}

// LoadEdits are the edits that merge accounts into a chain's state as
// anvil_loadState does: balance and code replaced, the higher nonce kept,
// the listed storage slots written. nonceOf reads the current nonce.
func LoadEdits(accounts map[common.Address]*DevStateAccount, nonceOf func(common.Address) uint64) []DevEdit {
	addrs := make([]common.Address, 0, len(accounts))
	for a := range accounts {
		addrs = append(addrs, a)
	}
	sort.Slice(addrs, func(i, j int) bool { return bytes.Compare(addrs[i][:], addrs[j][:]) < 0 })
	var edits []DevEdit
	for _, addr := range addrs {
		a := accounts[addr]
		bal := new(uint256.Int)
		if a.Balance != nil {
			bal, _ = uint256.FromBig(a.Balance.ToInt())
		}
		edits = append(edits, BalanceEdit(addr, bal), CodeEdit(addr, a.Code), NonceEdit(addr, max(a.Nonce, nonceOf(addr))))
		slots := make([]common.Hash, 0, len(a.Storage))
		for s := range a.Storage {
			slots = append(slots, s)
		}
		sort.Slice(slots, func(i, j int) bool { return bytes.Compare(slots[i][:], slots[j][:]) < 0 })
		for _, s := range slots {
			edits = append(edits, StorageEdit(addr, s, a.Storage[s]))
		}
	}
	return edits
}

// EncodeDevState is anvil_dumpState's form: gzip of the JSON.
func EncodeDevState(st *DevState) ([]byte, error) {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if err := json.NewEncoder(zw).Encode(st); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// DecodeDevState reads a state as anvil_loadState takes it: gzipped JSON or
// plain JSON.
func DecodeDevState(data []byte) (*DevState, error) {
	if len(data) > 2 && data[0] == 0x1f && data[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			return nil, err
		}
		if data, err = io.ReadAll(io.LimitReader(zr, 1<<32)); err != nil {
			return nil, err
		}
	}
	st := new(DevState)
	if err := json.Unmarshal(data, st); err != nil {
		return nil, err
	}
	return st, nil
}

// AnvilBlock is a block in the form anvil's state files hold blocks: the
// header, and each tx with the impersonated sender anvil needs for the
// unsigned ones.
func AnvilBlock(b *types.Block) (json.RawMessage, error) {
	type anvilTx struct {
		Transaction        *types.Transaction `json:"transaction"`
		ImpersonatedSender *common.Address    `json:"impersonated_sender"`
	}
	txs := make([]anvilTx, len(b.Transactions()))
	for i, tx := range b.Transactions() {
		txs[i].Transaction = tx
		if from, ok := ImpersonatedSender(tx); ok {
			txs[i].ImpersonatedSender = &from
		}
	}
	return json.Marshal(struct {
		Header       *types.Header `json:"header"`
		Transactions []anvilTx     `json:"transactions"`
		Ommers       []struct{}    `json:"ommers"`
	}{b.Header(), txs, []struct{}{}})
}
