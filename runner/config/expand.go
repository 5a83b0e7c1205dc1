package config

import (
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/verify"
)

// serverDraft is a server entry checked, before the matrix is applied.
type serverDraft struct {
	results.ServerSpec
	path string
	// knobPaths maps each knob the entry sets itself to its path.
	knobPaths map[string]string
}

func (b *builder) servers() []serverDraft {
	var out []serverDraft
	if len(b.cfg.Servers) == 0 {
		b.problem("servers", "no servers: list at least one, e.g. servers: [epoll, nethttp]")
		return nil
	}
	seen := map[string]string{}
	for i, e := range b.cfg.Servers {
		path := index("servers", i)
		if e.Name == "" {
			b.problem(path, "a server needs a name")
			continue
		}
		if !nameRE.MatchString(e.Name) {
			b.problem(path+".name", "%q: a name is letters, digits, '.', '_' and '-'", e.Name)
		}
		if first, dup := seen[e.Name]; dup {
			b.problem(path+".name", "%q is already the name of %s; names must be unique", e.Name, first)
			continue
		}
		seen[e.Name] = path
		s := serverDraft{path: path, knobPaths: map[string]string{}, ServerSpec: results.ServerSpec{
			Name: e.Name, Knobs: b.cfg.Knobs.With(e.Knobs), Command: e.Command, URL: e.URL,
			Ready: e.Ready, Files: e.Files, Env: e.Env,
			Verify: results.Verify{Timeout: b.cfg.Verify.Timeout, Skip: append(slices.Clone(b.cfg.Verify.Skip), e.Verify.Skip...)},
		}}
		if e.Verify.Timeout != 0 {
			s.Verify.Timeout = e.Verify.Timeout
		}
		if s.Verify.Timeout == 0 {
			s.Verify.Timeout = results.Duration(verify.DefaultTimeout)
		}
		b.verifyOptions(path+".verify", e.Verify)
		for _, kv := range e.Knobs.List() {
			s.knobPaths[kv.Knob.Name] = path + ".knobs." + kv.Knob.Name
			pr, _ := lookupParam(kv.Knob.Name)
			b.checkParam(pr, kv.Value, s.knobPaths[kv.Knob.Name])
		}
		if len(e.Command) == 0 {
			b.builtin(&s, e)
		} else {
			b.external(&s, e)
		}
		out = append(out, s)
	}
	return out
}

func (b *builder) builtin(s *serverDraft, e ServerEntry) {
	s.Model = e.Model
	if s.Model == "" {
		s.Model = e.Name
	}
	field := s.path + ".model"
	if !b.given(field) {
		field = s.path + ".name"
	}
	if _, err := servers.Lookup(s.Model); err != nil {
		b.problem(field, "%v; an external server needs a command", err)
	}
	for _, f := range []string{"url", "ready", "files", "env"} {
		if b.given(s.path + "." + f) {
			b.problem(s.path+"."+f, "applies to external servers (those with a command); %s is the built-in model %s", s.Name, s.Model)
		}
	}
}

func (b *builder) external(s *serverDraft, e ServerEntry) {
	if b.given(s.path + ".model") {
		b.problem(s.path+".model", "a server is a built-in model or an external command, not both")
	}
	if b.given(s.path + ".knobs") {
		b.problem(s.path+".knobs", "an external server takes its settings in its command; knobs of its own apply to built-in models")
	}
	if s.URL == "" {
		b.problem(s.path, "an external server needs a url, e.g. url: http://{addr}/")
	} else {
		b.checkURL(s.path+".url", s.URL)
	}
	if s.Ready.HTTP != "" && len(s.Ready.Command) > 0 {
		b.problem(s.path+".ready", "give http or command, not both")
	}
	if h := s.Ready.HTTP; h != "" && !strings.HasPrefix(h, "/") {
		b.problem(s.path+".ready.http", "%q: a path starts with /", h)
	}
	for name := range s.Files {
		if !results.PlainFileName(name) {
			b.problem(s.path+".files."+name, "a file name without folders")
		}
	}
	knobs := servers.KnobNames()
	for _, field := range sortedKeys(s.Texts()) {
		for _, name := range placeholders(s.Texts()[field]) {
			if !slices.Contains(runPlaceholders, name) && !slices.Contains(knobs, name) {
				b.problem(s.path+"."+field, "unknown placeholder {%s}; known: {%s} and the knobs {%s}", name, strings.Join(runPlaceholders, "}, {"), strings.Join(knobs, "}, {"))
			}
		}
	}
}

// checkURL wants an http:// or tcp:// URL on this machine: the runner
// starts the server here, and sends load nowhere else.
func (b *builder) checkURL(path, raw string) {
	u, err := url.Parse(Substitute(raw, map[string]string{PlaceAddr: "127.0.0.1:1", PlaceHost: "127.0.0.1", PlacePort: "1"}))
	if err != nil {
		b.problem(path, "%q is not a URL: %v", raw, err)
		return
	}
	if u.Scheme != "http" && u.Scheme != "tcp" {
		b.problem(path, "%q: want http://host:port/path (or tcp:// for stream mode)", raw)
		return
	}
	host := u.Hostname()
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		b.problem(path, "%q: the server runs on this machine, so its URL is on loopback (127.0.0.1 or {addr})", raw)
	}
	if u.Port() == "" {
		b.problem(path, "%q has no port", raw)
	}
}

