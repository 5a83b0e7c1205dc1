package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/servers"
)

func TestAttackPrintsAndWritesItsResult(t *testing.T) {
	srv := startServe(t, "epoll")
	dir := t.TempDir()
	// --latency is wrk's, accepted: the distribution is always printed.
	out, code := runCLI(t, "attack", "http://"+srv.addr+"/", "-c", "4", "-t", "1", "-d", "1s", "--latency",
		"-o", filepath.Join(dir, "r.json"))
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"Running 1s closed test @ http://" + srv.addr, "4 connections", "measured response times", "Latency Distribution", "99.99%",
		"read (whole responses: status line, headers, body)", "Requests/sec:", "(100% answered with status 200)", " of 4 connections (requests/s × mean latency)", "Generator CPU:"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	r, st := resultAndServerStats(t, filepath.Join(dir, "r.json"), srv)
	// The server may also have answered the requests in flight when the
	// window closed, the unfinished ones, at most one per connection.
	if r.Requests == 0 || r.Unfinished > 4 || int64(st.Requests) < r.Requests || int64(st.Requests) > r.Requests+r.Unfinished {
		t.Errorf("attack counted %d requests and %d unfinished, the server %d", r.Requests, r.Unfinished, st.Requests)
	}
	hlog, err := os.ReadFile(filepath.Join(dir, "r.hlog"))
	if err != nil || !bytes.HasPrefix(hlog, []byte("#[")) {
		t.Errorf("histogram log missing or not in HdrHistogram's format: %v %.40q", err, hlog)
	}
}

func TestAttackStopsOnCtrlCAndKeepsTheResult(t *testing.T) {
	// Ctrl-C comes once answers have been read, so the stopped attack
	// has successes to keep and passes its check: by the fifth request
	// one of the two connections has sent its third, after reading the
	// answers to the first two.
	answered := make(chan struct{})
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == 5 {
			close(answered)
		}
		io.WriteString(w, "hello")
	}))
	defer srv.Close()
	res := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(binPath, "attack", srv.URL+"/", "-c", "2", "-d", "1m", "-o", res)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	// The attack announces itself once it handles Ctrl-C.
	br := bufio.NewReader(stdout)
	line, err := br.ReadString('\n')
	if !strings.HasPrefix(line, "Running 1m0s closed test @ ") {
		t.Fatalf("first line %q (%v), want the Running line", line, err)
	}
	select {
	case <-answered:
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the server in 10s")
	}
	cmd.Process.Signal(syscall.SIGINT)
	var killed atomic.Bool
	timer := time.AfterFunc(10*time.Second, func() { killed.Store(true); cmd.Process.Kill() })
	// Everything up to EOF before Wait, which closes the pipe.
	rest, _ := io.ReadAll(br)
	err = cmd.Wait()
	timer.Stop()
	out := string(rest) + stderr.String()
	if killed.Load() {
		t.Fatalf("attack still running 10s after Ctrl-C:\n%s", out)
	}
	if err != nil {
		t.Fatalf("attack exited with %v after Ctrl-C:\n%s", err, out)
	}
	r, err := loadgen.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Interrupted || r.Duration >= 30 || !strings.Contains(out, "Interrupted") {
		t.Errorf("result interrupted=%v after %.1fs; output:\n%s", r.Interrupted, r.Duration, out)
	}
}

// --io uring runs the closed loop on io_uring: the summary says so, the
// result records it, and the server counts every request answered.
func TestAttackOnIOUring(t *testing.T) {
	srv := startServe(t, "epoll")
	dir := t.TempDir()
	out, code := runCLI(t, "attack", "http://"+srv.addr+"/", "-c", "4", "-t", "1", "--requests", "2000", "--io", "uring",
		"-o", filepath.Join(dir, "r.json"))
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	if !strings.Contains(out, "4 connections, keep-alive, on io_uring") || !strings.Contains(out, " io_uring_enter/request; busiest loop") {
		t.Errorf("summary does not say the attack ran on io_uring:\n%s", out)
	}
	r, st := resultAndServerStats(t, filepath.Join(dir, "r.json"), srv)
	if r.IO != loadgen.IOUring || r.Requests != 2000 || st.Requests != 2000 {
		t.Errorf("result on %q with %d requests, the server counted %d: want uring and 2000 each", r.IO, r.Requests, st.Requests)
	}
}

