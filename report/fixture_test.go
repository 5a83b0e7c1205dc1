package report

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/servers"
)

// go test ./report -run TestWriteFixtures -update rewrites the checked-in
// results folders and the golden outputs from the synthetic runs; review
// the diff before committing it.
var update = flag.Bool("update", false, "rewrite testdata fixtures and golden files")

// fixtureRuns are the checked-in results folders: run-a, the shape of
// the fixture (three servers, keep-alive on and off, one
// repetition failed, one cell with failed requests, one with the client
// saturated) with six repetitions, and run-b, a later run of the same
// matrix for the comparison; run-c and run-d, runs by the runner of issue
// #10 (controlRuns); run-e, a distributed run of issue #12 (agentRun).
func fixtureRuns() []*run {
	return append(append(keepAliveRuns(), controlRuns()...), agentRun())
}

// agentRun is run-e: three agents drive three servers, four repetitions
// each; 198.18.0.4 sends about 0.7× the mean share against poll (a slower
// path, 'agents uneven'), and 198.18.0.3 is saturated in epoll's third
// repetition, which makes that cell's client saturated.
func agentRun() *run {
	agents := func(slow float64, saturatedRep int) []synthAgent {
		return []synthAgent{
			{Addr: "198.18.0.2:7000", Weight: 1, CPUPerRequestUS: 6.4, ClockOffsetUS: 212, StartSkewUS: 14},
			{Addr: "198.18.0.3:7000", Weight: 1, CPUPerRequestUS: 6.6, SaturatedRep: saturatedRep, ClockOffsetUS: -1830, StartSkewUS: 21},
			{Addr: "198.18.0.4:7000", Weight: slow, CPUPerRequestUS: 6.5, ClockOffsetUS: 47, StartSkewUS: 380},
		}
	}
	ax := func(server string) map[string]string {
		return map[string]string{"server": server, "connections": "100"}
	}
	return synthRunWith("run-e", []string{"server", "connections"}, []synthCell{
		{Axes: ax("epoll"), RPS: []float64{141200, 143900, 139800, 142600}, P50US: 640, P99US: 1500, MaxUS: 7200, CPUUser: 3.9, CPUSys: 5.8, Syscalls: 2.1, Accepts: 1, Agents: agents(1, 3)},
		{Axes: ax("nethttp"), RPS: []float64{88400, 90100, 87900, 89300}, P50US: 1050, P99US: 3300, MaxUS: 16000, CPUUser: 9.2, CPUSys: 6.9, Accepts: math.NaN(), Errors: 3, Agents: agents(0.97, 0)},
		{Axes: ax("poll"), RPS: []float64{132500, 134100, 131800, 133600}, P50US: 690, P99US: 1700, MaxUS: 8100, CPUUser: 4.4, CPUSys: 6.7, Syscalls: 3.0, Accepts: 1, Agents: agents(0.6, 0)},
	}, synthOptions{})
}

func keepAliveRuns() []*run {
	a := synthRun("run-a", []string{"server", "keep_alive", "connections"}, twoAxisCells())
	cells := twoAxisCells()
	// Another day, another few percent of drift in every cell.
	drift := []float64{1.012, 0.991, 1.004, 0.987, 1.009, 0.996}
	for i := range cells {
		for j := range cells[i].RPS {
			cells[i].RPS[j] = math.Round(cells[i].RPS[j] * drift[(i+j)%len(drift)])
		}
	}
	cells[2].RPS = []float64{104300, 106900, 105200, 103800, 106100, 105500} // poll, keep-alive: clearly faster
	cells[4].Errors, cells[4].StallRep = 0, 0
	cells[5].RPS = []float64{24800, 25900, 25200, 24600, 25500, 25000} // poll, no keep-alive: every rep ran this time
	cells[5].FailureReason = ""
	b := synthRun("run-b", []string{"server", "keep_alive", "connections"}, cells)
	b.Started, b.Finished = "2025-11-25T09:00:00Z", "2025-11-25T09:04:12Z"
	b.Machine[5].Value = "498df40"
	return []*run{a, b}
}

