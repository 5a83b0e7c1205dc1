package coordinator

import (
	"context"
	"errors"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/agent"
	"github.com/sockbench/sockbench/loadgen/agent/agenttest"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"

	_ "github.com/sockbench/sockbench/servers/all"
)

var testToken = []byte("0123456789abcdef-test-token")

func startAgent(t *testing.T) *agenttest.Agent {
	t.Helper()
	return agenttest.Start(t, agent.Config{Token: testToken})
}

func startServer(t *testing.T) (string, func() servers.Stats) {
	t.Helper()
	m, err := servers.Lookup("epoll")
	if err != nil {
		t.Fatal(err)
	}
	addr, stop := servertest.Start(t, m, servers.Options{})
	return "http://" + addr + "/", stop
}

func newCoordinator(t *testing.T, cfg Config, agents ...string) *Coordinator {
	t.Helper()
	cfg.Agents = agents
	if cfg.Token == nil {
		cfg.Token = testToken
	}
	cfg.Run = t.Name()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// firstSecond returns a Progress callback and a channel closed at the
// first merged second.
func firstSecond() (func(loadgen.Second), <-chan struct{}) {
	ch := make(chan struct{})
	var once sync.Once
	return func(loadgen.Second) { once.Do(func() { close(ch) }) }, ch
}

// runningAttack starts a minute-long attack by c on url in the background
// and returns once its first merged second has come.
func runningAttack(t *testing.T, ctx context.Context, c *Coordinator, url string) <-chan runResult {
	t.Helper()
	progress, running := firstSecond()
	done := runAsync(c, ctx, loadgen.Options{URL: url, Connections: 2, Threads: 1, Duration: time.Minute, Progress: progress})
	waitClosed(t, running, 5*time.Second, "merged second")
	return done
}

// twoAgentsRunning starts two agents and a minute-long attack by them,
// and returns once its first merged second has come.
func twoAgentsRunning(t *testing.T, ctx context.Context) (a1, a2 *agenttest.Agent, done <-chan runResult) {
	t.Helper()
	url, _ := startServer(t)
	a1, a2 = startAgent(t), startAgent(t)
	c := newCoordinator(t, Config{}, a1.Addr, a2.Addr)
	return a1, a2, runningAttack(t, ctx, c, url)
}

// runAsync runs an attack in the background.
func runAsync(c *Coordinator, ctx context.Context, o loadgen.Options) <-chan runResult {
	ch := make(chan runResult, 1)
	go func() {
		r, err := c.Run(ctx, o)
		ch <- runResult{r, err}
	}()
	return ch
}

type runResult struct {
	r   *loadgen.Result
	err error
}

func waitRun(t *testing.T, ch <-chan runResult, limit time.Duration) runResult {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(limit):
		t.Fatalf("the attack did not end within %s", limit)
		return runResult{}
	}
}

func waitClosed(t *testing.T, ch <-chan struct{}, limit time.Duration, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(limit):
		t.Fatalf("no %s within %s", what, limit)
	}
}

