package sequencer

import (
	"context"
	"crypto/ecdsa"
	"errors"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/rlp"

	"github.com/meganode/meganode/chain"
	"github.com/meganode/meganode/p2p"
	"github.com/meganode/meganode/storage"
)

// Gossip is where the publisher sends signed wire messages (a *p2p.Node).
type Gossip interface {
	Publish(ctx context.Context, kind p2p.Kind, data []byte) error
}

// Buffers of the publisher's feed subscriptions: minutes of mini-blocks, so
// a stalled network never makes the sequencer drop one.
const (
	publishMiniBuffer  = 1 << 16
	publishBlockBuffer = 256
	recentMessages     = 8192 // per kind, served to range requests
)

// Publisher signs the sequencer's output with the sequencer key and gossips
// it: every mini-block, every sealed block (bundle without witness, with the
// senders) and its witness on a topic of its own. It keeps the newest
// messages for range requests and regenerates older blocks from the store.
type Publisher struct {
	seq     *Sequencer
	store   *storage.Store
	key     *ecdsa.PrivateKey
	chainID uint64
	log     zerolog.Logger
	cache   *p2p.Cache
	cancel  context.CancelFunc
	done    chan struct{}
	sent    atomic.Uint64
	failed  atomic.Uint64
}

// NewPublisher builds the publisher of seq's output; Start runs it.
func NewPublisher(seq *Sequencer, store *storage.Store, key *ecdsa.PrivateKey, log zerolog.Logger) *Publisher {
	p := &Publisher{seq: seq, store: store, key: key, chainID: store.ChainConfig().ChainID.Uint64(), log: log.With().Str("component", "publisher").Logger()}
	p.cache = p2p.NewCache(recentMessages, storeProvider{p})
	return p
}

// Provider answers other nodes' range requests.
func (p *Publisher) Provider() p2p.Provider { return p.cache }

// Published counts messages handed to the network, and those that failed.
func (p *Publisher) Published() (sent, failed uint64) { return p.sent.Load(), p.failed.Load() }

// Start subscribes to the sequencer and publishes on net until Stop. It
// subscribes before it returns, so nothing sealed afterwards is missed.
func (p *Publisher) Start(net Gossip) {
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	minis, blocks := p.seq.MiniBlocks(publishMiniBuffer), p.seq.Blocks(publishBlockBuffer)
	go p.loop(ctx, net, minis, blocks)
}

// Stop ends publishing.
func (p *Publisher) Stop() {
	if p.cancel != nil {
		p.cancel()
		<-p.done
	}
}

func (p *Publisher) loop(ctx context.Context, net Gossip, minis *chain.Subscription[*chain.MiniBlock], blocks *chain.Subscription[*chain.BlockMessage]) {
	defer close(p.done)
	defer func() { minis.Unsubscribe(); blocks.Unsubscribe() }()
	for {
		if p.seq.TakeRepublish() {
			p.republish(ctx, net)
		}
		// A sealed block goes out before the next block's mini-blocks.
		select {
		case b := <-blocks.C():
			p.publishBlock(ctx, net, b)
			continue
		default:
		}
		select {
		case <-ctx.Done():
			return
		case b := <-blocks.C():
			p.publishBlock(ctx, net, b)
		case mb := <-minis.C():
			p.publish(ctx, net, p2p.MiniBlocks, mb.Number, mb)
		case err := <-minis.Err():
			// Cannot happen short of a network stalled for minutes; replicas
			// then recover the missing mini-blocks from the sealed block.
			p.log.Error().Err(err).Msg("mini-block feed dropped; resubscribing")
			minis = p.seq.MiniBlocks(publishMiniBuffer)
		case err := <-blocks.Err():
			p.log.Error().Err(err).Msg("block feed dropped; resubscribing")
			blocks = p.seq.Blocks(publishBlockBuffer)
		}
	}
}

func (p *Publisher) publishBlock(ctx context.Context, net Gossip, m *chain.BlockMessage) {
	block, witness := p.splitWitness(m)
	num := m.Bundle.Block.NumberU64()
	if m.Rewind {
		// A dev chain went back to block num: what was published after it
		// is no longer the chain's, and followers are told.
		p.cache.Truncate(p2p.Blocks, num+1)
		p.cache.Truncate(p2p.Witnesses, num+1)
		p.cache.Truncate(p2p.MiniBlocks, m.MiniBlockCount)
		p.publish(ctx, net, p2p.Blocks, num, block)
		return
	}
	p.publish(ctx, net, p2p.Blocks, num, block)
	p.publish(ctx, net, p2p.Witnesses, num, witness)
}

