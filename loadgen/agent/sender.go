package agent

import (
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// sender is the one goroutine that writes to an attack's stream (a gRPC
// stream takes one writer at a time): the reports it is given, in order,
// and a heartbeat whenever nothing else went out for an interval.
type sender struct {
	stream agentpb.Agent_AttackServer
	cpu0   cpuTime
	queue  chan *agentpb.Report
	// failed is closed when a send failed (err says why): the
	// coordinator is gone.
	failed chan struct{}
	err    error
	done   chan struct{}
	once   sync.Once
}

// queueLen holds every second of a long attack should the stream stall
// for a while; beyond it seconds are dropped from the live stream, not
// from the result, which carries them all.
const queueLen = 1024

func newSender(stream agentpb.Agent_AttackServer, heartbeat time.Duration, cpu0 cpuTime) *sender {
	s := &sender{stream: stream, cpu0: cpu0, queue: make(chan *agentpb.Report, queueLen), failed: make(chan struct{}), done: make(chan struct{})}
	go s.run(heartbeat)
	return s
}

func (s *sender) run(heartbeat time.Duration) {
	defer close(s.done)
	t := time.NewTimer(heartbeat)
	defer t.Stop()
	for {
		var r *agentpb.Report
		select {
		case m, ok := <-s.queue:
			if !ok {
				return
			}
			r = m
		case <-t.C:
			r = &agentpb.Report{Msg: &agentpb.Report_Heartbeat{Heartbeat: &agentpb.Heartbeat{
				UnixNano: time.Now().UnixNano(), Cpu: s.cpu(),
			}}}
		}
		if err := s.stream.Send(r); err != nil {
			s.err = err
			close(s.failed)
			return
		}
		t.Reset(heartbeat)
	}
}

func (s *sender) cpu() *agentpb.CPU {
	c := processCPU().sub(s.cpu0)
	return &agentpb.CPU{UserSeconds: c.user.Seconds(), SysSeconds: c.sys.Seconds()}
}

// send queues r, waiting for room unless the stream has failed.
func (s *sender) send(r *agentpb.Report) {
	select {
	case s.queue <- r:
	case <-s.failed:
	}
}

// second queues one second of the window without ever blocking: it is
// called from the engine (loadgen.Options.Progress).
func (s *sender) second(sec loadgen.Second) {
	r := &agentpb.Report{Msg: &agentpb.Report_Second{Second: &agentpb.Second{
		T: sec.T, Requests: sec.Requests, Errors: sec.Errors, Bytes: sec.Bytes,
		Histogram: []byte(sec.Hist), Cpu: s.cpu(),
	}}}
	select {
	case s.queue <- r:
	default:
	}
}

// close sends what is queued and stops; it returns the send error, if any.
func (s *sender) close() error {
	s.once.Do(func() { close(s.queue) })
	<-s.done
	return s.err
}

type cpuTime struct{ user, sys time.Duration }

func (c cpuTime) sub(o cpuTime) cpuTime { return cpuTime{c.user - o.user, c.sys - o.sys} }

// processCPU is the agent process's user and system time so far.
func processCPU() cpuTime {
	var ru unix.Rusage
	if unix.Getrusage(unix.RUSAGE_SELF, &ru) != nil {
		return cpuTime{}
	}
	return cpuTime{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

// usableCPUs is the number of CPUs this process may run on.
func usableCPUs() int {
	var set unix.CPUSet
	if unix.SchedGetaffinity(0, &set) == nil && set.Count() > 0 {
		return set.Count()
	}
	return 1
}
