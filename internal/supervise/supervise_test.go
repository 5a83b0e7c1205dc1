package supervise

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/affinity"
)

// helperEnv makes the test binary act as one of the child processes below
// instead of running tests; helperAddr and helperFIFO are its arguments.
const (
	helperEnv  = "SUPERVISE_TEST_HELPER"
	helperAddr = "SUPERVISE_TEST_ADDR"
	helperFIFO = "SUPERVISE_TEST_FIFO"
)

func TestMain(m *testing.M) {
	switch os.Getenv(helperEnv) {
	case "":
		os.Exit(m.Run())
	case "listen":
		os.Exit(listenHelper())
	case "parent":
		os.Exit(parentHelper())
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode")
		os.Exit(1)
	}
}

// listenHelper waits until the FIFO it was given, if any, is opened for
// writing, then listens on its address and accepts until it is killed.
func listenHelper() int {
	if fifo := os.Getenv(helperFIFO); fifo != "" {
		if _, err := os.ReadFile(fifo); err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
	}
	ln, err := net.Listen("tcp", os.Getenv(helperAddr))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for {
		if c, err := ln.Accept(); err == nil {
			c.Close()
		}
	}
}

// parentHelper starts a listening helper of its own, pinned, waits until it
// accepts, prints its pid and lives until the test kills it.
func parentHelper() int {
	addr := os.Getenv(helperAddr)
	cpus, err := affinity.Allowed(os.Getpid())
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	p, err := Start(Spec{Name: "child", Argv: []string{os.Args[0]}, Env: helperEnviron("listen", addr, ""), CPUs: cpus[len(cpus)-1:]})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := p.WaitReady(context.Background(), 10*time.Second, Accepts(addr)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Println(p.PID())
	// Not a synchronisation: the test kills this process long before.
	time.Sleep(time.Minute)
	return 1
}

func helperEnviron(mode, addr, fifo string) []string {
	return append(os.Environ(), helperEnv+"="+mode, helperAddr+"="+addr, helperFIFO+"="+fifo)
}

// freeAddr is a loopback address nothing listens on, as far as the kernel
// knows now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func start(t *testing.T, s Spec) *Process {
	t.Helper()
	p, err := Start(s)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	return p
}

// waitGone waits, up to limit, until pid (not necessarily a child of this
// process) has exited.
func waitGone(t *testing.T, pidfd int, what string, limit time.Duration) {
	t.Helper()
	fds := []unix.PollFd{{Fd: int32(pidfd), Events: unix.POLLIN}}
	for {
		n, err := unix.Poll(fds, int(limit.Milliseconds()))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			t.Fatalf("poll the pidfd of %s: %v", what, err)
		}
		if n == 0 {
			t.Fatalf("%s is still alive %v later", what, limit)
		}
		return
	}
}

func pidfd(t *testing.T, pid int) int {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		t.Skipf("pidfd_open is needed to watch a process that is not our child: %v", err)
	}
	t.Cleanup(func() { unix.Close(fd) })
	return fd
}

// lineWriter sends every complete line written to it on lines.
type lineWriter struct {
	mu    sync.Mutex
	buf   []byte
	lines chan string
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, b...)
	for {
		line, rest, ok := strings.Cut(string(w.buf), "\n")
		if !ok {
			break
		}
		w.buf = []byte(rest)
		select {
		case w.lines <- line:
		default:
		}
	}
	return len(b), nil
}

func firstLine(t *testing.T, lines <-chan string, p *Process) string {
	t.Helper()
	select {
	case l := <-lines:
		return l
	case <-p.Exited():
		t.Fatalf("exited (%s) before printing a line: %s", p.ExitText(), p.OutputLine())
	case <-time.After(10 * time.Second):
		t.Fatalf("printed no line within 10s: %s", p.OutputLine())
	}
	return ""
}

