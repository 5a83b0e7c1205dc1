// Package results is the one definition of how a sockbench run is stored:
// the runner writes these types and the reporter reads them, so the format
// cannot drift between the two. results/README.md in the repository
// describes the same layout for people.
//
//	<output>/<run-id>/manifest.json            the run: config, plan, machine, status, what did not finish
//	<output>/<run-id>/config.yaml              the configuration file as given
//	<output>/<run-id>/cells/<cell>/rep-<n>.json  one repetition of one cell
//	<output>/<run-id>/cells/<cell>/rep-<n>.hlog  its latencies in HdrHistogram's log format
//	<output>/<run-id>/cells/<cell>/strace.json   the cell's syscall calibration (optional)
//	<output>/<run-id>/cells/<cell>/strace.txt    strace's own summary table
//	<output>/<run-id>/report/                  what `sockbench report` builds
//	<output>/latest                            a symbolic link to the newest run
//
// Every file is written atomically (a temporary file renamed over the
// target), so a crash never leaves half a result.
package results

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/atomicfile"
	"github.com/sockbench/sockbench/internal/inside"
	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/verify"
)

// FormatVersion is the version of every file of this package; it changes
// when a field changes meaning, and readers refuse other versions.
const FormatVersion = 1

// File and folder names inside a run's folder.
const (
	ManifestName = "manifest.json"
	ConfigName   = "config.yaml"
	CellsDir     = "cells"
	LatestLink   = "latest"
)

// Status is where a run stands.
type Status string

const (
	// Running: the runner is at work, or died without a word (a crash,
	// kill -9); `sockbench run --resume` carries on in both cases.
	Running Status = "running"
	// Complete: every planned repetition has a result file, successful
	// or failed.
	Complete Status = "complete"
	// Interrupted: stopped by Ctrl-C or a signal; Unfinished says which
	// repetitions never ran.
	Interrupted Status = "interrupted"
	// Aborted: an error of the runner itself (it could not write a
	// result) stopped the run.
	Aborted Status = "aborted"
	// Died: a session's runner ended without a word (kill -9, a crash);
	// the next session found it so. Only sessions have it.
	Died Status = "died"
)

// Manifest describes a run; it is rewritten after every repetition.
type Manifest struct {
	FormatVersion int    `json:"format_version"`
	RunID         string `json:"run_id"`
	Status        Status `json:"status"`
	// Started and Finished are RFC 3339 times of the first session's start
	// and the last session's end.
	Started  string `json:"started"`
	Finished string `json:"finished,omitempty"`
	// Sessions are the invocations that worked on the run: the first and
	// every --resume.
	Sessions []Session `json:"sessions"`
	Machine  Machine   `json:"machine"`
	// Warnings are the setup problems found before the run started.
	Warnings []string `json:"warnings,omitempty"`
	// ConfigFile and ConfigText are the configuration as given; Plan is
	// it expanded, everything a resume needs.
	ConfigFile string `json:"config_file"`
	ConfigText string `json:"config_text"`
	Plan       Plan   `json:"plan"`
	// Unfinished lists the repetitions with no result file, and why.
	Unfinished []Unfinished `json:"unfinished,omitempty"`
}

// Session is one invocation of the runner on this run.
type Session struct {
	Started  string `json:"started"`
	Finished string `json:"finished,omitempty"`
	// Reps is how many repetitions this session wrote a result for.
	Reps      int    `json:"reps"`
	Status    Status `json:"status"`
	GitCommit string `json:"git_commit"`
}

// Machine is what the numbers were measured on.
type Machine struct {
	Kernel   string `json:"kernel"`
	CPUModel string `json:"cpu_model"`
	CPUCount int    `json:"cpu_count"`
	Arch     string `json:"arch"`
	// Sysctls are the kernel settings that shape the results, by name
	// (net.core.somaxconn, ...), as read from /proc/sys.
	Sysctls   map[string]string `json:"sysctls"`
	GoVersion string            `json:"go_version"`
	GitCommit string            `json:"git_commit"`
	// GitDirty is true when the working tree had uncommitted changes.
	GitDirty bool `json:"git_dirty"`
	// Interpreters are the versions of the Python interpreters the
	// plan's servers run, by program ("/usr/bin/python3": "CPython
	// 3.13.5"): the thread measured CPython 3.7 and PyPy 6.0.
	Interpreters map[string]string `json:"interpreters,omitempty"`
}

