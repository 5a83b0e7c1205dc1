package report

import (
	"github.com/sockbench/sockbench/loadgen"

	"cmp"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sockbench/sockbench/runner/results"
)

// serverAxis is the axis whose values the rankings, colours and legends are
// about; every other axis defines the groups servers are compared within.
const serverAxis = "server"

// run is one results folder as the reporter sees it: what the loader could
// read, in the shape the tables and plots need. Keeping it separate from the
// runner's on-disk types confines a format change to the loader.
type run struct {
	Dir    string
	ID     string
	Status string
	// Started and Finished are the run's own timestamps as recorded, never
	// the time the report was made, so the tables stay reproducible.
	Started, Finished string
	Machine           []keyValue
	Sysctls           []keyValue
	// Interpreters are the Python interpreters' versions, by program.
	Interpreters map[string]string
	ConfigText   string
	// Axes lists the axis names in the order the configuration gave them.
	Axes  []string
	Cells []*cell
	// Unfinished lists repetitions the run planned but did not finish,
	// with the reason the manifest gives.
	Unfinished []unfinished
	// Repetitions is how often every cell was to be measured; with
	// Adaptive, at least.
	Repetitions int
	Adaptive    *results.Adaptive
	// InterferenceMax is the plan's threshold for "machine busy".
	InterferenceMax float64
	// ServerCPUs is how many CPUs the server was pinned to (0: none).
	ServerCPUs int
	// Control is the drift control; nil when the plan has none.
	Control *control
}

type keyValue struct{ Key, Value string }

type unfinished struct {
	CellID string
	Rep    int
	Reason string
}

// cell is one point of the matrix; its repetitions are the unit of spread.
type cell struct {
	ID   string
	Axes map[string]string
	Reps []*rep
	// Mode is the load mode, Window the measured window's length.
	Mode   string
	Window time.Duration
	// Precision is package results' judgement of how well the counted
	// repetitions pin down the measure the cell is ranked by on its own:
	// the same the runner's adaptive rounds used.
	Precision results.Precision
}

// rep is one repetition of a cell. Values that were not measured are NaN
// so they print as "–" instead of a misleading zero.
type rep struct {
	Index int
	// OK says it measured something; Counts that its numbers may also be
	// compared (package results decides: OK and not measured on a busy
	// machine).
	OK      bool
	Counts  bool
	Reason  string
	Started time.Time
	// Machine is the interference check of its window; nil when the run
	// made none.
	Machine *interference

	Requests   int64
	Errors     int64
	ErrorKinds map[string]int64
	RPS        float64
	// BytesPerS is what the generator read (HTTP) or wrote (stream) per
	// second.
	BytesPerS   float64
	LatencyKind string
	Hist        *hdrhistogram.Histogram
	Series      []secondPoint
	Saturated   bool
	// Agents are each agent's figures of a distributed window.
	Agents []loadgen.AgentFigures

	// Server cost, as measured around the window.
	CPUUserUS, CPUSysUS float64 // µs per request
	SyscallsPerReq      float64
	AcceptsPerWakeup    float64
	// AcceptSyscallsPerConn is the accept path's syscalls per accepted
	// connection (results.PerRequest).
	AcceptSyscallsPerConn float64

	// Connections (package results' measures): server closes per
	// request, and the fairness between connections.
	ServerClosesPerReq       float64
	Jain, MinShare, MaxShare float64
}

// secondPoint is one second of the per-second series.
type secondPoint struct {
	T        float64 // seconds since the measured window began
	Requests int64
	Errors   int64
	P50US    float64
	P99US    float64
	MaxUS    float64
}

func (c *cell) server() string { return c.Axes[serverAxis] }

// percentileUS is the repetition's own latency at percentile p, NaN
// without a histogram.
func (r *rep) percentileUS(p float64) float64 {
	if r.Hist == nil || r.Hist.TotalCount() == 0 {
		return math.NaN()
	}
	return float64(r.Hist.ValueAtPercentile(p))
}

