package loadgen

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// recorded builds a result the way an engine does: through a collector and
// one recorder per loop, from latencies the test knows.
func recorded(t *testing.T, start time.Time, perLoop ...[]time.Duration) *Result {
	t.Helper()
	col := newCollector(start, 2*time.Second, nil)
	recs := make([]*recorder, len(perLoop))
	for i := range recs {
		recs[i] = col.recorder()
	}
	for i, lats := range perLoop {
		for j, d := range lats {
			// Spread the samples over the two seconds of the window.
			at := start.Add(time.Duration(j) * 2 * time.Second / time.Duration(len(lats)))
			recs[i].tick(at)
			recs[i].success(at, d, 200, 100)
		}
		recs[i].finish(start.Add(2 * time.Second))
	}
	r, err := col.result(Options{Mode: Closed, URL: "http://x/", Pipeline: 1}, start.Add(2*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	r.finish()
	return r
}

func uniform(n int, from, step time.Duration) []time.Duration {
	out := make([]time.Duration, n)
	for i := range out {
		out[i] = from + time.Duration(i)*step
	}
	return out
}

func TestPercentilesAreExactWithinThreeDigits(t *testing.T) {
	// 1000 latencies of 1..1000 ms: the true p50 is 500 ms, p99 990 ms.
	r := recorded(t, time.Now(), uniform(1000, time.Millisecond, time.Millisecond))
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"p50", r.Latency.P50US, 500e3}, {"p90", r.Latency.P90US, 900e3},
		{"p99", r.Latency.P99US, 990e3}, {"max", r.Latency.MaxUS, 1000e3}, {"min", r.Latency.MinUS, 1e3},
	} {
		if d := (c.got - c.want) / c.want; d < -0.001 || d > 0.001 {
			t.Errorf("%s = %.0fµs, want %.0fµs within 0.1%%", c.name, c.got, c.want)
		}
	}
}

func TestMergeAddsCountsAndMergesHistograms(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	a := recorded(t, start, uniform(500, time.Millisecond, 0))
	b := recorded(t, start, uniform(1500, 10*time.Millisecond, 0), uniform(1000, 10*time.Millisecond, 0))
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Requests != 3000 || m.Latency.Recorded != 3000 || m.Client.Hosts != 2 {
		t.Fatalf("merged %d requests, %d latencies over %d hosts; want 3000, 3000, 2", m.Requests, m.Latency.Recorded, m.Client.Hosts)
	}
	// 500 fast and 2500 slow: the merged p10 is fast, the p50 slow —
	// which averaging the two results' percentiles would get wrong.
	h, _ := m.Histogram()
	if h.ValueAtPercentile(10) > 1100 || h.ValueAtPercentile(50) < 9900 {
		t.Errorf("merged p10 %dµs, p50 %dµs", h.ValueAtPercentile(10), h.ValueAtPercentile(50))
	}
	if len(m.Series) != 2 || m.Series[0].Requests+m.Series[1].Requests != 3000 {
		t.Errorf("merged series %v", seriesTs(m.Series))
	}
	if _, err := Merge(a, &Result{Mode: Stream, LatencyKind: NoLatency}); err == nil {
		t.Error("merging a closed-loop and a stream result succeeded")
	}
}

func TestResultFilesRoundTripAndBadFilesAreNamed(t *testing.T) {
	dir := t.TempDir()
	r := recorded(t, time.Now(), uniform(100, time.Millisecond, time.Microsecond))
	r.Unfinished = 2
	path := filepath.Join(dir, "r.json")
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	back, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if back.Requests != 100 || back.Latency != r.Latency || back.Unfinished != 2 || back.Slowest == nil || *back.Slowest != *r.Slowest {
		t.Errorf("read back %d requests, latency %+v, %d unfinished, slowest second %+v; wrote %d, %+v, 2, %+v",
			back.Requests, back.Latency, back.Unfinished, back.Slowest, r.Requests, r.Latency, r.Slowest)
	}
	data, _ := os.ReadFile(path)
	// A file from before results carried the slowest second still has
	// one when read.
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(data, &fields); err != nil {
		t.Fatal(err)
	}
	delete(fields, "slowest_second")
	older, _ := json.Marshal(fields)
	olderPath := filepath.Join(dir, "older.json")
	os.WriteFile(olderPath, older, 0o644)
	if back, err := ReadFile(olderPath); err != nil {
		t.Errorf("older file: %v", err)
	} else if back.Slowest == nil || *back.Slowest != *r.Slowest {
		t.Errorf("older file: slowest second %+v, want %+v", back.Slowest, r.Slowest)
	}
	for name, content := range map[string]string{
		"truncated.json": string(data[:len(data)/2]),
		"foreign.json":   `{"hello": "world"}`,
		"notjson.json":   "requests: 5",
		"badhist.json":   strings.Replace(string(data), `"latency_histogram": "HIST`, `"latency_histogram": "XIST`, 1),
	} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o644)
		if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: err = %v, want an error naming the file", name, err)
		}
	}
}