// controlRuns are run-c, a run with everything the runner of issue #10
// stores: 700 ms windows, an interference check on every repetition (two
// of poll/false's were busy, every one of nethttp/false's), a drift
// control after every round, and adaptive repetitions {min 4, max 8, ci
// 3%} that stopped where a cell's interval got within 3%; and run-d, the
// same run on a machine 20% faster — every cell and the control +20% in
// requests/s and −1/6 in CPU per request — in which epoll/false also got
// 20% faster on its own.
func controlRuns() []*run {
	c := controlRunCells()
	ctl := controlCellOf(c, 6)
	opts := synthOptions{Interference: true, Control: &ctl, Every: 6, Repetitions: 4, Adaptive: &results.Adaptive{Max: 8, CI: 0.03}, Window: 700 * time.Millisecond}
	runC := synthRunWith("run-c", []string{"server", "keep_alive", "connections"}, c, opts)

	faster := func(sc *synthCell, f float64) {
		for i := range sc.RPS {
			sc.RPS[i] *= f
		}
		sc.CPUUser, sc.CPUSys = sc.CPUUser/f, sc.CPUSys/f
	}
	d := controlRunCells()
	for i := range d {
		faster(&d[i], 1.2)
	}
	faster(&d[3], 1.2) // epoll, keep_alive=false
	ctlD := controlCellOf(d, 6)
	faster(&ctlD, 1.2)
	opts.Control = &ctlD
	runD := synthRunWith("run-d", []string{"server", "keep_alive", "connections"}, d, opts)
	return []*run{runC, runD}
}

// controlRunCells are run-c's cells: see controlRuns.
func controlRunCells() []synthCell {
	nan := math.NaN()
	ax := func(server, ka string) map[string]string {
		return map[string]string{"server": server, "keep_alive": ka, "connections": "50"}
	}
	return []synthCell{
		{Axes: ax("epoll", "true"), RPS: []float64{95210, 97480, 96120, 94880, 96900, 95770}, P50US: 490, P99US: 1100, MaxUS: 4800, CPUUser: 4.1, CPUSys: 6.2, Syscalls: 2.1, Accepts: 1, Saturated: true},
		{Axes: ax("nethttp", "true"), RPS: []float64{61870, 66020, 58410, 64590, 57880, 65250, 60100, 63900}, P50US: 750, P99US: 2200, MaxUS: 10500, CPUUser: 9.5, CPUSys: 7.1, Accepts: nan},
		{Axes: ax("poll", "true"), RPS: []float64{93900, 96100, 94700, 95400, 93600, 95900}, P50US: 510, P99US: 1200, MaxUS: 5500, CPUUser: 4.6, CPUSys: 7.0, Syscalls: 3.0, Accepts: 1},
		{Axes: ax("epoll", "false"), RPS: []float64{28400, 29150, 28800, 28650, 29010, 28520}, P50US: 1650, P99US: 4300, MaxUS: 20500, CPUUser: 9.8, CPUSys: 22.5, Syscalls: 5.3, Accepts: 3.2},
		{Axes: ax("nethttp", "false"), RPS: []float64{14900, 20400, 16700, 19300, 15100, 19550, 17000, 18800}, P50US: 2450, P99US: 7500, MaxUS: 105000, CPUUser: 17.2, CPUSys: 25.9, Accepts: nan, Busy: []int{1, 2, 3, 4, 5, 6, 7, 8}},
		{Axes: ax("poll", "false"), RPS: []float64{25100, 17000, 24700, 25600, 16500, 25300, 24900, 25900}, P50US: 1850, P99US: 4950, MaxUS: 26000, CPUUser: 10.4, CPUSys: 24.1, Syscalls: 6.1, Accepts: 2.8, Busy: []int{2, 5}},
	}
}

// controlCellOf is the drift control of a run of cells: epoll with the
// fixed load, as flat as a quiet machine keeps it, measured as often as
// the schedule of cells does.
func controlCellOf(cells []synthCell, every int) synthCell {
	var reps []int
	for _, c := range cells {
		reps = append(reps, len(c.RPS))
	}
	flat := []float64{96100, 95400, 96800, 95900, 96300, 95200, 96600, 95800, 96000, 95600}
	n := controlMeasurements(reps, every)
	return synthCell{Axes: map[string]string{"server": "epoll"}, RPS: slices.Clone(flat[:n]), P50US: 500, P99US: 1150, MaxUS: 5000, CPUUser: 4.0, CPUSys: 6.0, Syscalls: 2.1, Accepts: 1}
}

