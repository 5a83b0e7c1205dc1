package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
)

// binPath is the sockbench binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sockbench-e2e")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "sockbench")
	// The runs these tests start lock CPUs among themselves only, not
	// against the runs of the runner package's tests beside them.
	os.Setenv("SOCKBENCH_LOCK_DIR", filepath.Join(dir, "locks"))
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build sockbench: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// serverProc is a `sockbench serve` child process.
type serverProc struct {
	cmd   *exec.Cmd
	addr  string
	stats string
}

// startServe runs `sockbench serve` on a free loopback port and waits for
// its "listening on" line, which it prints only once it accepts.
func startServe(t *testing.T, args ...string) *serverProc {
	t.Helper()
	stats := filepath.Join(t.TempDir(), "stats.json")
	args = append([]string{"serve"}, args...)
	args = append(args, "--addr", "127.0.0.1:0", "--stats-file", stats)
	cmd, addr := startListening(t, args...)
	return &serverProc{cmd: cmd, addr: addr, stats: stats}
}

// startListening runs sockbench with args until the test ends and returns
// the address its first line says it listens on ("... listening on
// ADDR"), which serve and agent print only once they accept.
func startListening(t *testing.T, args ...string) (*exec.Cmd, string) {
	t.Helper()
	return startListeningLogged(t, os.Stderr, args...)
}

// startListeningLogged is startListening with the process's stderr (an
// agent's log) going to stderr.
func startListeningLogged(t *testing.T, stderr io.Writer, args ...string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		io.Copy(io.Discard, out)
	}()
	select {
	case line, ok := <-lines:
		i := strings.LastIndex(line, " on ")
		if !ok || i < 0 {
			t.Fatalf("%v: no listening line (got %q)", args, line)
		}
		return cmd, line[i+4:]
	case <-time.After(10 * time.Second):
		t.Fatalf("%v: not listening after 10s", args)
	}
	return nil, ""
}

// stop sends SIGTERM and returns how long the process took to exit.
func (p *serverProc) stop(t *testing.T) time.Duration {
	t.Helper()
	start := time.Now()
	p.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exited with %v after SIGTERM", err)
		}
	case <-time.After(5 * time.Second):
		p.cmd.Process.Kill()
		t.Fatal("server still running 5s after SIGTERM")
	}
	return time.Since(start)
}

func need(t *testing.T, tool string) {
	t.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		t.Fatalf("%s is not installed: `make deps` installs it (scripts/deps): %v", tool, err)
	}
}

var (
	wrkRequests = regexp.MustCompile(`(\d+) requests in`)
	wrkErrors   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
	wrkNon2xx   = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	abFailed    = regexp.MustCompile(`Failed requests:\s+(\d+)`)
	abComplete  = regexp.MustCompile(`Complete requests:\s+(\d+)`)
	abNon2xx    = regexp.MustCompile(`Non-2xx responses:\s+(\d+)`)
)

// runWrk runs a short wrk and fails on any socket error or non-2xx answer.
func runWrk(t *testing.T, url string, extra ...string) int {
	t.Helper()
	args := append([]string{"-t1", "-c20", "-d1s", "--timeout", "2s"}, extra...)
	out, err := exec.Command("wrk", append(args, url)...).CombinedOutput()
	if err != nil {
		t.Fatalf("wrk %v: %v\n%s", args, err, out)
	}
	if m := wrkErrors.FindSubmatch(out); m != nil {
		t.Fatalf("wrk %v reported socket errors:\n%s", args, out)
	}
	if m := wrkNon2xx.FindSubmatch(out); m != nil {
		t.Fatalf("wrk %v got non-2xx responses:\n%s", args, out)
	}
	m := wrkRequests.FindSubmatch(out)
	if m == nil {
		t.Fatalf("wrk output not understood:\n%s", out)
	}
	n, _ := strconv.Atoi(string(m[1]))
	if n == 0 {
		t.Fatalf("wrk made no requests:\n%s", out)
	}
	return n
}