// resultAndServerStats reads the attack's result file, stops the server
// and reads the counters it wrote as it stopped.
func resultAndServerStats(t *testing.T, resultFile string, srv *serverProc) (*loadgen.Result, servers.Stats) {
	t.Helper()
	r, err := loadgen.ReadFile(resultFile)
	if err != nil {
		t.Fatal(err)
	}
	srv.stop(t)
	var st servers.Stats
	data, err := os.ReadFile(srv.stats)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatal(err)
	}
	return r, st
}

func TestAttackUsageErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	for _, c := range []struct {
		want string
		args []string
	}{
		{"accepts 1 arg", []string{"attack"}},
		{"unknown flag: --nope", []string{"attack", "http://127.0.0.1:1/", "--nope"}},
		{`mode "fast"`, []string{"attack", "http://127.0.0.1:1/", "--mode", "fast"}},
		{"open mode needs --rate", []string{"attack", "http://127.0.0.1:1/", "--mode", "open"}},
		{"cannot pipeline", []string{"attack", "http://127.0.0.1:1/", "--close", "--pipeline", "2"}},
		{`--io "kqueue": want one of epoll, uring`, []string{"attack", "http://127.0.0.1:1/", "--io", "kqueue"}},
		{"--io uring is the closed-loop engine's: open mode has an I/O of its own", []string{"attack", "http://127.0.0.1:1/", "--mode", "open", "--rate", "10", "--io", "uring"}},
		{`header "X-Broken"`, []string{"attack", "http://127.0.0.1:1/", "-H", "X-Broken"}},
		{"https is not supported", []string{"attack", "https://127.0.0.1:1/"}},
		{"--threads 3 exceed --connections 2", []string{"attack", "http://127.0.0.1:1/", "-c", "2", "-t", "3"}},
		// Zeros given are refused as a configuration refuses them, not
		// replaced by the defaults.
		{"--connections 0: must be at least 1", []string{"attack", "http://127.0.0.1:1/", "-c", "0"}},
		{"--duration 0s: must be positive", []string{"attack", "http://127.0.0.1:1/", "-d", "0"}},
		{"--threads 0: must be at least 1", []string{"attack", "http://127.0.0.1:1/", "-t", "0"}},
		{"--timeout 0s: must be positive", []string{"attack", "http://127.0.0.1:1/", "--timeout", "0"}},
		{"--chunk-size 0: must be at least 1 byte", []string{"attack", "tcp://127.0.0.1:1", "--mode", "stream", "--chunk-size", "0"}},
		{`invalid argument "5" for "--max-errors" flag: write it as a percentage: 5%`, []string{"attack", "http://127.0.0.1:1/", "--max-errors", "5"}},
		{"stream mode writes raw bytes and counts bytes, not HTTP requests", []string{"attack", "http://127.0.0.1:1/", "--mode", "stream"}},
		{"nothing accepts connections at " + closed, []string{"attack", "http://" + closed + "/", "-d", "1s"}},
	} {
		t.Run(c.want, func(t *testing.T) {
			out := wantUsageError(t, c.want, c.args...)
			// Options are refused before the attack announces itself.
			if strings.Contains(out, "Running") && !strings.HasPrefix(c.want, "nothing accepts") {
				t.Errorf("bad options announced a run:\n%s", out)
			}
		})
	}
}

// --vegeta-out names a file the attack will create; options that refuse the
// attack must leave a file already there as it was.
func TestAttackRefusedLeavesVegetaOutAlone(t *testing.T) {
	for _, c := range []struct {
		want string
		args []string
	}{
		{"open mode only", []string{"--mode", "closed"}},
		{"open mode needs --rate", []string{"--mode", "open"}},
		{`--pacer "zigzag"`, []string{"--mode", "open", "--rate", "10", "--pacer", "zigzag"}},
	} {
		t.Run(c.want, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "results.bin")
			const before = "results of an earlier run"
			if err := os.WriteFile(path, []byte(before), 0o644); err != nil {
				t.Fatal(err)
			}
			wantUsageError(t, c.want, append([]string{"attack", "http://127.0.0.1:1/", "--vegeta-out", path}, c.args...)...)
			if got, err := os.ReadFile(path); err != nil || string(got) != before {
				t.Fatalf("a refused attack changed --vegeta-out's file: %q, %v; want %q", got, err, before)
			}
		})
	}
}

