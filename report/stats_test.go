package report

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	spreadpkg "github.com/sockbench/sockbench/internal/spread"
)

func TestSpreadOf(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		in          []float64
		med, lo, hi float64
		n           int
		wantKnown   bool
	}{
		{[]float64{3, 1, 2}, 2, 1, 3, 3, true},
		{[]float64{4, 1, 3, 2}, 2.5, 1, 4, 4, true},
		{[]float64{5}, 5, 5, 5, 1, true},
		{[]float64{nan, 7, nan}, 7, 7, 7, 1, true},
		{[]float64{nan}, nan, nan, nan, 0, false},
		{nil, nan, nan, nan, 0, false},
	}
	same := func(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }
	for _, tt := range tests {
		s := spreadpkg.Of(tt.in)
		if !same(s.Median, tt.med) || !same(s.Min, tt.lo) || !same(s.Max, tt.hi) || s.N != tt.n || s.Known() != tt.wantKnown {
			t.Errorf("spreadpkg.Of(%v) = %+v, want median %v min %v max %v n %d", tt.in, s, tt.med, tt.lo, tt.hi, tt.n)
		}
	}
}

func TestSummaryMergesHistogramsAndSkipsFailedReps(t *testing.T) {
	r := synthRun("m", []string{"server"}, []synthCell{
		{Axes: map[string]string{"server": "epoll"}, RPS: []float64{100, math.NaN(), 300}, P50US: 100, P99US: 400, MaxUS: 5000, CPUUser: 2, CPUSys: 3, Syscalls: 2, Accepts: 1, FailureReason: "verify failed"},
	})
	s, err := summarise(r.Cells[0])
	if err != nil {
		t.Fatal(err)
	}
	if s.OK != 2 || s.Failed != 1 {
		t.Fatalf("ok/failed = %d/%d, want 2/1", s.OK, s.Failed)
	}
	if s.RPS.Median != 200 || s.RPS.Min != 100 || s.RPS.Max != 300 {
		t.Errorf("rps spread = %+v, want 200 (100–300)", s.RPS)
	}
	var want int64
	for _, rp := range r.Cells[0].okReps() {
		want += rp.Hist.TotalCount()
	}
	if got := s.Latency.TotalCount(); got != want {
		t.Errorf("merged histogram holds %d values, want %d (both successful reps)", got, want)
	}
	// 3 significant digits: the histogram's max is 5000's bucket, not 5000.
	if got := s.percentileUS(100); !s.Latency.ValuesAreEquivalent(int64(got), 5000) {
		t.Errorf("max = %v µs, want 5000 within the histogram's precision", got)
	}
	if f := strings.Join(s.flags(), ","); f != "1/3 reps failed" {
		t.Errorf("flags = %q, want the failed rep flagged", f)
	}
}

// TestZeroSyscallsMeanNotCounted: a server whose syscalls were not counted
// is stored with none, and the loader reads that as unknown.
func TestZeroSyscallsMeanNotCounted(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "z")
	writeStored(t, dir, synthRun("z", []string{"server"}, []synthCell{
		{Axes: map[string]string{"server": "nethttp"}, RPS: []float64{100, 110}, P50US: 100, P99US: 400, MaxUS: 900, Accepts: math.NaN()},
	}))
	r, err := loadRun(dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := summarise(r.Cells[0])
	if err != nil {
		t.Fatal(err)
	}
	if s.Syscalls.Known() || s.Accepts.Known() {
		t.Errorf("syscalls %+v accepts %+v: want both unknown, not zero", s.Syscalls, s.Accepts)
	}
	if got := fmtFixed(s.Syscalls.Median, 2); got != missing {
		t.Errorf("unknown syscalls print as %q, want %q", got, missing)
	}
}

