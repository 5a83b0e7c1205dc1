package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// This file is the only one that knows how results are stored. It reads a
// results folder into the reporter's own model (model.go), checking as it
// goes, so that a truncated or foreign file stops the report with the
// file's name instead of giving a silently shorter table.
//
// storedManifest and storedRep stand in for the runner's result types,
// which did not exist yet when the reporter was written: they follow the
// layout the runner's design describes. When the runner's package lands,
// they and loadRun's file paths are all that change (plus the fixture
// writer in fixture_test.go, which regenerates testdata with -update).

// manifestName is the file every results folder starts from.
const manifestName = "manifest.json"

// supportedFormat is the manifest format version this reporter reads.
const supportedFormat = 1

// storedManifest is the run's manifest as the runner writes it.
type storedManifest struct {
	FormatVersion int    `json:"format_version"`
	RunID         string `json:"run_id"`
	Status        string `json:"status"`
	Started       string `json:"started,omitempty"`
	Finished      string `json:"finished,omitempty"`
	ConfigText    string `json:"config_text"`
	Machine       struct {
		Kernel    string            `json:"kernel"`
		CPUModel  string            `json:"cpu_model"`
		CPUCount  int               `json:"cpu_count"`
		Arch      string            `json:"arch,omitempty"`
		Sysctls   map[string]string `json:"sysctls,omitempty"`
		GoVersion string            `json:"go_version"`
		GitCommit string            `json:"git_commit"`
	} `json:"machine"`
	// Axes gives the axis names in configuration order.
	Axes  []string `json:"axes"`
	Cells []struct {
		ID   string            `json:"id"`
		Axes map[string]string `json:"axes"`
		Reps int               `json:"reps"`
	} `json:"cells"`
	Unfinished []struct {
		Cell   string `json:"cell"`
		Rep    int    `json:"rep"`
		Reason string `json:"reason"`
	} `json:"unfinished,omitempty"`
}

// storedRep is one repetition's result file.
type storedRep struct {
	Cell   string `json:"cell"`
	Rep    int    `json:"rep"`
	Status string `json:"status"` // "ok" or "failed"
	Reason string `json:"reason,omitempty"`
	Load   *struct {
		Requests         int64            `json:"requests"`
		Errors           map[string]int64 `json:"errors"`
		RequestsPerSec   float64          `json:"requests_per_sec"`
		LatencyKind      string           `json:"latency_kind"`
		LatencyHistogram string           `json:"latency_histogram"`
		Series           []struct {
			T        float64 `json:"t"`
			Requests int64   `json:"requests"`
			Errors   int64   `json:"errors"`
			Bytes    int64   `json:"bytes"`
			P50US    float64 `json:"p50_us"`
			P99US    float64 `json:"p99_us"`
			MaxUS    float64 `json:"max_us"`
		} `json:"series"`
		Saturated bool `json:"saturated"`
	} `json:"load,omitempty"`
	Server *struct {
		CPUUserSeconds float64 `json:"cpu_user_seconds"`
		CPUSysSeconds  float64 `json:"cpu_sys_seconds"`
		Stats          *struct {
			Connections     uint64            `json:"connections"`
			ListenerWakeups uint64            `json:"listener_wakeups"`
			Requests        uint64            `json:"requests"`
			Syscalls        map[string]uint64 `json:"syscalls"`
		} `json:"stats,omitempty"`
	} `json:"server,omitempty"`
}

// repPath is where the runner stores a repetition's result.
func repPath(dir, cellID string, rep int) string {
	return filepath.Join(dir, "cells", cellID, "rep-"+strconv.Itoa(rep)+".json")
}

