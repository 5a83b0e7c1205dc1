package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/sockbench/sockbench/runner/results"
)

// LoadFile reads, checks and expands the configuration file at path.
func LoadFile(path string) (*results.Plan, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	return Parse(path, data)
}

// Parse checks and expands a configuration; file names it in problems.
func Parse(file string, data []byte) (*results.Plan, error) {
	var cfg Config
	d, err := decodeDocument(file, "configuration", data, &cfg)
	if err != nil {
		return nil, err
	}
	b := &builder{decoder: d, cfg: &cfg, file: file}
	plan := b.build()
	if err := d.err(); err != nil {
		return nil, err
	}
	return plan, nil
}

// decodeDocument parses data, which must be one YAML document, and decodes
// it into v; what names the kind of file in problems ("configuration").
func decodeDocument(file, what string, data []byte, v any) (*decoder, error) {
	ps := &problems{file: file}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil {
			ps.add(ye.GetToken().Position.Line, "", "YAML syntax: %s", ye.GetMessage())
			return nil, ps.err()
		}
		return nil, fmt.Errorf("%s: YAML syntax: %v", file, err)
	}
	var docs []ast.Node
	for _, doc := range f.Docs {
		if doc.Body != nil {
			docs = append(docs, doc.Body)
		}
	}
	switch {
	case len(docs) == 0:
		ps.add(1, "", "the %s is empty", what)
		return nil, ps.err()
	case len(docs) > 1:
		ps.add(lineOf(docs[1]), "", "a %s is one YAML document; this file has %d", what, len(docs))
		return nil, ps.err()
	}
	d := &decoder{problems: ps, lines: map[string]int{}, anchors: map[string]ast.Node{}}
	d.decode(docs[0], reflect.ValueOf(v).Elem(), "")
	if err := ps.err(); err != nil {
		return nil, err
	}
	return d, nil
}

// Document is a YAML file other than a run configuration (the forum
// claims of configs/forum/claims.yaml) read by the configuration's
// decoder: keys by yaml tag, unknown keys and wrong types refused, and
// every problem as "file:line: field: what is wrong". Its reader adds the
// problems its own checks find, located by the field's path.
type Document struct{ d *decoder }

// Decode reads data, one YAML document of the kind what names ("claims
// file"), into v, a pointer to a struct with yaml tags.
func Decode(file, what string, data []byte, v any) (*Document, error) {
	d, err := decodeDocument(file, what, data, v)
	if err != nil {
		return nil, err
	}
	return &Document{d}, nil
}

// Given reports whether the file gave a value at path ("claims[2].post").
func (doc *Document) Given(path string) bool { return doc.d.given(path) }

// Line is the line of path, or of the nearest enclosing value given.
func (doc *Document) Line(path string) int { return doc.d.line(path) }

// Problem records what is wrong with the value at path.
func (doc *Document) Problem(path, format string, args ...any) {
	doc.d.problem(path, format, args...)
}

// Err is every problem recorded, in the order of the file, or nil.
func (doc *Document) Err() error { return doc.d.err() }

// builder checks a decoded configuration and expands it.
type builder struct {
	*decoder
	cfg  *Config
	file string
	// perCell and cellOrder collect the problems found in cells.
	perCell   map[string]*cellProblem
	cellOrder []string
}