func TestRankGroupVerdicts(t *testing.T) {
	nan := math.NaN()
	ax := func(s string) map[string]string { return map[string]string{"server": s} }
	r := synthRun("rank", []string{"server"}, []synthCell{
		{Axes: ax("best"), RPS: []float64{1000, 1040}, P50US: 1, P99US: 2, MaxUS: 3},
		{Axes: ax("close"), RPS: []float64{980, 1010}, P50US: 1, P99US: 2, MaxUS: 3}, // overlaps best
		{Axes: ax("slow"), RPS: []float64{700, 720}, P50US: 1, P99US: 2, MaxUS: 3},
		{Axes: ax("single"), RPS: []float64{900}, P50US: 1, P99US: 2, MaxUS: 3},
		{Axes: ax("dead"), RPS: []float64{nan, nan}, FailureReason: "server did not start"},
	})
	a, err := analyse(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.rankings) != 1 {
		t.Fatalf("%d groups, want 1", len(a.rankings))
	}
	want := []struct {
		server, verdict string
		ratio           float64
	}{
		{"best", verdictBest, 1},
		{"close", verdictNoise, 995.0 / 1020},
		{"single", verdictOneRep, 900.0 / 1020},
		{"slow", verdictClear, 710.0 / 1020},
		{"dead", verdictNoData, nan},
	}
	got := a.rankings[0]
	if len(got) != len(want) {
		t.Fatalf("ranking has %d entries, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Server != w.server || g.Verdict != w.verdict || !(math.Abs(g.Ratio-w.ratio) < 1e-9 || math.IsNaN(w.ratio) && math.IsNaN(g.Ratio)) {
			t.Errorf("rank %d = %s %q %.4f, want %s %q %.4f", i+1, g.Server, g.Verdict, g.Ratio, w.server, w.verdict, w.ratio)
		}
	}
}

func TestGroupsSplitOnNonServerAxes(t *testing.T) {
	r := synthRun("g", []string{"server", "keep_alive", "connections"}, twoAxisCells())
	if got := strings.Join(r.varyingAxes(), ","); got != "server,keep_alive" {
		t.Errorf("varying axes = %s, want server,keep_alive (connections is constant)", got)
	}
	gs := groupBy(r.Cells, r.groupAxes())
	if len(gs) != 2 || gs[0].Label() != "keep_alive=false" || gs[1].Label() != "keep_alive=true" {
		t.Fatalf("groups = %v, want keep_alive=false then true", gs)
	}
	for _, g := range gs {
		var servers []string
		for _, c := range g.Cells {
			servers = append(servers, c.server())
		}
		if strings.Join(servers, ",") != "epoll,nethttp,poll" {
			t.Errorf("group %s servers = %v, want sorted epoll,nethttp,poll", g.Label(), servers)
		}
	}
}

func TestCompareValuesIsNumericWhenItCanBe(t *testing.T) {
	if compareValues("8", "64") >= 0 || compareValues("64", "512") >= 0 {
		t.Error("numbers should sort by value, not as text")
	}
	if compareValues("false", "true") >= 0 {
		t.Error("text should sort as text")
	}
}

func TestFormatting(t *testing.T) {
	tests := []struct{ got, want string }{
		{fmtCount(1234567.4), "1,234,567"},
		{fmtCount(999), "999"},
		{fmtCount(math.NaN()), missing},
		{fmtMS(980), "0.980"},
		{fmtMS(2100), "2.10"},
		{fmtMS(41000), "41.0"},
		{fmtMS(210000), "210"},
		{fmtMS(1850000), "1,850"},
		{fmtRange(spread{Min: 1, Max: 2, N: 2}), "1–2"},
		{fmtRange(spread{Min: 5, Max: 5, N: 1}), "1 rep"},
		{fmtPercentChange(100, 104), "+4.0%"},
		{fmtPercentChange(100, 90), "−10.0%"},
		{fmtRatio(0.7412), "0.74×"},
		{shortCount(96345), "96.3k"},
		{shortCount(1050000), "1.05M"},
		{csvFloat(math.NaN(), 1), ""},
	}
	for i, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("case %d: got %q, want %q", i, tt.got, tt.want)
		}
	}
}
