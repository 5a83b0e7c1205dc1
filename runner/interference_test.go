package runner

import (
	"math"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/procstat"
	"github.com/sockbench/sockbench/runner/results"
)

// TestSoftirqThreadsAreNotOtherWork: the time ksoftirqd spends on the
// load generator's CPU is the network's softirqs, the run's own packets
// under a loopback load, and no reason to measure again; any other
// process's time there is.
func TestSoftirqThreadsAreNotOtherWork(t *testing.T) {
	at := time.Now()
	before := machineSample{at: at, procs: map[int]procstat.ProcessCPU{
		10: {Name: "ksoftirqd/1", Allowed: []int{1}},
		11: {Name: "cron", Allowed: []int{1}},
	}}
	after := machineSample{at: at.Add(time.Second), procs: map[int]procstat.ProcessCPU{
		10: {Name: "ksoftirqd/1", Allowed: []int{1}, CPU: 80 * time.Millisecond},
		11: {Name: "cron", Allowed: []int{1}, CPU: 20 * time.Millisecond},
	}}
	cpus := results.CPUs{Server: results.CPUList{Text: "0", CPUs: []int{0}}, Load: results.CPUList{Text: "1", CPUs: []int{1}}}
	m := machineLoad(before, after, -1, cpus, 0.05)
	if math.Abs(m.Load.Other-0.02) > 1e-9 || m.Busy {
		t.Errorf("load CPU other work %.3f, busy %v: want cron's 0.02 only, and quiet", m.Load.Other, m.Busy)
	}
}
