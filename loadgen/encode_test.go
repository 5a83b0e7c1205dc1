package loadgen

import (
	"math/rand/v2"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// The reusing encoder writes what hdrhistogram's EncodeV2 writes, byte for
// byte, for histograms narrow and wide, with runs of zeros and values near
// the top of the range; and what it writes decodes to the same counts.
func TestEncoderWritesEncodeV2(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var e histEncoder
	for i, fill := range []func(h *hdrhistogram.Histogram){
		func(h *hdrhistogram.Histogram) { h.RecordValue(1) },
		func(h *hdrhistogram.Histogram) { h.RecordValue(histMaxUS) },
		func(h *hdrhistogram.Histogram) {
			for range 1000 {
				h.RecordValue(int64(90 + rng.IntN(30)))
			}
		},
		func(h *hdrhistogram.Histogram) {
			for range 50000 {
				h.RecordValue(int64(1 + rng.IntN(200000)))
			}
			h.RecordValues(45_000_000, 1<<40)
		},
		func(h *hdrhistogram.Histogram) {
			for range 20000 {
				h.RecordValue(int64(rng.ExpFloat64()*300) + 1)
			}
		},
	} {
		h := newHistogram()
		fill(h)
		want, err := h.EncodeV2()
		if err != nil {
			t.Fatal(err)
		}
		// Twice: the second call reuses what the first left.
		for range 2 {
			got, err := e.encode(h)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != string(want) {
				t.Fatalf("histogram %d: encoded %d bytes unlike EncodeV2's %d", i, len(got), len(want))
			}
		}
		back, err := hdrhistogram.Decode(want)
		if err != nil || !back.Equals(h) {
			t.Errorf("histogram %d does not decode to itself: %v", i, err)
		}
	}
}
