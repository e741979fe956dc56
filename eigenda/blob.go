package eigenda

import (
	"errors"
	"fmt"
	"io"

	"github.com/klauspost/compress/zstd"

	"github.com/ethereum/go-ethereum/rlp"
)

// BlobVersion is the first byte of every blob meganode posts: version 1 is
// zstd(RLP([]BlobBlock)).
const BlobVersion = 0x01

// maxDecoded bounds a blob's decompressed size: a blob never holds more than
// the sequencer's messages of a few blocks (each at most p2p's 10 MiB).
const maxDecoded = 256 << 20

// BlobBlock is one sealed block in a blob: the sequencer's signed block and
// witness messages (p2p envelopes, uncompressed), so a node deriving from DA
// checks the sequencer's signature exactly as for gossip.
type BlobBlock struct {
	Number  uint64
	Block   []byte
	Witness []byte
}

// Errors DecodeBlob returns.
var (
	ErrBlobVersion   = errors.New("eigenda: unknown blob version")
	ErrBlobTruncated = errors.New("eigenda: blob truncated")
	ErrBlobCorrupt   = errors.New("eigenda: blob corrupt")
)

var (
	encoder, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault))
	decoder, _ = zstd.NewReader(nil, zstd.WithDecoderMaxMemory(maxDecoded), zstd.WithDecoderConcurrency(0))
)

// EncodeBlob packs contiguous blocks into a blob.
func EncodeBlob(blocks []BlobBlock) ([]byte, error) {
	if err := contiguous(blocks); err != nil {
		return nil, err
	}
	raw, err := rlp.EncodeToBytes(blocks)
	if err != nil {
		return nil, err
	}
	return encoder.EncodeAll(raw, []byte{BlobVersion}), nil
}

// DecodeBlob unpacks a blob, refusing an unknown version, a truncated or
// corrupt stream and blocks that are not contiguous.
func DecodeBlob(blob []byte) ([]BlobBlock, error) {
	if len(blob) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBlobTruncated)
	}
	if blob[0] != BlobVersion {
		return nil, fmt.Errorf("%w %#x (this node reads %#x)", ErrBlobVersion, blob[0], BlobVersion)
	}
	raw, err := decoder.DecodeAll(blob[1:], nil)
	if err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, fmt.Errorf("%w (%d bytes): %v", ErrBlobTruncated, len(blob), err)
		}
		return nil, fmt.Errorf("%w: %v", ErrBlobCorrupt, err)
	}
	var blocks []BlobBlock
	if err := rlp.DecodeBytes(raw, &blocks); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBlobCorrupt, err)
	}
	if err := contiguous(blocks); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBlobCorrupt, err)
	}
	return blocks, nil
}

func contiguous(blocks []BlobBlock) error {
	if len(blocks) == 0 {
		return errors.New("eigenda: a blob holds at least one block")
	}
	for i, b := range blocks {
		if b.Number != blocks[0].Number+uint64(i) {
			return fmt.Errorf("eigenda: blob blocks not contiguous: %d after %d", b.Number, blocks[0].Number+uint64(i)-1)
		}
		if len(b.Block) == 0 || len(b.Witness) == 0 {
			return fmt.Errorf("eigenda: block %d without its block or witness message", b.Number)
		}
	}
	return nil
}