// splitWitness separates a sealed block's witness from the rest, which is
// all a replica needs, and adds the message passer's proof to the witness.
func (p *Publisher) splitWitness(m *chain.BlockMessage) (*chain.BlockMessage, *chain.WitnessMessage) {
	b := *m.Bundle
	b.Witness = nil
	w := &chain.WitnessMessage{Number: b.Block.NumberU64(), Hash: b.Block.Hash(), Witness: m.Bundle.Witness}
	if b.StateDiff != nil && !m.Rewind {
		// The state the block really has: its header's root, except under
		// fault injection.
		proof, err := chain.AccountProof(p.store.StateDatabase(), b.StateDiff.Root, chain.MessagePasser)
		if err != nil {
			p.log.Error().Err(err).Uint64("block", w.Number).Msg("no message passer proof; provers cannot attest this block")
		}
		w.PasserProof = proof
	}
	return &chain.BlockMessage{Bundle: &b, MiniBlockCount: m.MiniBlockCount, Senders: m.Senders, Edits: m.Edits, Rewind: m.Rewind}, w
}

// republish gossips again, as a new HA leader, the newest sealed block and
// the open block's mini-blocks: the old leader committed them but may have
// died before sending them. Replicas drop what they have.
func (p *Publisher) republish(ctx context.Context, net Gossip) {
	v := p.seq.View()
	head := v.Sealed.Number.Uint64()
	for _, kind := range []p2p.Kind{p2p.Blocks, p2p.Witnesses} {
		p.gossipCached(ctx, net, kind, head, 1)
	}
	p.gossipCached(ctx, net, p2p.MiniBlocks, v.MiniBlock-v.MiniIndex, v.MiniIndex)
}

func (p *Publisher) gossipCached(ctx context.Context, net Gossip, kind p2p.Kind, from, count uint64) {
	msgs, err := p.cache.Range(kind, from, count)
	if err != nil {
		p.log.Warn().Err(err).Str("kind", string(kind)).Msg("republish")
	}
	for _, data := range msgs {
		if err := net.Publish(ctx, kind, data); err != nil && !errors.Is(err, context.Canceled) {
			p.failed.Add(1)
			continue
		}
		p.sent.Add(1)
	}
}

func (p *Publisher) publish(ctx context.Context, net Gossip, kind p2p.Kind, number uint64, msg any) {
	data, err := p.seal(kind, msg)
	if err == nil {
		p.cache.Add(kind, number, data)
		if !p.seq.Leading() {
			return // an HA standby: kept for range requests and a takeover
		}
		err = net.Publish(ctx, kind, data)
	}
	if err != nil && !errors.Is(err, context.Canceled) {
		p.failed.Add(1)
		p.log.Error().Err(err).Str("kind", string(kind)).Uint64("number", number).Msg("publish failed; peers will request it")
		return
	}
	p.sent.Add(1)
}

// PublishDA signs and gossips a posted blob's commitment, kept for range
// requests by its sequence number.
func (p *Publisher) PublishDA(ctx context.Context, net Gossip, c *chain.DACommitment) {
	p.publish(ctx, net, p2p.DACommitments, c.Seq, c)
}

func (p *Publisher) seal(kind p2p.Kind, msg any) ([]byte, error) {
	payload, err := rlp.EncodeToBytes(msg)
	if err != nil {
		return nil, err
	}
	return p2p.Seal(p.key, kind, p.chainID, payload)
}

// storeProvider regenerates sealed blocks and witnesses the cache no longer
// holds from the store, signing them again. Mini-blocks of sealed blocks are
// not kept: a node that missed them takes the sealed block.
type storeProvider struct{ p *Publisher }

func (s storeProvider) Range(kind p2p.Kind, from, count uint64) ([][]byte, error) {
	if kind == p2p.DACommitments {
		return s.commitments(from, count)
	}
	if kind != p2p.Blocks && kind != p2p.Witnesses {
		return nil, nil
	}
	var out [][]byte
	for n := from; n < from+count; n++ {
		m, err := s.p.store.BlockMessage(n)
		if err != nil || m == nil {
			return out, err
		}
		block, witness := s.p.splitWitness(m)
		var msg any = block
		if kind == p2p.Witnesses {
			msg = witness
		}
		data, err := s.p.seal(kind, msg)
		if err != nil {
			return out, err
		}
		out = append(out, data)
	}
	return out, nil
}

func (s storeProvider) commitments(from, count uint64) ([][]byte, error) {
	var out [][]byte
	for seq := from; seq < from+count; seq++ {
		c, err := s.p.store.DACommitmentBySeq(seq)
		if err != nil || c == nil {
			return out, err
		}
		data, err := s.p.seal(p2p.DACommitments, c)
		if err != nil {
			return out, err
		}
		out = append(out, data)
	}
	return out, nil
}