// freeze SIGSTOPs the server until the test ends: the kernel still
// completes its connections' handshakes and buffers what they send, but
// nothing reads or answers.
func (p *serverProc) freeze(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.cmd.Process.Signal(syscall.SIGCONT) })
}

// A frozen stream server: the writes stall once the buffers are full, each
// connection counts a timeout, the slowest second is empty, and the attack
// exits 1.
func TestAttackStreamReportsAFrozenServer(t *testing.T) {
	srv := startServe(t, "epoll", "--stream")
	srv.freeze(t)
	res := filepath.Join(t.TempDir(), "r.json")
	out, code := runCLI(t, "attack", "tcp://"+srv.addr, "--mode", "stream", "-c", "2", "-t", "1",
		"-d", "3s", "--timeout", "500ms", "-o", res)
	if code != 1 || !strings.Contains(out, "sockbench: 2 stream errors on 2 connections, more than the 1% allowed: 2 timeout errors: writes made no progress for --timeout 500ms") {
		t.Errorf("exit %d, want 1 for the stalled writes; output:\n%s", code, out)
	}
	for _, want := range []string{"Socket errors: connect 0, read 0, write 0, timeout 2", "Slowest second: 0B/s ("} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	r, err := loadgen.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	if r.Errors.Timeout != 2 || r.Slowest == nil || r.Slowest.BytesPerS != 0 {
		t.Errorf("errors %+v, slowest second %+v: want 2 timeouts and an empty second", r.Errors, r.Slowest)
	}
}

// A frozen HTTP server and a timeout far past the window: the attack ends
// with its window in both modes, and the requests left waiting are
// unfinished, neither answered nor failed; with no success, the attack
// fails its check and says so.
func TestAttackEndsWithItsWindowAgainstAFrozenServer(t *testing.T) {
	for _, tc := range []struct {
		args []string
		// The requests left waiting when the window closed.
		minUnfinished, maxUnfinished int64
	}{
		{[]string{"--mode", "closed", "-c", "4", "-t", "1"}, 4, 4},
		{[]string{"--mode", "open", "--rate", "20", "-c", "4"}, 19, 20},
	} {
		t.Run(tc.args[1], func(t *testing.T) {
			srv := startServe(t, "epoll")
			srv.freeze(t)
			res := filepath.Join(t.TempDir(), "r.json")
			began := time.Now()
			out, code := runCLI(t, append([]string{"attack", "http://" + srv.addr + "/", "-d", "1s", "--timeout", "10s", "-o", res}, tc.args...)...)
			// Well short of the 10 s timeout it would wait out otherwise:
			// the process's start and exit are included, and beside the
			// rest of make test they took 0.7 s.
			if took := time.Since(began); took > 5*time.Second {
				t.Errorf("a 1s attack took %v: it waited for its requests' timeout", took)
			}
			if code != 1 || !strings.Contains(out, "Unfinished: ") || !strings.Contains(out, "sockbench: no request was answered in the 1.00s window: all ") {
				t.Errorf("exit %d, want 1, the unfinished requests in the summary and the verdict:\n%s", code, out)
			}
			r, err := loadgen.ReadFile(res)
			if err != nil {
				t.Fatal(err)
			}
			if r.Unfinished < tc.minUnfinished || r.Unfinished > tc.maxUnfinished || r.Requests != 0 || r.Errors.Total() != 0 {
				t.Errorf("%d unfinished, %d answered, errors %+v: want %d to %d unfinished and nothing else", r.Unfinished, r.Requests, r.Errors, tc.minUnfinished, tc.maxUnfinished)
			}
		})
	}
}

// serveConns accepts connections on loopback until the test ends and hands
// each to serve on a goroutine of its own, closing it when serve returns.
func serveConns(t *testing.T, serve func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				serve(c)
			}()
		}
	}()
	return ln.Addr().String()
}

// greeter is a server that speaks first, as sshd does, and then reads
// whatever comes until the client hangs up.
func greeter(greeting string) func(net.Conn) {
	return func(c net.Conn) {
		if _, err := c.Write([]byte(greeting)); err == nil {
			io.Copy(io.Discard, c)
		}
	}
}

