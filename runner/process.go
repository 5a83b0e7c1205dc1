package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sockbench/sockbench/internal/supervise"
	"github.com/sockbench/sockbench/runner/config"
	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/servers"
)

// serverProcess is one started server: a built-in model run as
// `sockbench serve`, or an external command.
type serverProcess struct {
	*supervise.Process
	name string
	// addr is host:port; url is what load and verify are aimed at. A
	// built-in server's are known once it has said where it listens.
	addr, url string
	// statsFile is read after the process stops; empty when the server
	// writes none.
	statsFile string
	dir       string
	// listen notices where a built-in server listens; nil for an
	// external one, whose address is chosen for it.
	listen *listenWatch
}

// launch describes how to start one server.
type launch struct {
	server  results.ServerSpec
	cpus    results.CPUList
	stream  bool
	exe     string // the sockbench binary
	dir     string // a fresh folder for this start: {dir}, the stats file
	runID   string // the run it belongs to, for the record of what runs
	wrapper []string
	// addr is where the server listens; empty: a free loopback port.
	// Agents on other machines need an address they can reach.
	addr string
}

// start starts the server pinned to its CPUs and returns once the process
// runs; waitReady then says when it accepts connections.
func start(l launch) (*serverProcess, error) {
	p := &serverProcess{name: l.server.Name, dir: l.dir}
	var argv []string
	env := os.Environ()
	if !l.server.External() {
		p.statsFile = filepath.Join(l.dir, "stats.json")
		p.listen = &listenWatch{}
		addr := l.addr
		if addr == "" {
			addr = "127.0.0.1:0"
		}
		argv = append([]string{l.exe, "serve", l.server.Model, "--addr", addr, "--stats-file", p.statsFile}, l.server.Knobs.Flags()...)
		if l.stream {
			argv = append(argv, "--stream")
		}
	} else {
		// Another process could take the port before the server binds
		// it; the server then fails to start, or verify finds that what
		// answers is not a conforming server: nothing wrong is measured.
		addr := l.addr
		if addr == "" {
			var err error
			if addr, err = servers.FreeLoopbackAddr(); err != nil {
				return nil, err
			}
		}
		host, port, _ := net.SplitHostPort(addr)
		vars := map[string]string{
			config.PlaceAddr: addr, config.PlaceHost: host, config.PlacePort: port, config.PlaceDir: l.dir,
			config.PlaceStatsFile: filepath.Join(l.dir, "stats.json"), config.PlaceCPUs: l.cpus.Text, config.PlaceSockbench: l.exe,
		}
		if config.UsesPlaceholder(l.server, config.PlaceWorkdir) {
			workdir, err := os.Getwd()
			if err != nil {
				return nil, fmt.Errorf("start %s: the working folder for {workdir}: %w", l.server.Name, err)
			}
			vars[config.PlaceWorkdir] = workdir
		}
		for _, kv := range l.server.Knobs.List() {
			vars[kv.Knob.Name] = kv.Text
		}
		if config.UsesPlaceholder(l.server, config.PlaceStatsFile) {
			p.statsFile = vars[config.PlaceStatsFile]
		}
		for _, c := range l.server.Command {
			argv = append(argv, config.Substitute(c, vars))
		}
		for _, name := range sortedNames(l.server.Files) {
			if !results.PlainFileName(name) {
				return nil, fmt.Errorf("%s: file name %q is not a plain name in its own folder; refusing to write it", l.server.Name, name)
			}
			content := config.Substitute(l.server.Files[name], vars)
			if err := os.WriteFile(filepath.Join(l.dir, name), []byte(content), 0o644); err != nil {
				return nil, fmt.Errorf("write %s for %s: %w", name, l.server.Name, err)
			}
		}
		for _, name := range sortedNames(l.server.Env) {
			env = append(env, name+"="+config.Substitute(l.server.Env[name], vars))
		}
		p.addr = addr
		p.url = config.Substitute(l.server.URL, vars)
	}
	spec := supervise.Spec{Name: l.server.Name, Argv: append(slices.Clone(l.wrapper), argv...), Env: env, Dir: l.dir, CPUs: l.cpus.CPUs}
	if p.listen != nil { // a nil *listenWatch would be a non-nil io.Writer
		spec.Output = p.listen
	}
	proc, err := supervise.Start(spec)
	if err != nil {
		return nil, err
	}
	unrecord, err := recordServer(l.runID, proc.PID(), proc.Argv(), l.dir)
	if err != nil {
		proc.Kill()
		return nil, err
	}
	go func() {
		<-proc.Exited()
		unrecord()
	}()
	p.Process = proc
	return p, nil
}

