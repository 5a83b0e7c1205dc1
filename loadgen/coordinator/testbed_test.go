package coordinator

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/sockbench/sockbench/internal/logwatch"
	"github.com/sockbench/sockbench/internal/supervise"
	"github.com/sockbench/sockbench/internal/testbin"
	"github.com/sockbench/sockbench/servers"
)

// A testbed is hosts on one machine: a server host, agent hosts and the
// coordinator's (this test process). With root they are network
// namespaces joined by a bridge, addressed from the benchmarking range
// 198.18.0.0/15 (RFC 2544) with no route out; without, they are loopback
// addresses, and the test log says so.
type testbed struct {
	// namespaces is false when the hosts are loopback addresses.
	namespaces bool
	server     host
	agents     []host
	// dial opens connections from the coordinator's host.
	dial func(ctx context.Context, addr string) (net.Conn, error)
	// agentCPUs, when set, pins the agents (and local attacks) started
	// from then on.
	agentCPUs []int
	// serverArgs are extra `serve` flags; with serverUnpinned the server
	// may run on every CPU.
	serverArgs     []string
	serverUnpinned bool
	bin            string
	dir            string
	// token is the agents' token file.
	token string
}

type host struct {
	name string
	ip   string
	// ns is the host's network namespace; empty on loopback.
	ns string
}

// argv runs a command on h.
func (h host) argv(args ...string) []string {
	if h.ns == "" {
		return args
	}
	return append([]string{"ip", "netns", "exec", h.ns}, args...)
}

// newTestbed makes a server host and n agent hosts, in network namespaces
// where they can be made.
func newTestbed(t testing.TB, n int) *testbed { return newTestbedOf(t, n, true) }