// An attack that ran but measured a failure exits 1 with one sentence that
// names the main error and its cause: something other than an HTTP server
// on the port (malformed responses, not timeouts), or more failures than
// --max-errors allows.
func TestAttackFailsLoudly(t *testing.T) {
	every10th404 := func() string {
		var n atomic.Int64
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n.Add(1)%10 == 0 {
				http.NotFound(w, r)
				return
			}
			io.WriteString(w, "hello")
		}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	for _, tc := range []struct {
		name string
		addr func() string
		args []string
		code int
		want string // the last line
	}{
		{"ssh", func() string { return serveConns(t, greeter("SSH-2.0-OpenSSH_9.2\r\n")) }, nil, 1,
			`malformed responses: status line "SSH-2.0-OpenSSH_9.2": version is not HTTP/1.0 or HTTP/1.1 — what answers at 127.0.0.1:`},
		{"garbage", func() string { return serveConns(t, greeter("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03")) }, nil, 1,
			`malformed responses: status line "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03": version is not HTTP/1.0 or HTTP/1.1`},
		{"ssh, open mode", func() string { return serveConns(t, greeter("SSH-2.0-OpenSSH_9.2\r\n")) }, []string{"--mode", "open", "--rate", "50"}, 1,
			// The cause in net/http's words, the banner or bytes before
			// any request; the fix the same.
			`is not an HTTP/1.1 server`},
		{"a tenth not found", every10th404, nil, 1,
			"failed, more than the 1% allowed: "},
		{"a tenth not found, allowed", every10th404, []string{"--max-errors", "15%"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"attack", "http://" + tc.addr() + "/", "-c", "2", "-t", "1", "-d", "500ms", "-q"}, tc.args...)
			out, code := runCLI(t, args...)
			lines := strings.Split(strings.TrimSpace(out), "\n")
			last := lines[len(lines)-1]
			if code != tc.code || tc.want != "" && !(strings.HasPrefix(last, "sockbench: ") && strings.Contains(last, tc.want)) {
				t.Errorf("exit %d, last line %q; want %d and %q\n%s", code, last, tc.code, tc.want, out)
			}
			if strings.Contains(out, "timeout") && !strings.Contains(out, "timeout 0") {
				t.Errorf("a server that answers counted timeouts:\n%s", out)
			}
		})
	}
}

// What the machine cannot carry is refused before the attack starts, with
// the number and the fix: more connections than the open-file limit
// leaves descriptors for, and --close at a rate whose closed connections
// would hold more local ports than there are.
func TestAttackRefusesWhatTheMachineCannotCarry(t *testing.T) {
	t.Run("open files", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		// ulimit -n sets both limits, so the Go runtime cannot raise
		// the soft one past it.
		cmd := exec.CommandContext(ctx, "sh", "-c", `ulimit -n 256 && exec "$0" "$@"`, binPath, "attack", "http://127.0.0.1:1/", "-c", "300", "-d", "1s")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("%v, want exit status 2:\n%s", err, out)
		}
		for _, want := range []string{"sockbench: --connections 300: each connection needs a descriptor, and the open-file limit is 256", "ulimit -n"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if strings.Contains(string(out), "Running") {
			t.Errorf("a refused attack announced a run:\n%s", out)
		}
	})
	t.Run("local ports", func(t *testing.T) {
		b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
		if err != nil {
			t.Skipf("no ephemeral port range to exceed: %v", err)
		}
		var lo, hi int
		if _, err := fmt.Sscan(string(b), &lo, &hi); err != nil {
			t.Fatalf("ip_local_port_range %q: %v", b, err)
		}
		// A one-second window holds a second of connections whatever
		// tcp_tw_reuse says: more than the range is too many.
		rate := strconv.Itoa(2 * (hi - lo + 1))
		out := wantUsageError(t, fmt.Sprintf("--close at --rate %s opens %s connections a second", rate, rate),
			"attack", "http://127.0.0.1:1/", "--close", "--rate", rate, "-d", "1s")
		if !strings.Contains(out, fmt.Sprintf("net.ipv4.ip_local_port_range %d-%d", lo, hi)) || strings.Contains(out, "Running") {
			t.Errorf("the refusal does not name the range, or the attack was announced:\n%s", out)
		}
	})
}