// loadRun reads and checks a whole results folder.
func loadRun(dir string) (*run, error) {
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return nil, fmt.Errorf("results folder %s does not exist or is not a folder", dir)
	}
	mpath := filepath.Join(dir, manifestName)
	var m storedManifest
	if err := readJSON(mpath, &m); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%s is not a sockbench results folder: it has no %s", dir, manifestName)
		}
		return nil, err
	}
	if m.FormatVersion == 0 || m.RunID == "" {
		return nil, fmt.Errorf("%s is not a sockbench manifest (no format version or run id)", mpath)
	}
	if m.FormatVersion != supportedFormat {
		return nil, fmt.Errorf("%s has format version %d; this sockbench reads version %d", mpath, m.FormatVersion, supportedFormat)
	}
	if len(m.Cells) == 0 {
		return nil, fmt.Errorf("%s plans no cells", mpath)
	}
	r := &run{Dir: dir, ID: m.RunID, Status: m.Status, Started: m.Started, Finished: m.Finished, ConfigText: m.ConfigText, Axes: m.Axes}
	r.Machine = machineFacts(m)
	keys := make([]string, 0, len(m.Machine.Sysctls))
	for k := range m.Machine.Sysctls {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		r.Sysctls = append(r.Sysctls, keyValue{k, m.Machine.Sysctls[k]})
	}
	notRun := map[string]string{}
	for _, u := range m.Unfinished {
		notRun[u.Cell+"\x00"+strconv.Itoa(u.Rep)] = u.Reason
		r.Unfinished = append(r.Unfinished, unfinished{CellID: u.Cell, Rep: u.Rep, Reason: u.Reason})
	}
	seen := map[string]bool{}
	for _, mc := range m.Cells {
		if mc.ID == "" || seen[mc.ID] {
			return nil, fmt.Errorf("%s: cell id %q is empty or repeated", mpath, mc.ID)
		}
		seen[mc.ID] = true
		if mc.Axes[serverAxis] == "" {
			return nil, fmt.Errorf("%s: cell %s has no %s", mpath, mc.ID, serverAxis)
		}
		for a := range mc.Axes {
			if !slices.Contains(r.Axes, a) {
				r.Axes = append(r.Axes, a)
			}
		}
		c := &cell{ID: mc.ID, Axes: mc.Axes}
		for i := 1; i <= mc.Reps; i++ {
			path := repPath(dir, mc.ID, i)
			var sr storedRep
			err := readJSON(path, &sr)
			if errors.Is(err, fs.ErrNotExist) {
				if _, ok := notRun[mc.ID+"\x00"+strconv.Itoa(i)]; ok {
					continue
				}
				if m.Status == "complete" {
					return nil, fmt.Errorf("%s is missing, and the manifest neither lists it as unfinished nor marks the run incomplete", path)
				}
				r.Unfinished = append(r.Unfinished, unfinished{CellID: mc.ID, Rep: i, Reason: "no result written (run " + m.Status + ")"})
				continue
			}
			if err != nil {
				return nil, err
			}
			rp, err := adaptRep(path, mc.ID, i, sr)
			if err != nil {
				return nil, err
			}
			c.Reps = append(c.Reps, rp)
		}
		r.Cells = append(r.Cells, c)
	}
	if !slices.Contains(r.Axes, serverAxis) {
		r.Axes = append([]string{serverAxis}, r.Axes...)
	}
	return r, nil
}

func machineFacts(m storedManifest) []keyValue {
	var f []keyValue
	add := func(k, v string) {
		if v != "" {
			f = append(f, keyValue{k, v})
		}
	}
	add("kernel", m.Machine.Kernel)
	add("CPU model", m.Machine.CPUModel)
	if m.Machine.CPUCount > 0 {
		add("CPUs", strconv.Itoa(m.Machine.CPUCount))
	}
	add("arch", m.Machine.Arch)
	add("Go", m.Machine.GoVersion)
	add("commit", m.Machine.GitCommit)
	return f
}

// adaptRep turns one stored repetition into the model, computing the cost
// per request from the raw counters rather than from any stored ratio.
func adaptRep(path, cellID string, index int, sr storedRep) (*rep, error) {
	if sr.Cell == "" && sr.Rep == 0 && sr.Status == "" {
		return nil, fmt.Errorf("%s is not a sockbench repetition result: it has no cell, rep or status", path)
	}
	if sr.Cell != cellID || sr.Rep != index {
		return nil, fmt.Errorf("%s holds cell %q rep %d, expected cell %q rep %d", path, sr.Cell, sr.Rep, cellID, index)
	}
	rp := &rep{Index: index, File: path, Reason: sr.Reason, CPUUserUS: math.NaN(), CPUSysUS: math.NaN(), SyscallsPerReq: math.NaN(), AcceptsPerWakeup: math.NaN()}
	switch sr.Status {
	case "failed":
		if rp.Reason == "" {
			rp.Reason = "no reason recorded"
		}
		return rp, nil
	case "ok":
	default:
		return nil, fmt.Errorf("%s: status %q is neither ok nor failed", path, sr.Status)
	}
	if sr.Load == nil {
		return nil, fmt.Errorf("%s: status ok but no load result", path)
	}
	l := sr.Load
	rp.OK = true
	rp.Requests = l.Requests
	rp.RPS = l.RequestsPerSec
	rp.LatencyKind = l.LatencyKind
	rp.Saturated = l.Saturated
	rp.ErrorKinds = l.Errors
	for _, n := range l.Errors {
		rp.Errors += n
	}
	if l.LatencyHistogram != "" {
		h, err := hdrhistogram.Decode([]byte(l.LatencyHistogram))
		if err != nil {
			return nil, fmt.Errorf("%s: latency histogram does not decode: %w", path, err)
		}
		rp.Hist = h
	}
	for _, p := range l.Series {
		rp.Series = append(rp.Series, secondPoint{T: p.T, Requests: p.Requests, Errors: p.Errors, P50US: p.P50US, P99US: p.P99US, MaxUS: p.MaxUS})
	}
	if s := sr.Server; s != nil && l.Requests > 0 {
		n := float64(l.Requests)
		rp.CPUUserUS = s.CPUUserSeconds * 1e6 / n
		rp.CPUSysUS = s.CPUSysSeconds * 1e6 / n
		if st := s.Stats; st != nil {
			var calls uint64
			for _, v := range st.Syscalls {
				calls += v
			}
			if calls > 0 && st.Requests > 0 {
				rp.SyscallsPerReq = float64(calls) / float64(st.Requests)
			}
			if st.ListenerWakeups > 0 {
				rp.AcceptsPerWakeup = float64(st.Connections) / float64(st.ListenerWakeups)
			}
		}
	}
	return rp, nil
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
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