func TestOwnProcessGroupAndPinned(t *testing.T) {
	cpus, err := affinity.Allowed(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	want := cpus[len(cpus)-1:]
	if len(cpus) < 2 {
		t.Logf("only CPUs %v may be used: the pinned set is all of them, which proves less", cpus)
	}
	lines := &lineWriter{lines: make(chan string, 1)}
	p := start(t, Spec{Name: "sh", Argv: []string{"sh", "-c", "grep Cpus_allowed_list /proc/self/status; exec sleep 30"}, CPUs: want, Output: lines})
	got := firstLine(t, lines.lines, p)
	if f := strings.Fields(got); len(f) != 2 || f[1] != affinity.FormatCPUList(want) {
		t.Errorf("the child says %q, want it pinned to %s", got, affinity.FormatCPUList(want))
	}
	pgid, err := syscall.Getpgid(p.PID())
	if err != nil {
		t.Fatal(err)
	}
	if pgid != p.PID() || pgid == syscall.Getpgrp() {
		t.Errorf("the child's process group is %d, want its own (%d), not ours (%d)", pgid, p.PID(), syscall.Getpgrp())
	}
	if err := p.Stop(10 * time.Second); err != nil {
		t.Fatal(err)
	}
	if got := p.ExitText(); got != "signal: terminated" {
		t.Errorf("ExitText after Stop = %q, want signal: terminated", got)
	}
	if err := p.Stop(time.Second); err != nil {
		t.Errorf("a second Stop: %v", err)
	}
}

func TestStopKillsTheGroupOfAChildThatIgnoresSIGTERM(t *testing.T) {
	lines := &lineWriter{lines: make(chan string, 1)}
	// The shell prints the pid of its own child once SIGTERM is ignored:
	// both then ignore it.
	p := start(t, Spec{Name: "stubborn", Argv: []string{"sh", "-c", `trap "" TERM; sleep 30 & echo $!; wait`}, Output: lines})
	grandchild, err := strconv.Atoi(firstLine(t, lines.lines, p))
	if err != nil {
		t.Fatal(err)
	}
	// The shell has not reaped it, so the pid is still the sleep's.
	fd := pidfd(t, grandchild)
	const limit = 200 * time.Millisecond
	err = p.Stop(limit)
	if err == nil || !strings.Contains(err.Error(), "stubborn did not stop within 200ms of SIGTERM and was killed") {
		t.Errorf("Stop = %v, want it to say it killed stubborn", err)
	}
	if !p.HasExited() || p.ExitText() != "signal: killed" {
		t.Errorf("after Stop: exited %v, %s", p.HasExited(), p.ExitText())
	}
	waitGone(t, fd, "the shell's child", 10*time.Second)
}

func TestExitBeforeReadyNamesStatusAndOutput(t *testing.T) {
	p := start(t, Spec{Name: "broken", Argv: []string{"sh", "-c", "echo 'no such file: server.conf' >&2; exit 3"}})
	err := p.WaitReady(context.Background(), 10*time.Second, Accepts(freeAddr(t)))
	want := "broken exited before it was ready (exit status 3): no such file: server.conf"
	if err == nil || err.Error() != want {
		t.Fatalf("WaitReady = %v, want %q", err, want)
	}
}

func TestWaitReadyOnceAListenerAppears(t *testing.T) {
	addr := freeAddr(t)
	fifo := t.TempDir() + "/go"
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	p := start(t, Spec{Name: "late", Argv: []string{os.Args[0]}, Env: helperEnviron("listen", addr, fifo)})
	// The helper listens only once the FIFO is opened, which the first
	// failed check does: WaitReady must have tried before and keep trying.
	var failed sync.Once
	var tries int
	check := func(ctx context.Context) error {
		tries++
		err := Accepts(addr)(ctx)
		if err != nil {
			failed.Do(func() {
				go func() {
					if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil {
						f.Close()
					}
				}()
			})
		}
		return err
	}
	if err := p.WaitReady(context.Background(), 10*time.Second, check); err != nil {
		t.Fatal(err)
	}
	if tries < 2 {
		t.Errorf("ready after %d checks, want a failed one first", tries)
	}
}

func TestWaitReadyTimeoutAndCancel(t *testing.T) {
	p := start(t, Spec{Name: "quiet", Argv: []string{"sleep", "30"}})
	addr := freeAddr(t)
	err := p.WaitReady(context.Background(), 50*time.Millisecond, Accepts(addr))
	if err == nil || !strings.HasPrefix(err.Error(), "quiet was not ready within 50ms: dial tcp "+addr) {
		t.Errorf("WaitReady past its limit = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.WaitReady(ctx, 10*time.Second, Accepts(addr)); err != context.Canceled {
		t.Errorf("WaitReady with a cancelled context = %v", err)
	}
}

func TestAnswersHTTP(t *testing.T) {
	addr := freeAddr(t)
	p := start(t, Spec{Name: "listener", Argv: []string{os.Args[0]}, Env: helperEnviron("listen", addr, "")})
	// The helper accepts and closes without answering: a listener, but no
	// HTTP server.
	if err := p.WaitReady(context.Background(), 10*time.Second, Accepts(addr)); err != nil {
		t.Fatal(err)
	}
	err := p.WaitReady(context.Background(), 100*time.Millisecond, AnswersHTTP("http://"+addr+"/"))
	if err == nil || !strings.Contains(err.Error(), "listener was not ready within 100ms") {
		t.Errorf("AnswersHTTP of a server that does not answer = %v", err)
	}
}

func TestDiesWithItsParent(t *testing.T) {
	addr := freeAddr(t)
	parent := exec.Command(os.Args[0])
	parent.Env = helperEnviron("parent", addr, "")
	var stderr strings.Builder
	parent.Stderr = &stderr
	out, err := parent.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := parent.Start(); err != nil {
		t.Fatal(err)
	}
	defer parent.Wait()
	defer parent.Process.Kill()
	// The parent prints the pid once its child accepts connections: the
	// child outlived the start of its pinned fork, then ends with its
	// parent.
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("the parent printed no pid: %v: %s", err, stderr.String())
	}
	child, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	fd := pidfd(t, child)
	if err := parent.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, fd, "the child of a killed parent", 10*time.Second)
}

