package agent_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/agent"
	"github.com/sockbench/sockbench/loadgen/agent/agenttest"
	"github.com/sockbench/sockbench/loadgen/agentpb"
	"github.com/sockbench/sockbench/loadgen/coordinator"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"

	_ "github.com/sockbench/sockbench/servers/all"
)

var testToken = []byte("0123456789abcdef-agent-test")

// start runs an agent on a free loopback port until the test ends.
func start(t *testing.T, cfg agent.Config) (string, *agenttest.Agent) {
	t.Helper()
	a := agenttest.Start(t, cfg)
	return a.Addr, a
}

// client reaches the agent at addr with the given token (none when nil).
func client(t *testing.T, addr string, token []byte, opts ...grpc.DialOption) agentpb.AgentClient {
	t.Helper()
	if len(opts) == 0 {
		opts = append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))
	}
	if token != nil {
		opts = append(opts, grpc.WithPerRPCCredentials(agentpb.TokenCredentials(token)))
	}
	conn, err := grpc.NewClient("passthrough:///"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return agentpb.NewAgentClient(conn)
}

func hello(c agentpb.AgentClient) error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.Hello(ctx, &agentpb.HelloRequest{ProtocolVersion: agentpb.ProtocolVersion})
	return err
}

// prepare opens an attack with o and returns the stream and what the agent
// answered first: nil for Ready, or the error that ended the stream.
func prepare(t *testing.T, ctx context.Context, c agentpb.AgentClient, o loadgen.Options) (agentpb.Agent_AttackClient, error) {
	t.Helper()
	stream, err := c.Attack(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&agentpb.Control{Msg: &agentpb.Control_Prepare{Prepare: &agentpb.Prepare{Spec: agentpb.SpecFromOptions(o), Run: t.Name()}}}); err != nil && err != io.EOF {
		return nil, err
	}
	r, err := stream.Recv()
	if err != nil {
		return stream, err
	}
	if r.GetReady() == nil {
		t.Fatalf("first report %v, want Ready", r)
	}
	return stream, nil
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

func wantStatus(t *testing.T, what string, err error, code codes.Code, msgs ...string) {
	t.Helper()
	st, _ := status.FromError(err)
	if err == nil || st.Code() != code {
		t.Errorf("%s: %v, want %s", what, err, code)
		return
	}
	for _, m := range msgs {
		if !strings.Contains(st.Message(), m) {
			t.Errorf("%s: %q does not say %q", what, st.Message(), m)
		}
	}
}

// A call without the token, or with another one, learns nothing but that
// it was refused: every method, the attack's included.
func TestWrongOrMissingTokenIsRefusedWithNoDetail(t *testing.T) {
	url, _ := startServer(t)
	addr, logs := start(t, agent.Config{Token: testToken})
	for name, tok := range map[string][]byte{"missing": nil, "wrong": []byte("0123456789abcdef-agent-tesT"), "empty": {}} {
		c := client(t, addr, tok)
		err := hello(c)
		wantStatus(t, name+" token, Hello", err, codes.Unauthenticated)
		if st, _ := status.FromError(err); st.Message() != "unauthenticated" {
			t.Errorf("%s token: the refusal says %q; it must say nothing but \"unauthenticated\"", name, st.Message())
		}
		_, err = c.Clock(context.Background(), &agentpb.ClockRequest{})
		wantStatus(t, name+" token, Clock", err, codes.Unauthenticated)
		_, err = prepare(t, context.Background(), c, loadgen.Options{URL: url, Duration: time.Second})
		wantStatus(t, name+" token, Attack", err, codes.Unauthenticated)
	}
	logs.WaitFor(t, "refused an unauthenticated call", time.Second)
	if err := hello(client(t, addr, testToken)); err != nil {
		t.Errorf("the right token: %v", err)
	}
}

func TestAnotherProtocolVersionIsRefused(t *testing.T) {
	addr, _ := start(t, agent.Config{Token: testToken})
	c := client(t, addr, testToken)
	_, err := c.Hello(context.Background(), &agentpb.HelloRequest{ProtocolVersion: agentpb.ProtocolVersion + 1})
	wantStatus(t, "Hello", err, codes.FailedPrecondition, "protocol version 2", "speaks 1")
}

// fakeResolver answers names from a table.
type fakeResolver map[string][]netip.Addr

func (f fakeResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if a, ok := f[host]; ok {
		return a, nil
	}
	return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
}

// Targets outside --allow are refused with the reason, before the agent
// sends them anything; a name is pinned to the address it was checked at.
func TestTargetsOutsideTheAllowListAreRefused(t *testing.T) {
	url, _ := startServer(t)
	port := strings.TrimSuffix(url[strings.LastIndex(url, ":")+1:], "/")
	allow := func(s string) agent.AllowList {
		a, err := agent.ParseAllowList(s)
		if err != nil {
			t.Fatal(err)
		}
		return a
	}
	res := fakeResolver{
		"server.lab": {netip.MustParseAddr("127.0.0.1")},
		// One allowed address and one not: refused, or the attack could
		// go to the other.
		"split.lab":   {netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("198.18.0.9")},
		"outside.lab": {netip.MustParseAddr("198.18.0.9")},
	}
	for _, tc := range []struct {
		name, allow, url string
		ok               bool
	}{
		{"default list, loopback", agent.DefaultAllow, url, true},
		{"default list, another network", agent.DefaultAllow, "http://198.18.0.9:80/", false},
		{"default list, IPv4-mapped outside", agent.DefaultAllow, "http://[::ffff:198.18.0.9]:80/", false},
		{"host:port, that port", "127.0.0.1:" + port, url, true},
		{"host:port, another port", "127.0.0.1:1", url, false},
		{"a name inside", agent.DefaultAllow, "http://server.lab:" + port + "/", true},
		{"a name outside", agent.DefaultAllow, "http://outside.lab:" + port + "/", false},
		{"a name with an address outside", agent.DefaultAllow, "http://split.lab:" + port + "/", false},
		{"a name in the list", "server.lab:" + port, url, true},
		{"no default port 80 outside the list", "127.0.0.1:" + port, "http://127.0.0.1/", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addr, _ := start(t, agent.WithResolver(agent.Config{Token: testToken, Allow: allow(tc.allow)}, res))
			_, err := prepare(t, context.Background(), client(t, addr, testToken), loadgen.Options{URL: tc.url, Duration: time.Second})
			if tc.ok {
				if err != nil {
					t.Errorf("refused: %v", err)
				}
				return
			}
			wantStatus(t, tc.url, err, codes.PermissionDenied, "not in this agent's --allow list", tc.allow)
		})
	}
}