func TestWriteFixtures(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata")
	}
	for _, r := range fixtureRuns() {
		dir := filepath.Join("testdata", r.ID)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		writeStored(t, dir, r)
	}
}

// writeStored writes a model run the way the runner stores one, through
// package results: the inverse of loadRun, raw counters rather than
// ratios.
func writeStored(t *testing.T, dir string, r *run) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	reps := "repetitions: " + strconv.Itoa(r.Repetitions) + "\n"
	if a := r.Adaptive; a != nil {
		reps = fmt.Sprintf("repetitions: {min: %d, max: %d, ci: %g%%}\n", r.Repetitions, a.Max, 100*float64(a.CI))
	}
	if r.InterferenceMax > 0 {
		reps += fmt.Sprintf("interference: {max: %g%%, retries: 1}\n", 100*r.InterferenceMax)
	}
	if r.Control != nil {
		reps += fmt.Sprintf("control: {server: %s, every: %d}\n", r.Control.name(), r.Control.Every)
	}
	// A distributed run's servers listen where its agents reach them.
	target, loadFrom, agents := "127.0.0.1:8080", "local", (*results.Agents)(nil)
	if r.hasAgents() {
		target, loadFrom = "198.18.0.1:8080", "agents"
		agents = &results.Agents{Addresses: agentAddresses(r), TokenFile: "/etc/sockbench/token", Listen: target}
		reps += fmt.Sprintf("load_from: agents\nagents:\n  addresses: [\"%s\"]\n  token_file: %s\n  listen: %s\n", strings.Join(agents.Addresses, `", "`), agents.TokenFile, target)
	}
	window := 10 * time.Second
	if len(r.Cells) > 0 && r.Cells[0].Window > 0 {
		window = r.Cells[0].Window
	}
	m := &results.Manifest{
		RunID: r.ID, Status: results.Status(r.Status), Started: r.Started, Finished: r.Finished,
		ConfigFile: "configs/keep-alive.yaml",
		ConfigText: "# sockbench matrix\nversion: 1\nname: keep-alive\n" + reps + "servers: [epoll, poll, nethttp]\nload:\n  mode: closed\n  connections: 100\n  duration: " + window.String() + "\n  warmup: 2s\nmatrix:\n  keep_alive: [true, false]\n",
		Machine: results.Machine{
			Kernel: "Linux 6.12.48", CPUModel: "AMD EPYC 7B13", CPUCount: 8, Arch: "amd64", GoVersion: "go1.26.8",
			GitCommit: r.Machine[5].Value,
			Sysctls:   map[string]string{"net.core.somaxconn": "4096", "net.ipv4.tcp_max_syn_backlog": "4096", "net.ipv4.ip_local_port_range": "32768 60999"},
		},
		Plan: results.Plan{
			Name: "keep-alive", Output: "results", Repetitions: r.Repetitions, Adaptive: r.Adaptive, LoadFrom: loadFrom, Agents: agents, Axes: r.Axes,
			CPUs:         results.CPUs{Server: results.CPUList{Text: "0", CPUs: []int{0}}, Load: results.CPUList{Text: "1-7", CPUs: []int{1, 2, 3, 4, 5, 6, 7}}},
			Interference: results.Interference{Max: results.Percent(r.InterferenceMax)},
		},
	}
	if r.InterferenceMax > 0 {
		m.Plan.Interference.Retries = 1
	}
	plannedCell := func(c *cell) results.Cell {
		return results.Cell{
			ID: c.ID, Axes: c.Axes,
			Server: results.ServerSpec{Name: c.server(), Model: c.server()},
			Load:   results.Load{Mode: "closed", Connections: synthConnections, KeepAlive: c.Axes["keep_alive"] != "false", Duration: results.Duration(window)},
		}
	}
	cells := r.Cells
	if ctl := r.Control; ctl != nil {
		m.Plan.Control = &results.Control{Every: ctl.Every, Cell: plannedCell(ctl.Cell)}
		cells = append(slices.Clone(cells), ctl.Cell)
	}
	for _, c := range cells {
		if r.Control == nil || c != r.Control.Cell {
			m.Plan.Cells = append(m.Plan.Cells, plannedCell(c))
		}
		for _, rp := range c.Reps {
			if err := results.WriteRep(dir, storedRepOf(t, c.ID, rp, window, target)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := results.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
}

// agentAddresses lists the agents of a run once each, in the order they
// first appear.
func agentAddresses(r *run) []string {
	var out []string
	for _, c := range r.Cells {
		for _, rp := range c.Reps {
			for _, a := range rp.Agents {
				if !slices.Contains(out, a.Agent) {
					out = append(out, a.Agent)
				}
			}
		}
	}
	return out
}

func storedRepOf(t *testing.T, cellID string, rp *rep, window time.Duration, target string) *results.Rep {
	t.Helper()
	start := synthStart
	if !rp.Started.IsZero() {
		start = rp.Started
	}
	out := &results.Rep{Cell: cellID, Rep: rp.Index, Started: start, Finished: start.Add(window + 2*time.Second)}
	if m := rp.Machine; m != nil {
		set := func(s cpuSetLoad) results.CPUSetLoad {
			return results.CPUSetLoad{CPUs: s.CPUs, Other: s.Other, Steal: s.Steal, Interrupts: s.Interrupts}
		}
		out.Machine = &results.MachineLoad{Server: set(m.Sets[0]), Load: set(m.Sets[1]), Max: m.Max, Busy: m.Busy, Attempts: m.Attempts}
		for _, w := range m.Earlier {
			earlier := *out.Machine
			earlier.Server.Other, earlier.Busy, earlier.Attempts = w-earlier.Server.Steal, true, 1
			out.Machine.Earlier = append(out.Machine.Earlier, earlier)
		}
	}
	if !rp.OK {
		out.Status, out.Stage, out.Reason = results.Failed, results.StageLoad, rp.Reason
		return out
	}
	out.Status = results.OK
	enc, err := rp.Hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	l := &loadgen.Result{
		FormatVersion: loadgen.FormatVersion, Mode: loadgen.Closed, URL: "http://" + target + "/", Connections: synthConnections, Threads: 1,
		Start: start, Duration: window.Seconds(), Warmup: 2, Requests: rp.Requests, RequestsPerS: rp.RPS,
		// Each answer carries the thread's 379-byte page and its head.
		BytesRead: rp.Requests * 533, BytesPerS: rp.RPS * 533,
		LatencyKind: loadgen.LatencyKind(rp.LatencyKind), LatencyHistogram: string(enc), Saturated: rp.Saturated, Agents: rp.Agents,
	}
	for _, p := range rp.Series {
		l.Series = append(l.Series, loadgen.Second{
			T: p.T, Requests: p.Requests, Errors: p.Errors, Bytes: p.Requests * 379,
			P50US: math.Round(p.P50US), P99US: math.Round(p.P99US), MaxUS: math.Round(p.MaxUS),
		})
	}
	data, _ := json.Marshal(rp.ErrorKinds)
	if err := json.Unmarshal(data, &l.Errors); err != nil {
		t.Fatal(err)
	}
	if rp.ServerClosesPerReq > 0 {
		l.ServerCloses = int64(math.Round(rp.ServerClosesPerReq * float64(l.Answered())))
	}
	if rp.Jain > 0 {
		l.Fairness = &loadgen.Fairness{Jain: rp.Jain, MinShare: rp.MinShare, MaxShare: rp.MaxShare, Connections: synthConnections}
	}
	out.Load = l
	n := float64(rp.Requests)
	srv := &results.Server{CPUUserSeconds: rp.CPUUserUS * n / 1e6, CPUSysSeconds: rp.CPUSysUS * n / 1e6, Exit: "exit status 0"}
	stats := &servers.Stats{Version: servers.StatsVersion, Server: "x", Connections: 100, Requests: uint64(rp.Requests)}
	if !math.IsNaN(rp.AcceptsPerWakeup) && rp.AcceptsPerWakeup > 0 {
		conns := 100.0
		if rp.AcceptsPerWakeup > 1.5 {
			conns = n // a connection per request without keep-alive
		}
		stats.Connections = uint64(conns)
		stats.ListenerWakeups = uint64(math.Round(conns / rp.AcceptsPerWakeup))
	}
	if rp.SyscallsPerReq > 0 {
		total := rp.SyscallsPerReq * n
		stats.Syscalls = map[string]uint64{"read": uint64(total * 0.4), "write": uint64(total * 0.4), "epoll_wait": uint64(total) - 2*uint64(total*0.4)}
	}
	srv.Stats = stats
	out.Server = srv
	out.PerRequest = out.Cost(nil)
	return out
}