// procState is the state letter in /proc/PID/stat, or the error reading it.
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return err.Error()
	}
	// pid (comm) state ...
	_, after, _ := strings.Cut(string(b), ") ")
	state, _, _ := strings.Cut(after, " ")
	return state
}

// TestHooksSeeTheProcessUnreaped: a process that exits at once is still
// there to read when AfterStart runs, and a zombie when BeforeReap does.
func TestHooksSeeTheProcessUnreaped(t *testing.T) {
	var first, last string
	p := start(t, Spec{Name: "true", Argv: []string{"true"},
		AfterStart: func(pid int) { first = procState(pid) },
		BeforeReap: func(pid int) { last = procState(pid) }})
	if len(first) != 1 {
		t.Errorf("AfterStart could not read the process: %s", first)
	}
	select {
	case <-p.Exited():
	case <-time.After(10 * time.Second):
		t.Fatal("true did not exit within 10s")
	}
	if last != "Z" {
		t.Errorf("BeforeReap saw state %q, want Z", last)
	}
	if got := p.ExitText(); got != "exit status 0" || p.Err() != nil {
		t.Errorf("ExitText = %q, Err = %v", got, p.Err())
	}
}

func TestStartErrorNamesTheCommand(t *testing.T) {
	_, err := Start(Spec{Name: "ghost", Argv: []string{"/nonexistent/ghost", "--addr", "x"}})
	if err == nil || !strings.HasPrefix(err.Error(), "start ghost (/nonexistent/ghost --addr x): ") {
		t.Errorf("Start = %v", err)
	}
	if _, err := Start(Spec{Name: "ghost", Argv: []string{"true"}, CPUs: []int{1 << 20}}); err == nil || !strings.Contains(err.Error(), "not online") {
		t.Errorf("Start on a CPU that does not exist = %v", err)
	}
}

func TestOutputTail(t *testing.T) {
	cases := []struct {
		name, written, line string
	}{
		{"nothing", "", "(no output)"},
		{"lines joined", "listening\n  on :80\n", "listening on :80"},
		{"long", strings.Repeat("x", lineSize) + " end", "…" + strings.Repeat("x", lineSize-4) + " end"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var o tail
			o.Write([]byte(c.written))
			if got := o.line(); got != c.line {
				t.Errorf("line() = %q, want %q", got, c.line)
			}
		})
	}
	var o tail
	o.Write([]byte(strings.Repeat("a", tailSize)))
	o.Write([]byte("the end"))
	if got := o.text(); len(got) != tailSize || !strings.HasSuffix(got, "the end") {
		t.Errorf("text() keeps %d bytes ending %q, want %d ending with the last write", len(got), got[len(got)-10:], tailSize)
	}
}
