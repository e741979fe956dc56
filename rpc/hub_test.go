package rpc

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
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

// A mini-block the node never received (a replica gave up waiting for it)
// closes the stream's subscribers with the missing range: none skips it
// without knowing.
func TestHubGapClosesSubscribersWithTheRange(t *testing.T) {
	e := newWSEnv(t, nil)
	c := e.dial()
	sub := c.subscribe("miniBlocks")
	e.tick()
	last := uint64(c.miniBlock(sub).Number)
	e.hubCaughtUp()
	e.srv.hub.publish(e.srv.hub.item(&chain.MiniBlock{Number: last + 3}))
	_ = c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var m wsMsg
		err := c.ws.ReadJSON(&m)
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			want := fmt.Sprintf("did not receive mini_block_number %d to %d", last+1, last+2)
			if ce.Code != websocket.CloseTryAgainLater || !strings.Contains(ce.Text, want) {
				t.Fatalf("close %d %q, want 1013 saying %q", ce.Code, ce.Text, want)
			}
			return
		}
		if err != nil {
			t.Fatalf("read: %v (want a close frame)", err)
		}
		if m.Params.Subscription != "" {
			t.Fatalf("notification after the gap: %s", m.Params.Result)
		}
	}
}
