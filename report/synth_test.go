package report

import (
	"hash/fnv"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/results"
)

// synthCell describes one cell of a synthetic run: the shape of real
// measurements without running anything, so tests control every number.
type synthCell struct {
	Axes         map[string]string
	RPS          []float64 // per repetition; NaN marks a failed repetition
	P50US, P99US float64
	MaxUS        float64
	CPUUser      float64
	CPUSys       float64
	Syscalls     float64 // 0: not counted
	Accepts      float64 // NaN: not an event-loop server
	// AcceptSyscalls is the accept path's syscalls per connection; 0:
	// not counted.
	AcceptSyscalls float64
	Errors         int64
	StallRep       int // 1-based repetition with a stall in its series; 0: none
	Saturated      bool
	FailureReason  string
	// Busy lists the 1-based repetitions measured on a busy machine (with
	// synthOptions.Interference).
	Busy []int
	// Agents share every repetition's requests out, as a distributed
	// run's coordinator reports them; empty for a local run.
	Agents []synthAgent
}

// synthAgent is one agent of a distributed cell.
type synthAgent struct {
	Addr string
	// Weight is its part of the requests beside the others' (equal
	// weights: equal shares).
	Weight          float64
	CPUPerRequestUS float64
	// SaturatedRep is the 1-based repetition it was saturated in; 0: none.
	SaturatedRep               int
	ClockOffsetUS, StartSkewUS float64
}

// agentFigures shares a repetition's requests (the remainder to the last
// agent) and errors (all to the first) out among the agents, and deals out
// the connections as the coordinator does.
func (sc synthCell) agentFigures(rng *rand.Rand, rep int, requests, errors int64, connections int, window time.Duration) []loadgen.AgentFigures {
	var weights float64
	for _, a := range sc.Agents {
		weights += a.Weight
	}
	var out []loadgen.AgentFigures
	left := requests
	for i, a := range sc.Agents {
		n := int64(float64(requests) * a.Weight / weights)
		if i == len(sc.Agents)-1 {
			n = left
		}
		left -= n
		cpu := a.CPUPerRequestUS * (1 + 0.02*rng.NormFloat64())
		f := loadgen.AgentFigures{
			Agent: a.Addr, Connections: connections / len(sc.Agents),
			Requests: n, RequestsPerS: float64(n) / window.Seconds(), BytesPerS: float64(n) * 533 / window.Seconds(),
			UserSeconds: 0.4 * cpu * float64(n) / 1e6, SysSeconds: 0.6 * cpu * float64(n) / 1e6, CPUPerRequestUS: cpu,
			Busiest: 0.55 + 0.1*rng.Float64(), Saturated: a.SaturatedRep == rep,
			ClockOffsetUS: math.Round(a.ClockOffsetUS * (1 + 0.01*rng.NormFloat64())), ClockRTTUS: math.Round(80 + 40*rng.Float64()),
			StartSkewUS: math.Round(a.StartSkewUS * (1 + 0.2*rng.Float64())),
		}
		if f.Saturated {
			f.Busiest = 0.97
		}
		if i < connections%len(sc.Agents) {
			f.Connections++
		}
		if i == 0 {
			f.Errors.Timeout = errors
		}
		out = append(out, f)
	}
	return out
}

// synthHistogram records a log-normal body between p50 and p99 and a thin
// tail up to max, scaled down to n values (the shape is what matters).
func synthHistogram(rng *rand.Rand, n int, p50, p99, maxUS float64) *hdrhistogram.Histogram {
	h := hdrhistogram.New(1, 60_000_000, 3)
	sigma := math.Log(p99/p50) / 2.326
	for i := 0; i < n; i++ {
		v := p50 * math.Exp(sigma*rng.NormFloat64())
		if rng.Float64() < 0.0005 {
			v = p99 + rng.Float64()*(maxUS-p99)
		}
		_ = h.RecordValue(int64(math.Max(1, math.Min(v, maxUS))))
	}
	_ = h.RecordValue(int64(maxUS))
	return h
}

