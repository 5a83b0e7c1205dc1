package config

import (
	"errors"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/verify"
)

// Defaults of the server lifecycle.
const (
	DefaultStartTimeout = results.Duration(10 * time.Second)
	DefaultStopTimeout  = results.Duration(5 * time.Second)
)

// Defaults of the load parameters where the runner's differ from, or are
// not, loadgen's: a benchmark wants a warm-up, and verify's page is "/".
const (
	DefaultWarmup = results.Duration(2 * time.Second)
	DefaultPath   = "/"
)

func parseCPUs(text string) ([]int, error) {
	// affinity's error names the list and the bad entry.
	return affinity.ParseCPUList(text)
}

// cpus resolves the CPU sets: by default the server gets the first CPU
// this process may run on and the load generator the others.
func (b *builder) cpus() results.CPUs {
	c := b.cfg.CPUs
	usable, err := affinity.Allowed(os.Getpid())
	if err != nil {
		b.problem("cpus", "cannot read the CPUs this process may run on: %v", err)
		return c
	}
	if c.Server.CPUs == nil {
		c.Server = results.CPUList{Text: affinity.FormatCPUList(usable[:1]), CPUs: usable[:1]}
	}
	if c.Load.CPUs == nil {
		rest := usable[1:]
		if len(rest) == 0 {
			rest = usable
		}
		c.Load = results.CPUList{Text: affinity.FormatCPUList(rest), CPUs: rest}
	}
	for _, l := range []struct {
		path string
		cpus []int
	}{{"cpus.server", c.Server.CPUs}, {"cpus.load", c.Load.CPUs}} {
		for _, cpu := range l.cpus {
			if !slices.Contains(usable, cpu) {
				b.problem(l.path, "CPU %d is not one this process may run on (%s)", cpu, affinity.FormatCPUList(usable))
				break
			}
		}
	}
	return c
}

func (b *builder) verifyOptions(path string, v results.Verify) {
	if b.given(path+".timeout") && v.Timeout <= 0 {
		b.problem(path+".timeout", "%v: must be positive", v.Timeout)
	}
	for i, name := range v.Skip {
		if !slices.Contains(verify.Cases(), name) {
			b.problem(index(path+".skip", i), "%q is not a verify case (cases: %s)", name, strings.Join(verify.Cases(), ", "))
		}
	}
}

// checkParam checks one value of a parameter on its own, by loadgen's
// rule for the option or the knob's own; combinations are checked per
// cell by checkLoad and the servers' own rules.
func (b *builder) checkParam(p param, v any, path string) {
	if p.knob != nil {
		if err := p.knob.Check(v); err != nil {
			b.problem(path, "%v", err)
		}
		return
	}
	switch p.name {
	case "path":
		// The runner's own: loadgen takes a whole URL.
		if s := v.(string); !strings.HasPrefix(s, "/") || strings.ContainsAny(s, " \t\r\n") {
			b.problem(path, "%q: a path starts with / and has no spaces", s)
		}
		return
	case "headers":
		// One problem per header, at its own line.
		for i, h := range v.([]string) {
			if _, err := loadgen.ParseHeader(h); err != nil {
				b.problem(index(path, i), "%v", err)
			}
		}
		return
	}
	var l results.Load
	p.set(&l, nil, v)
	err := l.Options("").CheckEach(loadKey, func(option string) bool { return loadKey(option) == p.name })
	if err != nil {
		b.problem(path, "%v", err)
	}
}

// resolveLoad fills in the defaults of every parameter not given.
func resolveLoad(l results.Load, given func(name string) bool, loadCPUs int) results.Load {
	if l.Mode == "" {
		l.Mode = string(loadgen.Closed)
	}
	if !given("keep_alive") {
		l.KeepAlive = true
	}
	if l.Connections == 0 {
		l.Connections = loadgen.DefaultConnections
	}
	if l.Threads == 0 {
		// loadgen's own default, made explicit for the manifest.
		l.Threads = max(1, min(loadCPUs, l.Connections))
	}
	if l.Pipeline == 0 {
		l.Pipeline = 1
	}
	if l.Duration == 0 {
		l.Duration = results.Duration(loadgen.DefaultDuration)
	}
	if !given("warmup") {
		l.Warmup = DefaultWarmup
	}
	if l.Timeout == 0 {
		l.Timeout = results.Duration(loadgen.DefaultTimeout)
	}
	if l.Method == "" {
		l.Method = "GET"
	}
	if l.Path == "" {
		l.Path = DefaultPath
	}
	if l.Status == 0 {
		l.Status = loadgen.DefaultStatus
	}
	switch loadgen.Mode(l.Mode) {
	case loadgen.Closed:
		if l.IO == "" {
			l.IO = string(loadgen.IOEpoll)
		}
	case loadgen.Open:
		if l.Pacer == "" {
			l.Pacer = string(loadgen.PacerConstant)
		}
	case loadgen.Stream:
		if l.ChunkSize == 0 {
			l.ChunkSize = loadgen.DefaultChunkSize
		}
	}
	return l
}

// checkLoad finds a combination of load parameters the engines cannot run
// (or that would be silently ignored) and names the parameter to change,
// by loadgen's own rules, for every cell before the first one runs.
func checkLoad(l results.Load) (field, msg string) {
	// Any address will do: the rules are about the parameters.
	err := l.Options("http://127.0.0.1:1/").Check(loadKey)
	var oe *loadgen.OptionError
	if !errors.As(err, &oe) {
		return "", ""
	}
	field, _, _ = strings.Cut(loadKey(oe.Option), " ")
	return field, oe.Msg
}

// loadKey is the configuration's word for one of loadgen's options.
func loadKey(option string) string {
	switch option {
	case "close":
		return "keep_alive false"
	case "requests":
		return "max_requests"
	case "header":
		return "headers"
	}
	return strings.ReplaceAll(option, "-", "_")
}