func TestSpecsAboveTheLimitsAreRefused(t *testing.T) {
	url, _ := startServer(t)
	limits := agent.Limits{MaxDuration: 10 * time.Second, MaxConnections: 8, MaxRate: 1000}
	addr, logs := start(t, agent.Config{Token: testToken, Limits: limits})
	c := client(t, addr, testToken)
	for _, tc := range []struct {
		name string
		o    loadgen.Options
		says []string
	}{
		{"duration", loadgen.Options{Duration: 11 * time.Second, Rate: 100}, []string{"--max-duration 10s", "11s"}},
		{"warm-up and duration", loadgen.Options{Duration: 8 * time.Second, Warmup: 3 * time.Second, Rate: 100}, []string{"--max-duration 10s", "warm-up 3s + duration 8s"}},
		{"default duration over a shorter limit", loadgen.Options{Rate: 100, Warmup: time.Second}, []string{"--max-duration", "duration 10s"}},
		{"connections", loadgen.Options{Connections: 9, Duration: time.Second, Rate: 100}, []string{"--max-connections 8", "9"}},
		{"rate", loadgen.Options{Connections: 2, Duration: time.Second, Rate: 1001}, []string{"--max-rate 1000", "1001"}},
		{"linear pacer's peak", loadgen.Options{Mode: loadgen.Open, Connections: 2, Duration: time.Second, Rate: 100, Pacer: loadgen.PacerLinear, RateTo: 2000}, []string{"--max-rate 1000", "2000"}},
		{"sine pacer's peak", loadgen.Options{Mode: loadgen.Open, Connections: 2, Duration: time.Second, Rate: 900, Pacer: loadgen.PacerSine, Amplitude: 200, Period: time.Second}, []string{"--max-rate 1000", "1100"}},
		{"unpaced", loadgen.Options{Connections: 2, Duration: time.Second}, []string{"--max-rate 1000", "unpaced"}},
		{"stream", loadgen.Options{Mode: loadgen.Stream, Connections: 2, Duration: time.Second}, []string{"--max-rate 1000", "stream"}},
	} {
		tc.o.URL = url
		_, err := prepare(t, context.Background(), c, tc.o)
		wantStatus(t, tc.name, err, codes.PermissionDenied, tc.says...)
	}
	logs.WaitFor(t, "refused an attack", time.Second)
	// Within every limit: accepted.
	if _, err := prepare(t, context.Background(), c, loadgen.Options{URL: url, Connections: 8, Duration: time.Second, Rate: 1000}); err != nil {
		t.Errorf("a spec within the limits: %v", err)
	}
}

