package all

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/procstat"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"
)

// starvedServerEnv names the model this test binary serves when it runs
// as TestOutOfDescriptorsBacksOff's child process, with knobs after it
// ("epoll rearm=oneshot").
const starvedServerEnv = "SOCKBENCH_TEST_STARVED_SERVER"

// starvedLimit is the child's RLIMIT_NOFILE: room for the runtime, the
// listener, the poller and a few connections, and far fewer than the
// test opens.
const starvedLimit = 40

// Issue #9, defect 4: out of descriptors, accept fails at once and the
// listener stays readable, so a server that kept retrying spun on a core
// (103% CPU with ulimit -n 256 and 400 connections). Every model must
// back off instead, count the failures and keep serving the connections
// it has. The server runs in a child process (this test binary again)
// whose descriptor limit is lowered before it starts.
func TestOutOfDescriptorsBacksOff(t *testing.T) {
	if server := os.Getenv(starvedServerEnv); server != "" {
		serveStarved(server)
		return
	}
	var names []string
	for _, m := range servers.Models() {
		names = append(names, m.Name)
	}
	// A oneshot loop unwatches and watches its listener around every
	// accept: a pause must survive that.
	names = append(names, "epoll rearm=oneshot")
	for _, server := range names {
		t.Run(server, func(t *testing.T) {
			t.Parallel()
			child := startStarved(t, server)
			c, br := dial(t, child.addr)
			ask := func(when string) {
				t.Helper()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if err := servertest.Ask(c, br); err != nil {
					t.Fatalf("%s: %v", when, err)
				}
			}
			ask("before the descriptors ran out")
			// The kernel completes these handshakes into the backlog
			// whether or not the server can accept them.
			for range 2 * starvedLimit {
				extra, err := net.DialTimeout("tcp", child.addr, 2*time.Second)
				if err != nil {
					t.Fatal(err)
				}
				defer extra.Close()
			}
			// The behaviour under test is the server's CPU time over this
			// stretch, while it cannot accept what is pending.
			time.Sleep(100 * time.Millisecond)
			before, err := procstat.Sample(child.cmd.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			after, err := procstat.Sample(child.cmd.Process.Pid)
			if err != nil {
				t.Fatal(err)
			}
			u := after.Sub(before).Utilization()
			if u > 0.2 {
				t.Errorf("out of descriptors, the server used %.0f%% of a core; want it to back off (under 20%%)", 100*u)
			}
			ask("out of descriptors")
			st := child.stop(t)
			if st.AcceptErrors == 0 {
				t.Errorf("stats %+v: no accept errors counted", st)
			}
			t.Logf("out of descriptors: %.1f%% of a core, %d accept errors in %d accept calls, %d connections", 100*u, st.AcceptErrors, st.AcceptCalls, st.Connections)
		})
	}
}

type starvedChild struct {
	cmd   *exec.Cmd
	addr  string
	stdin io.Closer
	lines <-chan string
}

// startStarved runs server (a model and knobs) in a child process under
// starvedLimit descriptors and returns once it listens.
func startStarved(t *testing.T, server string) *starvedChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestOutOfDescriptorsBacksOff$")
	cmd.Env = append(os.Environ(), starvedServerEnv+"="+server)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := make(chan string, 16)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("server's stderr:\n%s", stderr.String())
		}
	})
	c := &starvedChild{cmd: cmd, stdin: stdin, lines: lines}
	c.addr = strings.TrimPrefix(c.line(t, "listening "), "listening ")
	return c
}

// line waits for the child's next line, which must start with prefix.
func (c *starvedChild) line(t *testing.T, prefix string) string {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok || !strings.HasPrefix(l, prefix) {
			t.Fatalf("the server said %q (ended: %v), want a line starting %q", l, !ok, prefix)
		}
		return l
	case <-time.After(10 * time.Second):
		t.Fatalf("no %q line from the server within 10s", prefix)
	}
	return ""
}

// stop ends the child by closing its stdin and returns its counters.
func (c *starvedChild) stop(t *testing.T) servers.Stats {
	t.Helper()
	c.stdin.Close()
	var st servers.Stats
	if err := json.Unmarshal([]byte(strings.TrimPrefix(c.line(t, "stats "), "stats ")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// serveStarved is the child: it lowers its descriptor limit, serves the
// server (a model and knobs) on a free loopback port until its stdin
// closes, prints its counters and exits.
func serveStarved(server string) {
	fail := func(err error) {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fail(err)
	}
	lim.Cur = starvedLimit
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		fail(err)
	}
	words := strings.Fields(server)
	m, err := servers.Lookup(words[0])
	if err != nil {
		fail(err)
	}
	opts := servers.Options{Addr: "127.0.0.1:0"}
	for _, kv := range words[1:] {
		name, text, _ := strings.Cut(kv, "=")
		k, ok := servers.LookupKnob(name)
		if !ok {
			fail(fmt.Errorf("no knob %q", name))
		}
		v, err := k.Parse(text)
		if err != nil {
			fail(err)
		}
		k.Set(&opts, v)
	}
	srv, err := m.Start(opts)
	if err != nil {
		fail(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	fmt.Println("listening", srv.Addr())
	if err := srv.Serve(ctx); err != nil {
		fail(err)
	}
	st, err := json.Marshal(srv.Stats())
	if err != nil {
		fail(err)
	}
	fmt.Println("stats", string(st))
	os.Exit(0)
}
