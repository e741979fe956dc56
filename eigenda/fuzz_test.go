package eigenda

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/ethereum/go-ethereum/common/hexutil"
	"github.com/ethereum/go-ethereum/ethdb/memorydb"
)

// A blob comes from the DA layer, which nobody has to trust: DecodeBlob
// must refuse anything but a well-formed blob with an error, and a blob it
// takes must encode back to one that decodes to the same blocks.
func FuzzDecodeBlob(f *testing.F) {
	blob, err := EncodeBlob([]BlobBlock{
		{Number: 7, Block: bytes.Repeat([]byte{1, 2, 3}, 500), Witness: []byte("witness 7")},
		{Number: 8, Block: []byte("block 8"), Witness: []byte("witness 8")},
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(blob)
	f.Add(blob[:len(blob)/2])
	f.Add([]byte{BlobVersion, 0x28, 0xb5, 0x2f, 0xfd}) // a zstd magic and nothing more
	f.Fuzz(func(t *testing.T, data []byte) {
		blocks, err := DecodeBlob(data)
		if err != nil {
			return
		}
		again, err := EncodeBlob(blocks)
		if err != nil {
			t.Fatalf("decoded blocks do not encode: %v", err)
		}
		back, err := DecodeBlob(again)
		if err != nil || len(back) != len(blocks) {
			t.Fatalf("re-encoded blob decodes to %d blocks (%v), want %d", len(back), err, len(blocks))
		}
		for i := range back {
			if back[i].Number != blocks[i].Number || !bytes.Equal(back[i].Block, blocks[i].Block) || !bytes.Equal(back[i].Witness, blocks[i].Witness) {
				t.Fatalf("block %d changes through the codec", i)
			}
		}
	})
}

// The DA server's routes take requests from the network: every request gets
// an HTTP answer (4xx for bad input), never a panic or a 500.
func FuzzServerRequest(f *testing.F) {
	srv := NewServer(memorydb.New(), DefaultMemConfig(), zerolog.Nop())
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, "/put?commitment_mode=standard", bytes.NewReader([]byte("a blob"))))
	std := rec.Body.Bytes()
	f.Add(http.MethodGet, "/get/"+hexutil.Encode(std), "commitment_mode=standard", []byte(nil))
	f.Add(http.MethodGet, "/get/"+hexutil.Encode(Commitment(ModeOptimism, std)), "", []byte(nil))
	f.Add(http.MethodPost, "/put", "commitment_mode=optimism_generic", []byte("another blob"))
	f.Add(http.MethodGet, "/get/0x0100", "", []byte(nil))
	f.Fuzz(func(t *testing.T, method, path, query string, body []byte) {
		if method != http.MethodGet && method != http.MethodPost && method != http.MethodPatch {
			method = http.MethodGet
		}
		if !strings.HasPrefix(path, "/") {
			path = "/" + path
		}
		u := &url.URL{Path: path, RawQuery: query}
		req, err := http.NewRequest(method, u.String(), bytes.NewReader(body))
		if err != nil {
			return
		}
		if req.URL.Path == "/memstore/config" && method == http.MethodPatch {
			return // a test hook: it may set latencies and failures by design
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable {
			t.Fatalf("%s %s: %d %s", method, u, rec.Code, rec.Body)
		}
	})
}
