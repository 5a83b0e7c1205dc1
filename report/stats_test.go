package report

import (
	"math"
	"path/filepath"
	"strings"
	"testing"
)

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
	if s.RPS.Center != 200 || s.RPS.Min != 100 || s.RPS.Max != 300 || s.RPS.N != 2 || s.RPS.hasCI() {
		t.Errorf("rps = %+v, want 200 (100–300) over 2 reps, too few for an interval", s.RPS)
	}
	if s.P50.N != 2 || s.P99.N != 2 || !(s.P99.Center > s.P50.Center) {
		t.Errorf("per-repetition percentiles p50 %+v p99 %+v, want one value per successful rep", s.P50, s.P99)
	}
	var want int64
	for _, rp := range r.Cells[0].countedReps() {
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
	if got := fmtFixed(s.Syscalls.Center, 2); got != missing {
		t.Errorf("unknown syscalls print as %q, want %q", got, missing)
	}
}

// TestRankGroupVerdicts: servers are ranked by requests/s and compared
// with #1 by the rank test; a cell the run flagged is not ranked.
func TestRankGroupVerdicts(t *testing.T) {
	nan := math.NaN()
	ax := func(s string) map[string]string { return map[string]string{"server": s} }
	reps := func(base float64) []float64 {
		return []float64{base, base * 1.01, base * 0.99, base * 1.02, base * 0.98, base * 1.005}
	}
	r := synthRun("rank", []string{"server"}, []synthCell{
		{Axes: ax("best"), RPS: reps(1000), P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 5, CPUSys: 5},
		{Axes: ax("close"), RPS: []float64{1010, 990, 995, 1005, 985, 1000}, P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 5, CPUSys: 5},
		{Axes: ax("slow"), RPS: reps(700), P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 5, CPUSys: 5},
		{Axes: ax("single"), RPS: []float64{900}, P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 5, CPUSys: 5},
		{Axes: ax("dead"), RPS: []float64{nan, nan}, FailureReason: "server did not start"},
		{Axes: ax("flaky"), RPS: []float64{2000, nan, 2000, 2000, 2000, 2000}, P50US: 100, P99US: 200, MaxUS: 300, FailureReason: "server exited"},
		{Axes: ax("erring"), RPS: reps(3000), P50US: 100, P99US: 200, MaxUS: 300, Errors: 5},
	})
	a, err := analyse(r)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.rankings) != 1 {
		t.Fatalf("%d groups, want 1", len(a.rankings))
	}
	rk := a.rankings[0]
	if rk.By.Key != measureRPS.Key {
		t.Errorf("ranked by %s, want req/s: no cell was saturated", rk.By.Title)
	}
	want := []struct {
		server string
		rank   int
		rps    string // the req/s column against #1
	}{
		{"best", 1, "#1"},
		{"close", 2, "no significant difference (p="},
		{"single", 3, "too few repetitions to tell (n=6+1, need ≥ 4 each)"},
		{"slow", 4, "−30.0% [−"},
		{"dead", 0, missing},
		{"erring", 0, missing}, // faster than all, but its requests failed
		{"flaky", 0, missing},
	}
	if len(rk.Entries) != len(want) {
		t.Fatalf("ranking has %d entries, want %d", len(rk.Entries), len(want))
	}
	for i, w := range want {
		e := rk.Entries[i]
		got := rk.versusFirst(e, measureRPS).Text
		if e.Sum.Cell.server() != w.server || e.Rank != w.rank || !strings.HasPrefix(got, w.rps) {
			t.Errorf("entry %d = %s rank %d %q, want %s rank %d %q…", i, e.Sum.Cell.server(), e.Rank, got, w.server, w.rank, w.rps)
		}
	}
	note := rk.note()
	for _, w := range []string{"Ranked by median requests/s", "dead (no data", "erring (errors)", "flaky (1/6 reps failed)"} {
		if !strings.Contains(note, w) {
			t.Errorf("note %q lacks %q", note, w)
		}
	}
}

// TestSaturatedGroupRankedByCPU: where the load generator was saturated,
// requests/s are the client's; the group is ranked by server CPU per
// request, the flag is in the row, and client-bound measures are not
// compared with a saturated cell.
func TestSaturatedGroupRankedByCPU(t *testing.T) {
	ax := func(s string) map[string]string { return map[string]string{"server": s} }
	rps := []float64{20000, 20100, 19900, 20050, 19950}
	r := synthRun("sat", []string{"server"}, []synthCell{
		// The fastest by req/s, but the client set that number.
		{Axes: ax("a"), RPS: rps, P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 20, CPUSys: 20, Saturated: true},
		{Axes: ax("b"), RPS: []float64{15000, 15100, 14900, 15050, 14950}, P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 10, CPUSys: 10},
		{Axes: ax("c"), RPS: rps, P50US: 100, P99US: 200, MaxUS: 300, CPUUser: 15, CPUSys: 15, Saturated: true},
	})
	a, err := analyse(r)
	if err != nil {
		t.Fatal(err)
	}
	rk := a.rankings[0]
	if rk.By.Key != measureCPU.Key {
		t.Fatalf("ranked by %s, want CPU µs/req", rk.By.Title)
	}
	var order []string
	for _, e := range rk.Entries {
		order = append(order, e.Sum.Cell.server())
	}
	if got := strings.Join(order, ","); got != "b,c,a" {
		t.Errorf("order %s, want b,c,a: lowest CPU per request first", got)
	}
	c := rk.Entries[1]
	if got := rk.versusFirst(c, measureRPS).Text; got != "not compared: client saturated" {
		t.Errorf("c's req/s against #1: %q", got)
	}
	if got := rk.versusFirst(c, measureCPU).Text; !strings.HasPrefix(got, "+50.0% [+") {
		t.Errorf("c's CPU against #1: %q, want +50%%", got)
	}
	tab := rk.table(false)
	var md strings.Builder
	if err := tab.writeMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(md.String(), "\n") {
		if (strings.Contains(l, "| a |") || strings.Contains(l, "| c |")) && !strings.HasSuffix(l, "| client saturated |") {
			t.Errorf("saturated row without its flag: %s", l)
		}
	}
	if n := rk.note(); !strings.Contains(n, "saturated in c and a") || !strings.Contains(n, "ranked by server CPU µs per request") {
		t.Errorf("note %q does not say why the group is ranked by CPU", n)
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
		{fmtSignedPercent(0.04), "+4.0%"},
		{fmtSignedPercent(-0.1), "−10.0%"},
		{fmtSignedPercent(-0.00001), "+0.0%"},
		{plural(1, "rep"), "1 rep"},
		{plural(6, "rep"), "6 reps"},
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
