package loadgen

import (
	"math"
	"math/bits"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// secHist is one loop's latencies of one second: the counts of a histogram
// of newHistogram's geometry, indexed as hdrhistogram indexes its own (a
// test holds it to that), and nothing else. A loop records into it; the
// collector adds it to the second's total and the run's, and encodes it
// straight from its counts. An hdrhistogram.Histogram would do the same
// but give its counts out only as a copy (Export), 140 KB a second: that
// was most of a long run's garbage once its encoding reused its
// compressor, and garbage is what grows a Go heap to its collector's
// target, so a run's memory went on growing for its first half-minute.
type secHist struct {
	counts []int64
	total  int64
	// top is one past the highest index counted.
	top int
}

// The geometry of newHistogram, worked out as hdrhistogram works it out:
// single-unit resolution up to 2×10^histDigits within each power of two
// (subHalfMag: sub-buckets of 2^(subHalfMag+1)), from a unit of histMinUS.
var (
	subHalfMag = int(math.Ceil(math.Log2(2*math.Pow10(histDigits)))) - 1
	unitMag    = int(math.Floor(math.Log2(histMinUS)))
	subHalf    = 1 << subHalfMag
	subMask    = uint64(2*subHalf-1) << unitMag
	countsLen  = len(newHistogram().Export().Counts)
)

func newSecHist() *secHist { return &secHist{counts: make([]int64, countsLen)} }

// countsIndex is the index of v's bucket, hdrhistogram's countsIndexFor.
func countsIndex(v int64) int {
	bucket := 64 - bits.LeadingZeros64(uint64(v)|subMask) - unitMag - (subHalfMag + 1)
	sub := int(v >> (bucket + unitMag))
	return (bucket+1)<<subHalfMag + sub - subHalf
}

// valueAt is the lowest value of bucket idx, the one hdrhistogram's
// iterator reports for it.
func valueAt(idx int) int64 {
	bucket, sub := idx>>subHalfMag-1, idx&(subHalf-1)+subHalf
	if bucket < 0 {
		bucket, sub = 0, idx
	}
	return int64(sub) << (bucket + unitMag)
}

// record counts one latency, in µs within the histogram's range.
func (h *secHist) record(us int64) {
	i := countsIndex(us)
	h.counts[i]++
	h.total++
	if i >= h.top {
		h.top = i + 1
	}
}

// add adds o's counts to h's.
func (h *secHist) add(o *secHist) {
	for i, n := range o.counts[:o.top] {
		h.counts[i] += n
	}
	h.total += o.total
	h.top = max(h.top, o.top)
}

// addTo records h's counts into dst, which has newHistogram's geometry.
func (h *secHist) addTo(dst *hdrhistogram.Histogram) {
	for i, n := range h.counts[:h.top] {
		if n != 0 {
			dst.RecordValues(valueAt(i), n)
		}
	}
}

func (h *secHist) reset() {
	clear(h.counts[:h.top])
	h.total, h.top = 0, 0
}