func TestOptionsThatCannotWorkAreRefused(t *testing.T) {
	addr, _ := start(t, agent.Config{Token: testToken})
	_, err := prepare(t, context.Background(), client(t, addr, testToken), loadgen.Options{URL: "https://127.0.0.1/"})
	wantStatus(t, "https", err, codes.InvalidArgument, "https is not supported")
}

func TestListeningBeyondLoopbackNeedsAuthentication(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0", "[::]:0", "198.18.0.1:7000"} {
		_, err := agent.Listen(agent.Config{Listen: listen})
		if err == nil || !strings.Contains(err.Error(), "refusing to listen") || !strings.Contains(err.Error(), "--token-file") {
			t.Errorf("agent.Listen(%s) without authentication: %v, want a refusal naming --token-file", listen, err)
		}
	}
	// With a token it listens (and is closed at once: nothing is sent).
	srv, err := agent.Listen(agent.Config{Listen: "0.0.0.0:0", Token: testToken})
	if err != nil {
		t.Fatalf("with a token: %v", err)
	}
	srv.Close()
	// Loopback needs none.
	srv, err = agent.Listen(agent.Config{Listen: "127.0.0.1:0"})
	if err != nil {
		t.Fatalf("loopback: %v", err)
	}
	srv.Close()
}

// One attack at a time: a second coordinator is told the agent is busy.
func TestABusyAgentRefusesASecondAttack(t *testing.T) {
	url, _ := startServer(t)
	addr, _ := start(t, agent.Config{Token: testToken})
	c := client(t, addr, testToken)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if _, err := prepare(t, ctx, c, loadgen.Options{URL: url, Duration: time.Second, Connections: 1}); err != nil {
		t.Fatal(err)
	}
	_, err := prepare(t, context.Background(), c, loadgen.Options{URL: url, Duration: time.Second, Connections: 1})
	wantStatus(t, "second attack", err, codes.ResourceExhausted, "running another attack")
}

// A coordinator whose stream breaks mid-attack leaves an agent that stops
// at once, and is free for the next.
func TestTheAgentStopsWhenTheStreamBreaks(t *testing.T) {
	url, _ := startServer(t)
	addr, logs := start(t, agent.Config{Token: testToken})
	c := client(t, addr, testToken)
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := prepare(t, ctx, c, loadgen.Options{URL: url, Duration: time.Minute, Connections: 2, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	stream.Send(&agentpb.Control{Msg: &agentpb.Control_Start{Start: &agentpb.Start{AtUnixNano: time.Now().UnixNano()}}})
	// Wait for the first measured second: the attack runs.
	for {
		r, err := stream.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if r.GetSecond() != nil {
			break
		}
	}
	broke := time.Now()
	cancel()
	line := logs.WaitFor(t, "coordinator gone: attack stopped", 2*time.Second)
	if took := time.Since(broke); took > time.Second {
		t.Errorf("the agent took %s to stop", took)
	}
	t.Log(line)
	if _, err := prepare(t, context.Background(), c, loadgen.Options{URL: url, Duration: time.Second}); err != nil {
		t.Errorf("the next attack: %v", err)
	}
}

// Mutual TLS: a client needs a certificate the agent's CA signed; the log
// names it.
func TestMutualTLS(t *testing.T) {
	url, _ := startServer(t)
	dir := t.TempDir()
	ca := newCA(t, "sockbench test CA")
	other := newCA(t, "another CA")
	agentFiles := ca.issue(t, dir, "agent", true)
	coordFiles := ca.issue(t, dir, "coordinator", false)
	strangerFiles := other.issue(t, dir, "stranger", false)
	serverTLS, err := agentpb.TLSFiles{Cert: agentFiles.Cert, Key: agentFiles.Key, CA: ca.file(t, dir)}.ServerConfig()
	if err != nil {
		t.Fatal(err)
	}
	addr, logs := start(t, agent.Config{TLS: serverTLS})
	dialTLS := func(f agentpb.TLSFiles) agentpb.AgentClient {
		f.CA = ca.file(t, dir)
		tc, err := f.ClientConfig()
		if err != nil {
			t.Fatal(err)
		}
		tc.ServerName = "127.0.0.1"
		return client(t, addr, nil, grpc.WithTransportCredentials(credentials.NewTLS(tc)))
	}
	if err := hello(dialTLS(agentpb.TLSFiles{})); err == nil {
		t.Error("a client without a certificate was let in")
	}
	if err := hello(dialTLS(strangerFiles)); err == nil {
		t.Error("a client whose certificate another CA signed was let in")
	}
	good := dialTLS(coordFiles)
	if err := hello(good); err != nil {
		t.Fatalf("a client with a certificate of the CA: %v", err)
	}
	if _, err := prepare(t, context.Background(), good, loadgen.Options{URL: url, Duration: time.Second}); err != nil {
		t.Fatal(err)
	}
	if line := logs.WaitFor(t, "attack asked", time.Second); !strings.Contains(line, "cert=coordinator") {
		t.Errorf("the log does not name the certificate: %s", line)
	}
}

type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

func newCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, der: der}
}

