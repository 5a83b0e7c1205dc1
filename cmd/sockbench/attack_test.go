package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
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
	out, code := runCLI(t, "attack", "http://"+srv.addr+"/", "-c", "4", "-t", "1", "-d", "1s",
		"-o", filepath.Join(dir, "r.json"))
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"Running 1s closed test @ http://" + srv.addr, "4 connections", "measured response times", "Latency Distribution", "99.99%", "Requests/sec:", "Generator CPU:"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	r, err := loadgen.ReadFile(filepath.Join(dir, "r.json"))
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
	srv := startServe(t, "epoll")
	res := filepath.Join(t.TempDir(), "r.json")
	cmd := exec.Command(binPath, "attack", "http://"+srv.addr+"/", "-c", "2", "-d", "1m", "-o", res)
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
		{`header "X-Broken"`, []string{"attack", "http://127.0.0.1:1/", "-H", "X-Broken"}},
		{"https is not supported", []string{"attack", "https://127.0.0.1:1/"}},
		{"--threads 3 exceed --connections 2", []string{"attack", "http://127.0.0.1:1/", "-c", "2", "-t", "3"}},
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
	if code != 1 || !strings.Contains(out, "2 stream errors") {
		t.Errorf("exit %d, want 1 for the stalled writes; output:\n%s", code, out)
	}
	for _, want := range []string{"timeout 2", "Slowest second: 0B/s ("} {
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
// unfinished, neither answered nor failed.
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
			// The process's own start and exit included.
			if took := time.Since(began); took > 1500*time.Millisecond {
				t.Errorf("a 1s attack took %v", took)
			}
			if code != 0 || !strings.Contains(out, "Unfinished: ") {
				t.Errorf("exit %d, want 0 and the unfinished requests in the summary:\n%s", code, out)
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