// The summary reads the way a wrk-output parser reads wrk's: these are the
// regular expressions such parsers use on wrk's lines, and what they find
// must be the result that -o wrote. The server fails some requests in
// each of wrk's ways: a 404 (Non-2xx) and a close before answering (a
// read error).
func TestAttackSummaryReadsLikeWrk(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch k := n.Add(1); {
		case k%7 == 0:
			if c, _, err := http.NewResponseController(w).Hijack(); err == nil {
				c.Close()
			}
		case k%5 == 0:
			http.NotFound(w, r)
		default:
			io.WriteString(w, "hello, wrk parsers")
		}
	}))
	defer srv.Close()
	res := filepath.Join(t.TempDir(), "r.json")
	out, code := runCLI(t, "attack", srv.URL+"/", "-c", "4", "-t", "1", "-d", "1s", "-q", "--max-errors", "100%", "-o", res)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	r, err := loadgen.ReadFile(res)
	if err != nil {
		t.Fatal(err)
	}
	var (
		requestsPerSec = regexp.MustCompile(`Requests/sec:\s+([\d.]+)`)
		transferPerSec = regexp.MustCompile(`Transfer/sec:\s+([\d.]+)(\w+)`)
		latency        = regexp.MustCompile(`Latency\s+([\d.]+)(\w+)\s+([\d.]+)(\w+)\s+([\d.]+)(\w+)`)
		requestsIn     = regexp.MustCompile(`(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read`)
		socketErrors   = regexp.MustCompile(`Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)`)
		non2xx         = regexp.MustCompile(`Non-2xx or 3xx responses: (\d+)`)
	)
	find := func(re *regexp.Regexp) []string {
		m := re.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no match for %s in:\n%s", re, out)
		}
		return m[1:]
	}
	num := func(s string) float64 {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatal(err)
		}
		return f
	}
	timeUS := map[string]float64{"us": 1, "ms": 1e3, "s": 1e6}
	bytesOf := map[string]float64{"B": 1, "KB": 1 << 10, "MB": 1 << 20, "GB": 1 << 30}
	// Printed with two decimals in its unit.
	near := func(what string, printed, unit, want float64) {
		if math.Abs(printed*unit-want) > 0.005*unit+1e-9 {
			t.Errorf("%s: printed %g×%g, the result has %g", what, printed, unit, want)
		}
	}
	answered := float64(r.Requests + r.Errors.Status)
	m := find(requestsPerSec)
	near("Requests/sec (every answer, as wrk counts)", num(m[0]), 1, answered/r.Duration)
	m = find(transferPerSec)
	near("Transfer/sec", num(m[0]), bytesOf[m[1]], r.BytesPerS)
	m = find(latency)
	near("Latency avg", num(m[0]), timeUS[m[1]], r.Latency.MeanUS)
	near("Latency stdev", num(m[2]), timeUS[m[3]], r.Latency.StdevUS)
	near("Latency max", num(m[4]), timeUS[m[5]], r.Latency.MaxUS)
	m = find(requestsIn)
	if num(m[0]) != answered {
		t.Errorf("%s requests in the summary, %g answered in the result", m[0], answered)
	}
	near("read", num(m[3]), bytesOf[m[4]], float64(r.BytesRead))
	m = find(socketErrors)
	if got := fmt.Sprint(m); got != fmt.Sprint([]int64{r.Errors.Connect, r.Errors.Read, r.Errors.Write, r.Errors.Timeout}) || r.Errors.Read == 0 {
		t.Errorf("Socket errors %s, the result's %+v: want them equal, read errors among them", got, r.Errors)
	}
	m = find(non2xx)
	if int(num(m[0])) != r.Statuses[404] || r.Statuses[404] == 0 || r.Errors.Status != int64(r.Statuses[404]) {
		t.Errorf("Non-2xx or 3xx responses: %s, the result's statuses %v and status errors %d", m[0], r.Statuses, r.Errors.Status)
	}
}

// --version names the build: the module's version, which the toolchain
// stamps with the commit when it builds in a git checkout, and Go's.
func TestVersionNamesTheCommitAndGo(t *testing.T) {
	out, code := runCLI(t, "--version")
	if code != 0 || !strings.HasPrefix(out, "sockbench ") || !strings.HasSuffix(out, ", built with "+runtime.Version()+"\n") {
		t.Errorf("exit %d, %q: want sockbench's version and %s", code, out, runtime.Version())
	}
	rev, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout, no commit to look for: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "sockbench")
	build := exec.Command("go", "build", "-buildvcs=true", "-o", bin, ".")
	if msg, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build -buildvcs=true: %v\n%s", err, msg)
	}
	got, err := exec.Command(bin, "--version").Output()
	if err != nil || !strings.Contains(string(got), strings.TrimSpace(string(rev))[:12]) {
		t.Errorf("%q (%v) does not name commit %.12s", got, err, rev)
	}
}