// waitReady waits until the server accepts connections (or passes its own
// readiness check, for an external one), it exits, ctx ends, or limit
// passes.
func (p *serverProcess) waitReady(ctx context.Context, server results.ServerSpec, limit time.Duration) error {
	var ready supervise.Check
	return p.WaitReady(ctx, limit, func(ctx context.Context) error {
		if ready != nil {
			return ready(ctx)
		}
		if p.addr == "" {
			// A built-in server names its address when it listens.
			if p.addr = p.listen.address(); p.addr == "" {
				return errors.New("it has not said where it listens")
			}
			p.addr = reachableHere(p.addr)
			p.url = "http://" + p.addr + "/"
		}
		switch {
		case server.Ready.HTTP != "":
			ready = supervise.AnswersHTTP("http://" + p.addr + server.Ready.HTTP)
		case len(server.Ready.Command) > 0:
			ready = func(ctx context.Context) error { return commandCheck(ctx, p, server.Ready.Command) }
		default:
			ready = supervise.Accepts(p.addr)
		}
		return ready(ctx)
	})
}

// commandCheck runs the readiness command once; the placeholders it may
// use were filled in with the server's own values.
func commandCheck(ctx context.Context, p *serverProcess, argv []string) error {
	host, port, _ := net.SplitHostPort(p.addr)
	vars := map[string]string{config.PlaceAddr: p.addr, config.PlaceHost: host, config.PlacePort: port, config.PlaceDir: p.dir}
	args := make([]string, len(argv))
	for i, a := range argv {
		args[i] = config.Substitute(a, vars)
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("readiness command %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// stats reads the server's own counters after it stopped.
func (p *serverProcess) stats() (*servers.Stats, error) {
	if p.statsFile == "" {
		return nil, nil
	}
	st, err := servers.ReadStatsFile(p.statsFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s wrote no stats file (%s)", p.name, p.ExitText())
		}
		return nil, err
	}
	return &st, nil
}

// listenWatch reads a built-in server's output for the line in which
// `sockbench serve` says where it listens.
type listenWatch struct {
	mu   sync.Mutex
	line []byte
	addr string
}

// listenMarker is what `sockbench serve` prints before the address.
const listenMarker = " listening on "

// maxLine bounds the unfinished line kept while looking for the marker.
const maxLine = 4096

func (w *listenWatch) Write(b []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.addr != "" {
		return len(b), nil
	}
	w.line = append(w.line, b...)
	for {
		i := bytes.IndexByte(w.line, '\n')
		if i < 0 {
			break
		}
		if _, after, ok := strings.Cut(string(w.line[:i]), listenMarker); ok {
			if _, port, err := net.SplitHostPort(strings.TrimSpace(after)); err == nil {
				if _, err := strconv.Atoi(port); err == nil {
					w.addr = strings.TrimSpace(after)
					w.line = nil
					return len(b), nil
				}
			}
		}
		w.line = w.line[i+1:]
	}
	if len(w.line) > maxLine {
		w.line = w.line[len(w.line)-maxLine:]
	}
	return len(b), nil
}

// address is where the server said it listens, empty until it has.
func (w *listenWatch) address() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.addr
}

func sortedNames(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }

// targetURL joins a server's base URL and the cell's path.
func targetURL(base, path string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", err
	}
	if path != "" && path != "/" {
		u.Path = strings.TrimSuffix(u.Path, "/") + path
	}
	return u.String(), nil
}

// reachableHere is addr as this machine reaches it: a server listening on
// every address (for agents elsewhere) is checked through loopback.
func reachableHere(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err == nil && (host == "" || ip != nil && ip.IsUnspecified()) {
		return net.JoinHostPort("127.0.0.1", port)
	}
	return addr
}
