package report

import (
	"encoding/json"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// go test ./report -run TestWriteFixtures -update rewrites the checked-in
// results folders and the golden outputs from the synthetic runs; review
// the diff before committing it.
var update = flag.Bool("update", false, "rewrite testdata fixtures and golden files")

// fixtureRuns are the two checked-in results folders: run-a, the shape of
// the fixture (three servers, keep-alive on and off, two reps, one
// failed), and run-b, a later run of the same matrix for the comparison.
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
	cells[0].RPS = []float64{104300, 106900} // epoll, keep-alive: clearly faster
	cells[1].RPS = []float64{62900, 61500}   // nethttp, keep-alive: within noise
	cells[4].Errors, cells[4].StallRep = 0, 0
	cells[5].RPS = []float64{24800, 25900} // poll, no keep-alive: both reps ran this time
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

// writeStored writes a model run the way the runner stores one: the
// inverse of loadRun, raw counters rather than ratios.
func writeStored(t *testing.T, dir string, r *run) {
	t.Helper()
	var m storedManifest
	m.FormatVersion = supportedFormat
	m.RunID, m.Status, m.Started, m.Finished = r.ID, r.Status, r.Started, r.Finished
	m.ConfigText = "# sockbench matrix\nname: keep-alive\nduration: 10s\nwarmup: 2s\nrepetitions: 2\nload:\n  mode: closed\n  connections: [100]\nservers:\n  - epoll\n  - poll\n  - nethttp\nmatrix:\n  keep_alive: [true, false]\n"
	m.Machine.Kernel, m.Machine.CPUModel, m.Machine.CPUCount, m.Machine.Arch = "Linux 6.12.48", "AMD EPYC 7B13", 8, "amd64"
	m.Machine.GoVersion = "go1.26.8"
	m.Machine.GitCommit = r.Machine[5].Value
	m.Machine.Sysctls = map[string]string{"net.core.somaxconn": "4096", "net.ipv4.tcp_max_syn_backlog": "4096", "net.ipv4.ip_local_port_range": "32768 60999"}
	m.Axes = r.Axes
	for _, c := range r.Cells {
		m.Cells = append(m.Cells, struct {
			ID   string            `json:"id"`
			Axes map[string]string `json:"axes"`
			Reps int               `json:"reps"`
		}{c.ID, c.Axes, len(c.Reps)})
		for _, rp := range c.Reps {
			writeJSONFile(t, repPath(dir, c.ID, rp.Index), storedRepOf(t, c.ID, rp))
		}
	}
	writeJSONFile(t, filepath.Join(dir, manifestName), m)
}

func storedRepOf(t *testing.T, cellID string, rp *rep) map[string]any {
	t.Helper()
	out := map[string]any{"cell": cellID, "rep": rp.Index}
	if !rp.OK {
		out["status"], out["reason"] = "failed", rp.Reason
		return out
	}
	out["status"] = "ok"
	enc, err := rp.Hist.Encode(hdrhistogram.V2CompressedEncodingCookieBase)
	if err != nil {
		t.Fatal(err)
	}
	var series []map[string]any
	for _, p := range rp.Series {
		series = append(series, map[string]any{
			"t": p.T, "requests": p.Requests, "errors": p.Errors, "bytes": p.Requests * 379,
			"p50_us": math.Round(p.P50US), "p99_us": math.Round(p.P99US), "max_us": math.Round(p.MaxUS),
		})
	}
	errs := map[string]int64{}
	for k, v := range rp.ErrorKinds {
		errs[k] = v
	}
	out["load"] = map[string]any{
		"requests": rp.Requests, "errors": errs, "requests_per_sec": rp.RPS,
		"latency_kind": rp.LatencyKind, "latency_histogram": string(enc),
		"series": series, "saturated": rp.Saturated,
	}
	n := float64(rp.Requests)
	server := map[string]any{
		"cpu_user_seconds": rp.CPUUserUS * n / 1e6,
		"cpu_sys_seconds":  rp.CPUSysUS * n / 1e6,
	}
	stats := map[string]any{"connections": 100, "requests": rp.Requests}
	if !math.IsNaN(rp.AcceptsPerWakeup) && rp.AcceptsPerWakeup > 0 {
		conns := 100.0
		if rp.AcceptsPerWakeup > 1.5 {
			conns = n // a connection per request without keep-alive
		}
		stats["connections"] = int64(conns)
		stats["listener_wakeups"] = int64(math.Round(conns / rp.AcceptsPerWakeup))
	}
	if rp.SyscallsPerReq > 0 {
		total := rp.SyscallsPerReq * n
		stats["syscalls"] = map[string]int64{"read": int64(total * 0.4), "write": int64(total * 0.4), "epoll_wait": int64(total) - 2*int64(total*0.4)}
	}
	server["stats"] = stats
	out["server"] = server
	return out
}

func writeJSONFile(t *testing.T, path string, v any) {
	t.Helper()
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}