// synthSeries makes a per-second series around rps; a stall rep gets one
// second at a fifth of the rate with a p99 near the maximum.
func synthSeries(rng *rand.Rand, seconds int, rps, p50, p99, maxUS float64, stall bool, errors int64) []secondPoint {
	var pts []secondPoint
	for t := 1; t <= seconds; t++ {
		f := 1 + 0.03*rng.NormFloat64()
		pt := secondPoint{T: float64(t), Requests: int64(rps * f), P50US: p50 * (1 + 0.05*rng.NormFloat64()), P99US: p99 * (1 + 0.1*rng.NormFloat64()), MaxUS: p99 * 2}
		if stall && t == seconds/2+1 {
			pt.Requests = int64(rps * 0.2)
			pt.P99US, pt.MaxUS = maxUS*0.9, maxUS
		}
		if errors > 0 && t == seconds-1 {
			pt.Errors = errors
		}
		pts = append(pts, pt)
	}
	return pts
}

// cpuJitter varies the CPU cost from one repetition to the next, as a
// real server's does, without a trend over the run.
var cpuJitter = []float64{0, 0.02, -0.01, 0.015, -0.02, 0.005}

// synthOptions add to a synthetic run what the runner of issue #10
// stores; the zero value is a run without any of it.
type synthOptions struct {
	// Interference gives every repetition an interference check: quiet,
	// or busy where the cell's Busy says.
	Interference bool
	// Control is the drift control, one RPS value per measurement
	// (controlMeasurements says how many the schedule makes), measured
	// after every Every repetitions.
	Control *synthCell
	Every   int
	// Repetitions is the plan's (with Adaptive, least) repetitions;
	// zero means the most any cell has.
	Repetitions int
	Adaptive    *results.Adaptive
	// Window is every cell's measured window; zero means 10 s.
	Window time.Duration
}

// synthRun builds a run of the given cells; axes lists the axis order.
func synthRun(id string, axes []string, cells []synthCell) *run {
	return synthRunWith(id, axes, cells, synthOptions{})
}

// synthRunWith builds a run of the given cells with the options.
func synthRunWith(id string, axes []string, cells []synthCell, o synthOptions) *run {
	// Seeded by the id: a run's numbers are fixed, and two runs differ.
	h := fnv.New64a()
	h.Write([]byte(id))
	rng := rand.New(rand.NewPCG(1, h.Sum64()))
	r := &run{
		Dir: "testdata/" + id, ID: id, Status: "complete",
		Started: "2025-11-24T10:00:00Z", Finished: "2025-11-24T10:04:10Z",
		Machine: []keyValue{{"kernel", "Linux 6.12.48"}, {"CPU model", "AMD EPYC 7B13"}, {"CPUs", "8"}, {"arch", "amd64"}, {"Go", "go1.26.8"}, {"commit", "90bfc73"}},
		Sysctls: []keyValue{{"net.core.somaxconn", "4096"}},
		Axes:    axes, Repetitions: o.Repetitions, Adaptive: o.Adaptive,
	}
	window := o.Window
	if window == 0 {
		window = 10 * time.Second
	}
	if o.Interference {
		r.InterferenceMax = 0.05
	}
	for i, sc := range cells {
		c := sc.build(rng, "c"+strconv.Itoa(i+1), window, o.Interference)
		if o.Repetitions == 0 {
			r.Repetitions = max(r.Repetitions, len(c.Reps))
		}
		r.Cells = append(r.Cells, c)
	}
	if o.Control != nil {
		ctl := o.Control.build(rng, "control-"+o.Control.Axes[serverAxis], window, o.Interference)
		r.Control = &control{Every: o.Every, Cell: ctl, Spec: ctl.server()}
	}
	if o.Control != nil || o.Interference || o.Adaptive != nil {
		synthSchedule(r, window)
	}
	return r
}

