package report

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"strconv"
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

// fixtureRuns are the two checked-in results folders: run-a, the shape
// of the fixture (three servers, keep-alive on and off, one
// repetition failed, one cell with failed requests, one with the client
// saturated) with six repetitions, and run-b, a later run of the same
// matrix for the comparison.
func fixtureRuns() []*run {
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
	reps := 0
	for _, c := range r.Cells {
		reps = max(reps, len(c.Reps))
	}
	m := &results.Manifest{
		RunID: r.ID, Status: results.Status(r.Status), Started: r.Started, Finished: r.Finished,
		ConfigFile: "configs/keep-alive.yaml",
		ConfigText: "# sockbench matrix\nversion: 1\nname: keep-alive\nrepetitions: " + strconv.Itoa(reps) + "\nservers: [epoll, poll, nethttp]\nload:\n  mode: closed\n  connections: 100\n  duration: 10s\n  warmup: 2s\nmatrix:\n  keep_alive: [true, false]\n",
		Machine: results.Machine{
			Kernel: "Linux 6.12.48", CPUModel: "AMD EPYC 7B13", CPUCount: 8, Arch: "amd64", GoVersion: "go1.26.8",
			GitCommit: r.Machine[5].Value,
			Sysctls:   map[string]string{"net.core.somaxconn": "4096", "net.ipv4.tcp_max_syn_backlog": "4096", "net.ipv4.ip_local_port_range": "32768 60999"},
		},
		Plan: results.Plan{
			Name: "keep-alive", Output: "results", Repetitions: reps, LoadFrom: "local", Axes: r.Axes,
			CPUs: results.CPUs{Server: results.CPUList{Text: "0", CPUs: []int{0}}, Load: results.CPUList{Text: "1-7", CPUs: []int{1, 2, 3, 4, 5, 6, 7}}},
		},
	}
	for _, c := range r.Cells {
		m.Plan.Cells = append(m.Plan.Cells, results.Cell{
			ID: c.ID, Axes: c.Axes,
			Server: results.ServerSpec{Name: c.server(), Model: c.server()},
			Load:   results.Load{Mode: "closed", Connections: 100, KeepAlive: c.Axes["keep_alive"] == "true", Duration: results.Duration(10 * time.Second)},
		})
		for _, rp := range c.Reps {
			if err := results.WriteRep(dir, storedRepOf(t, c.ID, rp)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := results.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
}

func storedRepOf(t *testing.T, cellID string, rp *rep) *results.Rep {
	t.Helper()
	start := time.Date(2025, 11, 24, 10, 0, 0, 0, time.UTC)
	out := &results.Rep{Cell: cellID, Rep: rp.Index, Started: start, Finished: start.Add(12 * time.Second)}
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
		FormatVersion: loadgen.FormatVersion, Mode: loadgen.Closed, URL: "http://127.0.0.1:8080/", Connections: 100, Threads: 1,
		Start: start, Duration: 10, Warmup: 2, Requests: rp.Requests, RequestsPerS: rp.RPS,
		// Each answer carries the thread's 379-byte page and its head.
		BytesRead: rp.Requests * 533, BytesPerS: rp.RPS * 533,
		LatencyKind: loadgen.LatencyKind(rp.LatencyKind), LatencyHistogram: string(enc), Saturated: rp.Saturated,
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
