// Package supervise starts a server process and looks after it until it is
// gone: pinned to its CPUs, in a process group of its own, killed if this
// process dies; it tells when the process is ready (WaitReady), stops it
// (SIGTERM, then SIGKILL to the whole group), and says how it ended with the
// end of its output, so that every failure reads as one sentence.
//
// The runner and the benchmark tool (bench/compare) both start their
// servers with it; what to start and what "ready" means for a given server
// stays with them.
package supervise

import (
	"errors"
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/affinity"
)

// outputDrain bounds how long collecting the exit waits for the output
// pipes to close once the process has exited: a process it forked into
// another group, and so not killed with it, may hold them open for good.
const outputDrain = 2 * time.Second

// Spec says what to start.
type Spec struct {
	// Name is what messages call the process: "epoll", "nginx".
	Name string
	// Argv is the command line; Argv[0] is looked up in PATH unless it
	// holds a slash, as exec.Command does.
	Argv []string
	// Env is the whole environment; nil means this process's.
	Env []string
	// Dir is the working directory; empty means this process's.
	Dir string
	// CPUs are the CPUs the process, and every thread and process it will
	// ever create, may run on; none means it is not pinned.
	CPUs []int
	// Output, when set, is given everything the process writes to stdout
	// and stderr as it comes, besides the tail kept for Output and
	// OutputLine; what it returns is ignored, so it cannot stall the
	// process.
	Output io.Writer
	// AfterStart, when set, is called with the process id as soon as the
	// process has started, before Start returns. The process has not been
	// reaped yet, so /proc/PID is there to read even if it exited at once.
	AfterStart func(pid int)
	// BeforeReap, when set, is called with the process id once the process
	// has exited and before it is reaped, while /proc/PID still holds what
	// it spent, all its threads included.
	BeforeReap func(pid int)
}

// Process is one started process. Its methods may be called from any
// goroutine.
type Process struct {
	name       string
	cmd        *exec.Cmd
	out        *tail
	afterStart func(pid int)
	beforeReap func(pid int)

	// mu orders the group kills against the reaping: once the process is
	// reaped its id, which is also its group's, may be taken by another
	// process.
	mu sync.Mutex
	// gone is set, under mu, once the process has exited and its group
	// was killed; it is not reaped yet.
	gone bool

	exited  chan struct{}
	waitErr error

	stopOnce sync.Once
	stopErr  error
}

// Start starts the process described by s and returns once it runs. The
// process has a process group of its own, so that Stop and Kill also end
// what it forks (nginx's workers); it gets SIGKILL if this process dies
// first, so that no server outlives the run that started it; and when it
// exits, what is left of its group is killed, so that nothing it forked
// keeps a port or a CPU after it.
func Start(s Spec) (*Process, error) {
	if len(s.Argv) == 0 {
		return nil, fmt.Errorf("start %s: no command", s.Name)
	}
	out := &tail{also: s.Output}
	cmd := exec.Command(s.Argv[0], s.Argv[1:]...)
	cmd.Env, cmd.Dir = s.Env, s.Dir
	// One writer for both, so that exec copies them through one pipe and
	// the tail keeps their order.
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	cmd.WaitDelay = outputDrain
	p := &Process{name: s.Name, cmd: cmd, out: out, afterStart: s.AfterStart, beforeReap: s.BeforeReap, exited: make(chan struct{})}
	started := make(chan error, 1)
	go p.run(s.CPUs, started)
	if err := <-started; err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", s.Name, strings.Join(s.Argv, " "), err)
	}
	return p, nil
}