// build makes the cell's repetitions from its description; checked gives
// each an interference check.
func (sc synthCell) build(rng *rand.Rand, id string, window time.Duration, checked bool) *cell {
	c := &cell{ID: id, Axes: sc.Axes, Mode: "closed", Window: window}
	seconds := max(1, int(math.Ceil(window.Seconds())))
	for j, rps := range sc.RPS {
		rp := &rep{Index: j + 1, LatencyKind: string(loadgen.ResponseTime)}
		if math.IsNaN(rps) {
			rp.Reason = sc.FailureReason
			c.Reps = append(c.Reps, rp)
			continue
		}
		rp.OK = true
		rp.RPS = rps
		rp.Requests = int64(rps * window.Seconds())
		rp.Errors = sc.Errors
		if sc.Errors > 0 {
			rp.ErrorKinds = map[string]int64{"timeout": sc.Errors}
		}
		rp.Hist = synthHistogram(rng, 20000, sc.P50US, sc.P99US, sc.MaxUS)
		rp.Series = synthSeries(rng, seconds, rps, sc.P50US, sc.P99US, sc.MaxUS, sc.StallRep == j+1, sc.Errors)
		rp.Saturated = sc.Saturated
		if len(sc.Agents) > 0 {
			rp.Agents = sc.agentFigures(rng, j+1, rp.Requests, rp.Errors, synthConnections, window)
			// As loadgen.Merge flags it: by the busiest agent.
			rp.Saturated = rp.Saturated || slices.ContainsFunc(rp.Agents, func(a loadgen.AgentFigures) bool { return a.Saturated })
		}
		rp.CPUUserUS = sc.CPUUser * (1 + cpuJitter[j%len(cpuJitter)])
		rp.CPUSysUS = sc.CPUSys * (1 - cpuJitter[j%len(cpuJitter)])
		rp.SyscallsPerReq = sc.Syscalls
		if sc.Syscalls == 0 {
			rp.SyscallsPerReq = math.NaN() // as the loader reads an uncounted server
		}
		rp.AcceptsPerWakeup = sc.Accepts
		rp.AcceptSyscallsPerConn = sc.AcceptSyscalls
		if sc.AcceptSyscalls == 0 {
			rp.AcceptSyscallsPerConn = math.NaN()
		}
		if checked {
			rp.Machine = synthInterference(rng, slices.Contains(sc.Busy, j+1))
		}
		rp.Counts = rp.Machine == nil || !rp.Machine.Busy
		c.Reps = append(c.Reps, rp)
	}
	return c
}

// synthInterference is a quiet window's check (a few tenths of a percent
// of other work, a little steal), or a busy one's that was measured again
// and was busy again.
func synthInterference(rng *rand.Rand, busy bool) *interference {
	m := &interference{Max: 0.05, Attempts: 1, Sets: []cpuSetLoad{
		{Role: "server", CPUs: "0", Other: 0.002 + 0.01*rng.Float64(), Steal: 0.002 * rng.Float64(), Interrupts: 0.05 + 0.03*rng.Float64()},
		{Role: "load generator", CPUs: "1", Other: 0.002 + 0.01*rng.Float64(), Steal: 0.002 * rng.Float64(), Interrupts: 0.02 + 0.02*rng.Float64()},
	}}
	if busy {
		m.Sets[0].Other = 0.08 + 0.1*rng.Float64()
		m.Busy, m.Attempts, m.Earlier = true, 2, []float64{0.12 + 0.1*rng.Float64()}
	}
	return m
}

// synthConnections is every synthetic cell's load: 100 connections.
const synthConnections = 100

// synthStart is when every synthetic run's first repetition starts.
var synthStart = time.Date(2025, 11, 24, 10, 0, 0, 0, time.UTC)

// synthSchedule gives every repetition its start time in the runner's
// order: the control first, then round after round every cell that has
// that repetition, the control after every Every of them and at the end.
func synthSchedule(r *run, window time.Duration) {
	at := synthStart
	step := window + 1500*time.Millisecond // start, verify, warm-up, stop
	var controls []*rep
	if r.Control != nil {
		controls = r.Control.Cell.Reps
	}
	next := func(rp *rep) {
		rp.Started = at
		at = at.Add(step)
	}
	takeControl := func() {
		if len(controls) == 0 {
			panic("the synthetic control has fewer measurements than the schedule makes")
		}
		next(controls[0])
		controls = controls[1:]
	}
	if r.Control != nil {
		takeControl()
	}
	since := 0
	for round := 0; ; round++ {
		any := false
		for _, c := range r.Cells {
			if round >= len(c.Reps) {
				continue
			}
			any = true
			next(c.Reps[round])
			if since++; r.Control != nil && since == r.Control.Every {
				takeControl()
				since = 0
			}
		}
		if !any {
			break
		}
	}
	if r.Control != nil && since > 0 {
		takeControl()
	}
	if len(controls) > 0 {
		panic("the synthetic control has more measurements than the schedule makes")
	}
	r.Finished = at.Format(time.RFC3339)
}

