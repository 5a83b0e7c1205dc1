package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"math"
	"slices"
	"strconv"

	"github.com/sockbench/sockbench/runner/results"
)

// This file is the only one that knows how results are stored, and it
// knows it only through package results, the format's one definition: it
// reads a results folder into the reporter's own model (model.go), so
// that a truncated or foreign file stops the report with the file's name
// instead of giving a silently shorter table.

// loadRun reads and checks a whole results folder.
func loadRun(dir string) (*run, error) {
	m, err := results.ReadManifest(dir)
	if err != nil {
		return nil, err
	}
	r := &run{
		Dir: dir, ID: m.RunID, Status: string(m.Status), Started: m.Started, Finished: m.Finished, ConfigText: m.ConfigText, Axes: slices.Clone(m.Plan.Axes),
		Repetitions: m.Plan.Repetitions, Adaptive: m.Plan.Adaptive, InterferenceMax: float64(m.Plan.Interference.Max),
		ServerCPUs: len(m.Plan.CPUs.Server.CPUs), Interpreters: m.Machine.Interpreters,
	}
	r.Machine = machineFacts(m.Machine)
	for _, k := range slices.Sorted(maps.Keys(m.Machine.Sysctls)) {
		r.Sysctls = append(r.Sysctls, keyValue{k, m.Machine.Sysctls[k]})
	}
	notRun := map[string]string{}
	for _, u := range m.Unfinished {
		notRun[u.Cell+"\x00"+strconv.Itoa(u.Rep)] = u.Reason
		r.Unfinished = append(r.Unfinished, unfinished{CellID: u.Cell, Rep: u.Rep, Reason: u.Reason})
	}
	for _, mc := range m.Plan.Cells {
		for a := range mc.Axes {
			if !slices.Contains(r.Axes, a) {
				r.Axes = append(r.Axes, a)
			}
		}
		cal, err := results.ReadCalibration(dir, mc.ID)
		if err != nil {
			return nil, err
		}
		c := newCell(mc)
		var stored []*results.Rep
		// With adaptive repetitions a cell has from Repetitions to
		// MaxRepetitions of them: only the first Repetitions are owed.
		for i := 1; i <= m.Plan.MaxRepetitions(); i++ {
			sr, err := results.ReadRep(dir, mc.ID, i)
			if errors.Is(err, fs.ErrNotExist) {
				if _, ok := notRun[mc.ID+"\x00"+strconv.Itoa(i)]; ok || i > m.Plan.Repetitions {
					continue
				}
				path := results.RepPath(dir, mc.ID, i)
				if m.Status == results.Complete {
					return nil, fmt.Errorf("%s is missing, and the manifest neither lists it as unfinished nor marks the run incomplete", path)
				}
				r.Unfinished = append(r.Unfinished, unfinished{CellID: mc.ID, Rep: i, Reason: "no result written (run " + string(m.Status) + ")"})
				continue
			}
			if err != nil {
				return nil, err
			}
			stored = append(stored, sr)
			c.Reps = append(c.Reps, adaptRep(sr, cal))
		}
		target := results.Percent(0)
		if a := m.Plan.Adaptive; a != nil {
			target = a.CI
		}
		c.Precision = results.CellPrecision(&mc, stored, target)
		r.Cells = append(r.Cells, c)
	}
	if !slices.Contains(r.Axes, serverAxis) {
		r.Axes = append([]string{serverAxis}, r.Axes...)
	}
	if pc := m.Plan.Control; pc != nil {
		ctl, err := loadControl(dir, pc)
		if err != nil {
			return nil, err
		}
		r.Control = ctl
	}
	return r, nil
}

func newCell(mc results.Cell) *cell {
	return &cell{ID: mc.ID, Axes: mc.Axes, Mode: mc.Load.Mode, Window: mc.Load.Duration.D()}
}

// loadControl reads the drift control's repetitions, numbered in the order
// they were measured, up to the first that does not exist.
func loadControl(dir string, pc *results.Control) (*control, error) {
	spec, err := json.Marshal(struct {
		Server results.ServerSpec
		Load   results.Load
	}{pc.Cell.Server, pc.Cell.Load})
	if err != nil {
		return nil, fmt.Errorf("%s: the drift control's cell: %w", dir, err)
	}
	ctl := &control{Every: pc.Every, Cell: newCell(pc.Cell), Spec: string(spec)}
	for i := 1; ; i++ {
		sr, err := results.ReadRep(dir, pc.Cell.ID, i)
		if errors.Is(err, fs.ErrNotExist) {
			return ctl, nil
		}
		if err != nil {
			return nil, err
		}
		ctl.Cell.Reps = append(ctl.Cell.Reps, adaptRep(sr, nil))
	}
}