// Every output path is checked before the load starts: found wrong after
// the attack, it cost the whole attack and exited 2 with the result lost.
func TestAttackChecksOutputPathsFirst(t *testing.T) {
	srv := startServe(t, "epoll")
	dir := t.TempDir()
	url := "http://" + srv.addr + "/"
	for _, c := range []struct {
		want string
		args []string
	}{
		{"missing/r.json", []string{"-o", filepath.Join(dir, "missing", "r.json")}},
		{"is a directory", []string{"-o", dir}},
		{"/proc/sockbench-attack.json", []string{"-o", "/proc/sockbench-attack.json"}},
		{"missing/h.hlog", []string{"--hist-log", filepath.Join(dir, "missing", "h.hlog")}},
		{"missing/v.bin", []string{"--mode", "open", "--rate", "100", "--vegeta-out", filepath.Join(dir, "missing", "v.bin")}},
	} {
		t.Run(c.want, func(t *testing.T) {
			// Ten seconds of load would run before a late check.
			out := wantUsageError(t, c.want, append([]string{"attack", url, "-c", "2", "-t", "1", "-d", "10s"}, c.args...)...)
			if strings.Contains(out, "Running") {
				t.Errorf("the attack started before its output was refused:\n%s", out)
			}
		})
	}
}

// A FIFO, a device (as root) and standard output receive the result in
// place; renaming over /dev/null replaced it with a regular file, and the
// histogram log went to /dev/null.hlog.
func TestAttackWritesSpecialOutputsInPlace(t *testing.T) {
	srv := startServe(t, "epoll")
	dir := t.TempDir()
	url := "http://" + srv.addr + "/"
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 1)
	go func() {
		data, _ := os.ReadFile(fifo)
		got <- data
	}()
	if out, code := runCLI(t, "attack", url, "-c", "2", "-t", "1", "-d", "1s", "-o", fifo); code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	var r loadgen.Result
	var st syscall.Stat_t
	if err := syscall.Lstat(fifo, &st); err != nil || st.Mode&syscall.S_IFMT != syscall.S_IFIFO {
		// Its reader waits for a writer that never came.
		t.Fatalf("-o FIFO: no longer a FIFO after the attack (%v)", err)
	}
	if err := json.Unmarshal(<-got, &r); err != nil || r.Requests == 0 {
		t.Errorf("the FIFO's reader got no result: %v, %d requests", err, r.Requests)
	}
	want := map[string]uint32{fifo: syscall.S_IFIFO}
	if os.Geteuid() == 0 {
		null := filepath.Join(dir, "null")
		if err := syscall.Mknod(null, syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
			t.Fatal(err)
		}
		if out, code := runCLI(t, "attack", url, "-c", "2", "-t", "1", "-d", "1s", "-o", null); code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		want[null] = syscall.S_IFCHR
	} else {
		t.Log("not root: the device case needs mknod")
	}
	for p, typ := range want {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil || st.Mode&syscall.S_IFMT != typ {
			t.Errorf("%s: type %o after the attack (%v), want %o", p, st.Mode&syscall.S_IFMT, err, typ)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(want) {
		t.Errorf("%d entries in the folder, want %d: a histogram log was written beside a special file", len(entries), len(want))
	}

	cmd := exec.Command(binPath, "attack", url, "-c", "2", "-t", "1", "-d", "1s", "-o", "-")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr, cmd.Dir = &stdout, &stderr, dir
	if err := cmd.Run(); err != nil {
		t.Fatalf("-o -: %v\n%s", err, stderr.String())
	}
	r = loadgen.Result{}
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil || r.Requests == 0 {
		t.Errorf("-o -: standard output is not the result (%v):\n%.200s", err, stdout.String())
	}
	if !strings.Contains(stderr.String(), "Requests/sec:") {
		t.Errorf("-o -: the summary is not on standard error:\n%s", stderr.String())
	}
	if _, err := os.Stat(filepath.Join(dir, "-")); err == nil {
		t.Error("-o - created a file named -")
	}
}
