package rpc

import (
	"sync"
	"sync/atomic"
	"testing"

	"github.com/rs/zerolog"

	"github.com/meganode/meganode/chain"
)

// A mini-block's notification is encoded only when a subscriber needs it,
// and then once for all of them.
func TestHubEncodesOnceAndOnlyWhenNeeded(t *testing.T) {
	var encoded atomic.Int32
	h := newHub(nil, func(*chain.MiniBlock) []byte { encoded.Add(1); return []byte(`{}`) }, 10, 1<<20, zerolog.Nop())
	for i := uint64(0); i < 5; i++ {
		h.publish(h.item(&chain.MiniBlock{Number: i}))
	}
	if n := encoded.Load(); n != 0 {
		t.Fatalf("encoded %d mini-blocks without subscribers", n)
	}
	it := h.ring[len(h.ring)-1]
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ { // eight subscribers render the same item
		wg.Add(1)
		go func() { defer wg.Done(); _ = it.payload() }()
	}
	wg.Wait()
	if n := encoded.Load(); n != 1 {
		t.Fatalf("encoded %d times for 8 subscribers, want once", n)
	}
	if h.bytes != 5*approxSize(&chain.MiniBlock{}) {
		t.Fatalf("ring counts %d bytes, want the estimate of 5 empty mini-blocks", h.bytes)
	}
}
