package procstat

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
)

// CPUTime is one CPU's time since boot by what it was spent on, as
// /proc/stat counts it (guest time is inside User already).
type CPUTime struct {
	User, Nice, System, Idle, IOWait, IRQ, SoftIRQ, Steal time.Duration
}

// Total is all of the CPU's time.
func (c CPUTime) Total() time.Duration {
	return c.User + c.Nice + c.System + c.Idle + c.IOWait + c.IRQ + c.SoftIRQ + c.Steal
}

// Sub is the time spent between an earlier reading and this one.
func (c CPUTime) Sub(e CPUTime) CPUTime {
	return CPUTime{c.User - e.User, c.Nice - e.Nice, c.System - e.System, c.Idle - e.Idle,
		c.IOWait - e.IOWait, c.IRQ - e.IRQ, c.SoftIRQ - e.SoftIRQ, c.Steal - e.Steal}
}

// Add is the sum of two CPUs' times.
func (c CPUTime) Add(o CPUTime) CPUTime {
	return CPUTime{c.User + o.User, c.Nice + o.Nice, c.System + o.System, c.Idle + o.Idle,
		c.IOWait + o.IOWait, c.IRQ + o.IRQ, c.SoftIRQ + o.SoftIRQ, c.Steal + o.Steal}
}

// CPUTimes reads every CPU's line of /proc/stat, by CPU number.
func CPUTimes() (map[int]CPUTime, error) {
	var buf [16 << 10]byte
	b, err := readSmall("/proc/stat", buf[:])
	if err != nil {
		return nil, err
	}
	return parseCPUTimes(b, clockTick())
}

// parseCPUTimes reads the "cpuN ..." lines of /proc/stat; the first eight
// numbers of each are user, nice, system, idle, iowait, irq, softirq and
// steal, in clock ticks. Older kernels write fewer; newer ones more.
func parseCPUTimes(b []byte, tick time.Duration) (map[int]CPUTime, error) {
	out := map[int]CPUTime{}
	for line := range bytes.SplitSeq(b, []byte("\n")) {
		fields := bytes.Fields(line)
		if len(fields) == 0 || !bytes.HasPrefix(fields[0], []byte("cpu")) || len(fields[0]) == 3 {
			continue
		}
		cpu, err := strconv.Atoi(string(fields[0][3:]))
		if err != nil || cpu < 0 {
			return nil, fmt.Errorf("malformed /proc/stat line %q", clip(line))
		}
		var v [8]time.Duration
		for i := range v {
			if i+1 >= len(fields) {
				break
			}
			n, err := strconv.ParseInt(string(fields[i+1]), 10, 64)
			if err != nil || n < 0 || n > math.MaxInt64/int64(tick) {
				return nil, fmt.Errorf("malformed /proc/stat line %q: %q is not a count", clip(line), fields[i+1])
			}
			v[i] = time.Duration(n) * tick
		}
		out[cpu] = CPUTime{v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7]}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("/proc/stat has no per-CPU lines")
	}
	return out, nil
}

// ProcessCPU is one process's CPU time so far (all its threads), its
// process group and the CPUs its main thread may run on.
type ProcessCPU struct {
	// Name is the command name (/proc/PID/comm): "ksoftirqd/1".
	Name    string
	CPU     time.Duration
	PGID    int
	Allowed []int
}

// Processes reads every process's CPU time and allowed CPUs, kernel
// threads included; a process that exits while it is read is left out.
func Processes() (map[int]ProcessCPU, error) {
	names, err := readDirNames("/proc")
	if err != nil {
		return nil, fmt.Errorf("procstat: list /proc: %w", err)
	}
	out := make(map[int]ProcessCPU, len(names))
	tick := clockTick()
	var buf [4096]byte
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		b, err := readSmall("/proc/"+n+"/stat", buf[:])
		if err != nil {
			continue
		}
		st, err := parseStat(b)
		if err != nil {
			continue
		}
		b, err = readSmall("/proc/"+n+"/status", buf[:])
		if err != nil {
			continue
		}
		allowed, err := allowedCPUs(b)
		if err != nil {
			continue
		}
		out[pid] = ProcessCPU{Name: st.name, CPU: time.Duration(st.utime+st.stime) * tick, PGID: st.pgrp, Allowed: allowed}
	}
	return out, nil
}

var allowedKey = []byte("\nCpus_allowed_list:")

// allowedCPUs reads the Cpus_allowed_list line of a /proc status file.
func allowedCPUs(status []byte) ([]int, error) {
	i := bytes.Index(status, allowedKey)
	if i < 0 {
		return nil, fmt.Errorf("no Cpus_allowed_list in %q", clip(status))
	}
	line := status[i+len(allowedKey):]
	if j := bytes.IndexByte(line, '\n'); j >= 0 {
		line = line[:j]
	}
	return affinity.ParseCPUList(string(line))
}