func (ca *testCA) file(t *testing.T, dir string) string {
	p := filepath.Join(dir, ca.cert.Subject.CommonName+".pem")
	writePEM(t, p, "CERTIFICATE", ca.der)
	return p
}

func (ca *testCA) issue(t *testing.T, dir, name string, server bool) agentpb.TLSFiles {
	t.Helper()
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	f := agentpb.TLSFiles{Cert: filepath.Join(dir, name+".pem"), Key: filepath.Join(dir, name+".key")}
	writePEM(t, f.Cert, "CERTIFICATE", der)
	writePEM(t, f.Key, "EC PRIVATE KEY", kder)
	return f
}

func writePEM(t *testing.T, path, kind string, der []byte) {
	t.Helper()
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

// Agents whose clocks are seconds apart still start together: the
// coordinator measures each offset and sends each agent the agreed
// instant on its own clock.
func TestAgentsWithSkewedClocksStartTogether(t *testing.T) {
	url, _ := startServer(t)
	skews := []time.Duration{3 * time.Second, -2 * time.Second}
	var addrs []string
	for _, d := range skews {
		addr, _ := start(t, agent.WithClockSkew(agent.Config{Token: testToken}, d))
		addrs = append(addrs, addr)
	}
	c, err := coordinator.New(coordinator.Config{Agents: addrs, Token: testToken})
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	res, err := c.Run(context.Background(), loadgen.Options{URL: url, Connections: 2, Threads: 1, Duration: 2 * time.Second, Rate: 200})
	if err != nil {
		t.Fatal(err)
	}
	// Uncorrected, one agent would have waited 3 s for its start.
	if took := time.Since(began); took > 2*time.Second+time.Second {
		t.Errorf("a 2s attack took %s", took)
	}
	for i, f := range res.Agents {
		// An exchange's offset is off by at most half its round trip
		// (RFC 5905), whatever the machine's load made that.
		bound := time.Duration(f.ClockRTTUS*1e3)/2 + 100*time.Microsecond
		if off := time.Duration(f.ClockOffsetUS * 1e3); (off - skews[i]).Abs() > bound {
			t.Errorf("agent %s: measured offset %s, its clock is %s off (round trip %.0fµs)", f.Agent, off, skews[i], f.ClockRTTUS)
		}
		// Uncorrected, a start would be seconds off; a tenth of the
		// smallest skew leaves a busy machine its delays.
		if f.StartSkewUS < -1000 || f.StartSkewUS > 200_000 {
			t.Errorf("agent %s started %.0fµs from the agreed instant", f.Agent, f.StartSkewUS)
		}
	}
	if n := len(res.Series); n != 2 {
		t.Errorf("%d merged seconds, want 2: the agents' seconds were not lined up", n)
	}
}