func machineFacts(m results.Machine) []keyValue {
	var f []keyValue
	add := func(k, v string) {
		if v != "" {
			f = append(f, keyValue{k, v})
		}
	}
	add("kernel", m.Kernel)
	add("CPU model", m.CPUModel)
	if m.CPUCount > 0 {
		add("CPUs", strconv.Itoa(m.CPUCount))
	}
	add("arch", m.Arch)
	add("Go", m.GoVersion)
	commit := m.GitCommit
	if m.GitDirty {
		commit += " (with uncommitted changes)"
	}
	add("commit", commit)
	for _, prog := range slices.Sorted(maps.Keys(m.Interpreters)) {
		add(prog, m.Interpreters[prog])
	}
	return f
}

// adaptRep turns one stored repetition into the model, with the cost per
// request computed from the raw counters by package results.
func adaptRep(sr *results.Rep, cal *results.Calibration) *rep {
	rp := &rep{
		Index: sr.Rep, Reason: sr.Reason, Started: sr.Started, Counts: sr.Counts(), Machine: interferenceOf(sr.Machine),
		CPUUserUS: math.NaN(), CPUSysUS: math.NaN(), SyscallsPerReq: math.NaN(), AcceptsPerWakeup: math.NaN(), AcceptSyscallsPerConn: math.NaN(),
		ServerClosesPerReq: results.ServerClosesPerRequest.Of(sr),
		Jain:               results.Jain.Of(sr), MinShare: results.MinShare.Of(sr), MaxShare: results.MaxShare.Of(sr),
	}
	if sr.Status != results.OK {
		if sr.Stage != "" {
			rp.Reason = string(sr.Stage) + ": " + rp.Reason
		}
		return rp
	}
	l := sr.Load
	rp.OK = true
	rp.Requests = l.Requests
	rp.RPS = l.RequestsPerS
	rp.BytesPerS = l.BytesPerS
	rp.LatencyKind = string(l.LatencyKind)
	rp.Agents = l.Agents
	// A distributed result is saturated when one of its agents was:
	// loadgen.Merge keeps the busiest agent's figures, which flag it.
	rp.Saturated = l.Saturated
	rp.ErrorKinds = results.ErrorCounts(l.Errors)
	rp.Errors = l.Errors.Total()
	// ReadRep has decoded it already.
	rp.Hist, _ = l.Histogram()
	for _, p := range l.Series {
		rp.Series = append(rp.Series, secondPoint{T: p.T, Requests: p.Requests, Errors: p.Errors, P50US: p.P50US, P99US: p.P99US, MaxUS: p.MaxUS})
	}
	if c := sr.Cost(cal); c != nil {
		rp.CPUUserUS, rp.CPUSysUS = c.CPUUserUS, c.CPUSysUS
		// No server answers a request without a syscall: zero means the
		// server's syscalls were not counted.
		if c.Syscalls > 0 {
			rp.SyscallsPerReq = c.Syscalls
		}
		if c.AcceptsPerWakeup > 0 {
			rp.AcceptsPerWakeup = c.AcceptsPerWakeup
			rp.AcceptSyscallsPerConn = c.AcceptSyscallsPerConn
		}
	}
	return rp
}

// interferenceOf turns a repetition's interference check into the model.
func interferenceOf(m *results.MachineLoad) *interference {
	if m == nil {
		return nil
	}
	i := &interference{Max: m.Max, Busy: m.Busy, Attempts: m.Attempts, Sets: []cpuSetLoad{
		{Role: "server", CPUs: m.Server.CPUs, Other: m.Server.Other, Steal: m.Server.Steal, Interrupts: m.Server.Interrupts},
		{Role: "load generator", CPUs: m.Load.CPUs, Other: m.Load.Other, Steal: m.Load.Steal, Interrupts: m.Load.Interrupts},
	}}
	for _, e := range m.Earlier {
		i.Earlier = append(i.Earlier, interferenceOf(&e).worst())
	}
	return i
}