// given reports whether the file gave a value at path.
func (d *decoder) given(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// line is the line of path, or of the nearest enclosing value given.
func (d *decoder) line(path string) int {
	for {
		if l, ok := d.lines[path]; ok {
			return l
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return 1
		}
		path = path[:i]
	}
}

func (d *decoder) problem(path, format string, args ...any) {
	d.add(d.line(path), path, format, args...)
}

var nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

func (b *builder) build() *results.Plan {
	cfg := b.cfg
	p := &results.Plan{
		Name: cfg.Name, Description: cfg.Description, Output: cfg.Output, Repetitions: cfg.Repetitions.Min,
		LoadFrom: cfg.LoadFrom, Calibrate: cfg.Calibrate, StartTimeout: cfg.StartTimeout, StopTimeout: cfg.StopTimeout,
	}
	switch {
	case !b.given("version"):
		b.problem("version", "missing; this sockbench reads version %d (add \"version: %d\")", Version, Version)
	case cfg.Version != Version:
		b.problem("version", "version %d is not one this sockbench reads (it reads %d)", cfg.Version, Version)
	}
	if p.Name == "" {
		p.Name = strings.TrimSuffix(filepath.Base(b.file), filepath.Ext(b.file))
	}
	if !nameRE.MatchString(p.Name) {
		b.problem("name", "%q: a name is letters, digits, '.', '_' and '-' (it becomes part of the run id)", p.Name)
	}
	if p.Output == "" {
		p.Output = "results"
	}
	b.repetitions(p)
	switch cfg.LoadFrom {
	case "", "local":
		p.LoadFrom = "local"
		if b.given("agents") {
			b.problem("agents", "agents drive the servers only with load_from: agents")
		}
	case "agents":
		p.LoadFrom = "agents"
		p.Agents = b.agents()
	default:
		b.problem("load_from", "%q: want local or agents", cfg.LoadFrom)
	}
	p.CPUs = b.cpus()
	b.timeouts(p)
	b.verifyOptions("verify", cfg.Verify)
	p.Interference = cfg.Interference
	switch m := cfg.Interference.Max; {
	case !b.given("interference.max"):
		p.Interference.Max = DefaultInterference
	case m <= 0 || m >= 1:
		b.problem("interference.max", "%g%%: a share of the CPUs' time above 0%% and below 100%%", float64(m)*100)
	}
	if cfg.Interference.Retries < 0 {
		b.problem("interference.retries", "%d: not negative", cfg.Interference.Retries)
	}
	if cfg.Calibrate.Requests == 0 {
		p.Calibrate.Requests = DefaultCalibrationRequests
	} else if cfg.Calibrate.Requests < 1 {
		b.problem("calibrate.requests", "%d: at least 1", cfg.Calibrate.Requests)
	}
	for _, pr := range params {
		path := b.fixedPath(pr)
		if b.given(path) {
			b.checkParam(pr, pr.get(&cfg.Load, cfg.Knobs), path)
		}
	}
	srvs := b.servers()
	axes := b.matrix()
	p.Axes = append([]string{ServerAxis}, axisNames(axes)...)
	if len(b.list) > 0 {
		return p
	}
	p.Cells = b.expand(axes, srvs, p.CPUs)
	p.Control = b.control(srvs, p.CPUs)
	return p
}

// control checks the drift control and makes its cell: the named server
// with the fixed load and knobs, no matrix value.
func (b *builder) control(srvs []serverDraft, cpus results.CPUs) *results.Control {
	c := b.cfg.Control
	if !b.given("control") {
		return nil
	}
	var names []string
	for i, s := range srvs {
		names = append(names, s.Name)
		if s.Name != c.Server {
			continue
		}
		if c.Every < 1 {
			b.problem("control.every", "%d: the control runs after every N repetitions, N at least 1", c.Every)
			return nil
		}
		cell := b.cell("control", combo{server: i}, nil, s, cpus)
		b.flushCellProblems(false)
		return &results.Control{Every: c.Every, Cell: cell}
	}
	b.problem("control.server", "%q is not one of the servers (%s)", c.Server, strings.Join(names, ", "))
	return nil
}

// ServerAxis is the name of the axis made of the servers list.
const ServerAxis = results.ServerAxis

// Defaults of the run-level settings; configs/README.md repeats them.
const (
	DefaultRepetitions         = 3
	DefaultCalibrationRequests = 5000
	// DefaultInterference: more than 5% of a CPU set's time going to other
	// work or steal makes a repetition "machine busy".
	DefaultInterference = results.Percent(0.05)
)

func axisNames(axes Matrix) []string {
	names := make([]string, len(axes))
	for i, a := range axes {
		names[i] = a.Name
	}
	return names
}

// fixedPath is where a parameter is fixed for every cell: under load or
// under knobs.
func (b *builder) fixedPath(p param) string {
	if p.knob != nil {
		return "knobs." + p.name
	}
	return "load." + p.name
}

// repetitions checks a plain count, or min, max and ci.
func (b *builder) repetitions(p *results.Plan) {
	r := b.cfg.Repetitions
	switch {
	case !b.given("repetitions"):
		p.Repetitions = DefaultRepetitions
		return
	case !b.given("repetitions.min") && (b.given("repetitions.max") || b.given("repetitions.ci")):
		b.problem("repetitions", "give min with max and ci, e.g. repetitions: {min: 3, max: 10, ci: 3%%}")
		return
	case r.Min < 1:
		b.problem(b.countPath(), "%d: at least 1", r.Min)
		return
	}
	if !b.given("repetitions.max") && !b.given("repetitions.ci") {
		return
	}
	switch {
	case !b.given("repetitions.max") || !b.given("repetitions.ci"):
		b.problem("repetitions", "max and ci go together: measure until the confidence interval is within ci, at most max times")
	case r.Max < r.Min:
		b.problem("repetitions.max", "%d is below min %d", r.Max, r.Min)
	case r.CI <= 0 || r.CI >= 1:
		b.problem("repetitions.ci", "%g%%: a half-width above 0%% and below 100%% of the median", float64(r.CI)*100)
	default:
		p.Adaptive = &results.Adaptive{Max: r.Max, CI: r.CI}
	}
}

func (b *builder) countPath() string {
	if b.given("repetitions.min") {
		return "repetitions.min"
	}
	return "repetitions"
}

func (b *builder) timeouts(p *results.Plan) {
	for _, t := range []struct {
		name string
		v    *results.Duration
		def  results.Duration
	}{{"start_timeout", &p.StartTimeout, DefaultStartTimeout}, {"stop_timeout", &p.StopTimeout, DefaultStopTimeout}} {
		switch {
		case !b.given(t.name):
			*t.v = t.def
		case *t.v <= 0:
			b.problem(t.name, "%v: must be positive", *t.v)
		}
	}
}

// matrix checks the axes: each varies something not fixed elsewhere and
// has distinct values.
func (b *builder) matrix() Matrix {
	var axes Matrix
	for _, ax := range b.cfg.Matrix {
		path := "matrix." + ax.Name
		pr, _ := lookupParam(ax.Name)
		if fixed := b.fixedPath(pr); b.given(fixed) {
			b.problem(path, "also fixed at %s (line %d); give it in one place", fixed, b.line(fixed))
			continue
		}
		seen := map[string]bool{}
		for _, v := range ax.Values {
			if seen[v.Text] {
				b.problem(v.path, "%s appears twice in the axis", v.Text)
			}
			seen[v.Text] = true
			b.checkParam(pr, v.v, v.path)
		}
		axes = append(axes, ax)
	}
	return axes
}
