package loadgen

import (
	"math/rand/v2"
	"slices"
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

// A second's own histogram indexes its counts as hdrhistogram does, so
// that encoded straight from them it is EncodeV2's encoding of the same
// latencies, and added to an hdrhistogram it is that histogram.
func TestSecondHistogramIsHdrHistogramsCounts(t *testing.T) {
	for idx := range countsLen {
		if got := countsIndex(valueAt(idx)); got != idx {
			t.Fatalf("bucket %d starts at %d, which indexes bucket %d", idx, valueAt(idx), got)
		}
	}
	if countsIndex(histMaxUS) >= countsLen {
		t.Fatalf("the largest latency, %d µs, indexes past the counts", int64(histMaxUS))
	}
	rng := rand.New(rand.NewPCG(5, 6))
	var e histEncoder
	for _, spread := range []int{1, 300, 70_000, histMaxUS} {
		s, h := newSecHist(), newHistogram()
		for range 20000 {
			v := int64(1 + rng.IntN(spread))
			s.record(v)
			h.RecordValue(v)
		}
		want, err := h.EncodeV2()
		if err != nil {
			t.Fatal(err)
		}
		got, err := e.encodeSecond(s)
		if err != nil || string(got) != string(want) {
			t.Fatalf("spread %d: encoded unlike EncodeV2 (%v)", spread, err)
		}
		back := newHistogram()
		s.addTo(back)
		if !back.Equals(h) || back.Max() != h.Max() || back.ValueAtPercentile(99) != h.ValueAtPercentile(99) {
			t.Errorf("spread %d: added to an hdrhistogram, the counts are not the same histogram", spread)
		}
		s.reset()
		if s.total != 0 || s.top != 0 || slices.ContainsFunc(s.counts, func(n int64) bool { return n != 0 }) {
			t.Errorf("spread %d: reset left counts behind", spread)
		}
	}
}
