package p2p

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"testing"

	"github.com/ethereum/go-ethereum/common"
	"github.com/ethereum/go-ethereum/rlp"
)

// Every byte a peer sends reaches one of three decoders: the gossip
// envelope (Open: version, snappy, RLP, signature), a range request
// (serveRequest's RLP) and a range response (readItems' uvarint frames).
// The property is "an error, never a panic"; envelopes that open must wrap
// back to bytes that open to the same payload and signer.

func FuzzOpen(f *testing.F) {
	for _, kind := range Kinds {
		data, err := Seal(seqKey, kind, chainID, []byte("payload of "+string(kind)))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data, string(kind))
	}
	f.Add([]byte{Version}, string(Blocks))
	f.Add(append([]byte{Version}, 0xff, 0xff, 0xff, 0xff, 0x0f), string(MiniBlocks)) // snappy length of 4 GiB
	f.Fuzz(func(t *testing.T, data []byte, kind string) {
		payload, signer, err := Open(data, Kind(kind), chainID)
		if err != nil {
			return
		}
		if signer == (common.Address{}) {
			t.Fatalf("opened %x without a signer", payload)
		}
		raw, err := Envelope(data)
		if err != nil {
			t.Fatalf("Open took bytes Envelope refuses: %v", err)
		}
		p2, s2, err := Open(Wrap(raw), Kind(kind), chainID)
		if err != nil || !bytes.Equal(p2, payload) || s2 != signer {
			t.Fatalf("re-wrapped envelope opens differently: %v", err)
		}
		if _, err := OpenFrom(data, Kind(kind), chainID, forgerAddr); err == nil && signer != forgerAddr {
			t.Fatalf("OpenFrom took a message signed by %s as the forger's", signer)
		}
	})
}

func FuzzRangeRequest(f *testing.F) {
	for _, kind := range Kinds {
		req, _ := rlp.EncodeToBytes(&rangeRequest{Kind: string(kind), From: 5, Count: MaxRange})
		f.Add(req)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := readRequest(bytes.NewReader(data)) // as serveRequest reads a peer's stream
		if err != nil {
			return
		}
		enc, err := rlp.EncodeToBytes(&req)
		if err != nil {
			t.Fatal(err)
		}
		var back rangeRequest
		if err := rlp.DecodeBytes(enc, &back); err != nil || back != req {
			t.Fatalf("request changes through RLP: %+v -> %+v (%v)", req, back, err)
		}
	})
}

func FuzzReadItems(f *testing.F) {
	frame := func(items ...[]byte) []byte {
		var b bytes.Buffer
		w := bufio.NewWriter(&b)
		for _, it := range items {
			if err := writeItem(w, it); err != nil {
				f.Fatal(err)
			}
		}
		w.Flush()
		return b.Bytes()
	}
	a, _ := Seal(seqKey, Blocks, chainID, []byte("block 1"))
	b, _ := Seal(seqKey, Blocks, chainID, []byte("block 2"))
	forged, _ := Seal(forgerKey, Blocks, chainID, []byte("block 3"))
	f.Add(frame(a, b, nil), uint8(4))
	f.Add(frame(a, forged, nil), uint8(4))
	f.Add(frame(append([]byte{errorMarker}, "count 0 out of range"...)), uint8(1))
	f.Add(frame(a, b), uint8(1))
	var huge [binary.MaxVarintLen64]byte
	f.Add(huge[:binary.PutUvarint(huge[:], 1<<62)], uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, count uint8) {
		msgs, err := readItems(bufio.NewReader(bytes.NewReader(data)), Blocks, chainID, []common.Address{seqAddr}, uint64(count), "peer")
		if uint64(len(msgs)) > uint64(count) {
			t.Fatalf("%d messages for a request of %d (err %v)", len(msgs), count, err)
		}
		for _, m := range msgs {
			if m.Signer != seqAddr {
				t.Fatalf("message signed by %s accepted", m.Signer)
			}
		}
	})
}