// newTestbedOf makes a server host and n agent hosts: in network
// namespaces when namespaces is set and they can be made, on loopback
// addresses otherwise.
func newTestbedOf(t testing.TB, n int, namespaces bool) *testbed {
	t.Helper()
	tb := &testbed{bin: testbin.Sockbench(t), dir: t.TempDir()}
	tb.token = filepath.Join(tb.dir, "token")
	if err := os.WriteFile(tb.token, []byte("testbed-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := fmt.Errorf("not asked for")
	if namespaces {
		err = tb.makeNamespaces(t, n)
	}
	if err != nil {
		t.Logf("NOTE: network namespaces: %v: the hosts are loopback addresses instead: server 127.0.0.1, agents 127.0.0.2 to 127.0.0.%d", err, n+1)
		tb.namespaces = false
		tb.server = host{name: "server", ip: "127.0.0.1"}
		tb.agents = nil
		for i := range n {
			tb.agents = append(tb.agents, host{name: fmt.Sprintf("agent%d", i+1), ip: fmt.Sprintf("127.0.0.%d", i+2)})
		}
		var d net.Dialer
		tb.dial = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	return tb
}

// makeNamespaces builds a switch namespace holding a bridge, and a
// namespace per host with a veth into the bridge; everything is deleted
// when the test ends. Nothing is added to this machine's own namespace.
func (tb *testbed) makeNamespaces(t testing.TB, n int) error {
	if os.Geteuid() != 0 {
		return fmt.Errorf("not root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return fmt.Errorf("no ip command (Debian's iproute2): %v", err)
	}
	prefix := fmt.Sprintf("sbt%d", os.Getpid())
	sw := prefix + "-sw"
	var made []string
	t.Cleanup(func() {
		for _, ns := range made {
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("deleting namespace %s: %v: %s", ns, err, out)
			}
		}
	})
	run := func(args ...string) error {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return fmt.Errorf("ip %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	addNS := func(ns string) error {
		if err := run("netns", "add", ns); err != nil {
			return err
		}
		made = append(made, ns)
		return run("-n", ns, "link", "set", "lo", "up")
	}
	if err := addNS(sw); err != nil {
		return err
	}
	if err := run("-n", sw, "link", "add", "br0", "type", "bridge"); err != nil {
		return err
	}
	if err := run("-n", sw, "link", "set", "br0", "up"); err != nil {
		return err
	}
	hosts := []host{{name: "server", ip: "198.18.0.1"}, {name: "coordinator", ip: "198.18.0.10"}}
	for i := range n {
		hosts = append(hosts, host{name: fmt.Sprintf("agent%d", i+1), ip: fmt.Sprintf("198.18.0.%d", i+2)})
	}
	for i := range hosts {
		h := &hosts[i]
		h.ns = prefix + "-" + h.name
		port := fmt.Sprintf("p%d", i)
		for _, args := range [][]string{
			nil,
			{"-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", h.ns},
			{"-n", sw, "link", "set", port, "master", "br0", "up"},
			{"-n", h.ns, "addr", "add", h.ip + "/24", "dev", "eth0"},
			{"-n", h.ns, "link", "set", "eth0", "up"},
		} {
			var err error
			if args == nil {
				err = addNS(h.ns)
			} else {
				err = run(args...)
			}
			if err != nil {
				return err
			}
		}
		// No route out: only the bridge's own /24.
		out, err := exec.Command("ip", "-n", h.ns, "route", "show", "default").CombinedOutput()
		if err != nil || len(strings.TrimSpace(string(out))) != 0 {
			return fmt.Errorf("namespace %s has a default route (%q) or none can be read (%v)", h.ns, out, err)
		}
	}
	tb.namespaces = true
	tb.server, tb.agents = hosts[0], hosts[2:]
	tb.dial = nsDialer("/var/run/netns/" + hosts[1].ns)
	t.Logf("network namespaces: server %s, agents %v, coordinator %s, bridged in %s, no default route", hosts[0].ip, ips(tb.agents), hosts[1].ip, sw)
	return nil
}

func ips(hs []host) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.ip)
	}
	return out
}

// nsDialer dials from the network namespace at path: the socket is made
// on a thread that joined it, and the thread is never given back to the
// runtime's pool (it ends with its goroutine), so no other goroutine runs
// in that namespace.
func nsDialer(path string) func(ctx context.Context, addr string) (net.Conn, error) {
	return func(ctx context.Context, addr string) (net.Conn, error) {
		type dialed struct {
			c   net.Conn
			err error
		}
		ch := make(chan dialed, 1)
		go func() {
			runtime.LockOSThread() // never unlocked: see above
			fd, err := unix.Open(path, unix.O_RDONLY|unix.O_CLOEXEC, 0)
			if err != nil {
				ch <- dialed{nil, fmt.Errorf("open %s: %w", path, err)}
				return
			}
			defer unix.Close(fd)
			if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
				ch <- dialed{nil, fmt.Errorf("setns %s: %w", path, err)}
				return
			}
			var d net.Dialer
			c, err := d.DialContext(ctx, "tcp", addr)
			ch <- dialed{c, err}
		}()
		r := <-ch
		return r.c, r.err
	}
}

// serverCPUs pins the server to CPU 0 where there are two or more; the
// agents run on the others unless agentCPUs says where.
func serverCPUs() []int {
	if runtime.NumCPU() < 2 {
		return nil
	}
	return []int{0}
}

// started is a process on a testbed host.
type started struct {
	p   *supervise.Process
	log *logwatch.Log
}

func (tb *testbed) cpus(h host) []int {
	if h == tb.server {
		if tb.serverUnpinned {
			return nil
		}
		return serverCPUs()
	}
	return tb.agentCPUs
}

func (tb *testbed) start(t testing.TB, h host, name string, args ...string) *started {
	t.Helper()
	var tee func(string)
	if testing.Verbose() {
		tee = func(line string) { t.Log(name + ": " + line) }
	}
	s := &started{log: logwatch.New(tee)}
	p, err := supervise.Start(supervise.Spec{Name: name, Argv: h.argv(append([]string{tb.bin}, args...)...), CPUs: tb.cpus(h), Output: s.log})
	if err != nil {
		t.Fatal(err)
	}
	s.p = p
	t.Cleanup(func() { p.Stop(5 * time.Second) })
	return s
}

// ready waits until addr accepts a connection from the coordinator's host.
func (tb *testbed) ready(t testing.TB, s *started, addr string) {
	t.Helper()
	check := func(ctx context.Context) error {
		c, err := tb.dial(ctx, addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	if err := s.p.WaitReady(context.Background(), 10*time.Second, check); err != nil {
		t.Fatal(err)
	}
}

// startServer runs an epoll server on the server host; stop ends it and
// returns its own counters.
func (tb *testbed) startServer(t testing.TB) (url string, stop func() servers.Stats) {
	t.Helper()
	addr := net.JoinHostPort(tb.server.ip, "8080")
	stats := filepath.Join(t.TempDir(), "stats.json")
	s := tb.start(t, tb.server, "server", append([]string{"serve", "epoll", "--addr", addr, "--stats-file", stats}, tb.serverArgs...)...)
	tb.ready(t, s, addr)
	return "http://" + addr + "/", func() servers.Stats {
		t.Helper()
		if err := s.p.Stop(5 * time.Second); err != nil {
			t.Fatal(err)
		}
		st, err := servers.ReadStatsFile(stats)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
}

// startAgent runs `sockbench agent` on agent host i, allowed to attack
// the server only.
func (tb *testbed) startAgent(t testing.TB, i int) *started {
	t.Helper()
	h := tb.agents[i]
	addr := tb.agentAddr(i)
	s := tb.start(t, h, h.name, "agent", "--listen", addr, "--token-file", tb.token,
		"--allow", net.JoinHostPort(tb.server.ip, "8080"), "--max-duration", "1m")
	tb.ready(t, s, addr)
	return s
}

func (tb *testbed) agentAddr(i int) string { return net.JoinHostPort(tb.agents[i].ip, "7000") }

// coordinator reaches the testbed's first n agents, every one if n is 0.
func (tb *testbed) coordinator(t testing.TB, n ...int) *Coordinator {
	t.Helper()
	var addrs []string
	for i := range tb.agents {
		if len(n) == 0 || i < n[0] {
			addrs = append(addrs, tb.agentAddr(i))
		}
	}
	c, err := New(Config{Agents: addrs, Token: []byte("testbed-token-0123456789abcdef"), Dial: tb.dial, Run: t.Name(), ConnectTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