// Two agents share a request budget: together they send exactly it, the
// server answers exactly it, and the merged result adds up their shares.
func TestTwoAgentsSendExactlyTheBudget(t *testing.T) {
	url, stop := startServer(t)
	a1, a2 := startAgent(t), startAgent(t)
	c := newCoordinator(t, Config{}, a1.Addr, a2.Addr)
	const n = 3001
	res, err := c.Run(context.Background(), loadgen.Options{
		URL: url, Connections: 5, Threads: 2, Duration: 5 * time.Second, MaxRequests: n,
	})
	if err != nil {
		t.Fatal(err)
	}
	st := stop()
	m := res
	if m.Requests != n || st.Requests != n {
		t.Errorf("merged result counts %d requests, the server %d; want %d each", m.Requests, st.Requests, n)
	}
	if len(res.Agents) != 2 {
		t.Fatalf("%d agents' figures, want 2", len(res.Agents))
	}
	a, b := res.Agents[0], res.Agents[1]
	if a.Agent != a1.Addr || b.Agent != a2.Addr {
		t.Errorf("figures of %s and %s, want %s and %s in that order", a.Agent, b.Agent, a1.Addr, a2.Addr)
	}
	if a.Requests+b.Requests != n || a.Connections != 3 || b.Connections != 2 {
		t.Errorf("agents' shares: %d+%d requests over %d+%d connections, want %d over 3+2", a.Requests, b.Requests, a.Connections, b.Connections, n)
	}
	if m.Client.Hosts != 2 || m.Connections != 5 || m.Threads != 2 {
		t.Errorf("merged: %d hosts, %d connections, %d threads; want 2, 5, 2", m.Client.Hosts, m.Connections, m.Threads)
	}
	if m.Latency.Recorded != n {
		t.Errorf("merged histogram holds %d latencies, want %d", m.Latency.Recorded, n)
	}
	// Fairness is over every agent's connections, their counts carried
	// through the agents' results.
	if f := m.Fairness; f == nil || f.Connections != 5 || sumCounts(f.PerConnection) != n {
		t.Errorf("merged fairness %+v, want the %d answers over all 5 connections", f, n)
	}
	for _, f := range res.Agents {
		if f.StartSkewUS < -1000 || f.StartSkewUS > 50_000 {
			t.Errorf("agent %s started %.0fµs after the agreed instant", f.Agent, f.StartSkewUS)
		}
		if f.ClockRTTUS <= 0 {
			t.Errorf("agent %s: clock round trip %.0fµs", f.Agent, f.ClockRTTUS)
		}
	}
}

