package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sockbench/sockbench/bench/nginx"
	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/servers"
)

// ourServers are the models `sockbench serve` may know; the others are
// peers with their own way of being started.
var ourServers = map[string]bool{
	"epoll": true, "poll": true, "select": true, "gonet": true, "workerpool": true, "nethttp": true,
}

// defaultServers is the interleaving order of one round.
const defaultServers = "epoll,poll,select,gonet,workerpool,nethttp,nginx,fasthttp,gnet"

// serverLauncher knows how to start the servers by name.
type serverLauncher struct {
	sockbench string
	serveArgs []string
	peers     string
	nginx     string
}

// skipError marks a contestant that cannot run here (not built, not
// installed, not implemented yet): reported and left out, not a failure of
// the run.
type skipError struct{ reason string }

func (e skipError) Error() string { return e.reason }

func skipf(format string, args ...any) error { return skipError{fmt.Sprintf(format, args...)} }

func isSkip(err error) bool {
	var s skipError
	return errors.As(err, &s)
}

// knownServer reports whether the launcher can start name at all.
func knownServer(name string) bool {
	return ourServers[name] || name == "nginx" || name == "fasthttp" || name == "gnet"
}

// command builds the command for server name on addr. The cleanup removes
// whatever it created (nginx's directory).
func (l serverLauncher) command(name, addr string) (*exec.Cmd, func(), error) {
	none := func() {}
	switch {
	case ourServers[name]:
		if _, err := os.Stat(l.sockbench); err != nil {
			return nil, none, skipf("sockbench binary: %v (build it with go build -o bin/sockbench ./cmd/sockbench)", err)
		}
		args := append([]string{"serve", name, "--addr", addr}, l.serveArgs...)
		return exec.Command(l.sockbench, args...), none, nil
	case name == "fasthttp" || name == "gnet":
		bin := filepath.Join(l.peers, name)
		if _, err := os.Stat(bin); err != nil {
			return nil, none, skipf("peer binary: %v (build the peers with cd bench/peers && go build -o bin/ ./...)", err)
		}
		return exec.Command(bin, "--addr", addr, "--gomaxprocs", "1"), none, nil
	case name == "nginx":
		if _, err := os.Stat(l.nginx); err != nil {
			return nil, none, skipf("nginx: %v", err)
		}
		dir, err := os.MkdirTemp("", "sockbench-nginx-")
		if err != nil {
			return nil, none, fmt.Errorf("nginx directory: %w", err)
		}
		cleanup := func() { os.RemoveAll(dir) }
		cfg := nginx.Config{Dir: dir, Addr: addr}
		if err := nginx.WriteConfig(cfg); err != nil {
			cleanup()
			return nil, none, err
		}
		return nginx.Command(l.nginx, cfg), cleanup, nil
	}
	return nil, none, fmt.Errorf("unknown server %q (known: %s)", name, defaultServers)
}

// runningServer is one started server process.
type runningServer struct {
	name    string
	addr    string
	cmd     *exec.Cmd
	output  *tailBuffer
	exited  chan struct{}
	waitErr error
	cleanup func()
	// bodyLen is the size of the page the server answered the check with.
	bodyLen int
}

// startServer starts name pinned to cpus with GOMAXPROCS=1, waits until it
// accepts connections and checks that it answers GET / with a page: a
// server that fails the check is never measured.
func startServer(l serverLauncher, name string, cpus []int) (*runningServer, error) {
	addr, err := servers.FreeLoopbackAddr()
	if err != nil {
		return nil, err
	}
	cmd, cleanup, err := l.command(name, addr)
	if err != nil {
		return nil, err
	}
	out := &tailBuffer{max: 4096}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	// Its own process group, so that stopping it also stops what it forked
	// (nginx's worker) if it does not go quietly.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A forked child that outlives the server must not keep Wait reading
	// its output forever.
	cmd.WaitDelay = 5 * time.Second
	if err := affinity.StartPinned(cmd, cpus); err != nil {
		cleanup()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	s := &runningServer{name: name, addr: addr, cmd: cmd, output: out, exited: make(chan struct{}), cleanup: cleanup}
	go func() {
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	if err := s.waitReady(10 * time.Second); err != nil {
		s.stop(5 * time.Second)
		if ourServers[name] && s.hasExited() {
			// `sockbench serve NAME` refusing to start means the model is not
			// there yet: report, do not fail the whole run.
			return nil, skipf("%v", err)
		}
		return nil, err
	}
	n, err := checkPage("http://" + addr + "/")
	if err == nil && s.hasExited() {
		err = fmt.Errorf("it exited (%v) and something else answered on %s: %s", s.waitErr, addr, s.output.oneLine())
	}
	if err != nil {
		s.stop(5 * time.Second)
		return nil, fmt.Errorf("%s failed the check, not measured: %w", name, err)
	}
	s.bodyLen = n
	return s, nil
}

func (s *runningServer) url() string { return "http://" + s.addr + "/" }

func (s *runningServer) hasExited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// waitReady polls with TCP connects until the server accepts, it exits, or
// the limit passes.
func (s *runningServer) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before accepting connections (%v): %s", s.name, s.waitErr, s.output.oneLine())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not accept connections on %s within %v: %v", s.name, s.addr, limit, err)
		}
	}
}

// stop sends SIGTERM and waits; past the limit it kills the process group.
func (s *runningServer) stop(limit time.Duration) error {
	defer s.cleanup()
	if s.hasExited() {
		return nil
	}
	s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(limit):
	}
	syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-s.exited:
	case <-time.After(limit):
	}
	return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", s.name, limit)
}

// checkPage does one GET and wants a 200 with a body.
func checkPage(url string) (int, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, fmt.Errorf("GET %s: read body: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		return 0, fmt.Errorf("GET %s: %s with %d body bytes, want 200 with a page", url, resp.Status, len(body))
	}
	return len(body), nil
}

// tailBuffer keeps the last max bytes written to it: enough of a server's
// output to explain why it did not start, without growing during a run.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if over := len(t.b) - t.max; over > 0 {
		t.b = append(t.b[:0], t.b[over:]...)
	}
	return len(p), nil
}

// oneLine is the output joined into one line for an error message.
func (t *tailBuffer) oneLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.Join(strings.Fields(string(bytes.TrimSpace(t.b))), " ")
	if s == "" {
		return "(no output)"
	}
	return s
}