// combo is one combination of the matrix axes and a server, by index.
type combo struct {
	values []int
	server int
}

// expand makes the cells: the cross product of the axes with the server
// varying fastest, trimmed by include and exclude, each cell checked.
func (b *builder) expand(axes Matrix, srvs []serverDraft, cpus results.CPUs) []results.Cell {
	for _, s := range srvs {
		for name, path := range s.knobPaths {
			if slices.ContainsFunc(axes, func(a Axis) bool { return a.Name == name }) {
				b.problem(path, "%s is also a matrix axis; give it in one place", name)
			}
		}
	}
	var all []combo
	idx := make([]int, len(axes))
	for {
		for si := range srvs {
			all = append(all, combo{values: slices.Clone(idx), server: si})
		}
		k := len(axes) - 1
		for ; k >= 0; k-- {
			if idx[k]++; idx[k] < len(axes[k].Values) {
				break
			}
			idx[k] = 0
		}
		if k < 0 {
			break
		}
	}
	text := func(c combo, axis string) string {
		if axis == ServerAxis {
			return srvs[c.server].Name
		}
		i := slices.IndexFunc(axes, func(a Axis) bool { return a.Name == axis })
		return axes[i].Values[c.values[i]].Text
	}
	matches := func(c combo, a Assignment) bool {
		for _, av := range a {
			if text(c, av.Axis) != av.Value.Text {
				return false
			}
		}
		return true
	}
	include := b.assignments("include", b.cfg.Include, axes, srvs)
	exclude := b.assignments("exclude", b.cfg.Exclude, axes, srvs)
	if len(b.list) > 0 {
		return nil
	}
	kept := all
	if len(include) > 0 {
		kept = slices.DeleteFunc(slices.Clone(all), func(c combo) bool {
			return !slices.ContainsFunc(include, func(a Assignment) bool { return matches(c, a) })
		})
	}
	for i, a := range exclude {
		if !slices.ContainsFunc(kept, func(c combo) bool { return matches(c, a) }) {
			b.problem(index("exclude", i), "matches no cell%s", map[bool]string{true: " that include keeps", false: ""}[len(include) > 0])
		}
	}
	kept = slices.DeleteFunc(kept, func(c combo) bool {
		return slices.ContainsFunc(exclude, func(a Assignment) bool { return matches(c, a) })
	})
	if len(kept) == 0 && len(b.list) == 0 {
		b.problem("exclude", "include and exclude leave no cell to run")
	}
	width := len(fmt.Sprint(len(kept)))
	var cells []results.Cell
	for n, c := range kept {
		cells = append(cells, b.cell(fmt.Sprintf("c%0*d", width, n+1), c, axes, srvs[c.server], cpus))
	}
	b.flushCellProblems(len(axes) > 0)
	return cells
}

// assignments checks include or exclude entries against the axes and
// decodes their values as the axes' types.
func (b *builder) assignments(section string, entries []Assignment, axes Matrix, srvs []serverDraft) []Assignment {
	names := append([]string{ServerAxis}, axisNames(axes)...)
	var out []Assignment
	for i, entry := range entries {
		if len(entry) == 0 {
			b.problem(index(section, i), "an empty entry matches every cell")
			continue
		}
		var resolved Assignment
		for _, av := range entry {
			path := av.Value.path
			var values []string
			switch ai := slices.IndexFunc(axes, func(a Axis) bool { return a.Name == av.Axis }); {
			case av.Axis == ServerAxis:
				for _, s := range srvs {
					values = append(values, s.Name)
				}
			case ai >= 0:
				pr, _ := lookupParam(av.Axis)
				v, ok := b.paramValue(pr, av.Value.v.(ast.Node), path)
				if !ok {
					continue
				}
				av.Value = v
				for _, x := range axes[ai].Values {
					values = append(values, x.Text)
				}
			default:
				b.problem(path, "not an axis of this matrix (axes: %s)", strings.Join(names, ", "))
				continue
			}
			if !slices.Contains(values, av.Value.Text) {
				b.problem(path, "%s is not a value of the %s axis (values: %s)", quoteIfEmpty(av.Value.Text), av.Axis, strings.Join(values, ", "))
				continue
			}
			resolved = append(resolved, av)
		}
		out = append(out, resolved)
	}
	return out
}

func quoteIfEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

var idUnsafe = regexp.MustCompile(`[^A-Za-z0-9._=-]+`)

