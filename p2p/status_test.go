package p2p

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common"
)

// The status message's wire format: chain id (8 bytes, big-endian), then
// the genesis hash.
func TestStatusWireFormat(t *testing.T) {
	s := status{ChainID: 4747, Genesis: common.HexToHash("0x1122334455667788990011223344556677889900112233445566778899001122")}
	const golden = "000000000000128b1122334455667788990011223344556677889900112233445566778899001122"
	if got := hex.EncodeToString(s.encode()); got != golden {
		t.Fatalf("encoded %s, want %s", got, golden)
	}
	back, err := decodeStatus(s.encode())
	if err != nil || back != s {
		t.Fatalf("decoded %v, %v; want %v", back, err, s)
	}
	for _, n := range []int{0, statusSize - 1, statusSize + 1} {
		if _, err := decodeStatus(make([]byte, n)); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%d bytes: %v, want ErrMalformed", n, err)
		}
	}
}

// lockedBuffer collects the logs of nodes' goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A peer of another genesis is disconnected with an error naming both
// genesis hashes, and neither side can connect again while it is refused.
func TestPeerOfAnotherGenesisIsRefused(t *testing.T) {
	var logs lockedBuffer
	log := zerolog.New(&logs).Level(zerolog.ErrorLevel)
	ga, gb := common.HexToHash("0xaa"), common.HexToHash("0xbb")
	a := newNodeLogging(t, Config{Genesis: ga}, log)
	b := newNodeLogging(t, Config{Genesis: gb}, log)
	gone := make(chan peer.ID, 4)
	a.host.Network().Notify(&network.NotifyBundle{DisconnectedF: func(_ network.Network, c network.Conn) { gone <- c.RemotePeer() }})
	connect(t, a, b)
	select {
	case p := <-gone:
		if p != b.ID() {
			t.Fatalf("disconnected from %s, want %s", p, b.ID())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the peer of another genesis stayed connected")
	}
	if a.Refused()+b.Refused() == 0 {
		t.Fatal("disconnected, but neither side counts a refusal")
	}
	// The refusing side logs before it closes the connection.
	var refusal map[string]any
	for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && m["message"] == "peer refused" {
			refusal = m
		}
	}
	why, _ := refusal["error"].(string)
	for _, want := range []string{"genesis " + ga.Hex(), "genesis " + gb.Hex(), "every node of a network needs the same genesis"} {
		if !strings.Contains(why, want) {
			t.Fatalf("refusal %v does not say %q:\n%s", refusal, want, logs.String())
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := a.Connect(ctx, b.Addrs()[0]); err == nil && a.host.Network().Connectedness(b.ID()) == network.Connected {
		// The gater may let the dial finish on one side and close it on the
		// other: what matters is that the connection does not last.
		select {
		case <-gone:
		case <-time.After(20 * time.Second):
			t.Fatal("a refused peer connected again")
		}
	}
}

// Peers of the same chain and genesis pass the exchange and stay connected.
func TestPeerOfTheSameGenesisStays(t *testing.T) {
	g := common.HexToHash("0xaa")
	a := newNode(t, Config{Genesis: g})
	b := newNode(t, Config{Genesis: g})
	connect(t, a, b)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	theirs, err := a.peerStatus(ctx, b.ID())
	if err != nil || theirs != (status{ChainID: chainID, Genesis: g}) {
		t.Fatalf("status %v, %v", theirs, err)
	}
	a.checkPeer(ctx, b.ID()) // what the connection started, run to its end here
	if a.Refused() != 0 || a.host.Network().Connectedness(b.ID()) != network.Connected {
		t.Fatal("a peer of the same genesis was refused")
	}
}

// A refusal lasts refuseFor on the injected clock, then the peer may try
// again.
func TestRefusalExpires(t *testing.T) {
	now := time.Unix(1000, 0)
	r := newRefusals(func() time.Time { return now })
	p := peer.ID("peer")
	if !r.add(p) || r.add(p) {
		t.Fatal("add: first refusal must be fresh, the second not")
	}
	if !r.refused(p) || r.InterceptPeerDial(p) {
		t.Fatal("a refused peer is let through")
	}
	now = now.Add(refuseFor)
	if r.refused(p) || !r.InterceptPeerDial(p) {
		t.Fatal("a refusal outlived refuseFor")
	}
	if !r.add(p) {
		t.Fatal("a refusal after expiry must be fresh (logged again)")
	}
}
