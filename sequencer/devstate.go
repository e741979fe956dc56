package sequencer

import (
	"encoding/json"
	"fmt"

	"github.com/ethereum/go-ethereum/common"

	"github.com/meganode/meganode/chain"
)

// DumpState is the dev chain as a state file (anvil_dumpState, --state):
// every account at the newest state (edits not yet mined included), the
// head's environment, and the chain's blocks with their edits.
func (s *Sequencer) DumpState() (*chain.DevState, error) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return nil, err
	}
	if err := s.waitPersisted(); err != nil {
		return nil, err
	}
	head := s.store.CurrentHeader()
	accounts, err := chain.DumpAccounts(s.store.StateDatabase(), s.view.Load().root)
	if err != nil {
		return nil, err
	}
	if s.dev.mode != chain.MineRealtime {
		chain.ApplyEditsToDump(accounts, s.pendingEdits())
	}
	var blocks []chain.DevBlock
	anvilBlocks := []json.RawMessage{}
	first := s.store.Genesis().NumberU64() // a forked chain's genesis is the block it forks
	for n := first; n <= head.Number.Uint64(); n++ {
		block := s.store.BlockByNumber(n)
		if block == nil {
			return nil, fmt.Errorf("block %d of the chain is missing", n)
		}
		raw, err := chain.AnvilBlock(block)
		if err != nil {
			return nil, err
		}
		anvilBlocks = append(anvilBlocks, raw)
		if n == first {
			continue
		}
		m, err := s.store.BlockMessage(n)
		if err != nil || m == nil {
			return nil, fmt.Errorf("block %d of the chain: %v", n, err)
		}
		blocks = append(blocks, chain.DevBlock{Block: m.Bundle.Block, Edits: m.Edits, MiniBlocks: m.MiniBlockCount})
	}
	enc, err := chain.EncodeDevChain(blocks)
	if err != nil {
		return nil, err
	}
	genesis, genesisTime := s.store.Genesis().Hash(), chain.DevQuantity(s.store.Genesis().Time())
	baseFee := uint64(0)
	if head.BaseFee != nil {
		baseFee = head.BaseFee.Uint64()
	}
	return &chain.DevState{
		Block: chain.DevStateBlock{
			Number: chain.DevQuantity(head.Number.Uint64()), Beneficiary: head.Coinbase, Timestamp: chain.DevQuantity(head.Time),
			GasLimit: head.GasLimit, BaseFee: baseFee, PrevRandao: head.MixDigest,
		},
		Accounts: accounts, BestBlockNumber: head.Number.Uint64(), Genesis: &genesis, GenesisTime: &genesisTime, Chain: enc,
		Blocks: anvilBlocks, Transactions: []json.RawMessage{},
	}, nil
}

// LoadState loads a state file (anvil_loadState, --state). One this chain
// wrote, loaded into a chain still at its genesis, rebuilds the chain block
// by block (each re-executed with its edits and announced like a new
// block); any other merges its accounts into the state as anvil does,
// as edits of the open block. It returns how many blocks were rebuilt.
func (s *Sequencer) LoadState(st *chain.DevState) (int, error) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	if err := s.devCheck(); err != nil {
		return 0, err
	}
	if err := s.waitPersisted(); err != nil {
		return 0, err
	}
	head := s.store.CurrentHeader()
	if st.Genesis != nil && *st.Genesis == s.store.Genesis().Hash() && len(st.Chain) > 0 && head.Number.Uint64() == s.store.Genesis().NumberU64() && s.view.Load().TxCount == 0 {
		blocks, err := chain.DecodeDevChain(st.Chain)
		if err != nil {
			return 0, err
		}
		if err := s.rebuildFrom(blocks); err != nil {
			s.halt(err)
			return 0, err
		}
		return len(blocks), nil
	}
	latest := s.view.Load().reader
	edits := chain.LoadEdits(st.Accounts, func(a common.Address) uint64 {
		if acct, err := latest.Account(a); err == nil && acct != nil {
			return acct.Nonce
		}
		return 0
	})
	if len(edits) == 0 {
		return 0, nil
	}
	return 0, s.applyEdits(edits)
}

// rebuildFrom re-executes a state file's blocks on the genesis state and
// persists and announces each as a sealed block; the open block follows the
// last.
func (s *Sequencer) rebuildFrom(blocks []chain.DevBlock) error {
	for _, b := range blocks {
		parent := s.store.CurrentHeader()
		sb, err := chain.ReplayWith(s.config, s.store, s.store.StateDatabase(), parent, b.Block,
			chain.ReplayOptions{Dev: true, Edits: b.Edits, Witness: !s.cfg.NoWitness})
		if err != nil {
			return fmt.Errorf("state file: block %d: %w", b.Block.NumberU64(), err)
		}
		s.miniCount = max(b.MiniBlocks, s.miniCount+1)
		s.miniIndex = 1
		s.senders = nil
		if err := s.persistSealed(sb); err != nil {
			return err
		}
	}
	s.published = s.miniCount
	s.log.Info().Int("blocks", len(blocks)).Uint64("head", s.store.CurrentHeader().Number.Uint64()).Msg("rebuilt the chain of a state file")
	return s.openBlock(s.clock.Now())
}