// Every server talks to real clients written outside Go with zero errors.
func TestExternalClients(t *testing.T) {
	need(t, "wrk")
	need(t, "curl")
	need(t, "ab")
	for _, m := range servers.Models() {
		t.Run(m.Name, func(t *testing.T) {
			p := startServe(t, m.Name)
			url := "http://" + p.addr + "/"

			out, err := exec.Command("curl", "-sS", "--max-time", "5", "-D", "-", url).CombinedOutput()
			if err != nil || !strings.HasPrefix(string(out), "HTTP/1.1 200") || !strings.Contains(string(out), "127.0.0.1") {
				t.Fatalf("curl: %v\n%s", err, out)
			}
			out, err = exec.Command("curl", "-sS", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}", "--http1.0", url).CombinedOutput()
			if err != nil || string(out) != "200" {
				t.Fatalf("curl --http1.0: %v %s", err, out)
			}

			keepAlive := runWrk(t, url)
			closing := runWrk(t, url, "-H", "Connection: close")

			out, err = exec.Command("ab", "-k", "-q", "-n", "2000", "-c", "20", "-s", "5", url).CombinedOutput()
			if err != nil {
				t.Fatalf("ab -k: %v\n%s", err, out)
			}
			if f := abFailed.FindSubmatch(out); f == nil || string(f[1]) != "0" {
				t.Fatalf("ab -k failed requests:\n%s", out)
			}
			if c := abComplete.FindSubmatch(out); c == nil || string(c[1]) != "2000" {
				t.Fatalf("ab -k did not complete 2000 requests:\n%s", out)
			}
			if abNon2xx.Match(out) {
				t.Fatalf("ab -k got non-2xx responses:\n%s", out)
			}

			p.stop(t)
			st, err := servers.ReadStatsFile(p.stats)
			if err != nil {
				t.Fatal(err)
			}
			// Our servers count every answered request; the clients' totals
			// are a lower bound (wrk does not count responses still in flight
			// when it stops).
			min := uint64(keepAlive + closing + 2000 + 2)
			if st.Requests < min || st.Errors != 0 {
				t.Fatalf("stats: %d requests (%d errors), clients saw at least %d", st.Requests, st.Errors, min)
			}
			if st.Connections < uint64(closing) {
				t.Fatalf("stats: %d connections, but %d requests were sent with Connection: close", st.Connections, closing)
			}
		})
	}
}

// A server killed with SIGTERM under load exits within a second and still
// writes its counters.
func TestSIGTERMUnderLoad(t *testing.T) {
	for _, m := range servers.Models() {
		t.Run(m.Name, func(t *testing.T) {
			p := startServe(t, m.Name)
			stopLoad := make(chan struct{})
			loadDone := make(chan int)
			go func() { loadDone <- hammer(p.addr, stopLoad, 16) }()
			// Wait for the load to be answered before stopping the server,
			// so the stop happens under load and not before it.
			waitForRequests(t, p.addr)
			took := p.stop(t)
			close(stopLoad)
			sent := <-loadDone
			if took > time.Second {
				t.Fatalf("exit took %v after SIGTERM under load", took)
			}
			st, err := servers.ReadStatsFile(p.stats)
			if err != nil {
				t.Fatalf("stats file after SIGTERM: %v", err)
			}
			if st.Requests == 0 || st.Connections == 0 || st.Server != m.Name {
				t.Fatalf("stats after load of %d requests: %+v", sent, st)
			}
		})
	}
}

// hammer keeps n connections sending keep-alive requests until stop is
// closed or the server goes away, and returns the responses it read.
func hammer(addr string, stop <-chan struct{}, n int) int {
	results := make(chan int, n)
	for i := 0; i < n; i++ {
		go func() {
			got := 0
			defer func() { results <- got }()
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err != nil {
				return
			}
			defer c.Close()
			br := bufio.NewReader(c)
			req := []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
			for i := 0; i < 1_000_000; i++ {
				select {
				case <-stop:
					return
				default:
				}
				c.SetDeadline(time.Now().Add(2 * time.Second))
				if _, err := c.Write(req); err != nil {
					return
				}
				if err := skipResponse(br); err != nil {
					return
				}
				got++
			}
		}()
	}
	total := 0
	for i := 0; i < n; i++ {
		total += <-results
	}
	return total
}