// controlMeasurements is how many times the schedule measures the control
// for cells with these repetition counts.
func controlMeasurements(reps []int, every int) int {
	n, since := 1, 0
	for round := 0; ; round++ {
		any := false
		for _, k := range reps {
			if round < k {
				any = true
				if since++; since == every {
					n, since = n+1, 0
				}
			}
		}
		if !any {
			break
		}
	}
	if since > 0 {
		n++
	}
	return n
}

// twoAxisCells is the fixture's shape: three servers, keep-alive on and
// off, six repetitions (enough for a confidence interval and a test), one
// failed, one cell with failed requests and one in which the load
// generator was saturated.
func twoAxisCells() []synthCell {
	nan := math.NaN()
	ax := func(server, ka string) map[string]string {
		return map[string]string{"server": server, "keep_alive": ka, "connections": "100"}
	}
	return []synthCell{
		{Axes: ax("epoll", "true"), RPS: []float64{95210, 97480, 96120, 94880, 96900, 95770}, P50US: 980, P99US: 2100, MaxUS: 9800, CPUUser: 4.1, CPUSys: 6.2, Syscalls: 2.1, Accepts: 1, Saturated: true},
		{Axes: ax("nethttp", "true"), RPS: []float64{61870, 63020, 62410, 61590, 62880, 62250}, P50US: 1490, P99US: 4300, MaxUS: 21000, CPUUser: 9.5, CPUSys: 7.1, Accepts: nan},
		{Axes: ax("poll", "true"), RPS: []float64{93900, 96100, 94700, 95400, 93600, 95900}, P50US: 1010, P99US: 2300, MaxUS: 11000, CPUUser: 4.6, CPUSys: 7.0, Syscalls: 3.0, Accepts: 1},
		{Axes: ax("epoll", "false"), RPS: []float64{28400, 29150, 28800, 28650, 29010, 28520}, P50US: 3300, P99US: 8700, MaxUS: 41000, CPUUser: 9.8, CPUSys: 22.5, Syscalls: 5.3, Accepts: 3.2},
		{Axes: ax("nethttp", "false"), RPS: []float64{18900, 20400, 19700, 19300, 20100, 19550}, P50US: 4900, P99US: 15000, MaxUS: 210000, CPUUser: 17.2, CPUSys: 25.9, Accepts: nan, StallRep: 2, Errors: 12},
		{Axes: ax("poll", "false"), RPS: []float64{25100, nan, 24700, 25600, 24900, 25300}, P50US: 3700, P99US: 9900, MaxUS: 52000, CPUUser: 10.4, CPUSys: 24.1, Syscalls: 6.1, Accepts: 2.8, FailureReason: "server exited during measurement: signal: killed"},
	}
}

// quickRunCells is the shape of configs/quick.yaml's run that the issue
// reported (#10): six servers, keep-alive on and off, two repetitions,
// and the load generator saturated in seven of the twelve cells.
func quickRunCells() []synthCell {
	servers := []string{"epoll", "poll", "select", "gonet", "workerpool", "nethttp"}
	rps := map[string]float64{"epoll": 20000, "poll": 18500, "select": 18400, "gonet": 19800, "workerpool": 9640, "nethttp": 15200}
	cpu := map[string]float64{"epoll": 8, "poll": 9, "select": 9.5, "gonet": 11, "workerpool": 14, "nethttp": 13}
	var out []synthCell
	for _, ka := range []string{"true", "false"} {
		f := 1.0
		if ka == "false" {
			f = 0.35 // a connection per request
		}
		for _, s := range servers {
			i := len(out)
			out = append(out, synthCell{
				Axes:  map[string]string{"server": s, "keep_alive": ka, "connections": "50"},
				RPS:   []float64{math.Round(rps[s] * f * 0.99), math.Round(rps[s] * f * 1.015)},
				P50US: 1000 / f, P99US: 3000 / f, MaxUS: 20000 / f,
				CPUUser: cpu[s] * 0.4 / f, CPUSys: cpu[s] * 0.6 / f, Syscalls: 2, Accepts: 1,
				Saturated: i < 7,
			})
		}
	}
	return out
}