func TestHistogramLogIsReadableByHdrHistogram(t *testing.T) {
	r := recorded(t, time.Now(), uniform(200, time.Millisecond, time.Millisecond))
	path := filepath.Join(t.TempDir(), "r.hlog")
	if err := r.WriteHistogramLog(path); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := hdrhistogram.NewHistogramLogReader(bytes.NewReader(data)).NextIntervalHistogram()
	if err != nil || h == nil {
		t.Fatalf("log does not read back: %v", err)
	}
	if h.TotalCount() != 200 || h.Max() != int64(r.Latency.MaxUS) {
		t.Errorf("log histogram: %d values, max %d; want 200, %.0f", h.TotalCount(), h.Max(), r.Latency.MaxUS)
	}
	// What hdrhistogram's own writer writes, line for line.
	var want bytes.Buffer
	w := hdrhistogram.NewHistogramLogWriter(&want)
	start := r.Start.UnixMilli()
	w.OutputLogFormatVersion()
	w.OutputStartTime(start)
	w.OutputLegend()
	rh, _ := r.Histogram()
	own := rh.Clone()
	own.SetStartTimeMs(start + int64(r.Warmup*1000))
	own.SetEndTimeMs(start + int64((r.Warmup+r.Duration)*1000))
	own.SetTag(string(r.LatencyKind))
	if err := w.OutputIntervalHistogram(own); err != nil {
		t.Fatal(err)
	}
	if string(data) != want.String() {
		t.Errorf("log:\n%s\nhdrhistogram's writer writes:\n%s", data, want.String())
	}
}

// Memory must not grow with a run's length: recording a request allocates
// nothing, and a second's histogram is recycled once it is merged.
func TestRecordingAllocatesNothing(t *testing.T) {
	start := time.Now()
	col := newCollector(start, time.Hour, nil)
	rec := col.recorder()
	at := start
	allocs := testing.AllocsPerRun(10000, func() {
		at = at.Add(100 * time.Microsecond)
		rec.tick(at)
		rec.success(at, 250*time.Microsecond, 200, 400)
	})
	if allocs != 0 {
		t.Errorf("%.2f allocations per recorded request, want 0", allocs)
	}
	col.close()
	if len(col.pending) > 1 || len(col.free) > 1 {
		t.Errorf("%d seconds pending and %d histograms idle after %d seconds: not recycled", len(col.pending), len(col.free), len(col.series))
	}
}

// The slowest second is found again from the merged series, not taken from
// the inputs: two generators each slow in a different second are slowest
// together in a third. Unfinished requests add up.
func TestMergeFindsTheSlowestSecondAndAddsUnfinished(t *testing.T) {
	start := time.Now().Truncate(time.Second)
	result := func(unfinished int64, perSecond ...int64) *Result {
		r := &Result{FormatVersion: FormatVersion, Mode: Closed, LatencyKind: ResponseTime, Start: start, Unfinished: unfinished}
		for i, n := range perSecond {
			r.Series = append(r.Series, Second{T: float64(i), Requests: n})
			r.Requests += n
		}
		// The tail of a window that is not whole seconds holds too
		// little to compare, and does not count.
		r.Series = append(r.Series, Second{T: float64(len(perSecond)), Requests: 1})
		r.Duration = float64(len(perSecond)) + 0.5
		r.finish()
		return r
	}
	a := result(3, 100, 10, 100)
	b := result(4, 100, 100, 5)
	if s := a.Slowest; s == nil || s.T != 1 || s.RequestsPerS != 10 {
		t.Errorf("slowest second of one generator %+v, want second 1 at 10/s", s)
	}
	m, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if s := m.Slowest; s == nil || s.T != 2 || s.RequestsPerS != 105 {
		t.Errorf("merged slowest second %+v, want second 2 at 105/s", s)
	}
	if m.Unfinished != 7 {
		t.Errorf("merged %d unfinished, want 3+4", m.Unfinished)
	}
}