// --io uring travels to the agents: each attacks on io_uring, and the
// merged result says so and adds up their ring enters.
func TestAgentsAttackOnIOUring(t *testing.T) {
	url, stop := startServer(t)
	a1, a2 := startAgent(t), startAgent(t)
	c := newCoordinator(t, Config{}, a1.Addr, a2.Addr)
	const n = 2000
	res, err := c.Run(context.Background(), loadgen.Options{
		URL: url, IO: loadgen.IOUring, Connections: 4, Threads: 2, Duration: 5 * time.Second, MaxRequests: n,
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := stop(); res.Requests != n || st.Requests != n {
		t.Errorf("merged result counts %d requests, the server %d; want %d each", res.Requests, st.Requests, n)
	}
	if res.IO != loadgen.IOUring || res.Client.RingEnters == 0 || res.Client.RingEnters > n+n/10+200 {
		t.Errorf("merged result on %q with %d io_uring_enter calls for %d requests: want uring, at most one a request", res.IO, res.Client.RingEnters, n)
	}
}

// The merged series is the seconds of every agent added up, second by
// second, and Progress sees each merged second once.
func TestSeriesAreMergedSecondBySecond(t *testing.T) {
	url, _ := startServer(t)
	a1, a2 := startAgent(t), startAgent(t)
	c := newCoordinator(t, Config{}, a1.Addr, a2.Addr)
	var (
		mu   sync.Mutex
		live []loadgen.Second
	)
	res, err := c.Run(context.Background(), loadgen.Options{
		URL: url, Connections: 2, Threads: 1, Duration: 2 * time.Second, Rate: 400,
		Progress: func(s loadgen.Second) { mu.Lock(); live = append(live, s); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	m := res
	if len(m.Series) != 2 {
		t.Fatalf("%d merged seconds, want 2: %+v", len(m.Series), m.Series)
	}
	var sum int64
	for i, s := range m.Series {
		sum += s.Requests
		if s.T != float64(i) {
			t.Errorf("second %d starts at %g", i, s.T)
		}
		// 400/s over two agents: about 400 a second in all.
		if s.Requests < 360 || s.Requests > 440 {
			t.Errorf("second %d: %d requests, want about 400", i, s.Requests)
		}
	}
	if sum != m.Requests {
		t.Errorf("the seconds add up to %d requests, the total is %d", sum, m.Requests)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(live) != 2 || live[0].Requests != m.Series[0].Requests || live[1].Requests != m.Series[1].Requests {
		t.Errorf("Progress saw %+v; the result has %+v", live, m.Series)
	}
	if res.Agents[0].Rate != 200 || res.Agents[1].Rate != 200 || m.LatencyKind != loadgen.Corrected {
		t.Errorf("rates %g and %g, latency %s; want 200 each, corrected", res.Agents[0].Rate, res.Agents[1].Rate, m.LatencyKind)
	}
}

func TestAWrongTokenIsRefused(t *testing.T) {
	a1 := startAgent(t)
	c := newCoordinator(t, Config{Token: []byte("another-token-of-enough-bytes")}, a1.Addr)
	_, err := c.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "refused this coordinator's credentials") || !strings.Contains(err.Error(), a1.Addr) {
		t.Fatalf("err = %v, want a refusal of the credentials naming %s", err, a1.Addr)
	}
}

func TestNoAgentThereIsAClearError(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newCoordinator(t, Config{ConnectTimeout: time.Second}, addr)
	began := time.Now()
	_, err = c.Check(context.Background())
	if err == nil || !strings.Contains(err.Error(), "agent "+addr) {
		t.Fatalf("err = %v, want one naming agent %s", err, addr)
	}
	if took := time.Since(began); took > 3*time.Second {
		t.Errorf("took %s to give up on a missing agent, with a 1s timeout", took)
	}
	t.Log(err)
}

// An agent refusing its share fails the attack with its reason, and the
// others are told to stop before they start.
func TestARefusalFailsTheAttackWithItsReason(t *testing.T) {
	url, _ := startServer(t)
	ok := startAgent(t)
	strict := agenttest.Start(t, agent.Config{Token: testToken, Limits: agent.Limits{MaxConnections: 1}})
	c := newCoordinator(t, Config{}, ok.Addr, strict.Addr)
	_, err := c.Run(context.Background(), loadgen.Options{URL: url, Connections: 4, Duration: time.Second})
	if err == nil || !strings.Contains(err.Error(), "agent "+strict.Addr+": it refused") || !strings.Contains(err.Error(), "--max-connections 1") {
		t.Fatalf("err = %v, want the strict agent's refusal", err)
	}
	ok.WaitFor(t, "attack stopped before its start", 3*time.Second)
}

// An agent that dies mid-attack is lost within seconds: the other is told
// to stop at once, and the result is what it measured, naming the lost
// agent and why (#19: a lost agent threw the survivors' requests away).
func TestAnAgentThatDiesLeavesAPartialResult(t *testing.T) {
	a1, a2, done := twoAgentsRunning(t, context.Background())
	a2.Stop()
	r := waitRun(t, done, 5*time.Second)
	wantPartial(t, r, a1.Addr, a2.Addr, "its stream broke mid-attack")
	a1.WaitFor(t, "attack stopped by the coordinator", 3*time.Second)
}

// wantPartial checks that r is the result of the survivor alone, with lost
// named as lost for a reason that says why.
func wantPartial(t *testing.T, r runResult, survivor, lost, why string) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("err = %v, want a partial result", r.err)
	}
	m := r.r
	if len(m.Agents) != 1 || m.Agents[0].Agent != survivor || m.Agents[0].Requests == 0 || m.Requests != m.Agents[0].Requests {
		t.Errorf("agents %+v, %d requests merged: want %s's requests alone", m.Agents, m.Requests, survivor)
	}
	if len(m.LostAgents) != 1 || m.LostAgents[0].Agent != lost || !strings.Contains(m.LostAgents[0].Reason, why) {
		t.Errorf("lost agents %+v, want %s, because %q", m.LostAgents, lost, why)
	}
	err := m.CheckComplete()
	if err == nil || !strings.Contains(err.Error(), "agent "+lost) {
		t.Errorf("CheckComplete = %v, want one naming agent %s", err, lost)
	}
	t.Logf("%d requests from %s; %v", m.Requests, survivor, err)
}

// When every agent is lost mid-attack nothing is kept, and the error says
// the attack was lost, naming each agent.
func TestEveryAgentLostIsALostAttack(t *testing.T) {
	a1, a2, done := twoAgentsRunning(t, context.Background())
	a1.Stop()
	a2.Stop()
	r := waitRun(t, done, 5*time.Second)
	var lost *LostError
	if !errors.As(r.err, &lost) || !strings.Contains(r.err.Error(), "agent "+a1.Addr) || !strings.Contains(r.err.Error(), "agent "+a2.Addr) {
		t.Fatalf("err = %v (%T), want a LostError naming both agents", r.err, r.err)
	}
}

// An agent cut off mid-attack (no reset, only silence) is lost once it has
// been silent for Silence, and the result is the other's; the agent, for
// its part, notices the silent coordinator and stops.
func TestAnAgentCutOffLeavesAPartialResult(t *testing.T) {
	url, _ := startServer(t)
	a1, a2 := startAgent(t), startAgent(t)
	p := newProxy(t, a2.Addr)
	// Two seconds, not the default three: long enough that the
	// coordinator's stall watch (half of it) does not take a slow
	// scheduler for a stop of its own.
	const silence = 2 * time.Second
	c := newCoordinator(t, Config{Silence: silence}, a1.Addr, p.addr)
	done := runningAttack(t, context.Background(), c, url)
	cut := time.Now()
	p.freeze()
	r := waitRun(t, done, silence+5*time.Second)
	wantPartial(t, r, a1.Addr, p.addr, "nothing heard from it")
	t.Logf("lost %s after the cut", time.Since(cut).Round(time.Millisecond))
	a1.WaitFor(t, "attack stopped by the coordinator", 3*time.Second)
	// The cut-off agent pings its coordinator after a second without a
	// frame and drops the connection two seconds later.
	a2.WaitFor(t, "coordinator gone: attack stopped", 6*time.Second)
	t.Logf("the cut-off agent stopped %s after the cut", time.Since(cut).Round(time.Millisecond))
}

// A spec too large for an agent's bound on a message is refused before
// any agent is asked, saying what is too long.
func TestASpecTooLargeForTheAgentsIsRefused(t *testing.T) {
	url, _ := startServer(t)
	a := startAgent(t)
	c := newCoordinator(t, Config{}, a.Addr)
	o := loadgen.Options{URL: url, Connections: 1, Duration: 200 * time.Millisecond,
		Headers: []loadgen.Header{{Name: "Cookie", Value: strings.Repeat("x", 80<<10)}}}
	_, err := c.Run(context.Background(), o)
	if err == nil || !strings.Contains(err.Error(), "headers are too long") {
		t.Fatalf("err = %v, want the spec refused for its size", err)
	}
}

// Cancelling the attack stops every agent and keeps what they measured.
func TestCancelStopsTheAgentsAndKeepsWhatTheyMeasured(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	_, _, done := twoAgentsRunning(t, ctx)
	cancel()
	r := waitRun(t, done, 5*time.Second)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if !r.r.Interrupted || r.r.Requests == 0 || r.r.Agents[0].Requests == 0 || r.r.Agents[1].Requests == 0 {
		t.Errorf("interrupted=%v, %d requests (%d + %d): want an interrupted result from both agents",
			r.r.Interrupted, r.r.Requests, r.r.Agents[0].Requests, r.r.Agents[1].Requests)
	}
}

// An agent restarted between two attacks takes part in the second.
func TestAnAgentRestartedBetweenAttacksIsUsedAgain(t *testing.T) {
	url, _ := startServer(t)
	a := startAgent(t)
	c := newCoordinator(t, Config{ConnectTimeout: time.Second}, a.Addr)
	o := loadgen.Options{URL: url, Connections: 1, Duration: 200 * time.Millisecond}
	if _, err := c.Run(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	a.Stop()
	if _, err := c.Run(context.Background(), o); err == nil {
		t.Fatal("an attack with the agent gone succeeded")
	}
	agenttest.Start(t, agent.Config{Token: testToken, Listen: a.Addr})
	if _, err := c.Run(context.Background(), o); err != nil {
		t.Fatalf("with the agent back: %v", err)
	}
}

// A name stands for every agent it resolves to (a Kubernetes headless
// Service), and one agent reached at two addresses counts once.
func TestANameStandsForEveryAgentItResolvesTo(t *testing.T) {
	url, _ := startServer(t)
	a1 := startAgent(t)
	_, port, _ := net.SplitHostPort(a1.Addr)
	// A second agent on the same port of another loopback address.
	a2 := agenttest.Start(t, agent.Config{Token: testToken, Listen: "127.0.0.2:" + port})
	p := newProxy(t, a1.Addr)
	res := fakeResolver{"agents.test": {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("127.0.0.2")}}
	c := newCoordinator(t, Config{Resolver: res}, "agents.test:"+port, p.addr)
	r, err := c.Run(context.Background(), loadgen.Options{URL: url, Connections: 2, Duration: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Agents {
		got = append(got, f.Agent)
	}
	want := []string{"agents.test:" + port + " (" + a1.Addr + ")", "agents.test:" + port + " (" + a2.Addr + ")"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("agents %q, want %q (the proxy's address reaches the first again)", got, want)
	}
}

type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, network, host string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, a := range f[host] {
		if network == "ip4" && a.Is4() || network == "ip6" && a.Is6() || network == "ip" {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
	return out, nil
}

// proxy forwards TCP connections to an agent until frozen; then it
// forwards nothing more and closes nothing, as a cut cable would.
type proxy struct {
	addr   string
	frozen chan struct{}
	once   sync.Once
}

func newProxy(t *testing.T, to string) *proxy {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{addr: l.Addr().String(), frozen: make(chan struct{})}
	done := make(chan struct{})
	var conns []net.Conn
	var mu sync.Mutex
	t.Cleanup(func() {
		close(done)
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", to)
			if err != nil {
				c.Close()
				continue
			}
			mu.Lock()
			conns = append(conns, c, up)
			mu.Unlock()
			go p.pipe(c, up, done)
			go p.pipe(up, c, done)
		}
	}()
	return p
}

func (p *proxy) freeze() { p.once.Do(func() { close(p.frozen) }) }

func (p *proxy) pipe(dst, src net.Conn, done <-chan struct{}) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		select {
		case <-p.frozen:
			// Hold everything until the test ends.
			<-done
			return
		default:
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				dst.(*net.TCPConn).CloseWrite()
			}
			return
		}
	}
}

func sumCounts(xs []int64) int64 {
	var s int64
	for _, x := range xs {
		s += x
	}
	return s
}

// TestOnWindowIsTheAgentsWindow: the caller's window edges come at the
// agreed instant plus the warm-up, as the agents open theirs, not a
// warm-up after Run was called (the agents start 100 ms and a few round
// trips after it, and a runner sampling then charged the server for
// their warm-up).
func TestOnWindowIsTheAgentsWindow(t *testing.T) {
	url, _ := startServer(t)
	a1, a2 := startAgent(t), startAgent(t)
	c := newCoordinator(t, Config{}, a1.Addr, a2.Addr)
	var edges []time.Time
	called := time.Now()
	const warmup, window = 100 * time.Millisecond, 500 * time.Millisecond
	res, err := c.Run(context.Background(), loadgen.Options{URL: url, Connections: 2, Threads: 1, Warmup: warmup, Duration: window,
		OnWindow: func(bool) { edges = append(edges, time.Now()) }})
	if err != nil {
		t.Fatal(err)
	}
	open := res.Start.Add(warmup)
	if len(edges) != 2 || edges[0].Before(open) || edges[1].Before(open.Add(window)) || edges[1].Sub(edges[0]) > 2*window {
		t.Fatalf("edges at %v; the agents' window opened at %v (Run called at %v)", edges, open, called)
	}
	if early := called.Add(warmup); !open.After(early) {
		t.Errorf("the agents opened their window at %v, not after a warm-up from the call (%v): the test shows nothing", open, early)
	}
}
