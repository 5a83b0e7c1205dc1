package results

import (
	"math"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/loadgen"
)

// TestRepCounts: only a successful repetition on a quiet machine counts.
func TestRepCounts(t *testing.T) {
	for _, tt := range []struct {
		name string
		rep  Rep
		want bool
	}{
		{"quiet", Rep{Status: OK, Load: &loadgen.Result{}, Machine: &MachineLoad{Busy: false}}, true},
		{"not checked", Rep{Status: OK, Load: &loadgen.Result{}}, true},
		{"busy", Rep{Status: OK, Load: &loadgen.Result{}, Machine: &MachineLoad{Busy: true}}, false},
		{"failed", Rep{Status: Failed, Reason: "x"}, false},
	} {
		if got := tt.rep.Counts(); got != tt.want {
			t.Errorf("%s: Counts() = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// TestRankedBy is the rule's table.
func TestRankedBy(t *testing.T) {
	for _, tt := range []struct {
		mode      string
		saturated bool
		want      Measure
	}{
		{"closed", false, RequestsPerS},
		{"open", false, RequestsPerS},
		{"closed", true, CPUPerRequest},
		{"stream", false, BytesPerS},
		{"stream", true, BytesPerS},
	} {
		if got := RankedBy(tt.mode, tt.saturated); got != tt.want {
			t.Errorf("RankedBy(%s, saturated %v) = %s, want %s", tt.mode, tt.saturated, got, tt.want)
		}
	}
	if RequestsPerS.HigherIsBetter() != true || CPUPerRequest.HigherIsBetter() {
		t.Error("requests/s are better higher, CPU per request lower")
	}
}

// TestCellPrecision: the interval is of the measure the cell is ranked by
// on its own, over the repetitions that count; a busy saturated
// repetition neither counts nor moves the cell to CPU per request.
func TestCellPrecision(t *testing.T) {
	rep := func(rps, cpuSeconds float64, saturated, busy bool) *Rep {
		return &Rep{Status: OK, Machine: &MachineLoad{Busy: busy},
			Load:   &loadgen.Result{Requests: int64(rps), RequestsPerS: rps, BytesPerS: 100 * rps, Saturated: saturated},
			Server: &Server{CPUUserSeconds: cpuSeconds}}
	}
	closed := &Cell{Load: Load{Mode: "closed"}}
	var quiet []*Rep
	for _, v := range []float64{1000, 1010, 990, 1005, 995, 1002} {
		quiet = append(quiet, rep(v, 0.01, false, false))
	}
	p := CellPrecision(closed, append(quiet, rep(5000, 0.01, true, true)), 0.02)
	if p.Measure != RequestsPerS || p.N != 6 || !p.Converged || p.Center != 1001 || math.Abs(p.HalfWidth-11.0/1001) > 1e-12 {
		t.Errorf("quiet cell with a busy saturated rep: %+v, want req/s over the 6 quiet, ±1.1%%", p)
	}
	if p := CellPrecision(closed, quiet, 0.005); p.Converged {
		t.Errorf("±1.1%% converged against a 0.5%% target: %+v", p)
	}
	saturated := append([]*Rep{rep(1000, 0.02, true, false)}, quiet[1:]...)
	if p := CellPrecision(closed, saturated, 0.02); p.Measure != CPUPerRequest || p.N != 6 {
		t.Errorf("saturated cell: %+v, want CPU per request", p)
	}
	if p := CellPrecision(&Cell{Load: Load{Mode: "stream"}}, quiet, 0.02); p.Measure != BytesPerS || p.Center != 100100 {
		t.Errorf("stream cell: %+v, want bytes/s", p)
	}
	if p := CellPrecision(closed, quiet[:3], 0.02); p.Converged || !strings.HasPrefix(p.Why, "n=3: ") || !math.IsNaN(p.HalfWidth) {
		t.Errorf("three repetitions: %+v, want no interval and why", p)
	}
	if p := CellPrecision(closed, []*Rep{rep(1000, 0.01, false, true)}, 0.02); p.N != 0 || p.Why != "nothing measured" {
		t.Errorf("only busy repetitions: %+v", p)
	}
}

// The connection figures are a repetition's, by the names the claims use;
// a result without a fairness block (stored before they were counted, or
// a stream) has none, rather than "no closes".
func TestConnectionMeasures(t *testing.T) {
	load := &loadgen.Result{Requests: 90, Errors: loadgen.Errors{Status: 10}, ServerCloses: 50, Reconnects: 120,
		Fairness: &loadgen.Fairness{Jain: 0.8, MinShare: 0.5, MaxShare: 1.5, Connections: 2}}
	r := &Rep{Status: OK, Load: load}
	for m, want := range map[Measure]float64{
		ServerClosesPerRequest: 0.5, Jain: 0.8, MinShare: 0.5, MaxShare: 1.5,
	} {
		if got := m.Of(r); got != want {
			t.Errorf("%s = %g, want %g", m, got, want)
		}
	}
	open := &Rep{Status: OK, Load: &loadgen.Result{Mode: loadgen.Open, Requests: 100, ServerCloses: 100}}
	if got := ServerClosesPerRequest.Of(open); got != 1 || !math.IsNaN(Jain.Of(open)) {
		t.Errorf("open mode: %g server closes per request, Jain %g; want 1 and none (its connections are a pool)", got, Jain.Of(open))
	}
	old := &Rep{Status: OK, Load: &loadgen.Result{Mode: loadgen.Closed, Requests: 90}}
	for _, m := range []Measure{ServerClosesPerRequest, Jain, MinShare, MaxShare} {
		if got := m.Of(old); !math.IsNaN(got) {
			t.Errorf("%s of a result without connection figures = %g, want NaN", m, got)
		}
	}
	if string(ServerClosesPerRequest) != "server_closes_per_request" || string(Jain) != "jain" || string(MinShare) != "min_share" || string(MaxShare) != "max_share" {
		t.Error("the measures' names are the ones the claims were agreed to read")
	}
}