// cell resolves one combination and checks it as a whole.
func (b *builder) cell(id string, c combo, axes Matrix, s serverDraft, cpus results.CPUs) results.Cell {
	load := b.cfg.Load
	knobs := s.Knobs.With(nil)
	sources := map[string]string{}
	for _, p := range params {
		if path := b.fixedPath(p); b.given(path) {
			sources[p.name] = path
		}
	}
	for name, path := range s.knobPaths {
		sources[name] = path
	}
	cell := results.Cell{Axes: map[string]string{ServerAxis: s.Name}}
	idParts := []string{id, s.Name}
	for i, ax := range axes {
		v := ax.Values[c.values[i]]
		pr, _ := lookupParam(ax.Name)
		pr.set(&load, knobs, v.v)
		sources[ax.Name] = v.path
		cell.Axes[ax.Name] = v.Text
		idParts = append(idParts, ax.Name+"="+v.Text)
	}
	cell.ID = idUnsafe.ReplaceAllString(strings.Join(idParts, "-"), "_")
	given := func(name string) bool { _, ok := sources[name]; return ok }
	cell.Load = resolveLoad(load, given, len(cpus.Load.CPUs))
	cell.Server = s.ServerSpec
	cell.Server.Knobs = knobs
	// The conformance cases the model, or a knob of this cell, is known
	// to fail on purpose (an external server has no model: only knobs').
	m, _ := servers.Lookup(s.Model)
	cell.Server.Verify.Skip = slices.Clone(s.Verify.Skip)
	for _, name := range sortedKeys(m.DeviationsWith(knobs.Options())) {
		if !slices.Contains(cell.Server.Verify.Skip, name) {
			cell.Server.Verify.Skip = append(cell.Server.Verify.Skip, name)
		}
	}
	label := cellLabel(cell.Axes, axes)
	if field, msg := checkLoad(cell.Load); field != "" {
		path, ok := sources[field]
		if !ok {
			path = "load." + field
		}
		b.cellProblem(path, label, "%s", msg)
	}
	if s.External() {
		for _, kv := range knobs.List() {
			if name := kv.Knob.Name; !UsesPlaceholder(s.ServerSpec, name) {
				b.cellProblem(sources[name], label, "%s sets %s, but the external server %s does not use {%s} in its command, url, files or env", name, kv.Text, s.Name, name)
			}
		}
		for _, name := range servers.KnobNames() {
			if UsesPlaceholder(s.ServerSpec, name) && !given(name) {
				b.cellProblem(s.path, label, "uses {%s}, but no value is given for the knob %s", name, name)
			}
		}
		return cell
	}
	m, err := servers.Lookup(s.Model)
	if err != nil {
		return cell
	}
	// All together first: a knob may need another (listeners needs
	// reuseport), so one alone can be wrong where the set is right. A set
	// that is wrong is then tried knob by knob, so the problem names the
	// line of the knob that causes it where one alone does.
	opts := knobs.Options()
	opts.Stream = cell.Load.Mode == string(loadgen.Stream)
	err = m.Validate(opts)
	if err == nil {
		return cell
	}
	for _, kv := range knobs.List() {
		if err := m.Validate(servers.Settings{kv.Knob.Name: kv.Value}.Options()); err != nil {
			b.cellProblem(sources[kv.Knob.Name], label, "%v", err)
			return cell
		}
	}
	b.cellProblem(s.path, label, "%v", err)
	return cell
}

// cellProblem records a problem of one cell. The same problem in several
// cells is reported once, naming the first cell and how many there are.
func (b *builder) cellProblem(path, cell, format string, args ...any) {
	key := fmt.Sprintf("%s\x00%s", path, fmt.Sprintf(format, args...))
	if cp, ok := b.perCell[key]; ok {
		cp.cells++
		return
	}
	if b.perCell == nil {
		b.perCell = map[string]*cellProblem{}
	}
	b.perCell[key] = &cellProblem{path: path, msg: fmt.Sprintf(format, args...), first: cell, cells: 1}
	b.cellOrder = append(b.cellOrder, key)
}

type cellProblem struct {
	path, msg, first string
	cells            int
}

// flushCellProblems adds the problems cellProblem collected, and forgets
// them.
func (b *builder) flushCellProblems(matrix bool) {
	defer func() { b.perCell, b.cellOrder = nil, nil }()
	for _, key := range b.cellOrder {
		cp := b.perCell[key]
		switch {
		case !matrix:
			b.problem(cp.path, "%s", cp.msg)
		case cp.cells == 1:
			b.problem(cp.path, "%s (in the cell %s)", cp.msg, cp.first)
		default:
			b.problem(cp.path, "%s (in %d cells, the first %s)", cp.msg, cp.cells, cp.first)
		}
	}
}

// cellLabel names a cell by its matrix values, e.g. "server=epoll,
// keep_alive=false".
func cellLabel(values map[string]string, axes Matrix) string {
	parts := []string{ServerAxis + "=" + values[ServerAxis]}
	for _, a := range axes {
		parts = append(parts, a.Name+"="+values[a.Name])
	}
	return strings.Join(parts, ", ")
}
