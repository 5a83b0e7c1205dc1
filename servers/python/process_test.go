package python

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// The interpreters, named explicitly: Debian's Python packages are for
// Debian's interpreter, and the python3 first on PATH may be another.
const (
	cpython = "/usr/bin/python3"
	pypy    = "/usr/bin/pypy3"
	wrk     = "/usr/bin/wrk"
)

// What each interpreter must import for the servers it runs here (PyPy:
// the pure-Python layers only; httptools and uvloop are CPython
// extensions), and the Debian packages that bring it.
var needs = map[string]struct{ imports, packages string }{
	cpython: {"httptools, jinja2, uvloop, trio", "python3-httptools python3-jinja2 python3-uvloop python3-trio"},
	pypy:    {"jinja2, trio", "pypy3 python3-jinja2 python3-trio"},
}

var (
	checked   sync.Map // interpreter → error, once each
	startWait = 15 * time.Second
	stopWait  = 10 * time.Second
)

// need fails the test, saying what to install, unless interp can import
// what its servers need. Never a skip: a missing package is a broken
// machine, not a reason to test less.
func need(t *testing.T, interp string) {
	t.Helper()
	v, _ := checked.LoadOrStore(interp, sync.OnceValue(func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		out, err := exec.CommandContext(ctx, interp, "-c", "import "+needs[interp].imports).CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s cannot import %s (Debian's %s): run make deps: %v\n%s", interp, needs[interp].imports, needs[interp].packages, err, out)
		}
		return nil
	}))
	if err := v.(func() error)(); err != nil {
		t.Fatal(err)
	}
}

// server is one serve.py process.
type server struct {
	t     *testing.T
	name  string
	addr  string
	cmd   *exec.Cmd
	stats string
	// exited is closed when the process has ended; err is its Wait.
	exited chan struct{}
	err    error
	stderr lockedBuffer
}

// lockedBuffer is a process's stderr, read by a test while the process
// still writes it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *lockedBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

var listeningRE = regexp.MustCompile(`^sockbench (\S+) listening on (\S+)$`)

// start runs serve.py under interp on a free loopback port and waits, at
// most startWait, until it says it listens. The process is killed when
// the test ends, whatever happened.
func start(t *testing.T, interp, layer string, flags ...string) *server {
	t.Helper()
	s := &server{t: t, stats: filepath.Join(t.TempDir(), "stats.json"), exited: make(chan struct{})}
	args := append([]string{"serve.py", layer, "--addr", "127.0.0.1:0", "--stats-file", s.stats}, flags...)
	s.cmd = exec.Command(interp, args...)
	s.cmd.Stderr = &s.stderr
	// Its own process group, so the SO_REUSEPORT processes go with it.
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stdout, err := s.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", interp, err)
	}
	t.Cleanup(func() {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-s.exited
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		s.err = s.cmd.Wait()
		close(s.exited)
	}()
	select {
	case line := <-lines:
		m := listeningRE.FindStringSubmatch(line)
		if m == nil {
			t.Fatalf("%s %s said %q, want \"sockbench NAME listening on ADDR\"", interp, strings.Join(args, " "), line)
		}
		s.name, s.addr = m[1], m[2]
	case <-s.exited:
		t.Fatalf("%s %s exited before listening: %v\n%s", interp, strings.Join(args, " "), s.err, s.stderr.String())
	case <-time.After(startWait):
		t.Fatalf("%s %s did not say it listens within %s\n%s", interp, strings.Join(args, " "), startWait, s.stderr.String())
	}
	return s
}

// stop sends SIGTERM and wants a clean exit, within stopWait, with the
// stats file written; it returns the server's counters.
func (s *server) stop() servers.Stats {
	s.t.Helper()
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(stopWait):
		s.t.Fatalf("%s did not stop within %s of SIGTERM\n%s", s.name, stopWait, s.stderr.String())
	}
	if s.err != nil {
		s.t.Fatalf("%s exited with %v after SIGTERM\n%s", s.name, s.err, s.stderr.String())
	}
	st, err := servers.ReadStatsFile(s.stats)
	if err != nil {
		s.t.Fatalf("%s: stats after SIGTERM: %v", s.name, err)
	}
	if st.Server != s.name {
		s.t.Errorf("stats name the server %q, it said it was %q", st.Server, s.name)
	}
	return st
}

// wrkResult is what a wrk run printed.
type wrkResult struct {
	requests                       uint64
	connect, read, write, timeouts uint64
	non2xx                         uint64
	output                         string
}

var (
	wrkRequestsRE = regexp.MustCompile(`(\d+) requests in`)
	wrkSocketRE   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xxRE   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
)

// runWrk runs `wrk -t1 -c10 -d1s` against addr, bounded to 30 s.
func runWrk(t *testing.T, addr string) wrkResult {
	t.Helper()
	if _, err := os.Stat(wrk); err != nil {
		t.Fatalf("%s: %v: run make deps (Debian's wrk)", wrk, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, wrk, "-t1", "-c10", "-d1s", "http://"+addr+"/").CombinedOutput()
	if err != nil {
		t.Fatalf("wrk: %v\n%s", err, out)
	}
	r := wrkResult{output: string(out)}
	m := wrkRequestsRE.FindStringSubmatch(r.output)
	if m == nil {
		t.Fatalf("wrk printed no request count:\n%s", out)
	}
	r.requests = atou(m[1])
	if m := wrkSocketRE.FindStringSubmatch(r.output); m != nil {
		r.connect, r.read, r.write, r.timeouts = atou(m[1]), atou(m[2]), atou(m[3]), atou(m[4])
	}
	if m := wrkNon2xxRE.FindStringSubmatch(r.output); m != nil {
		r.non2xx = atou(m[1])
	}
	return r
}

func atou(s string) uint64 {
	n, _ := strconv.ParseUint(s, 10, 64)
	return n
}

// exitCode runs serve.py to its end (it must end within 30 s) and returns
// its exit status and what it printed.
func exitCode(t *testing.T, interp string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, interp, append([]string{"serve.py"}, args...)...).CombinedOutput()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0, string(out)
	case errors.As(err, &exit) && ctx.Err() == nil:
		return exit.ExitCode(), string(out)
	}
	t.Fatalf("serve.py %s: %v\n%s", strings.Join(args, " "), err, out)
	return 0, ""
}
