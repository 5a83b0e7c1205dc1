package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/runner/config"
	"github.com/sockbench/sockbench/servers"
)

// serverProcess is one started server: a built-in model run as
// `sockbench serve`, or an external command.
type serverProcess struct {
	name string
	cmd  *exec.Cmd
	// addr is host:port; url is what load and verify are aimed at.
	addr, url string
	// statsFile is read after the process stops; empty when the server
	// writes none.
	statsFile string
	dir       string
	out       *outputWatch
	exited    chan struct{}
	waitErr   error
	stopped   bool
}

// launch describes how to start one server.
type launch struct {
	server  config.Server
	cpus    config.CPUList
	stream  bool
	exe     string // the sockbench binary
	dir     string // a fresh folder for this start: {dir}, the stats file
	wrapper []string
}

// start starts the server pinned to its CPUs and returns once the process
// runs; waitReady then says when it accepts connections.
func start(l launch) (*serverProcess, error) {
	p := &serverProcess{name: l.server.Name, dir: l.dir, out: newOutputWatch(), exited: make(chan struct{})}
	var argv []string
	env := os.Environ()
	if !l.server.External() {
		p.statsFile = filepath.Join(l.dir, "stats.json")
		argv = append([]string{l.exe, "serve", l.server.Model, "--addr", "127.0.0.1:0", "--stats-file", p.statsFile}, l.server.Knobs.Flags()...)
		if l.stream {
			argv = append(argv, "--stream")
		}
	} else {
		// Another process could take the port before the server binds
		// it; the server then fails to start, or verify finds that what
		// answers is not a conforming server: nothing wrong is measured.
		addr, err := servers.FreeLoopbackAddr()
		if err != nil {
			return nil, err
		}
		host, port, _ := net.SplitHostPort(addr)
		vars := map[string]string{
			config.PlaceAddr: addr, config.PlaceHost: host, config.PlacePort: port, config.PlaceDir: l.dir,
			config.PlaceStatsFile: filepath.Join(l.dir, "stats.json"), config.PlaceCPUs: l.cpus.Text, config.PlaceSockbench: l.exe,
		}
		for _, kv := range l.server.Knobs.Values() {
			vars[kv.Name] = kv.Text
		}
		if l.server.UsesPlaceholder(config.PlaceStatsFile) {
			p.statsFile = vars[config.PlaceStatsFile]
		}
		for _, c := range l.server.Command {
			argv = append(argv, config.Substitute(c, vars))
		}
		for _, name := range sortedNames(l.server.Files) {
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
		p.out.ready(addr)
	}
	argv = append(slices.Clone(l.wrapper), argv...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = l.dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = p.out, p.out
	// Its own process group, so that what it forks (nginx's workers) can
	// be killed with it if it does not stop by itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A grandchild that keeps the output pipe open must not keep Wait
	// from returning.
	cmd.WaitDelay = 2 * time.Second
	p.cmd = cmd
	if err := affinity.StartPinned(cmd, l.cpus.CPUs); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", l.server.Name, strings.Join(argv, " "), err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// argv is the command line as run.
func (p *serverProcess) argv() []string { return p.cmd.Args }

func (p *serverProcess) pid() int { return p.cmd.Process.Pid }

func (p *serverProcess) hasExited() bool {
	select {
	case <-p.exited:
		return true
	default:
		return false
	}
}

// exitText says how the process ended, with the end of its output.
func (p *serverProcess) exitText() string {
	if p.waitErr == nil {
		return "exit status 0"
	}
	return p.waitErr.Error()
}

// waitReady waits until the server accepts connections (and passes its
// readiness check, for an external one), it exits, ctx ends, or limit
// passes.
func (p *serverProcess) waitReady(ctx context.Context, server config.Server, limit time.Duration) error {
	deadline := time.NewTimer(limit)
	defer deadline.Stop()
	// A built-in server names its address when it listens.
	select {
	case <-p.out.listening:
	case <-p.exited:
		return fmt.Errorf("%s exited before it listened (%s): %s", p.name, p.exitText(), p.out.oneLine())
	case <-deadline.C:
		return fmt.Errorf("%s did not say where it listens within %v: %s", p.name, limit, p.out.oneLine())
	case <-ctx.Done():
		return ctx.Err()
	}
	if p.addr == "" {
		p.addr = p.out.address()
		p.url = "http://" + p.addr + "/"
	}
	check := func() error { return dialCheck(p.addr) }
	switch {
	case server.Ready.HTTP != "":
		target := "http://" + p.addr + server.Ready.HTTP
		check = func() error { return httpCheck(target) }
	case len(server.Ready.Command) > 0:
		check = func() error { return commandCheck(ctx, p, server.Ready.Command) }
	}
	poll := time.NewTicker(20 * time.Millisecond)
	defer poll.Stop()
	for {
		err := check()
		if err == nil {
			return nil
		}
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before it was ready (%s): %s", p.name, p.exitText(), p.out.oneLine())
		case <-deadline.C:
			return fmt.Errorf("%s was not ready within %v: %v", p.name, limit, err)
		case <-ctx.Done():
			return ctx.Err()
		case <-poll.C:
		}
	}
}

func dialCheck(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	return c.Close()
}

func httpCheck(target string) error {
	client := &http.Client{Timeout: 500 * time.Millisecond}
	resp, err := client.Get(target)
	if err != nil {
		return err
	}
	return resp.Body.Close()
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

// stop sends SIGTERM (to target, or the process itself) and waits up to
// limit; past it the whole process group is killed. It reports whether the
// process stopped by itself.
func (p *serverProcess) stop(target int, limit time.Duration) bool {
	if p.stopped {
		return true
	}
	p.stopped = true
	if p.hasExited() {
		return true
	}
	if target == 0 {
		target = p.pid()
	}
	syscall.Kill(target, syscall.SIGTERM)
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-p.exited:
		return true
	case <-timer.C:
	}
	p.kill()
	return false
}

// kill ends the process group at once and waits for the process.
func (p *serverProcess) kill() {
	syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.exited
}

// stats reads the server's own counters after it stopped.
func (p *serverProcess) stats() (*servers.Stats, error) {
	if p.statsFile == "" {
		return nil, nil
	}
	st, err := servers.ReadStatsFile(p.statsFile)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s wrote no stats file (%s)", p.name, p.exitText())
		}
		return nil, err
	}
	return &st, nil
}