// skipResponse reads one response with a Content-Length body.
func skipResponse(br *bufio.Reader) error {
	length := -1
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if line == "\r\n" {
			break
		}
		if k, v, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Content-Length") {
			length, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	if length < 0 {
		return fmt.Errorf("response without Content-Length")
	}
	_, err := br.Discard(length)
	return err
}

func waitForRequests(t *testing.T, addr string) {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	if err := skipResponse(bufio.NewReader(c)); err != nil {
		t.Fatalf("server not answering: %v", err)
	}
}

// Bad flags are refused with a sentence that names the problem, before
// anything listens.
func TestServeUsageErrors(t *testing.T) {
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"serve", "nosuch"}, `unknown server "nosuch"`},
		{[]string{"serve"}, "accepts 1 arg"},
		{[]string{"serve", "epoll", "--no-such-flag"}, "unknown flag: --no-such-flag"},
		{[]string{"serve", "poll", "--rearm", "oneshot"}, `knob rearm does not apply to the poll model (it applies to epoll)`},
		{[]string{"serve", "epoll", "--rearm", "sometimes"}, `invalid argument "sometimes" for "--rearm" flag: rearm "sometimes" is not one of persistent, oneshot`},
		{[]string{"serve", "epoll", "--listeners", "2"}, "listeners 2 needs reuseport"},
		{[]string{"serve", "epoll", "--handler", "jinja"}, `handler "jinja" is not one of`},
		{[]string{"serve", "epoll", "--body", "huge"}, `body "huge" is not one of small, large`},
		{[]string{"serve", "epoll", "--workers", "8"}, `knob workers does not apply to the epoll model (it applies to workerpool)`},
		{[]string{"serve", "epoll", "--sqpoll"}, `knob sqpoll does not apply to the epoll model (it applies to uring)`},
		{[]string{"serve", "uring", "--accept-batch", "4"}, `knob accept_batch does not apply to the uring model (it applies to epoll, poll, select)`},
		{[]string{"serve", "epoll", "--addr", "127.0.0.1:99999"}, "127.0.0.1:99999"},
		{[]string{"serve", "workerpool", "--workers", "0"}, `invalid argument "0" for "--workers" flag: workers 0: at least 1`},
	}
	for _, c := range cases {
		t.Run(strings.Join(c.args, " "), func(t *testing.T) {
			wantUsageError(t, c.want, c.args...)
		})
	}
}

// runCLI runs sockbench with args, bounded in time, and returns its
// combined output and exit status.
func runCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	done := make(chan struct{})
	var out []byte
	var err error
	go func() { out, err = cmd.CombinedOutput(); close(done) }()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("%v still running after 20s; output:\n%s", args, out)
	}
	if strings.Contains(string(out), "panic") {
		t.Fatalf("%v panicked:\n%s", args, out)
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), 0
}

// wantUsageError checks that sockbench refuses args with status 2 and a
// message that says want, and returns all it printed.
func wantUsageError(t *testing.T, want string, args ...string) string {
	t.Helper()
	out, code := runCLI(t, args...)
	if code != 2 {
		t.Fatalf("exit %d, want status 2; output:\n%s", code, out)
	}
	if !strings.Contains(out, want) {
		t.Fatalf("output does not say %q:\n%s", want, out)
	}
	return out
}

func TestExposureWarning(t *testing.T) {
	for _, c := range []struct {
		addr string
		want string
	}{
		{"127.0.0.1:8080", ""},
		{"[::1]:8080", ""},
		{"0.0.0.0:8080", "listening on every interface (0.0.0.0:8080): the server is reachable from the network"},
		{"[::]:8080", "listening on every interface ([::]:8080)"},
		{"198.18.0.1:8080", "listening on 198.18.0.1:8080, not loopback"},
	} {
		a, err := net.ResolveTCPAddr("tcp", c.addr)
		if err != nil {
			t.Fatal(err)
		}
		got := exposure(a)
		if (c.want == "") != (got == "") || !strings.Contains(got, c.want) {
			t.Errorf("%s: %q, want %q", c.addr, got, c.want)
		}
	}
}
