package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/sockbench/sockbench/bench/nginx"
	"github.com/sockbench/sockbench/internal/supervise"
	"github.com/sockbench/sockbench/servers"
	// Registers sockbench's own models, so that the list of them is the
	// registry's.
	_ "github.com/sockbench/sockbench/servers/all"
)

// peerServers are the contestants that are not sockbench's, each with its
// own way of being started; sockbench's own are the models in the servers
// registry, run with `sockbench serve NAME`.
var peerServers = []string{"nginx", "fasthttp", "gnet"}

// defaultServers is the interleaving order of one round: every registered
// model, then the peers.
func defaultServers() string {
	var names []string
	for _, m := range servers.Models() {
		names = append(names, m.Name)
	}
	return strings.Join(append(names, peerServers...), ",")
}

// ours reports whether name is one of sockbench's own models, as MODEL
// or MODEL@BINARY.
func ours(name string) bool {
	model, _ := modelAndBinary(name, "")
	_, err := servers.Lookup(model)
	return err == nil
}

// modelAndBinary splits MODEL@BINARY, the way to measure one model of
// two sockbench builds side by side in one run (a change's cost: epoll
// against epoll@bin/sockbench-before); a bare MODEL runs from def.
func modelAndBinary(name, def string) (string, string) {
	if model, bin, ok := strings.Cut(name, "@"); ok {
		return model, bin
	}
	return name, def
}

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
func knownServer(name string) bool { return ours(name) || slices.Contains(peerServers, name) }

// command builds the command line for server name on addr. The cleanup
// removes whatever it created (nginx's directory).
func (l serverLauncher) command(name, addr string) ([]string, func(), error) {
	none := func() {}
	switch {
	case ours(name):
		model, bin := modelAndBinary(name, l.sockbench)
		if _, err := os.Stat(bin); err != nil {
			return nil, none, skipf("sockbench binary: %v (build it with go build -o bin/sockbench ./cmd/sockbench)", err)
		}
		return append([]string{bin, "serve", model, "--addr", addr}, l.serveArgs...), none, nil
	case name == "fasthttp" || name == "gnet":
		bin := filepath.Join(l.peers, name)
		if _, err := os.Stat(bin); err != nil {
			return nil, none, skipf("peer binary: %v (build the peers with cd bench/peers && go build -o bin/ ./...)", err)
		}
		return []string{bin, "--addr", addr, "--gomaxprocs", "1"}, none, nil
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
		return nginx.Command(l.nginx, cfg).Args, cleanup, nil
	}
	return nil, none, fmt.Errorf("unknown server %q (known: %s)", name, defaultServers())
}

// runningServer is one started server process.
type runningServer struct {
	name    string
	addr    string
	proc    *supervise.Process
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
	argv, cleanup, err := l.command(name, addr)
	if err != nil {
		return nil, err
	}
	p, err := supervise.Start(supervise.Spec{Name: name, Argv: argv, Env: append(os.Environ(), "GOMAXPROCS=1"), CPUs: cpus})
	if err != nil {
		cleanup()
		return nil, err
	}
	s := &runningServer{name: name, addr: addr, proc: p, cleanup: cleanup}
	if err := p.WaitReady(context.Background(), 10*time.Second, supervise.Accepts(addr)); err != nil {
		exited := p.HasExited()
		s.stop(5 * time.Second)
		if ours(name) && exited {
			// `sockbench serve NAME` refusing to start a model this tool
			// knows means the binary is older than the tool: report, do
			// not fail the whole run.
			return nil, skipf("%v", err)
		}
		return nil, err
	}
	n, err := checkPage(s.url())
	if err == nil && p.HasExited() {
		err = fmt.Errorf("it exited (%s) and something else answered on %s: %s", p.ExitText(), addr, p.OutputLine())
	}
	if err != nil {
		s.stop(5 * time.Second)
		return nil, fmt.Errorf("%s failed the check, not measured: %w", name, err)
	}
	s.bodyLen = n
	return s, nil
}

func (s *runningServer) url() string { return "http://" + s.addr + "/" }

// stop stops the server as supervise.Process.Stop does and removes what
// its start created.
func (s *runningServer) stop(limit time.Duration) error {
	defer s.cleanup()
	return s.proc.Stop(limit)
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
