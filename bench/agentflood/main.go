// Command agentflood measures what callers without credentials cost a
// sockbench agent (issue #19, finding 3): it starts `sockbench agent` with
// a token on loopback, has --callers callers, each on a connection of its
// own, send it at once a Hello of --size bytes without the token, and
// prints the agent's peak resident memory (VmHWM) before and after, with
// how the calls were answered.
//
//	go build -o bin/agentflood ./bench/agentflood
//	bin/agentflood --sockbench bin/sockbench [--callers 200] [--size 4000000]
//
// Run it against two builds of sockbench to compare them; this program
// itself holds about --callers × --size bytes while the calls are sent.
package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/sockbench/sockbench/internal/logwatch"
	"github.com/sockbench/sockbench/internal/procstat"
	"github.com/sockbench/sockbench/internal/supervise"
	"github.com/sockbench/sockbench/loadgen/agentpb"
)

func main() {
	var (
		bin     = flag.String("sockbench", "bin/sockbench", "the sockbench binary whose agent is measured")
		callers = flag.Int("callers", 200, "callers without the token, at once, each on its own connection")
		size    = flag.Int("size", 4_000_000, "bytes of each caller's message (gRPC's default limit is 4 MiB)")
		timeout = flag.Duration("timeout", time.Minute, "bound on each call")
	)
	flag.Parse()
	if err := run(*bin, *callers, *size, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "agentflood:", err)
		os.Exit(1)
	}
}

func run(bin string, callers, size int, timeout time.Duration) error {
	if callers < 1 || size < 1 {
		return fmt.Errorf("--callers %d and --size %d: both must be at least 1", callers, size)
	}
	dir, err := os.MkdirTemp("", "agentflood-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	agent, addr, err := startAgent(bin, dir)
	if err != nil {
		return err
	}
	defer agent.Stop(stopLimit)
	pid := agent.PID()
	before, err := procstat.PeakRSS(pid)
	if err != nil {
		return err
	}
	answers, took := flood(addr, callers, size, timeout)
	after, err := procstat.PeakRSS(pid)
	if err != nil {
		return err
	}
	now, err := procstat.Sample(pid)
	if err != nil {
		return err
	}
	fmt.Printf("agent: %s (PID %d) on %s\n", bin, pid, addr)
	fmt.Printf("callers: %d at once, each a %d-byte Hello without the token, all answered in %s\n", callers, size, took.Round(time.Millisecond))
	fmt.Printf("answers: %s\n", answers)
	fmt.Printf("agent peak RSS (VmHWM): %.1f MiB before, %.1f MiB after; RSS now %.1f MiB\n", mib(before), mib(after), mib(now.RSS))
	return nil
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// startAgent runs `bin agent` on a free loopback port with a token of its
// own and returns it with the address it says it listens on.
func startAgent(bin, dir string) (*supervise.Process, string, error) {
	tok := make([]byte, 32)
	rand.Read(tok)
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(base64.StdEncoding.EncodeToString(tok)), 0o600); err != nil {
		return nil, "", err
	}
	// The agent's output is kept to find its listening line in.
	out := logwatch.New(nil)
	p, err := supervise.Start(supervise.Spec{Name: "agent", Argv: []string{bin, "agent", "--listen", "127.0.0.1:0", "--token-file", tokenFile}, Output: out})
	if err != nil {
		return nil, "", err
	}
	const listening = "sockbench agent listening on "
	line, err := out.WaitFor(listening, 10*time.Second)
	if err != nil {
		p.Stop(stopLimit)
		return nil, "", fmt.Errorf("%s agent: %w", bin, err)
	}
	return p, strings.TrimSpace(line[strings.Index(line, listening)+len(listening):]), nil
}

// stopLimit is how long the agent has to stop on SIGTERM before SIGKILL.
const stopLimit = 5 * time.Second

// flood connects every caller, then has them all call at once, and
// returns how the calls ended (by gRPC status code) and how long the
// calls took together.
func flood(addr string, callers, size int, timeout time.Duration) (string, time.Duration) {
	req := &agentpb.HelloRequest{ProtocolVersion: agentpb.ProtocolVersion, Coordinator: strings.Repeat("x", size)}
	var (
		mu     sync.Mutex
		counts = map[string]int{}
		ready  sync.WaitGroup
		done   sync.WaitGroup
		start  = make(chan struct{})
	)
	count := func(err error) {
		what := status.Code(err).String()
		if err == nil {
			what = "OK (answered without the token!)"
		}
		mu.Lock()
		counts[what]++
		mu.Unlock()
	}
	for range callers {
		ready.Add(1)
		done.Go(func() {
			conn, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				ready.Done()
				count(err)
				return
			}
			defer conn.Close()
			conn.Connect()
			ready.Done()
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), timeout)
			defer cancel()
			_, err = agentpb.NewAgentClient(conn).Hello(ctx, req)
			count(err)
		})
	}
	ready.Wait()
	began := time.Now()
	close(start)
	done.Wait()
	took := time.Since(began)
	var parts []string
	for _, what := range slices.Sorted(maps.Keys(counts)) {
		parts = append(parts, fmt.Sprintf("%s %d", what, counts[what]))
	}
	return strings.Join(parts, ", "), took
}