// outputWatch keeps the end of a server's output, for error messages, and
// notices the line in which `sockbench serve` says where it listens.
type outputWatch struct {
	mu        sync.Mutex
	tail      []byte
	line      []byte
	addr      string
	listening chan struct{}
}

const outputTail = 4096

func newOutputWatch() *outputWatch { return &outputWatch{listening: make(chan struct{})} }

// ready marks the address as known without waiting for the line.
func (o *outputWatch) ready(addr string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.setAddr(addr)
}

func (o *outputWatch) setAddr(addr string) {
	if o.addr == "" {
		o.addr = addr
		close(o.listening)
	}
}

func (o *outputWatch) address() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.addr
}

// listenMarker is what `sockbench serve` prints before the address.
const listenMarker = " listening on "

func (o *outputWatch) Write(b []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.tail = append(o.tail, b...)
	if over := len(o.tail) - outputTail; over > 0 {
		o.tail = append(o.tail[:0], o.tail[over:]...)
	}
	if o.addr != "" {
		return len(b), nil
	}
	o.line = append(o.line, b...)
	for {
		i := bytes.IndexByte(o.line, '\n')
		if i < 0 {
			break
		}
		if _, after, ok := strings.Cut(string(o.line[:i]), listenMarker); ok {
			if _, port, err := net.SplitHostPort(strings.TrimSpace(after)); err == nil {
				if _, err := strconv.Atoi(port); err == nil {
					o.setAddr(strings.TrimSpace(after))
				}
			}
		}
		o.line = o.line[i+1:]
	}
	if len(o.line) > outputTail {
		o.line = o.line[len(o.line)-outputTail:]
	}
	return len(b), nil
}

// oneLine is the end of the output on one line.
func (o *outputWatch) oneLine() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	s := strings.Join(strings.Fields(string(o.tail)), " ")
	if s == "" {
		return "(no output)"
	}
	const max = 300
	if len(s) > max {
		s = "…" + s[len(s)-max:]
	}
	return s
}

// text is the end of the output as printed.
func (o *outputWatch) text() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return string(o.tail)
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
