package loadgen

import (
	"bytes"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"math"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// histEncoder writes a histogram as hdrhistogram's EncodeV2 does, byte for
// byte (a test holds it to that), with one compressor and its buffers kept
// from call to call. EncodeV2 makes a new zlib compressor, most of a
// megabyte, and a slice per bucket every time: at a second's histogram a
// second that was nearly all of a run's garbage, and the garbage
// collector's cycles were what moved a long run's peak memory. One
// encoder serves one goroutine.
type histEncoder struct {
	zw                *zlib.Writer
	inner, raw, outer []byte
	compressed        bytes.Buffer
}

// V2 encoding's cookies, as hdrhistogram writes them (its V2 cookie bases
// with the word size, 0x10, in the low bits).
const (
	v2PayloadCookie    = hdrhistogram.V2EncodingCookieBase | 0x10
	v2CompressedCookie = hdrhistogram.V2CompressedEncodingCookieBase | 0x10
)

// encode returns h's V2 encoding, base64, in a buffer that the next call
// reuses.
func (e *histEncoder) encode(h *hdrhistogram.Histogram) ([]byte, error) {
	snap := h.Export()
	limit := 1
	for i := len(snap.Counts) - 1; i >= 0; i-- {
		if snap.Counts[i] != 0 {
			limit = i + 1
			break
		}
	}
	return e.encodeCounts(snap.Counts[:limit], snap.SignificantFigures, snap.LowestTrackableValue, snap.HighestTrackableValue, snap.IntegerToDoubleConversionRatio)
}

// encodeSecond encodes a second's counts as the hdrhistogram of
// newHistogram's geometry holding them.
func (e *histEncoder) encodeSecond(h *secHist) ([]byte, error) {
	return e.encodeCounts(h.counts[:max(h.top, 1)], histDigits, histMinUS, histMaxUS, 1)
}

// encodeCounts encodes counts up to the bucket of the largest value (at
// least one), with the geometry given.
func (e *histEncoder) encodeCounts(counts []int64, digits, lowest, highest int64, ratio float64) ([]byte, error) {
	// The payload: each count a zig-zag LEB128 varint, a run of zeros as
	// one negative count; after a 40-byte header.
	const header = 40
	limit := len(counts)
	b := append(e.inner[:0], make([]byte, header)...)
	for i := 0; i < limit; {
		n := counts[i]
		i++
		if n == 0 {
			zeros := int64(1)
			for i < limit && counts[i] == 0 {
				zeros++
				i++
			}
			if zeros > 1 {
				n = -zeros
			}
		}
		b = zigZag(b, n)
	}
	if ratio == 0 {
		ratio = 1
	}
	be := binary.BigEndian
	be.PutUint32(b[0:], uint32(v2PayloadCookie))
	be.PutUint32(b[4:], uint32(len(b)-header))
	be.PutUint32(b[8:], 0) // normalizing index offset: counts are stored unrotated
	be.PutUint32(b[12:], uint32(digits))
	be.PutUint64(b[16:], uint64(lowest))
	be.PutUint64(b[24:], uint64(highest))
	be.PutUint64(b[32:], math.Float64bits(ratio))
	e.inner = b

	e.compressed.Reset()
	if e.zw == nil {
		zw, err := zlib.NewWriterLevel(&e.compressed, zlib.BestCompression)
		if err != nil {
			return nil, err
		}
		e.zw = zw
	} else {
		e.zw.Reset(&e.compressed)
	}
	if _, err := e.zw.Write(e.inner); err != nil {
		return nil, fmt.Errorf("compressing a histogram: %w", err)
	}
	if err := e.zw.Close(); err != nil {
		return nil, fmt.Errorf("compressing a histogram: %w", err)
	}
	e.raw = be.AppendUint32(e.raw[:0], uint32(v2CompressedCookie))
	e.raw = be.AppendUint32(e.raw, uint32(e.compressed.Len()))
	e.raw = append(e.raw, e.compressed.Bytes()...)
	e.outer = base64.StdEncoding.AppendEncode(e.outer[:0], e.raw)
	return e.outer, nil
}

// zigZag appends n as hdrhistogram's LEB128-64b9B zig-zag varint: seven
// bits a byte, at most nine bytes, the ninth with all eight.
func zigZag(b []byte, n int64) []byte {
	u := uint64((n << 1) ^ (n >> 63))
	for i := 0; i < 8; i++ {
		if u>>7 == 0 {
			return append(b, byte(u))
		}
		b = append(b, byte(u&0x7f|0x80))
		u >>= 7
	}
	return append(b, byte(u))
}
