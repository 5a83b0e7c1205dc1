package loadgen

import (
	"os"
	"slices"
	"sync"
)

// histSpill keeps the encoded histograms of a run's completed seconds in
// an unlinked temporary file instead of the heap. At one to four KB a
// second they were what grew in a long run (issue #11: 19.0 MB of peak RSS
// after 5 s, 21.6 MB after 120 s, most of it the series and its copies in
// the JSON written at the end), and a run of hours would have grown without
// bound. What stays in memory per second is its counts and percentiles,
// under a hundred bytes. The file goes away with its descriptor (the
// Result that holds it, or the process).
type histSpill struct {
	mu   sync.Mutex
	f    *os.File
	size int64
}

// histRef is where the histogram of the second starting at t is in the
// spill; n == 0: none.
type histRef struct {
	t   float64
	off int64
	n   int
}

// newHistSpill makes a spill, or returns nil when no temporary file can be
// made: the seconds then keep their histograms in memory.
func newHistSpill() *histSpill {
	f, err := os.CreateTemp("", "sockbench-seconds-*")
	if err != nil {
		return nil
	}
	os.Remove(f.Name())
	return &histSpill{f: f}
}

// put stores an encoded histogram; false if it could not be written.
func (s *histSpill) put(enc []byte) (histRef, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.f.WriteAt(enc, s.size); err != nil {
		return histRef{}, false
	}
	ref := histRef{off: s.size, n: len(enc)}
	s.size += int64(len(enc))
	return ref, true
}

// get reads back what put stored at ref.
func (s *histSpill) get(ref histRef) (string, error) {
	buf, err := s.appendTo(nil, ref)
	return string(buf), err
}

// appendTo appends what put stored at ref to buf.
func (s *histSpill) appendTo(buf []byte, ref histRef) ([]byte, error) {
	n := len(buf)
	buf = slices.Grow(buf, ref.n)[:n+ref.n]
	if _, err := s.f.ReadAt(buf[n:], ref.off); err != nil {
		return buf[:n], err
	}
	return buf, nil
}