// run forks the process and then waits for it, both on one OS thread that
// it keeps until the process is reaped: Linux sends the Pdeathsig when the
// thread that forked the child ends, not when this process does
// (prctl(2), PR_SET_PDEATHSIG), and the runtime ends a locked thread with
// its goroutine.
func (p *Process) run(cpus []int, started chan<- error) {
	runtime.LockOSThread() // never unlocked, see affinity.PinThread
	restore := func() {}
	if len(cpus) > 0 {
		var err error
		if restore, err = affinity.PinThread(cpus); err != nil {
			started <- err
			return
		}
	}
	err := p.cmd.Start()
	restore()
	if err != nil {
		started <- err
		return
	}
	pid := p.cmd.Process.Pid
	if p.afterStart != nil {
		p.afterStart(pid)
	}
	started <- nil
	if err := waitExited(pid); err == nil {
		if p.beforeReap != nil {
			p.beforeReap(pid)
		}
		p.mu.Lock()
		// The zombie keeps the group's id taken, so this reaches only
		// what the process left behind.
		syscall.Kill(-pid, syscall.SIGKILL)
		p.gone = true
		p.mu.Unlock()
	}
	p.waitErr = p.cmd.Wait()
	close(p.exited)
}

// waitExited blocks until pid has exited, leaving it a zombie (WNOWAIT).
func waitExited(pid int) error {
	// The Go runtime's preemption signals interrupt the wait; the loop is
	// bounded because each retry only happens on a signal.
	for range 1 << 20 {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			return err
		}
	}
	return errors.New("waitid interrupted too often")
}

// PID is the process id, which is also its process group's id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Argv is the command line as run.
func (p *Process) Argv() []string { return p.cmd.Args }

// Exited is closed once the process has exited and been reaped.
func (p *Process) Exited() <-chan struct{} { return p.exited }

// HasExited reports whether the process has exited and been reaped.
func (p *Process) HasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// ExitText says how the process ended, as "exit status 2" or "signal:
// killed"; it is "running" until it has.
func (p *Process) ExitText() string {
	if !p.HasExited() {
		return "running"
	}
	if st := p.cmd.ProcessState; st != nil {
		return st.String()
	}
	return p.waitErr.Error()
}

// Err is what waiting for the process returned once it has exited: nil for
// exit status 0, an *exec.ExitError for another status or a signal. It is
// nil while the process runs.
func (p *Process) Err() error {
	if !p.HasExited() {
		return nil
	}
	return p.waitErr
}

// Output is the end of what the process wrote to stdout and stderr, as
// written.
func (p *Process) Output() string { return p.out.text() }

// OutputLine is the end of the output on one line, for an error message.
func (p *Process) OutputLine() string { return p.out.line() }

// Stop sends the process SIGTERM and waits up to limit for it to exit; past
// that it kills the whole process group, waits for the process to be
// reaped and returns an error that says so. A process that exited already
// is not signalled. Calls after the first return the first one's result.
func (p *Process) Stop(limit time.Duration) error { return p.StopBy(0, limit) }

// StopBy is Stop with the SIGTERM sent to pid instead, a process that the
// supervised one ends with (the tracee of strace, which exits when its last
// tracee is gone); 0 means the supervised process itself. The wait and the
// kill are Stop's.
func (p *Process) StopBy(pid int, limit time.Duration) error {
	p.stopOnce.Do(func() { p.stopErr = p.stop(pid, limit) })
	return p.stopErr
}

func (p *Process) stop(target int, limit time.Duration) error {
	p.mu.Lock()
	if !p.gone && !p.HasExited() {
		if target == 0 {
			target = p.PID()
		}
		syscall.Kill(target, syscall.SIGTERM)
	}
	p.mu.Unlock()
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.exited:
		return nil
	case <-timer.C:
	}
	p.Kill()
	return fmt.Errorf("%s did not stop within %v of SIGTERM and was killed", p.name, limit)
}

// Kill ends the process and its whole group at once with SIGKILL and waits
// until the process has been reaped.
func (p *Process) Kill() {
	p.mu.Lock()
	if !p.gone && !p.HasExited() {
		syscall.Kill(-p.PID(), syscall.SIGKILL)
	}
	p.mu.Unlock()
	<-p.exited
}
