package rpc

import (
	"encoding/json"
	"fmt"
	"sync"

	"github.com/rs/zerolog"

	"github.com/meganode/meganode/chain"
)

// hubFeedBuffer is how far the hub may fall behind the sequencer: it only
// encodes and queues, so this is never reached in practice; if it is, every
// subscriber is closed with the point to resume from.
const hubFeedBuffer = 1 << 16

// hubItem is one mini-block with its miniBlocks notification, encoded once
// for every subscriber when the first one needs it: without miniBlocks
// subscribers nothing is encoded.
type hubItem struct {
	mb     *chain.MiniBlock
	size   int // estimated bytes, what the replay ring counts
	encode func(*chain.MiniBlock) []byte
	once   sync.Once
	data   []byte
}

func (h *hub) item(mb *chain.MiniBlock) *hubItem {
	return &hubItem{mb: mb, size: approxSize(mb), encode: h.encode}
}

// payload is the miniBlocks notification of the item.
func (it *hubItem) payload() []byte {
	it.once.Do(func() { it.data = it.encode(it.mb) })
	return it.data
}

// approxSize is about what a mini-block's notification takes encoded (a
// transfer with its receipt is about 1.1 kB of JSON, a state change 250 B).
func approxSize(mb *chain.MiniBlock) int {
	return 400 + 1100*len(mb.Txs) + 250*len(mb.StateChanges)
}

// hubSub is a subscription fed from mini-blocks: miniBlocks, stateChanges
// and logs at mini-block granularity. Until started it collects what arrives,
// so its subscription id reaches the client first.
type hubSub struct {
	conn    *wsConn
	id      string
	from    uint64 // first mini_block_number it wants
	render  func(*hubItem) [][]byte
	started bool
	pending []*hubItem
}

// hub fans mini-blocks out to websocket subscribers and keeps the recent
// ones so a reconnecting client can resume from a mini_block_number.
type hub struct {
	feeds    Feeds
	log      zerolog.Logger
	encode   func(*chain.MiniBlock) []byte
	maxItems int
	maxBytes int

	mu    sync.Mutex
	ring  []*hubItem // oldest first
	bytes int
	next  uint64 // number of the next mini-block the hub expects
	known bool   // next is known (an item arrived)
	subs  map[*hubSub]struct{}
	quit  chan struct{}
	done  chan struct{}
}

func newHub(feeds Feeds, encode func(*chain.MiniBlock) []byte, maxItems, maxBytes int, log zerolog.Logger) *hub {
	return &hub{
		feeds: feeds, encode: encode, maxItems: maxItems, maxBytes: maxBytes, log: log,
		subs: make(map[*hubSub]struct{}),
		quit: make(chan struct{}), done: make(chan struct{}),
	}
}

// start subscribes before it returns, so no mini-block sealed after the
// server started is missed.
func (h *hub) start() {
	sub := h.feeds.MiniBlocks(hubFeedBuffer)
	go h.run(sub)
}

func (h *hub) stop() {
	close(h.quit)
	<-h.done
}

func (h *hub) run(sub *chain.Subscription[*chain.MiniBlock]) {
	defer close(h.done)
	for {
		lost := h.consume(sub)
		sub.Unsubscribe()
		if !lost {
			return
		}
		sub = h.feeds.MiniBlocks(hubFeedBuffer)
	}
}

// consume delivers until quit (false) or until the feed dropped the hub
// (true), in which case every subscriber is told where to resume.
func (h *hub) consume(sub *chain.Subscription[*chain.MiniBlock]) bool {
	for {
		select {
		case <-h.quit:
			return false
		case mb := <-sub.C():
			h.publish(h.item(mb))
		case err := <-sub.Err():
			for {
				select {
				case mb := <-sub.C():
					h.publish(h.item(mb))
					continue
				default:
				}
				break
			}
			h.mu.Lock()
			h.reset(closeTooSlow, fmt.Sprintf("server fell behind (%v); resubscribe with from_mini_block_number", err))
			h.mu.Unlock()
			h.log.Error().Err(err).Msg("mini-block hub fell behind the sequencer; subscribers closed")
			return true
		}
	}
}

// reset closes every subscriber with reason and forgets the kept
// mini-blocks. The caller holds mu.
func (h *hub) reset(code int, reason string) {
	for s := range h.subs {
		go s.conn.fail(code, reason)
	}
	h.subs = make(map[*hubSub]struct{})
	h.ring, h.bytes, h.known = nil, 0, false
}

