package loadgen

import (
	"encoding/json"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// A result fresh from Run keeps its seconds' histograms out of memory, and
// loses none: SecondHistogram reads them, WriteFile and json.Marshal (by
// value or by pointer, as an agent or the runner marshals a result) write
// them, and Merge merges them.
func TestSpilledSecondsAreWrittenWhole(t *testing.T) {
	url, _ := startModel(t, "epoll", servers.Options{})
	r := run(t, Options{URL: url, Connections: 4, Threads: 2, Rate: 2000, Duration: 2 * time.Second})
	if len(r.Series) != 2 {
		t.Fatalf("%d seconds, want 2", len(r.Series))
	}
	var counts []int64
	for i, s := range r.Series {
		if s.Hist != "" {
			t.Errorf("second %d carries its histogram in memory", i)
		}
		h, err := r.SecondHistogram(i)
		if err != nil {
			t.Fatal(err)
		}
		if h.TotalCount() != s.Requests || s.Requests == 0 {
			t.Errorf("second %d: histogram of %d, %d requests", i, h.TotalCount(), s.Requests)
		}
		counts = append(counts, h.TotalCount())
	}
	path := filepath.Join(t.TempDir(), "r.json")
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	byPointer, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	byValue, err := json.Marshal(*r)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"pointer": byPointer, "value": byValue} {
		var again Result
		if err := json.Unmarshal(data, &again); err != nil {
			t.Fatalf("by %s: %v", name, err)
		}
		if len(again.Series) != 2 || again.Series[0].Hist != back.Series[0].Hist || again.Series[1].Hist != back.Series[1].Hist ||
			again.LatencyHistogram != back.LatencyHistogram || again.Requests != back.Requests {
			t.Errorf("marshalled by %s, the result differs from the file", name)
		}
	}
	for i := range back.Series {
		h, err := back.SecondHistogram(i)
		if err != nil || h.TotalCount() != counts[i] {
			t.Errorf("second %d from the file: %v, %d values, want %d", i, err, h.TotalCount(), counts[i])
		}
	}
	m, err := Merge(r, back)
	if err != nil {
		t.Fatal(err)
	}
	for i := range m.Series {
		h, err := m.SecondHistogram(i)
		if err != nil || h.TotalCount() != 2*counts[i] {
			t.Errorf("merged second %d: %v, %d values, want %d", i, err, h.TotalCount(), 2*counts[i])
		}
	}
}

// A run's memory does not grow with its length: after the histograms,
// what a second keeps is its counts and percentiles. Twenty minutes of
// seconds, each with a wide histogram (a few KB encoded), are recorded on
// a made-up clock; the heap may grow by the series' few dozen bytes a
// second, not by the histograms'.
func TestMemoryStaysFlatOverLongRuns(t *testing.T) {
	start := time.Now()
	col := newCollector(start, time.Hour, nil)
	rec := col.recorder()
	rng := rand.New(rand.NewPCG(1, 2))
	at := start
	second := func() {
		for range 2000 {
			at = at.Add(500 * time.Microsecond)
			rec.tick(at)
			rec.success(at, time.Duration(50+rng.IntN(20000))*time.Microsecond, 200, 400)
		}
	}
	heap := func() uint64 {
		// encode catches up with the seconds recorded so far.
		for {
			col.mu.Lock()
			idle := col.unsent == 0
			col.mu.Unlock()
			if idle {
				break
			}
			time.Sleep(time.Millisecond)
		}
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	const warm, more = 120, 1080
	for range warm {
		second()
	}
	before := heap()
	for range more {
		second()
	}
	after := heap()
	col.close()
	if len(col.series) != warm+more {
		t.Fatalf("%d seconds completed, want %d", len(col.series), warm+more)
	}
	grew := (float64(after) - float64(before)) / more
	if grew > 400 {
		t.Errorf("the heap grew by %.0f bytes a second (%d → %d), want the series' share only", grew, before, after)
	}
	if col.spill == nil || col.spill.size < int64(more*1000) {
		t.Errorf("spill %+v: the seconds' histograms were not spilled", col.spill)
	}
}
