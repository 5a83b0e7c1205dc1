package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/supervise"
	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/config"
	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/servers"
	// The models a configuration names, registered as cmd/sockbench does.
	_ "github.com/sockbench/sockbench/servers/all"
)

// sockbenchBin is the sockbench binary the runner starts servers from,
// built once: inside a test the runner's own executable is the test.
var sockbenchBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sockbench-runner-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	sockbenchBin = filepath.Join(dir, "sockbench")
	// This package's runs lock CPUs among themselves, not against the
	// runs of other test binaries that `go test ./...` runs beside it.
	os.Setenv(LockDirEnv, dir)
	if out, err := exec.Command("go", "build", "-o", sockbenchBin, "../cmd/sockbench").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sockbench: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func parse(t *testing.T, yaml string) *results.Plan {
	t.Helper()
	p, err := config.Parse("test.yaml", []byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// observer records the events of a run; act, when set, sees each one.
type observer struct {
	mu     sync.Mutex
	events []Event
	act    func(Event)
}

func (o *observer) observe(e Event) {
	o.mu.Lock()
	o.events = append(o.events, e)
	o.mu.Unlock()
	if o.act != nil {
		o.act(e)
	}
}

// started lists "cell/rep" in the order repetitions (and, as rep 0,
// calibrations) started their server.
func (o *observer) started() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for _, e := range o.events {
		if e.Kind == StageStarted && (e.Stage == results.StageStart || e.Rep == 0 && e.Stage == results.StageReady) {
			out = append(out, fmt.Sprintf("%s/%d", e.Cell.ID, e.Rep))
		}
	}
	return out
}

func options(t *testing.T, out *bytes.Buffer, o *observer) Options {
	return Options{Output: t.TempDir(), Executable: sockbenchBin, SourceDir: "..", Out: out, Observe: o.observe, ConfigText: "# test\n", ConfigFile: "test.yaml"}
}

func readRep(t *testing.T, dir, cell string, rep int) *results.Rep {
	t.Helper()
	r, err := results.ReadRep(dir, cell, rep)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestSchedule: repetition 1 of every cell, then repetition 2, ...; what
// is done already is left out; calibrations come last, none for stream.
func TestSchedule(t *testing.T) {
	p := parse(t, `version: 1
cpus: {server: 0, load: 1}
repetitions: 2
servers: [epoll, poll]
calibrate: {strace: true}
matrix:
  mode: [closed, stream]
`)
	jobs := schedule(p, func(j job) bool { return j.cell.ID == p.Cells[1].ID && j.rep == 1 })
	var got []string
	for _, j := range jobs {
		got = append(got, fmt.Sprintf("%s/%d", j.cell.ID, j.rep))
	}
	want := []string{
		"c1-epoll-mode=closed/1", "c3-epoll-mode=stream/1", "c4-poll-mode=stream/1",
		"c1-epoll-mode=closed/2", "c2-poll-mode=closed/2", "c3-epoll-mode=stream/2", "c4-poll-mode=stream/2",
		"c1-epoll-mode=closed/0", "c2-poll-mode=closed/0",
	}
	if !slices.Equal(got, want) {
		t.Errorf("order:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestRunTwoServers runs a tiny matrix end to end: a built-in server and
// an external one (a second sockbench process started from its command
// line), two repetitions each, and a strace calibration. Both are
// measured the same way, and the folder holds everything the format
// promises.
func TestRunTwoServers(t *testing.T) {
	p := parse(t, `version: 1
name: e2e
repetitions: 2
cpus: {server: 0, load: 1}
knobs: {backlog: 128}
servers:
  - nethttp
  - name: ext-epoll
    command: ["{sockbench}", serve, epoll, --addr, "{addr}", --stats-file, "{stats_file}", --backlog, "{backlog}"]
    url: http://{addr}/
load: {connections: 4, duration: 1s, warmup: 200ms}
calibrate: {strace: true, requests: 300}
`)
	var out bytes.Buffer
	var o observer
	opts := options(t, &out, &o)
	sum, err := Run(context.Background(), p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if !sum.OK() || sum.Status != results.Complete {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	if link, err := os.Readlink(filepath.Join(opts.Output, "latest")); err != nil || link != sum.RunID {
		t.Errorf("latest -> %q (%v), want %s", link, err, sum.RunID)
	}
	m, err := results.ReadManifest(sum.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Sessions) != 1 || m.Sessions[0].Reps != 4 || m.Finished == "" || len(m.Unfinished) != 0 {
		t.Errorf("manifest sessions %+v, finished %q, unfinished %v", m.Sessions, m.Finished, m.Unfinished)
	}
	mach := m.Machine
	if mach.Kernel == "" || mach.CPUModel == "" || mach.CPUCount < 1 || mach.GoVersion == "" || len(mach.GitCommit) != 40 {
		t.Errorf("machine %+v", mach)
	}
	for _, s := range recordedSysctls {
		if mach.Sysctls[s] == "" || mach.Sysctls[s] == "unknown" {
			t.Errorf("sysctl %s not recorded: %q", s, mach.Sysctls[s])
		}
	}
	if text, err := os.ReadFile(filepath.Join(sum.Dir, results.ConfigName)); err != nil || string(text) != opts.ConfigText {
		t.Errorf("config.yaml: %q, %v", text, err)
	}

	nethttp, ext := p.Cells[0].ID, p.Cells[1].ID
	for _, cell := range []string{nethttp, ext} {
		for rep := 1; rep <= 2; rep++ {
			r := readRep(t, sum.Dir, cell, rep)
			if r.Status != results.OK || r.Load.Requests == 0 || r.Load.Errors.Total() != 0 {
				t.Fatalf("%s rep %d: %s %s, %d requests, %d errors", cell, rep, r.Status, r.Reason, r.Load.Requests, r.Load.Errors.Total())
			}
			s := r.Server
			if s.CPUUserSeconds+s.CPUSysSeconds <= 0 || s.WindowSeconds < 0.9 || s.RSSBytes == 0 || s.Stats == nil || s.Stats.Requests < uint64(r.Load.Requests) || s.Exit != "exit status 0" {
				t.Errorf("%s rep %d: server %+v", cell, rep, s)
			}
			cal, err := results.ReadCalibration(sum.Dir, cell)
			if err != nil || cal == nil || cal.Error != "" || cal.Syscalls == 0 || cal.Requests < 300 {
				t.Fatalf("%s calibration %+v, %v", cell, cal, err)
			}
			cost := r.Cost(cal)
			wantFrom := map[string]string{nethttp: "strace", ext: "server"}[cell]
			if cost == nil || cost.CPUTotalUS <= 0 || cost.Syscalls <= 0 || cost.SyscallsFrom != wantFrom {
				t.Errorf("%s rep %d: cost %+v, want syscalls from %s", cell, rep, cost, wantFrom)
			}
			log, err := os.ReadFile(results.HistogramLogPath(sum.Dir, cell, rep))
			if err != nil || !bytes.Contains(log, []byte("Histogram log format")) {
				t.Errorf("%s rep %d histogram log: %v %.80q", cell, rep, err, log)
			}
		}
	}
	if r := readRep(t, sum.Dir, ext, 1); r.Command[0] != sockbenchBin || strings.Contains(strings.Join(r.Command, " "), "{") ||
		!slices.Contains(r.Command, "128") || r.Server.Stats.Syscalls == nil {
		t.Errorf("external server ran as %q, stats %+v", r.Command, r.Server.Stats)
	}
	if r := readRep(t, sum.Dir, nethttp, 1); !slices.Contains(r.Command, "--backlog=128") {
		t.Errorf("built-in server ran as %q", r.Command)
	}

	// Interleaved: rep 1 of both cells before rep 2 of either.
	want := []string{nethttp + "/1", ext + "/1", nethttp + "/2", ext + "/2", nethttp + "/0", ext + "/0"}
	if got := o.started(); !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
	wantOutput(t, out.String(), "2 cells × 2 repetitions; 4 to run")
}

func wantOutput(t *testing.T, out string, want ...string) {
	t.Helper()
	for _, s := range want {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
}

// TestFailingServersAreRecorded: a server that dies in the middle of its
// measurement and one that fails the conformance check are both recorded
// as failed, with the stage and the reason, and the run goes on to the
// next server and ends complete.
func TestFailingServersAreRecorded(t *testing.T) {
	p := parse(t, `version: 1
repetitions: 1
cpus: {server: 0, load: 1}
servers:
  - epoll
  - name: sink
    command: ["{sockbench}", serve, epoll, --stream, --addr, "{addr}"]
    url: http://{addr}/
    verify: {timeout: 250ms}
  - gonet
load: {connections: 4, duration: 2s, warmup: 200ms}
`)
	var out bytes.Buffer
	var once sync.Once
	o := observer{act: func(e Event) {
		// The first measured second of epoll: kill its server.
		if e.Kind == Measured && e.Cell.Server.Name == "epoll" {
			once.Do(func() { syscall.Kill(e.PID, syscall.SIGKILL) })
		}
	}}
	sum, err := Run(context.Background(), p, options(t, &out, &o))
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != results.Complete || sum.Failed != 2 || sum.Unfinished != 0 || sum.OK() {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	crashed := readRep(t, sum.Dir, p.Cells[0].ID, 1)
	if crashed.Status != results.Failed || crashed.Stage != results.StageLoad ||
		!strings.Contains(crashed.Reason, "exited during the measurement (signal: killed)") {
		t.Errorf("killed server: %s at %s: %s", crashed.Status, crashed.Stage, crashed.Reason)
	}
	sink := readRep(t, sum.Dir, p.Cells[1].ID, 1)
	if sink.Status != results.Failed || sink.Stage != results.StageVerify || len(sink.VerifyFailures) == 0 || sink.Load != nil ||
		!strings.Contains(sink.Reason, "conformance cases") {
		t.Errorf("sink: %s at %s: %s (%d verify failures)", sink.Status, sink.Stage, sink.Reason, len(sink.VerifyFailures))
	}
	if ok := readRep(t, sum.Dir, p.Cells[2].ID, 1); ok.Status != results.OK || ok.Load.Requests == 0 {
		t.Errorf("gonet after the failures: %s %s", ok.Status, ok.Reason)
	}
	wantOutput(t, out.String(), "c1-epoll rep 1: FAILED at load", "c2-sink rep 1: FAILED at verify")
}

// TestHangingServerIsRecorded: a server that stops answering mid-cell
// (SIGSTOP: alive, connections open, nothing served) costs the run its
// timeouts, not a hang; its repetition says so and the run completes.
func TestHangingServerIsRecorded(t *testing.T) {
	p := parse(t, `version: 1
repetitions: 1
cpus: {server: 0, load: 1}
servers: [epoll, gonet]
load: {connections: 4, duration: 2s, warmup: 200ms, timeout: 300ms}
`)
	var out bytes.Buffer
	var once sync.Once
	var hung atomic.Int32
	o := observer{act: func(e Event) {
		if e.Kind == Measured && e.Cell.Server.Name == "epoll" {
			once.Do(func() {
				hung.Store(int32(e.PID))
				syscall.Kill(e.PID, syscall.SIGSTOP)
			})
		}
	}}
	sum, err := Run(context.Background(), p, options(t, &out, &o))
	if err != nil {
		t.Fatal(err)
	}
	if hung.Load() == 0 {
		t.Fatalf("the epoll server was never stopped:\n%s", out.String())
	}
	if sum.Status != results.Complete || sum.Unfinished != 0 {
		t.Fatalf("summary %+v\n%s", sum, out.String())
	}
	r := readRep(t, sum.Dir, p.Cells[0].ID, 1)
	if r.Status != results.Failed || r.Stage != results.StageStop || r.Load == nil || r.Load.Errors.Timeout == 0 ||
		!strings.Contains(r.Reason, "did not stop within") || !strings.Contains(r.Reason, "timeout") {
		t.Errorf("hung server: %s at %s: %s", r.Status, r.Stage, r.Reason)
	}
	if err := syscall.Kill(int(hung.Load()), 0); err == nil {
		t.Errorf("the hung server (pid %d) is still alive after the run", hung.Load())
	}
	if ok := readRep(t, sum.Dir, p.Cells[1].ID, 1); ok.Status != results.OK || ok.Load.Requests == 0 {
		t.Errorf("gonet after the hang: %s %s", ok.Status, ok.Reason)
	}
}

// TestResume: a run interrupted half-way keeps its finished repetitions
// and says which did not run; resuming runs only those and any that
// failed, and leaves the good ones alone.
func TestResume(t *testing.T) {
	const text = `version: 1
repetitions: 2
cpus: {server: 0, load: 1}
servers: [epoll, poll]
load: {connections: 4, duration: 500ms, warmup: 100ms}
`
	p := parse(t, text)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out bytes.Buffer
	finished := 0
	o := observer{act: func(e Event) {
		if e.Kind == RepFinished {
			if finished++; finished == 2 {
				cancel()
			}
		}
	}}
	opts := options(t, &out, &o)
	opts.ConfigText = text
	sum, err := Run(ctx, p, opts)
	if err != nil {
		t.Fatal(err)
	}
	if sum.Status != results.Interrupted || sum.Unfinished != 2 {
		t.Fatalf("interrupted run: %+v\n%s", sum, out.String())
	}
	m, err := results.ReadManifest(sum.Dir)
	if err != nil {
		t.Fatal(err)
	}
	epoll, poll := p.Cells[0].ID, p.Cells[1].ID
	if len(m.Unfinished) != 2 || m.Unfinished[0].Cell != epoll || m.Unfinished[0].Rep != 2 || m.Unfinished[1].Cell != poll ||
		!strings.Contains(m.Unfinished[0].Reason, "interrupted") || m.Status != results.Interrupted {
		t.Errorf("manifest: %s, unfinished %+v", m.Status, m.Unfinished)
	}
	// The report says "not run: <reason>"; the reason must not repeat it.
	if strings.HasPrefix(m.Unfinished[0].Reason, "not run") {
		t.Errorf("reason %q starts with what the report adds", m.Unfinished[0].Reason)
	}

	// A failed repetition is redone too.
	failed := readRep(t, sum.Dir, epoll, 1)
	failed.Status, failed.Stage, failed.Reason, failed.Load, failed.Server = results.Failed, results.StageVerify, "simulated", nil, nil
	if err := results.WriteRep(sum.Dir, failed); err != nil {
		t.Fatal(err)
	}
	kept := readRep(t, sum.Dir, poll, 1)

	if _, err := Resume(context.Background(), sum.Dir, Options{ConfigText: "something else\n", ConfigFile: "other.yaml", Executable: sockbenchBin}); err == nil ||
		!strings.Contains(err.Error(), "other.yaml differs from the configuration") {
		t.Errorf("resume with another configuration: %v", err)
	}
	var o2 observer
	opts2 := options(t, &out, &o2)
	opts2.ConfigText = ""
	// As a runner killed with -9 leaves it: its session still running.
	m.Sessions[0].Status, m.Status = results.Running, results.Running
	if err := results.WriteManifest(sum.Dir, m); err != nil {
		t.Fatal(err)
	}
	sum2, err := Resume(context.Background(), sum.Dir, opts2)
	if err != nil {
		t.Fatal(err)
	}
	if !sum2.OK() || sum2.RunID != sum.RunID {
		t.Fatalf("resumed: %+v\n%s", sum2, out.String())
	}
	if got, want := o2.started(), []string{epoll + "/1", epoll + "/2", poll + "/2"}; !slices.Equal(got, want) {
		t.Errorf("resume ran %v, want %v", got, want)
	}
	if again := readRep(t, sum.Dir, poll, 1); !again.Started.Equal(kept.Started) {
		t.Errorf("resume redid a finished repetition: started %v, was %v", again.Started, kept.Started)
	}
	m, err = results.ReadManifest(sum.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.Status != results.Complete || len(m.Sessions) != 2 || m.Sessions[0].Status != results.Died || m.Sessions[1].Reps != 3 || len(m.Unfinished) != 0 || m.Started != m.Sessions[0].Started {
		t.Errorf("manifest after resume: %s, sessions %+v, unfinished %v", m.Status, m.Sessions, m.Unfinished)
	}
}

// TestResumeOfNoRun: a folder that is not a run is a clear error.
func TestResumeOfNoRun(t *testing.T) {
	dir := t.TempDir()
	_, err := Resume(context.Background(), dir, Options{Executable: sockbenchBin})
	if err == nil || !strings.Contains(err.Error(), "is not a sockbench results folder") {
		t.Errorf("Resume: %v", err)
	}
}

// TestWarnings: shared CPUs, a backlog the kernel caps, and close without
// enough ports are each said before the run starts.
func TestWarnings(t *testing.T) {
	p := parse(t, `version: 1
cpus: {server: 0, load: 0-1}
servers: [epoll]
knobs: {backlog: 100000}
load: {keep_alive: false}
`)
	m := results.Machine{Sysctls: map[string]string{
		"net.core.somaxconn": "4096", "net.ipv4.ip_local_port_range": "32768 60999", "net.ipv4.tcp_tw_reuse": "0",
	}}
	got := warnings(p, m)
	want := []string{
		"the server (CPUs 0) and the load generator (CPUs 0-1) share CPU 0: they take turns on it, so every number measures both",
		"backlog 100000 is above net.core.somaxconn 4096: the kernel silently caps it at 4096",
		"cell c1-epoll opens a connection per request as fast as it can: above about 2353 requests/s the 28232 local ports run out while TIME_WAIT holds each for 60s (tcp_tw_reuse is 0); connects will then fail",
	}
	if !slices.Equal(got, want) {
		t.Errorf("warnings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	m.Sysctls["net.ipv4.tcp_tw_reuse"] = "2"
	if got := warnings(p, m); len(got) != 2 {
		t.Errorf("with tcp_tw_reuse=2 (reuse on loopback) the port warning stays: %v", got)
	}
}

// TestParseStraceTable reads strace's -c table, blank errors column and
// total line included.
func TestParseStraceTable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "strace.txt")
	table := `% time     seconds  usecs/call     calls    errors syscall
------ ----------- ----------- --------- --------- ----------------
 70.14    0.485745       15179        32         3 futex
  6.93    0.048021          23      2002           write
  0.01    0.000010          10         1           epoll_pwait
------ ----------- ----------- --------- --------- ----------------
100.00    0.533776         264      2035         3 total
`
	if err := os.WriteFile(path, []byte(table), 0o644); err != nil {
		t.Fatal(err)
	}
	byName, total, err := parseStraceTable(path)
	if err != nil || total != 2035 || byName["write"] != 2002 || byName["futex"] != 32 || len(byName) != 3 {
		t.Errorf("parsed %v, total %d, %v", byName, total, err)
	}
	os.WriteFile(path, []byte("strace: exec: No such file or directory\n"), 0o644)
	if _, _, err := parseStraceTable(path); err == nil || !strings.Contains(err.Error(), "holds no syscall counts") {
		t.Errorf("a table without counts: %v", err)
	}
}

// TestDescribe lists the cells without running anything.
func TestDescribe(t *testing.T) {
	p := parse(t, "version: 1\ncpus: {server: 0, load: 1}\nservers: [epoll, poll]\n")
	var b bytes.Buffer
	if err := Describe(&b, p); err != nil {
		t.Fatal(err)
	}
	// Six repetitions of 2 s of warm-up, a 10 s window and 0.5 s to start,
	// verify and stop: 75 s.
	want := "2 cells × 3 repetitions; server on CPUs 0, load generator on CPUs 1\n  c1-epoll\n  c2-poll\n" +
		"estimated time: 1m15s (warm-up and window of every repetition, plus about 500ms each to start, verify and stop a server; strace passes not included)\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

func TestDescribeAdaptiveAndControl(t *testing.T) {
	p := parse(t, "version: 1\ncpus: {server: 0, load: 1}\nservers: [epoll]\nrepetitions: {min: 3, max: 9, ci: 2.5%}\ncontrol: {server: epoll, every: 4}\n")
	var b bytes.Buffer
	if err := Describe(&b, p); err != nil {
		t.Fatal(err)
	}
	// Three repetitions and the control twice (at the start and the end),
	// 12.5 s each.
	want := "1 cells × 3 to 9 repetitions (until the 95% interval of the median is within ±2.5%); server on CPUs 0, load generator on CPUs 1\n  c1-epoll\n  control-epoll: the drift control, at the start, after every 4 repetitions and at the end\n" +
		"estimated time: 1m3s (warm-up and window of every repetition, plus about 500ms each to start, verify and stop a server; strace passes not included)\n"
	if b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}

// TestStreamCell: in stream mode the server runs as a sink, nothing is
// verified (a sink speaks no HTTP), and the repetition counts bytes.
func TestStreamCell(t *testing.T) {
	p := parse(t, "version: 1\nrepetitions: 1\ncpus: {server: 0, load: 1}\nservers: [epoll]\nload: {mode: stream, connections: 2, duration: 500ms, warmup: 0s}\n")
	var out bytes.Buffer
	var o observer
	sum, err := Run(context.Background(), p, options(t, &out, &o))
	if err != nil {
		t.Fatal(err)
	}
	r := readRep(t, sum.Dir, p.Cells[0].ID, 1)
	if !sum.OK() || r.Status != results.OK || r.Load.BytesWritten == 0 || r.Server.Stats == nil || r.Server.Stats.BytesRead == 0 || !slices.Contains(r.Command, "--stream") {
		t.Fatalf("stream cell: %+v\n%+v\n%s", sum, r, out.String())
	}
	for _, e := range o.events {
		if e.Kind == StageStarted && e.Stage == results.StageVerify {
			t.Error("a sink was verified")
		}
	}
}

// TestResumeRefusesATamperedPlan: a results folder is data. A manifest
// whose plan was edited to run a command, write outside the run folder or
// measure another model than its configuration names is refused, naming
// the difference, before anything starts.
func TestResumeRefusesATamperedPlan(t *testing.T) {
	const text = "version: 1\nservers: [epoll]\nrepetitions: 1\nload: {duration: 1s}\n"
	for _, c := range []struct {
		name, where string
		tamper      func(*results.Plan)
	}{
		{"a command", "plan.cells[0].server.command", func(p *results.Plan) {
			p.Cells[0].Server.Command = []string{"sh", "-c", "echo pwned"}
			p.Cells[0].Server.URL = "http://{addr}/"
		}},
		{"a file outside the run", "plan.cells[0].server.files", func(p *results.Plan) {
			p.Cells[0].Server.Files = map[string]string{"../../elsewhere": "x"}
		}},
		{"another model", "plan.cells[0].server.model", func(p *results.Plan) { p.Cells[0].Server.Model = "nethttp" }},
		{"a knob", "plan.cells[0].server.knobs.backlog", func(p *results.Plan) { p.Cells[0].Server.Knobs = servers.Settings{"backlog": 1} }},
	} {
		t.Run(c.name, func(t *testing.T) {
			plan := parse(t, text)
			c.tamper(plan)
			dir := t.TempDir()
			m := &results.Manifest{RunID: "tampered", Status: results.Interrupted, Started: "2026-01-01T00:00:00Z", ConfigFile: "test.yaml", ConfigText: text, Plan: *plan}
			if err := results.WriteManifest(dir, m); err != nil {
				t.Fatal(err)
			}
			var o observer
			_, err := Resume(context.Background(), dir, Options{Executable: sockbenchBin, Observe: o.observe})
			if err == nil || !strings.Contains(err.Error(), "stored plan is not what its configuration makes: at "+c.where) {
				t.Fatalf("resume: %v", err)
			}
			if len(o.events) != 0 {
				t.Errorf("something ran: %v", o.events)
			}
		})
	}
}

// TestTwoRunsDoNotShareCPUs: a run that wants a CPU another run holds
// refuses at once, naming the other run, and leaves no folder behind; with
// a wait it starts once the CPU is free. A second session on one run
// folder is refused the same way.
func TestTwoRunsDoNotShareCPUs(t *testing.T) {
	plan := parse(t, "version: 1\nservers: [epoll]\nrepetitions: 1\nload: {duration: 200ms, warmup: 0s}\n")
	other, err := lockCPUs(plan.CPUs.Server.CPUs, "run other-run (pid 4242, /elsewhere)", 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	opts := options(t, &out, &observer{})
	_, err = Run(context.Background(), plan, opts)
	want := fmt.Sprintf("CPU %d is in use by run other-run (pid 4242, /elsewhere)", plan.CPUs.Server.CPUs[0])
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("second run: %v, want %q", err, want)
	}
	if entries, _ := os.ReadDir(opts.Output); len(entries) != 0 {
		t.Errorf("a refused run left %d entries in %s", len(entries), opts.Output)
	}

	// Waiting: the other run ends once this one has said it waits.
	opts.WaitForCPUs = time.Minute
	waiting := make(chan struct{})
	opts.Out = &signalWriter{w: &out, on: "waiting for CPU", signal: waiting}
	done := make(chan error, 1)
	var sum *Summary
	go func() {
		var err error
		sum, err = Run(context.Background(), plan, opts)
		done <- err
	}()
	<-waiting
	for _, l := range other {
		l.release()
	}
	if err := <-done; err != nil || !sum.OK() {
		t.Fatalf("run after waiting: %v %+v\n%s", err, sum, out.String())
	}

	// One run folder, two sessions.
	held, err := lockRun(sum.Dir, sum.RunID)
	if err != nil {
		t.Fatal(err)
	}
	defer held.release()
	if _, err := Resume(context.Background(), sum.Dir, options(t, &out, &observer{})); err == nil || !strings.Contains(err.Error(), "is being carried out by run "+sum.RunID+" (pid ") {
		t.Errorf("second session on one folder: %v", err)
	}
}

// signalWriter closes signal the first time what is written contains on.
type signalWriter struct {
	mu     sync.Mutex
	w      io.Writer
	on     string
	signal chan struct{}
}

func (s *signalWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.signal != nil && strings.Contains(string(p), s.on) {
		close(s.signal)
		s.signal = nil
	}
	return s.w.Write(p)
}

// TestBusyMachineIsFlaggedAndRemeasured: a busy loop pinned to the
// server's CPU during the first window makes that window "machine busy";
// it is measured again, and the repetition keeps the quiet measurement
// with the busy one on record.
func TestBusyMachineIsFlaggedAndRemeasured(t *testing.T) {
	p := parse(t, "version: 1\nrepetitions: 1\ncpus: {server: 0, load: 1}\nservers: [epoll]\ninterference: {max: 5%, retries: 1}\nload: {connections: 2, duration: 1s, warmup: 100ms}\n")
	var busy *supervise.Process
	var out bytes.Buffer
	o := observer{act: func(e Event) {
		switch {
		case e.Kind == StageStarted && e.Stage == results.StageLoad && busy == nil:
			var err error
			if busy, err = supervise.Start(supervise.Spec{Name: "busy loop", Argv: []string{"sh", "-c", "while :; do :; done"}, CPUs: p.CPUs.Server.CPUs}); err != nil {
				t.Error(err)
			}
		case e.Kind == Remeasuring && busy != nil:
			busy.Kill()
			<-busy.Exited()
		}
	}}
	defer func() {
		if busy != nil {
			busy.Kill()
		}
	}()
	sum, err := Run(context.Background(), p, options(t, &out, &o))
	if err != nil || !sum.OK() {
		t.Fatalf("%v %+v\n%s", err, sum, out.String())
	}
	m := readRep(t, sum.Dir, p.Cells[0].ID, 1).Machine
	if m == nil || m.Attempts != 2 || len(m.Earlier) != 1 {
		t.Fatalf("machine check %+v", m)
	}
	// The loop takes its share of CPU 0 from the server. The second window
	// is quieter, but other tests may run beside this one (go test runs
	// packages in parallel), so it need not be quiet.
	if e := m.Earlier[0]; !e.Busy || e.Server.Other < 0.25 || e.Server.CPUs != "0" {
		t.Errorf("the busy window: %+v", e)
	}
	if m.Server.Other >= m.Earlier[0].Server.Other {
		t.Errorf("the window after the loop ended: %+v, the busy one %+v", m.Server, m.Earlier[0].Server)
	}
	wantOutput(t, out.String(), "rep 1: machine busy (server CPUs 0: ")
}

// TestPrecision: a cell's interval comes from its good, quiet repetitions;
// below six of them a 95% interval of the median does not exist.
func TestPrecision(t *testing.T) {
	dir := t.TempDir()
	plan := &results.Plan{Repetitions: 3, Adaptive: &results.Adaptive{Max: 10, CI: 0.02}, Cells: []results.Cell{{ID: "tight"}, {ID: "noisy"}, {ID: "few"}}}
	r := &run{dir: dir, m: &results.Manifest{Plan: *plan}}
	write := func(cell string, rps ...float64) {
		for i, v := range rps {
			res := &results.Rep{Cell: cell, Rep: i + 1, Status: results.OK, Load: loadgenResult(t, v)}
			if err := results.WriteRep(dir, res); err != nil {
				t.Fatal(err)
			}
		}
	}
	write("tight", 100000, 100400, 99800, 100100, 99900, 100200)
	write("noisy", 100000, 130000, 80000, 110000, 95000, 60000)
	write("few", 100000, 100001, 100002)
	busy := &results.Rep{Cell: "tight", Rep: 7, Status: results.OK, Load: loadgenResult(t, 10), Machine: &results.MachineLoad{Busy: true}}
	if err := results.WriteRep(dir, busy); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		cell      string
		converged bool
		n         int
	}{{"tight", true, 6}, {"noisy", false, 6}, {"few", false, 3}} {
		p := r.precision(&results.Cell{ID: c.cell})
		if p.converged != c.converged || p.n != c.n {
			t.Errorf("%s: %+v %s", c.cell, p, p)
		}
	}
	if p := r.precision(&results.Cell{ID: "few"}); !strings.Contains(p.String(), "n=3") || p.why == "" {
		t.Errorf("few: %s", p)
	}
}

// loadgenResult is a stored result (the report's fixture) with rps.
func loadgenResult(t *testing.T, rps float64) *loadgen.Result {
	t.Helper()
	stored, err := results.ReadRep(filepath.Join("..", "report", "testdata", "run-a"), "c1", 1)
	if err != nil {
		t.Fatal(err)
	}
	stored.Load.RequestsPerS, stored.Load.Saturated = rps, false
	return stored.Load
}

// TestAdaptiveRepetitions: rounds go on for the cells whose interval is
// too wide: with a ci no cell can reach they stop at max; with a generous
// one at six, the first count with a 95% interval. Generous is 99%: the
// interval's low side cannot reach 100% of a positive median, and 60% was
// missed (60.4%) when a cold first window beside the rest of make test
// answered 8.5K req/s against the others' 22K.
func TestAdaptiveRepetitions(t *testing.T) {
	for _, c := range []struct {
		ci   string
		want int
	}{{"0.001%", 3}, {"99%", 6}} {
		// Other tests beside this one must not make a repetition busy here.
		p := parse(t, "version: 1\nrepetitions: {min: 2, max: "+map[bool]string{true: "3", false: "8"}[c.want == 3]+", ci: "+c.ci+"}\ncpus: {server: 0, load: 1}\nservers: [epoll]\ninterference: {max: 99%}\nload: {connections: 2, duration: 200ms, warmup: 0s}\n")
		var out bytes.Buffer
		var o observer
		sum, err := Run(context.Background(), p, options(t, &out, &o))
		if err != nil || !sum.OK() {
			t.Fatalf("ci %s: %v %+v\n%s", c.ci, err, sum, out.String())
		}
		if got := len(o.started()); got != c.want {
			t.Errorf("ci %s: %d repetitions (%v), want %d\n%s", c.ci, got, o.started(), c.want, out.String())
		}
		wantOutput(t, out.String(), "round 3: 1 cells not yet within ")
	}
}

// TestDriftControl: the control is measured at the start, after every
// `every` repetitions and at the end, its repetitions numbered in order.
func TestDriftControl(t *testing.T) {
	p := parse(t, "version: 1\nrepetitions: 2\ncpus: {server: 0, load: 1}\nservers: [epoll, poll]\ncontrol: {server: epoll, every: 3}\nload: {connections: 2, duration: 200ms, warmup: 0s}\n")
	var out bytes.Buffer
	var o observer
	sum, err := Run(context.Background(), p, options(t, &out, &o))
	if err != nil || !sum.OK() {
		t.Fatalf("%v %+v\n%s", err, sum, out.String())
	}
	e, q := p.Cells[0].ID, p.Cells[1].ID
	want := []string{"control-epoll/1", e + "/1", q + "/1", e + "/2", "control-epoll/2", q + "/2", "control-epoll/3"}
	if got := o.started(); !slices.Equal(got, want) {
		t.Errorf("ran %v, want %v", got, want)
	}
	if r := readRep(t, sum.Dir, "control-epoll", 3); r.Status != results.OK || r.Load.Requests == 0 {
		t.Errorf("the last control: %s %s", r.Status, r.Reason)
	}
	wantOutput(t, out.String(), "control control-epoll 2: ")
}

// TestWorkdirPlaceholder: {workdir} is the folder the run was started in,
// though the server itself starts in its own {dir}.
func TestWorkdirPlaceholder(t *testing.T) {
	p := parse(t, `version: 1
name: workdir
repetitions: 1
cpus: {server: 0, load: 1}
servers:
  - name: ext
    command: [/bin/sh, -c, 'test "$(pwd)" != "$3" && exec "$1" serve epoll --addr "$2"', sh, "{sockbench}", "{addr}", "{workdir}"]
    url: http://{addr}/
load: {connections: 2, duration: 200ms, warmup: 0s}
`)
	var out bytes.Buffer
	var o observer
	sum, err := Run(context.Background(), p, options(t, &out, &o))
	if err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	r := readRep(t, sum.Dir, p.Cells[0].ID, 1)
	if r.Status != results.OK || len(r.Command) != 7 || r.Command[6] != wd {
		t.Errorf("%s %s, command %q, want its last argument %s\n%s", r.Status, r.Reason, r.Command, wd, out.String())
	}
}

// TestResumeAsksBeforeRunningStoredCommands: a stored configuration and
// plan edited together pass replan's check, so the commands of a results
// folder received from someone else are shown and need the user's word;
// given the configuration they came from, they are the user's own.
func TestResumeAsksBeforeRunningStoredCommands(t *testing.T) {
	text := "version: 1\nrepetitions: 1\ncpus: {server: 0, load: 1}\nservers:\n  - name: theirs\n    command: [sh, -c, 'touch ran; exit 1']\n    url: http://{addr}/\nload: {duration: 1s}\n"
	plan := parse(t, text)
	dir := t.TempDir()
	m := &results.Manifest{RunID: "received", Status: results.Interrupted, Started: "2026-01-01T00:00:00Z", ConfigFile: "test.yaml", ConfigText: text, Plan: *plan}
	if err := results.WriteManifest(dir, m); err != nil {
		t.Fatal(err)
	}
	var o observer
	_, err := Resume(context.Background(), dir, Options{Executable: sockbenchBin, Observe: o.observe})
	if err == nil || !strings.Contains(err.Error(), "theirs: sh -c touch ran; exit 1") || !strings.Contains(err.Error(), "--yes") {
		t.Errorf("resume without a configuration or trust: %v", err)
	}
	var asked []string
	refused := errors.New("not confirmed")
	_, err = Resume(context.Background(), dir, Options{Executable: sockbenchBin, Observe: o.observe, Trust: func(p []string) error { asked = p; return refused }})
	if !errors.Is(err, refused) || len(asked) != 1 {
		t.Errorf("resume refused by the user: %v, asked %q", err, asked)
	}
	if len(o.events) != 0 {
		t.Errorf("something ran: %v", o.events)
	}
	// With the configuration named, nothing is asked: the run starts
	// (and is stopped at once).
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	opts := Options{Executable: sockbenchBin, Out: io.Discard, ConfigText: text, ConfigFile: "test.yaml",
		Trust: func([]string) error { t.Error("asked to trust the user's own configuration"); return nil }}
	if _, err := Resume(ctx, dir, opts); err != nil && strings.Contains(err.Error(), "runs programs of its own") {
		t.Errorf("resume with its configuration: %v", err)
	}
}