func (h *hub) publish(it *hubItem) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.known && it.mb.Number < h.next {
		// The chain went back (a dev chain's revert, or a sequencer that
		// restarted its open block): what was kept from here on is not the
		// chain's any more, and subscribers go on from here.
		keep := h.ring[:0]
		for _, old := range h.ring {
			if old.mb.Number < it.mb.Number {
				keep = append(keep, old)
			} else {
				h.bytes -= old.size
			}
		}
		clear(h.ring[len(keep):])
		h.ring = keep
		for s := range h.subs {
			s.from = min(s.from, it.mb.Number)
		}
	}
	if h.known && it.mb.Number > h.next {
		// The node never had these (a replica gave up waiting for them):
		// no subscriber may skip them without knowing.
		h.log.Warn().Uint64("from", h.next).Uint64("to", it.mb.Number-1).Msg("mini-blocks missing from the stream; subscribers closed")
		h.reset(closeGap, fmt.Sprintf("this node did not receive mini_block_number %d to %d; resubscribe (from_mini_block_number %d or later) or read the sealed blocks", h.next, it.mb.Number-1, it.mb.Number))
	}
	h.ring = append(h.ring, it)
	h.bytes += it.size
	for len(h.ring) > 1 && (len(h.ring) > h.maxItems || h.bytes > h.maxBytes) {
		h.bytes -= h.ring[0].size
		h.ring[0] = nil
		h.ring = h.ring[1:]
	}
	h.next, h.known = it.mb.Number+1, true
	for s := range h.subs {
		if !s.started {
			s.pending = append(s.pending, it)
			continue
		}
		if !h.deliver(s, it) {
			delete(h.subs, s)
		}
	}
}

// deliver queues what s renders from it; false once the client is too slow.
func (h *hub) deliver(s *hubSub, it *hubItem) bool {
	if it.mb.Number < s.from {
		return true
	}
	for _, payload := range s.render(it) {
		if !s.conn.notify(s.id, payload, slowReason) {
			return false
		}
	}
	return true
}

// add registers s. With resume set, s starts at mini-block from, which must
// still be kept (or not yet sealed); otherwise at the next mini-block.
// current is the number the sequencer will give its next mini-block.
func (h *hub) add(s *hubSub, from uint64, resume bool, current uint64) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !resume:
		s.from = current
		if h.known && h.next < current {
			s.from = h.next
		}
	case from > current:
		return &invalidParamsError{fmt.Sprintf("mini_block_number %d is ahead of the chain: the next is %d", from, current)}
	case from < current:
		if len(h.ring) == 0 || h.ring[0].mb.Number > from {
			oldest := current
			if len(h.ring) > 0 {
				oldest = h.ring[0].mb.Number
			}
			return fmt.Errorf("mini_block_number %d is no longer kept: resume from %d or later", from, oldest)
		}
		for _, it := range h.ring {
			if it.mb.Number >= from {
				s.pending = append(s.pending, it)
			}
		}
		s.from = from
	default:
		s.from = from
	}
	h.subs[s] = struct{}{}
	return nil
}

// begin delivers what s collected, waiting for room in the client's queue
// (a resumed backlog may be longer than the queue), then switches s to live
// delivery; mini-blocks sealed meanwhile are collected and sent in order.
func (h *hub) begin(s *hubSub) {
	go func() {
		for {
			h.mu.Lock()
			if _, ok := h.subs[s]; !ok {
				h.mu.Unlock()
				return
			}
			batch := s.pending
			s.pending = nil
			if len(batch) == 0 {
				s.started = true
				h.mu.Unlock()
				return
			}
			h.mu.Unlock()
			for _, it := range batch {
				if it.mb.Number < s.from {
					continue
				}
				for _, payload := range s.render(it) {
					if !s.conn.notifyWait(s.id, payload) {
						h.remove(s)
						return
					}
				}
			}
		}
	}()
}

func (h *hub) remove(s *hubSub) {
	h.mu.Lock()
	delete(h.subs, s)
	h.mu.Unlock()
}

// slowReason is the close reason of a connection whose send queue filled:
// the client resumes from the mini_block_number after the last it received.
func slowReason() string {
	return "slow consumer: send queue full; resubscribe with from_mini_block_number = last received + 1"
}

func mustJSON(v interface{}) []byte {
	out, err := json.Marshal(v)
	if err != nil {
		return []byte("null")
	}
	return out
}