// Unfinished is a planned repetition that has no result file.
type Unfinished struct {
	Cell   string `json:"cell"`
	Rep    int    `json:"rep"`
	Reason string `json:"reason"`
}

// Outcome says whether a repetition measured anything.
type Outcome string

const (
	OK     Outcome = "ok"
	Failed Outcome = "failed"
)

// Stage names the step of a repetition; a failed one records where.
type Stage string

const (
	StageStart  Stage = "start"  // starting the server process
	StageReady  Stage = "ready"  // waiting for it to accept connections
	StageVerify Stage = "verify" // the conformance check
	StageLoad   Stage = "load"   // warm-up and measurement
	StageStop   Stage = "stop"   // SIGTERM and its stats file
)

// Rep is one repetition of one cell.
type Rep struct {
	FormatVersion int     `json:"format_version"`
	Cell          string  `json:"cell"`
	Rep           int     `json:"rep"`
	Status        Outcome `json:"status"`
	// Stage and Reason say where and why a failed repetition failed.
	Stage    Stage     `json:"stage,omitempty"`
	Reason   string    `json:"reason,omitempty"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// URL and Command are what was measured, placeholders filled in.
	URL     string   `json:"url,omitempty"`
	Command []string `json:"command,omitempty"`
	// VerifyFailures are the conformance cases the server failed.
	VerifyFailures []verify.Result `json:"verify_failures,omitempty"`
	// Load is the attack's result as package loadgen made it.
	Load   *loadgen.Result `json:"load,omitempty"`
	Server *Server         `json:"server,omitempty"`
	// PerRequest is Cost's answer, stored for people reading the file;
	// readers recompute it from the raw counters.
	PerRequest *PerRequest `json:"per_request,omitempty"`
	// Machine is what else ran on the run's CPUs during the window.
	Machine *MachineLoad `json:"machine,omitempty"`
}

// MachineLoad is the interference check of one repetition: how much of
// the server's and the load generator's CPUs went to anything but the
// server and the runner during the measured window.
type MachineLoad struct {
	Server CPUSetLoad `json:"server"`
	Load   CPUSetLoad `json:"load"`
	// Max is the plan's threshold; Busy says a set's Other + Steal passed
	// it, so the numbers of this repetition are not to be compared.
	Max  float64 `json:"max"`
	Busy bool    `json:"busy"`
	// Attempts is how often the repetition was measured: 1, plus one per
	// busy measurement thrown away and taken again.
	Attempts int `json:"attempts"`
	// Earlier are the checks of the measurements thrown away.
	Earlier []MachineLoad `json:"earlier,omitempty"`
}

// CPUSetLoad is one CPU set's time in a window, as shares of it (0–1).
type CPUSetLoad struct {
	CPUs string `json:"cpus"`
	// Other is what processes other than the server and the runner used
	// on the set (a process allowed on several CPUs counted on each in
	// proportion).
	Other float64 `json:"other"`
	// Steal is what the hypervisor gave to other machines.
	Steal float64 `json:"steal"`
	// Interrupts is irq and softirq time: on loopback mostly the
	// workload's own packets, which the kernel does not charge to a
	// process, so it is shown and not counted as interference.
	Interrupts float64 `json:"interrupts"`
}

// Busy reports whether other work or steal passed max on the set.
func (c CPUSetLoad) Busy(max float64) bool { return c.Other+c.Steal > max }

// Server is what the server process cost during the measured window
// (from /proc) and its own counters (for its whole life).
type Server struct {
	PID           int     `json:"pid"`
	WindowSeconds float64 `json:"window_seconds"`
	// The CPU time the server (and its child processes) used in the
	// window.
	CPUUserSeconds float64 `json:"cpu_user_seconds"`
	CPUSysSeconds  float64 `json:"cpu_sys_seconds"`
	// RSS, Threads and Processes at the end of the window.
	RSSBytes  int64 `json:"rss_bytes"`
	Threads   int   `json:"threads"`
	Processes int   `json:"processes"`
	// Context switches in the window.
	VoluntarySwitches   int64 `json:"voluntary_switches"`
	InvoluntarySwitches int64 `json:"involuntary_switches"`
	// Stats are the counters the server wrote when it stopped (built-in
	// servers, and external ones that write the same format).
	Stats      *servers.Stats `json:"stats,omitempty"`
	StatsError string         `json:"stats_error,omitempty"`
	// Exit is how the process ended ("exit status 0", "signal: killed").
	Exit string `json:"exit"`
	// Output is the end of what it printed.
	Output string `json:"output,omitempty"`
}

// Calibration is a cell's strace pass: the server under `strace -c -f`
// answering a fixed number of requests.
type Calibration struct {
	FormatVersion int    `json:"format_version"`
	Cell          string `json:"cell"`
	// Requests is how many requests the server answered, Syscalls how
	// many syscalls all its threads made meanwhile (start-up and shutdown
	// included), ByName the same by syscall.
	Requests int64             `json:"requests"`
	Syscalls uint64            `json:"syscalls"`
	ByName   map[string]uint64 `json:"by_name"`
	// Error says why the pass did not count anything.
	Error string `json:"error,omitempty"`
}

// PerRequest is a repetition's server cost per request answered.
type PerRequest struct {
	CPUUserUS  float64 `json:"cpu_user_us"`
	CPUSysUS   float64 `json:"cpu_sys_us"`
	CPUTotalUS float64 `json:"cpu_total_us"`
	// Syscalls per request, from the server's own counts or the cell's
	// strace calibration (SyscallsFrom says which); 0 when neither.
	Syscalls     float64 `json:"syscalls,omitempty"`
	SyscallsFrom string  `json:"syscalls_from,omitempty"`
	// AcceptsPerWakeup is how many connections an event-loop server
	// accepted per poller wakeup on its listener (thread post #19).
	AcceptsPerWakeup float64 `json:"accepts_per_wakeup,omitempty"`
	// AcceptSyscallsPerConn is what the accept path costs a connection:
	// the accept calls (those that found nothing too) and a poller wait
	// per listener wakeup, over the connections accepted, the count of
	// the thread's model of batches of N, (N+2)/N with the listener
	// registered once (post #18).
	AcceptSyscallsPerConn float64 `json:"accept_syscalls_per_connection,omitempty"`
}

// Cost computes the cost per request from the raw counters; cal may be
// nil. It is nil for a repetition that measured nothing.
func (r *Rep) Cost(cal *Calibration) *PerRequest {
	if r.Status != OK || r.Load == nil || r.Load.Requests == 0 || r.Server == nil {
		return nil
	}
	n := float64(r.Load.Requests)
	s := r.Server
	c := &PerRequest{
		CPUUserUS:  s.CPUUserSeconds * 1e6 / n,
		CPUSysUS:   s.CPUSysSeconds * 1e6 / n,
		CPUTotalUS: (s.CPUUserSeconds + s.CPUSysSeconds) * 1e6 / n,
	}
	// The server's counters cover its whole life (verify and warm-up
	// too), so syscalls are divided by the requests it counted itself.
	if st := s.Stats; st != nil && st.TotalSyscalls() > 0 && st.Requests > 0 {
		c.Syscalls = float64(st.TotalSyscalls()) / float64(st.Requests)
		c.SyscallsFrom = "server"
	} else if cal != nil && cal.Error == "" && cal.Requests > 0 && cal.Syscalls > 0 {
		c.Syscalls = float64(cal.Syscalls) / float64(cal.Requests)
		c.SyscallsFrom = "strace"
	}
	if st := s.Stats; st != nil && st.ListenerWakeups > 0 {
		c.AcceptsPerWakeup = float64(st.Connections) / float64(st.ListenerWakeups)
		if st.Connections > 0 {
			c.AcceptSyscallsPerConn = float64(st.AcceptCalls+st.ListenerWakeups) / float64(st.Connections)
		}
	}
	return c
}

// ManifestPath is the manifest of the run in dir.
func ManifestPath(dir string) string { return filepath.Join(dir, ManifestName) }

// CellDir is the folder of a cell's files.
func CellDir(dir, cell string) string { return filepath.Join(dir, CellsDir, cell) }

// RepPath is where a repetition's result is stored.
func RepPath(dir, cell string, rep int) string {
	return filepath.Join(CellDir(dir, cell), "rep-"+strconv.Itoa(rep)+".json")
}

// HistogramLogPath is where a repetition's latencies are stored in
// HdrHistogram's log format.
func HistogramLogPath(dir, cell string, rep int) string {
	return filepath.Join(CellDir(dir, cell), "rep-"+strconv.Itoa(rep)+".hlog")
}

// CalibrationPath is where a cell's strace calibration is stored, and
// StraceOutputPath strace's own summary.
func CalibrationPath(dir, cell string) string {
	return filepath.Join(CellDir(dir, cell), "strace.json")
}
func StraceOutputPath(dir, cell string) string {
	return filepath.Join(CellDir(dir, cell), "strace.txt")
}

// WriteManifest stores m atomically.
func WriteManifest(dir string, m *Manifest) error {
	m.FormatVersion = FormatVersion
	return writeJSON(ManifestPath(dir), m)
}

// WriteRep stores a repetition atomically, with its histogram log when it
// has a load result.
func WriteRep(dir string, r *Rep) error {
	r.FormatVersion = FormatVersion
	if _, err := MakeCellDir(dir, r.Cell); err != nil {
		return err
	}
	if r.Load != nil {
		path, err := FileOfRun(HistogramLogPath(dir, r.Cell, r.Rep))
		if err != nil {
			return err
		}
		if err := r.Load.WriteHistogramLog(path); err != nil {
			return fmt.Errorf("write the histogram log of %s rep %d: %w", r.Cell, r.Rep, err)
		}
	}
	return writeJSON(RepPath(dir, r.Cell, r.Rep), r)
}

// WriteCalibration stores a cell's calibration atomically.
func WriteCalibration(dir string, c *Calibration) error {
	c.FormatVersion = FormatVersion
	if _, err := MakeCellDir(dir, c.Cell); err != nil {
		return err
	}
	return writeJSON(CalibrationPath(dir, c.Cell), c)
}

// MakeCellDir makes a cell's folder inside the run's folder dir, through
// no link (a run folder may come from someone else).
func MakeCellDir(dir, cell string) (string, error) {
	path, err := inside.Dir(dir, filepath.Join(CellsDir, cell))
	if err != nil {
		return "", fmt.Errorf("create cell folder: %w", err)
	}
	return path, nil
}

// writeJSON stores v at path, a file of a run folder, never through a
// link or into something planted there that is not a regular file.
func writeJSON(path string, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", path, err)
	}
	if path, err = FileOfRun(path); err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'))
}

// FileOfRun checks a file of a run, in a folder made through no link: one
// already there must be a regular file, which a write replaces.
func FileOfRun(path string) (string, error) {
	return inside.File(filepath.Dir(path), filepath.Base(path))
}

// LinkLatest points <output>/latest at the run folder, replacing the link
// atomically so that it always names a run.
func LinkLatest(output, runID string) error {
	tmp := filepath.Join(output, "."+LatestLink+"."+strconv.Itoa(os.Getpid()))
	os.Remove(tmp)
	if err := os.Symlink(runID, tmp); err != nil {
		return fmt.Errorf("link %s: %w", LatestLink, err)
	}
	if err := os.Rename(tmp, filepath.Join(output, LatestLink)); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("link %s: %w", LatestLink, err)
	}
	return nil
}

// plainName reports whether a stored id can name a folder of its own: no
// path, nothing hidden, nothing out of its parent.
func plainName(id string) bool {
	return PlainFileName(id) && !strings.HasPrefix(id, ".")
}

// ReadManifest reads and checks the manifest of the run in dir.
func ReadManifest(dir string) (*Manifest, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("results folder %s does not exist or is not a folder", dir)
	}
	path := ManifestPath(dir)
	var m Manifest
	if err := readJSON(path, &m); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a sockbench results folder: it has no %s", dir, ManifestName)
		}
		return nil, err
	}
	if m.FormatVersion == 0 || m.RunID == "" {
		return nil, fmt.Errorf("%s is not a sockbench manifest (no format version or run id)", path)
	}
	if !plainName(m.RunID) {
		// A comparison's folder is named after it.
		return nil, fmt.Errorf("%s: run id %q is not a plain name (no /, no leading dot)", path, m.RunID)
	}
	if m.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%s has format version %d; this sockbench reads version %d", path, m.FormatVersion, FormatVersion)
	}
	if len(m.Plan.Cells) == 0 {
		return nil, fmt.Errorf("%s plans no cells", path)
	}
	if m.Plan.Repetitions < 1 {
		return nil, fmt.Errorf("%s plans %d repetitions", path, m.Plan.Repetitions)
	}
	seen := map[string]bool{}
	for _, c := range m.Plan.Cells {
		if seen[c.ID] || !plainName(c.ID) {
			return nil, fmt.Errorf("%s: cell id %q is empty, repeated or not a plain name", path, c.ID)
		}
		seen[c.ID] = true
		if c.Axes[ServerAxis] == "" {
			return nil, fmt.Errorf("%s: cell %s has no %s", path, c.ID, ServerAxis)
		}
	}
	return &m, nil
}

// ReadRep reads and checks the result of repetition rep of cell. A
// missing file is an error that wraps os.ErrNotExist.
func ReadRep(dir, cell string, rep int) (*Rep, error) {
	path := RepPath(dir, cell, rep)
	var r Rep
	if err := readJSON(path, &r); err != nil {
		return nil, err
	}
	if r.Cell == "" && r.Rep == 0 && r.Status == "" {
		return nil, fmt.Errorf("%s is not a sockbench repetition result: it has no cell, rep or status", path)
	}
	if r.FormatVersion != FormatVersion {
		return nil, fmt.Errorf("%s has format version %d; this sockbench reads version %d", path, r.FormatVersion, FormatVersion)
	}
	if r.Cell != cell || r.Rep != rep {
		return nil, fmt.Errorf("%s holds cell %q rep %d, expected cell %q rep %d", path, r.Cell, r.Rep, cell, rep)
	}
	switch r.Status {
	case Failed:
		if r.Reason == "" {
			r.Reason = "no reason recorded"
		}
	case OK:
		if r.Load == nil {
			return nil, fmt.Errorf("%s: status ok but no load result", path)
		}
		if r.Load.FormatVersion != loadgen.FormatVersion {
			return nil, fmt.Errorf("%s: its load result has format version %d; this sockbench reads version %d", path, r.Load.FormatVersion, loadgen.FormatVersion)
		}
		if _, err := r.Load.Histogram(); err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	default:
		return nil, fmt.Errorf("%s: status %q is neither ok nor failed", path, r.Status)
	}
	return &r, nil
}

// ReadCalibration reads a cell's calibration; nil and no error when the
// cell has none.
func ReadCalibration(dir, cell string) (*Calibration, error) {
	path := CalibrationPath(dir, cell)
	var c Calibration
	if err := readJSON(path, &c); err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	if c.FormatVersion != FormatVersion || c.Cell != cell {
		return nil, fmt.Errorf("%s is not the calibration of cell %s in format version %d", path, cell, FormatVersion)
	}
	return &c, nil
}

// readJSON decodes one file, turning the decoder's complaints into a
// sentence that names the file and says whether it is cut short or not
// JSON at all.
func readJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(data))) == 0 {
		return fmt.Errorf("%s is empty", path)
	}
	if err := json.Unmarshal(data, v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn) && syn.Offset >= int64(len(data)) || strings.Contains(err.Error(), "unexpected end of JSON input"):
			return fmt.Errorf("%s is truncated: it ends after %d bytes in the middle of a value", path, len(data))
		case errors.As(err, &syn):
			return fmt.Errorf("%s is not a sockbench result: not JSON (%v at byte %d)", path, syn, syn.Offset)
		case errors.As(err, &typ) && typ.Field == "":
			return fmt.Errorf("%s is not a sockbench result: it holds a JSON %s, not an object", path, typ.Value)
		case errors.As(err, &typ):
			return fmt.Errorf("%s is not a sockbench result: field %q holds a %s where a %s belongs", path, typ.Field, typ.Value, typ.Type)
		}
		return fmt.Errorf("%s: %s", path, strings.ReplaceAll(err.Error(), "\n", " "))
	}
	return nil
}

// ErrorCounts are a load result's failed requests by kind, under the
// names loadgen's result file gives them (connect, read, ...).
func ErrorCounts(e loadgen.Errors) map[string]int64 {
	counts := map[string]int64{}
	// The JSON names are loadgen's one definition of the kinds.
	data, _ := json.Marshal(e)
	json.Unmarshal(data, &counts)
	return counts
}