// countedReps are the repetitions whose numbers the report uses.
func (c *cell) countedReps() []*rep {
	var ok []*rep
	for _, r := range c.Reps {
		if r.Counts {
			ok = append(ok, r)
		}
	}
	return ok
}

// varyingAxes returns the axes with more than one value across the cells,
// in configuration order, always including the server axis first because a
// row without its server means nothing.
func (r *run) varyingAxes() []string {
	out := []string{serverAxis}
	for _, a := range r.Axes {
		if a == serverAxis {
			continue
		}
		seen := map[string]bool{}
		for _, c := range r.Cells {
			seen[c.Axes[a]] = true
		}
		if len(seen) > 1 {
			out = append(out, a)
		}
	}
	return out
}

// groupAxes are the varying axes other than the server: cells that agree on
// all of them differ only in the server and are ranked together.
func (r *run) groupAxes() []string { return r.varyingAxes()[1:] }

func (r *run) servers() []string { return serversOf(r.Cells) }

// serversOf lists the servers of cells once each, sorted by name.
func serversOf(cells []*cell) []string {
	var s []string
	for _, c := range cells {
		if !slices.Contains(s, c.server()) {
			s = append(s, c.server())
		}
	}
	slices.Sort(s)
	return s
}

// axisValues returns the distinct values of an axis in natural order.
func (r *run) axisValues(axis string) []string {
	var vs []string
	for _, c := range r.Cells {
		if v := c.Axes[axis]; !slices.Contains(vs, v) {
			vs = append(vs, v)
		}
	}
	slices.SortFunc(vs, compareValues)
	return vs
}

// compareValues orders axis values numerically when both are numbers (so 8
// sorts before 64) and as text otherwise.
func compareValues(a, b string) int {
	fa, errA := strconv.ParseFloat(a, 64)
	fb, errB := strconv.ParseFloat(b, 64)
	switch {
	case errA == nil && errB == nil:
		return cmp.Compare(fa, fb)
	case errA == nil:
		return -1
	case errB == nil:
		return 1
	}
	return strings.Compare(a, b)
}

// group is a set of cells that agree on the given axes.
type group struct {
	// Fixed holds the shared axis values in axis order.
	Fixed []keyValue
	Cells []*cell
}

// Label names the group for titles and headings, e.g. "keep_alive=true".
func (g group) Label() string {
	if len(g.Fixed) == 0 {
		return "all cells"
	}
	parts := make([]string, len(g.Fixed))
	for i, kv := range g.Fixed {
		parts[i] = kv.Key + "=" + kv.Value
	}
	return strings.Join(parts, ", ")
}

// groupBy partitions the cells by their values on axes, in natural order of
// those values, with the cells of each group sorted by server.
func groupBy(cells []*cell, axes []string) []group {
	var gs []group
	index := map[string]int{}
	for _, c := range cells {
		var key strings.Builder
		fixed := make([]keyValue, len(axes))
		for i, a := range axes {
			fixed[i] = keyValue{a, c.Axes[a]}
			key.WriteString(a + "\x00" + c.Axes[a] + "\x00")
		}
		i, ok := index[key.String()]
		if !ok {
			i = len(gs)
			index[key.String()] = i
			gs = append(gs, group{Fixed: fixed})
		}
		gs[i].Cells = append(gs[i].Cells, c)
	}
	slices.SortStableFunc(gs, func(a, b group) int {
		for i := range a.Fixed {
			if c := compareValues(a.Fixed[i].Value, b.Fixed[i].Value); c != 0 {
				return c
			}
		}
		return 0
	})
	for _, g := range gs {
		slices.SortStableFunc(g.Cells, func(a, b *cell) int { return strings.Compare(a.server(), b.server()) })
	}
	return gs
}

// sortedCells orders cells by their non-server axes, then by server, so
// rows that belong to one comparison sit together in every table.
func (r *run) sortedCells() []*cell {
	var out []*cell
	for _, g := range groupBy(r.Cells, r.groupAxes()) {
		out = append(out, g.Cells...)
	}
	return out
}

func isNumber(s string) bool {
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}
