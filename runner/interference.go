package runner

import (
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/internal/procstat"
	"github.com/sockbench/sockbench/runner/results"
)

// A repetition measured while something else ran on the server's or the
// load generator's CPUs measures that something too. No peer tool checks;
// the runner does, around every window: it reads every process's CPU time
// and the CPUs it may use, and what processes other than the server and
// the runner used on the run's CPUs is other work. (/proc/stat's per-CPU
// user and system time would be the obvious source, but it is sampled by
// the tick: on this kind of VM it disagreed with the processes' own
// precise times by a third of a second per second. It still gives steal.)

// machineSample is one end of a window for the interference check.
type machineSample struct {
	at    time.Time
	procs map[int]procstat.ProcessCPU
	cpus  map[int]procstat.CPUTime
}

func sampleMachine() (machineSample, error) {
	procs, err := procstat.Processes()
	if err != nil {
		return machineSample{}, err
	}
	cpus, err := procstat.CPUTimes()
	if err != nil {
		return machineSample{}, err
	}
	return machineSample{at: time.Now(), procs: procs, cpus: cpus}, nil
}

// machineLoad is the check of one window; serverGroup is the server's
// process group (all of it is the server's).
func machineLoad(before, after machineSample, serverGroup int, cpus results.CPUs, max float64) *results.MachineLoad {
	// A CPU's ksoftirqd runs the network's softirqs when there are too
	// many to finish on the way out of interrupts: under a loopback load,
	// the run's own packets (5000 connections put 8% of the load
	// generator's CPU there). /proc/stat counts that time as softirq, so
	// it is among the interrupts shown, not other work.
	ours := func(pid int, p procstat.ProcessCPU) bool {
		return pid == os.Getpid() || p.PGID == serverGroup || strings.HasPrefix(p.Name, "ksoftirqd/")
	}
	m := &results.MachineLoad{
		Server:   setLoad(before, after, cpus.Server.CPUs, ours),
		Load:     setLoad(before, after, cpus.Load.CPUs, ours),
		Max:      max,
		Attempts: 1,
	}
	m.Busy = m.Server.Busy(max) || m.Load.Busy(max)
	return m
}

// setLoad shares out a CPU set's time in the window. A process that may
// run on several CPUs is counted on each in proportion, which is exact for
// the pinned ones and a fair guess for the rest.
func setLoad(before, after machineSample, set []int, ours func(int, procstat.ProcessCPU) bool) results.CPUSetLoad {
	l := results.CPUSetLoad{CPUs: affinity.FormatCPUList(set)}
	window := after.at.Sub(before.at) * time.Duration(len(set))
	if window <= 0 {
		return l
	}
	var other time.Duration
	for pid, p := range after.procs {
		if ours(pid, p) || len(p.Allowed) == 0 {
			continue
		}
		used := p.CPU - before.procs[pid].CPU // a new process: all of it
		on := 0
		for _, c := range p.Allowed {
			if slices.Contains(set, c) {
				on++
			}
		}
		other += used * time.Duration(on) / time.Duration(len(p.Allowed))
	}
	var d procstat.CPUTime
	for _, cpu := range set {
		d = d.Add(after.cpus[cpu].Sub(before.cpus[cpu]))
	}
	l.Other = max(0, float64(other)/float64(window))
	if total := d.Total(); total > 0 {
		l.Steal = float64(d.Steal) / float64(total)
		l.Interrupts = float64(d.IRQ+d.SoftIRQ) / float64(total)
	}
	return l
}
