package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/verify"
	// The registry the configuration's servers are checked against, as
	// cmd/sockbench fills it.
	_ "github.com/sockbench/sockbench/servers/all"
)

// base is a valid configuration the error cases below change one thing
// in; its line numbers matter to the expected messages.
const base = `version: 1
name: t
cpus: {server: 0, load: 1}
servers: [epoll, nethttp]
load:
  connections: 10
  duration: 1s
matrix:
  keep_alive: [true, false]
`

// inLoad adds a line to base's load section, as line 8.
func inLoad(line string) string {
	return strings.Replace(base, "  duration: 1s\n", "  duration: 1s\n"+line+"\n", 1)
}

// TestProblems: every kind of mistake is refused before anything runs,
// with the file, the line, the field and what is wrong, exactly.
func TestProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want []string
	}{
		{"syntax error", "version: 1\nservers: [epoll\n",
			[]string{"c.yaml:2: YAML syntax: sequence end token ']' not found"}},
		{"empty file", "# nothing\n", []string{"c.yaml:1: the configuration is empty"}},
		{"not a mapping", "- epoll\n", []string{"c.yaml:1: want a mapping, got a list"}},
		{"unknown top-level key", base + "repetiton: 3\n",
			[]string{"c.yaml:10: repetiton: unknown field; the configuration takes version, name, description, output, repetitions, cpus, load_from, agents, servers, knobs, load, matrix, include, exclude, verify, calibrate, interference, control, start_timeout, stop_timeout"}},
		{"unknown nested key", strings.Replace(base, "  connections: 10", "  conections: 10", 1),
			[]string{"c.yaml:6: load.conections: unknown field; load takes mode, connections, threads, keep_alive, pipeline, io, rate, pacer, rate_to, amplitude, period, duration, warmup, timeout, method, path, headers, status, chunk_size, max_requests"}},
		{"unknown key in a server", strings.Replace(base, "[epoll, nethttp]", "\n  - epoll\n  - {name: x, comand: [a]}", 1),
			[]string{"c.yaml:6: servers[1].comand: unknown field; servers[1] takes name, model, knobs, command, url, ready, files, env, verify"}},
		{"key given twice", base + "name: u\n", []string{`c.yaml:10: YAML syntax: mapping key "name" already defined at [2:1]`}},
		{"text for a number", strings.Replace(base, "connections: 10", "connections: ten", 1),
			[]string{`c.yaml:6: load.connections: want a whole number, got "ten"`}},
		{"fraction for a whole number", strings.Replace(base, "connections: 10", "connections: 2.5", 1),
			[]string{"c.yaml:6: load.connections: want a whole number, got the number 2.5"}},
		{"number without a unit", strings.Replace(base, "duration: 1s", "duration: 10", 1),
			[]string{"c.yaml:7: load.duration: want a duration such as 10s or 500ms, got the number 10 (a number needs a unit)"}},
		{"bad duration", strings.Replace(base, "duration: 1s", "duration: soon", 1),
			[]string{`c.yaml:7: load.duration: want a duration such as 10s or 500ms, got "soon"`}},
		{"list for a scalar", base + "repetitions: [1, 2]\n", []string{"c.yaml:10: repetitions: want a number of repetitions, or {min, max, ci}, got a list"}},
		{"scalar for a list", strings.Replace(base, "[true, false]", "true", 1),
			[]string{"c.yaml:9: matrix.keep_alive: want a list of values, got true"}},
		{"wrong type in an axis", strings.Replace(base, "[true, false]", "[true, sometimes]", 1),
			[]string{`c.yaml:9: matrix.keep_alive[1]: want true or false, got "sometimes"`}},
		{"bad CPU list", strings.Replace(base, "load: 1}", "load: one}", 1),
			[]string{`c.yaml:3: cpus.load: cpu list "one": entry "one": "one" is not a CPU number`}},
		{"CPU this process may not use", strings.Replace(base, "load: 1}", "load: 1000}", 1),
			[]string{"c.yaml:3: cpus.load: CPU 1000 is not one this process may run on (" + affinity.FormatCPUList(usableCPUs()) + ")"}},
		{"missing version", strings.Replace(base, "version: 1\n", "", 1),
			[]string{`c.yaml:1: version: missing; this sockbench reads version 1 (add "version: 1")`}},
		{"impossible value", strings.Replace(base, "connections: 10", "connections: 0", 1),
			[]string{"c.yaml:6: load.connections: connections 0: must be at least 1"}},
		{"impossible value in an axis", base + "  pipeline: [1, 0]\n",
			[]string{"c.yaml:10: matrix.pipeline[1]: pipeline 0: must be at least 1"}},
		{"negative warm-up", inLoad("  warmup: -1s"), []string{"c.yaml:8: load.warmup: warmup -1s: must not be negative"}},
		{"unknown mode", inLoad("  mode: burst"), []string{`c.yaml:8: load.mode: mode "burst": want one of closed, open, stream`}},
		{"unknown I/O", inLoad("  io: kqueue"), []string{`c.yaml:8: load.io: io "kqueue": want one of epoll, uring`}},
		{"io_uring outside closed mode", inLoad("  mode: open\n  rate: 100\n  io: uring"),
			[]string{"c.yaml:10: load.io: io uring is the closed-loop engine's: open mode has an I/O of its own (in 4 cells, the first server=epoll, keep_alive=true)"}},
		{"method that is not a token", inLoad(`  method: "GET /"`), []string{`c.yaml:8: load.method: method "GET /" is not an HTTP token`}},
		{"negative rate in an axis", base + "  rate: [1000, -5]\n", []string{"c.yaml:10: matrix.rate[1]: rate -5: must not be negative"}},
		{"bad header", inLoad("  headers: [\"X-Test\"]"),
			[]string{`c.yaml:8: load.headers[0]: header "X-Test": want "Name: value" with a name of no spaces and a value on one line`}},
		{"unknown server", strings.Replace(base, "[epoll, nethttp]", "[epoll, nginx]", 1),
			[]string{`c.yaml:4: servers[1].name: unknown server "nginx" (known: epoll, gonet, nethttp, poll, select, uring, workerpool); an external server needs a command`}},
		{"server twice", strings.Replace(base, "[epoll, nethttp]", "[epoll, epoll]", 1),
			[]string{`c.yaml:4: servers[1].name: "epoll" is already the name of servers[0]; names must be unique`}},
		{"repeated axis value", strings.Replace(base, "[true, false]", "[true, true]", 1),
			[]string{"c.yaml:9: matrix.keep_alive[1]: true appears twice in the axis"}},
		{"axis also fixed", inLoad("  keep_alive: true"),
			[]string{"c.yaml:10: matrix.keep_alive: also fixed at load.keep_alive (line 8); give it in one place"}},
		{"unknown axis", base + "  conections: [1]\n", []string{"c.yaml:10: matrix.conections: unknown axis; an axis is a load parameter or a server knob: " + strings.Join(paramNames(), ", ") + " (the server axis is the servers list)"}},
		{"knob a model lacks", base + "  accept_batch: [0, 8]\n",
			[]string{`c.yaml:10: matrix.accept_batch[1]: nethttp server: knob accept_batch does not apply to the nethttp model (it applies to epoll, poll, select) (in 2 cells, the first server=nethttp, keep_alive=true, accept_batch=8)`}},
		{"bad knob value", base + "knobs: {handler: jinja}\n", []string{`c.yaml:10: knobs.handler: handler "jinja" is not one of static, template, template-reparse`}},
		{"impossible combination", inLoad("  pipeline: 4"),
			[]string{"c.yaml:8: load.pipeline: pipeline 4 with keep_alive false: a connection that closes after one answer cannot pipeline (in 2 cells, the first server=epoll, keep_alive=false)"}},
		{"combination of knobs", base + "knobs: {listeners: 2}\n",
			[]string{"c.yaml:10: knobs.listeners: epoll server: listeners 2 needs reuseport (without SO_REUSEPORT only one socket can bind the address) (in 2 cells, the first server=epoll, keep_alive=true)",
				"c.yaml:10: knobs.listeners: nethttp server: listeners 2 needs reuseport (without SO_REUSEPORT only one socket can bind the address) (in 2 cells, the first server=nethttp, keep_alive=true)"}},
		{"open mode without a rate", inLoad("  mode: open"),
			[]string{"c.yaml:8: load.mode: open mode needs rate: it sends at a set rate whatever the server does (in 4 cells, the first server=epoll, keep_alive=true)"}},
		{"adaptive repetitions without ci", base + "repetitions: {min: 3, max: 10}\n",
			[]string{"c.yaml:10: repetitions: max and ci go together: measure until the confidence interval is within ci, at most max times"}},
		{"adaptive repetitions max below min", base + "repetitions: {min: 5, max: 3, ci: 2%}\n",
			[]string{"c.yaml:10: repetitions.max: 3 is below min 5"}},
		{"adaptive repetitions without min", base + "repetitions: {max: 3, ci: 2%}\n",
			[]string{"c.yaml:10: repetitions: give min with max and ci, e.g. repetitions: {min: 3, max: 10, ci: 3%}"}},
		{"control of a server not in the list", base + "control: {server: poll, every: 2}\n",
			[]string{`c.yaml:10: control.server: "poll" is not one of the servers (epoll, nethttp)`}},
		{"control every 0", base + "control: {server: epoll, every: 0}\n",
			[]string{"c.yaml:10: control.every: 0: the control runs after every N repetitions, N at least 1"}},
		{"interference above 100%", base + "interference: {max: 150%}\n",
			[]string{"c.yaml:10: interference.max: 150%: a share of the CPUs' time above 0% and below 100%"}},
		{"interference not a percentage", base + "interference: {max: lots}\n",
			[]string{"c.yaml:10: interference.max: want a percentage such as 5%, got \"lots\""}},
		{"interference retries negative", base + "interference: {max: 2.5, retries: -1}\n",
			[]string{"c.yaml:10: interference.retries: -1: not negative"}},
		{"exclude with an unknown axis", base + "exclude: [{conections: 10}]\n",
			[]string{"c.yaml:10: exclude[0].conections: not an axis of this matrix (axes: server, keep_alive)"}},
		{"exclude with a value not in the axis", base + "exclude: [{server: nginx}]\n",
			[]string{"c.yaml:10: exclude[0].server: nginx is not a value of the server axis (values: epoll, nethttp)"}},
		{"exclude with a wrongly typed value", base + "exclude: [{keep_alive: 1}]\n",
			[]string{"c.yaml:10: exclude[0].keep_alive: want true or false, got the number 1"}},
		{"exclude that removes everything", base + "exclude: [{keep_alive: true}, {keep_alive: false}]\n",
			[]string{"c.yaml:10: exclude: include and exclude leave no cell to run"}},
		{"external server without url", strings.Replace(base, "[epoll, nethttp]", "\n  - epoll\n  - {name: ext, command: [\"{sockbench}\", serve, epoll]}", 1),
			[]string{"c.yaml:6: servers[1]: an external server needs a url, e.g. url: http://{addr}/"}},
		{"external server off this machine", strings.Replace(base, "[epoll, nethttp]", "\n  - {name: ext, command: [x], url: \"http://10.1.2.3:80/\"}", 1),
			[]string{`c.yaml:5: servers[0].url: "http://10.1.2.3:80/": the server runs on this machine, so its URL is on loopback (127.0.0.1 or {addr})`}},
		{"unknown placeholder", strings.Replace(base, "[epoll, nethttp]", "\n  - {name: ext, command: [x, \"{adr}\"], url: \"http://{addr}/\"}", 1),
			[]string{"c.yaml:5: servers[0].command[1]: unknown placeholder {adr}; known: {addr}, {host}, {port}, {dir}, {stats_file}, {cpus}, {sockbench}, {workdir} and the knobs {" + strings.Join(servers.KnobNames(), "}, {") + "}"}},
		{"knob an external server ignores", strings.Replace(base, "[epoll, nethttp]", "\n  - {name: ext, command: [x, \"{addr}\"], url: \"http://{addr}/\"}", 1) + "knobs: {backlog: 64}\n",
			[]string{"c.yaml:11: knobs.backlog: backlog sets 64, but the external server ext does not use {backlog} in its command, url, files or env (in 2 cells, the first server=ext, keep_alive=true)"}},
		{"unknown verify case", base + "verify: {skip: [date]}\n",
			[]string{`c.yaml:10: verify.skip[0]: "date" is not a verify case (cases: ` + strings.Join(verifyCases(), ", ") + ")"}},
		{"agents without their section", base + "load_from: agents\n", []string{"c.yaml:10: load_from: load_from: agents needs an agents section: {addresses: [host:port, ...], listen: host:port, token_file: FILE}"}},
		{"agents with local load", base + "agents: {addresses: [\"198.18.0.2:7000\"], listen: 198.18.0.1:8080}\n", []string{"c.yaml:10: agents: agents drive the servers only with load_from: agents"}},
		{"agents, each thing wrong", base + "load_from: agents\nagents:\n  addresses: [198.18.0.2]\n  token_file: /nonexistent/token\n  tls: {cert: /nonexistent/cert}\n  listen: 0.0.0.0:8080\n", []string{
			`c.yaml:12: agents.addresses[0]: "198.18.0.2": want host:port (e.g. 198.18.0.2:7000)`,
			"c.yaml:13: agents.token_file: stat /nonexistent/token: no such file or directory",
			"c.yaml:14: agents.tls.cert: stat /nonexistent/cert: no such file or directory",
			"c.yaml:14: agents.tls: a certificate needs its key: give both cert and key, or neither",
			`c.yaml:15: agents.listen: "0.0.0.0:8080" listens on every address: give agents.target, the host:port the agents reach the servers at`}},
		{"agents over SSH, each thing wrong", base + "load_from: agents\nagents:\n  ssh: [198.18.0.2, \"bench@198.18.0.3:ssh\", \"bench@\"]\n  known_hosts: [/nonexistent/known_hosts]\n  identity: [/nonexistent/id]\n  ssh_listen: \"7000\"\n  listen: 198.18.0.1:8080\n", []string{
			`c.yaml:12: agents.ssh[0]: "198.18.0.2": want user@host or user@host:port (e.g. bench@198.18.0.2)`,
			`c.yaml:12: agents.ssh[1]: "bench@198.18.0.3:ssh": want user@host or user@host:port with a port number (e.g. bench@198.18.0.2:22)`,
			`c.yaml:12: agents.ssh[2]: "bench@": want user@host or user@host:port (e.g. bench@198.18.0.2)`,
			"c.yaml:13: agents.known_hosts[0]: stat /nonexistent/known_hosts: no such file or directory",
			"c.yaml:14: agents.identity[0]: stat /nonexistent/id: no such file or directory",
			`c.yaml:15: agents.ssh_listen: "7000": want [host]:port, the agents' --listen on their machines (e.g. :7000)`}},
		{"SSH settings without SSH hosts", base + "load_from: agents\nagents: {addresses: [\"a:7000\"], identity: [/etc/hostname], listen: \"198.18.0.1:8080\"}\n", []string{
			"c.yaml:11: agents.identity: is for the agents of agents.ssh, and none are given"}},
		{"agents, a port chosen at random", base + "load_from: agents\nagents: {addresses: [\"a:7000\"], listen: \"198.18.0.1:0\"}\n", []string{
			`c.yaml:11: agents.listen: "198.18.0.1:0": want host:port with a fixed port, an address the agents can reach (e.g. 198.18.0.1:8080)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("c.yaml", []byte(tt.yaml))
			var cerr *Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse: %v, want problems", err)
			}
			got := strings.Split(cerr.Error(), "\n")
			if !slices.Equal(got, tt.want) {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

// TestLoadFileNamesTheFile: problems carry the path as given.
func TestLoadFileNamesTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	if err := os.WriteFile(path, []byte("version: 2\nservers: [epoll]\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadFile(path)
	want := path + ":1: version: version 2 is not one this sockbench reads (it reads 1)"
	if err == nil || err.Error() != want {
		t.Errorf("LoadFile: %v, want %s", err, want)
	}
	if _, err := LoadFile(filepath.Join(t.TempDir(), "none.yaml")); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("LoadFile of a missing file: %v", err)
	}
}

func cellIDs(p *results.Plan) []string {
	var ids []string
	for _, c := range p.Cells {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestExpansion: the axes expand as a cross product in the order written,
// the server varying fastest; include keeps, exclude drops.
func TestExpansion(t *testing.T) {
	const cfg = `version: 1
cpus: {server: 0, load: 1}
servers: [epoll, nethttp]
matrix:
  keep_alive: [true, false]
  connections: [10, 100]
`
	tests := []struct {
		name  string
		extra string
		want  []string
	}{
		{"full product", "", []string{
			"c1-epoll-keep_alive=true-connections=10", "c2-nethttp-keep_alive=true-connections=10",
			"c3-epoll-keep_alive=true-connections=100", "c4-nethttp-keep_alive=true-connections=100",
			"c5-epoll-keep_alive=false-connections=10", "c6-nethttp-keep_alive=false-connections=10",
			"c7-epoll-keep_alive=false-connections=100", "c8-nethttp-keep_alive=false-connections=100",
		}},
		{"exclude", "exclude:\n  - {server: nethttp, keep_alive: false}\n  - {connections: 100, keep_alive: true}\n", []string{
			"c1-epoll-keep_alive=true-connections=10", "c2-nethttp-keep_alive=true-connections=10",
			"c3-epoll-keep_alive=false-connections=10", "c4-epoll-keep_alive=false-connections=100",
		}},
		{"include", "include:\n  - {connections: 10}\n  - {server: epoll, keep_alive: false}\n", []string{
			"c1-epoll-keep_alive=true-connections=10", "c2-nethttp-keep_alive=true-connections=10",
			"c3-epoll-keep_alive=false-connections=10", "c4-nethttp-keep_alive=false-connections=10",
			"c5-epoll-keep_alive=false-connections=100",
		}},
		{"include then exclude", "include: [{server: epoll}]\nexclude: [{connections: 100}]\n", []string{
			"c1-epoll-keep_alive=true-connections=10", "c2-epoll-keep_alive=false-connections=10",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse("m.yaml", []byte(cfg+tt.extra))
			if err != nil {
				t.Fatal(err)
			}
			if got := cellIDs(p); !slices.Equal(got, tt.want) {
				t.Errorf("cells:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if !slices.Equal(p.Axes, []string{"server", "keep_alive", "connections"}) {
				t.Errorf("axes %v", p.Axes)
			}
		})
	}
}

// TestExcludeThatMatchesNothing: an exclude entry that include already
// removed is a mistake, and said to be one.
func TestExcludeThatMatchesNothing(t *testing.T) {
	_, err := Parse("m.yaml", []byte(base+"include: [{server: epoll}]\nexclude: [{server: nethttp}]\n"))
	want := "m.yaml:11: exclude[0]: matches no cell that include keeps"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
}

// TestResolvedCell: a cell carries every setting resolved: fixed values,
// matrix values, per-server knobs over global ones, the defaults.
func TestResolvedCell(t *testing.T) {
	p, err := Parse("r.yaml", []byte(`version: 1
repetitions: 2
cpus: {server: "0", load: "1"}
knobs: {backlog: 512, handler: static}
servers:
  - epoll
  - name: epoll-b1
    model: epoll
    knobs: {backlog: 1}
  - name: ext
    command: ["{sockbench}", serve, epoll, --addr, "{addr}", --backlog, "{backlog}", --handler, "{handler}"]
    url: http://{addr}/
    verify: {skip: [date-advances]}
load:
  connections: 20
  warmup: 0s
matrix:
  duration: [1s, 1500ms]
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Cells) != 6 || p.Repetitions != 2 || p.CPUs.Server.CPUs[0] != 0 || p.CPUs.Load.CPUs[0] != 1 || p.Interference.Max != DefaultInterference {
		t.Fatalf("plan: %d cells, %d reps, cpus %v", len(p.Cells), p.Repetitions, p.CPUs)
	}
	c := p.Cells[1]
	if c.ID != "c2-epoll-b1-duration=1s" || c.Server.Knobs["backlog"] != 1 || c.Server.Knobs["handler"] != "static" {
		t.Errorf("cell 2: %s, knobs %v", c.ID, c.Server.Knobs)
	}
	if got := c.Server.Knobs.Flags(); !slices.Equal(got, []string{"--backlog=1", "--handler=static"}) {
		t.Errorf("serve flags %v", got)
	}
	l := p.Cells[5].Load
	if l.Duration.D() != 1500*time.Millisecond || l.Warmup != 0 || !l.KeepAlive || l.Connections != 20 || l.Threads != 1 ||
		l.Mode != "closed" || l.Pipeline != 1 || l.Method != "GET" || l.Path != "/" || l.Status != 200 || l.Timeout.D() != 2*time.Second {
		t.Errorf("resolved load %+v", l)
	}
	if p.Cells[5].Axes["duration"] != "1.5s" || p.Cells[5].Axes["server"] != "ext" {
		t.Errorf("axes %v", p.Cells[5].Axes)
	}
	if ext := p.Cells[2].Server; !ext.External() || !slices.Equal(ext.Verify.Skip, []string{"date-advances"}) || ext.Verify.Timeout.D() != 2*time.Second {
		t.Errorf("external server %+v", ext)
	}
}

// TestSubstitute: placeholders are replaced; braces that are not
// placeholders (nginx blocks) are left alone.
func TestSubstitute(t *testing.T) {
	got := Substitute("events {} http { server { listen {addr} backlog={backlog}; } } {unknown}", map[string]string{"addr": "127.0.0.1:80", "backlog": "1"})
	want := "events {} http { server { listen 127.0.0.1:80 backlog=1; } } {unknown}"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func verifyCases() []string { return verify.Cases() }

func usableCPUs() []int {
	cpus, _ := affinity.Allowed(os.Getpid())
	return cpus
}

// The control is one of the servers with the fixed load and knobs, apart
// from the matrix.
func TestControlCell(t *testing.T) {
	p, err := Parse("c.yaml", []byte(base+"knobs: {backlog: 64}\ncontrol: {server: epoll, every: 3}\n"))
	if err != nil {
		t.Fatal(err)
	}
	c := p.Control
	if c == nil || c.Every != 3 || c.Cell.ID != "control-epoll" || c.Cell.Server.Model != "epoll" || c.Cell.Server.Knobs["backlog"] != 64 ||
		c.Cell.Load.Connections != 10 || c.Cell.Axes[ServerAxis] != "epoll" || len(c.Cell.Axes) != 1 {
		t.Errorf("control %+v", c)
	}
	for _, cell := range p.Cells {
		if cell.ID == c.Cell.ID {
			t.Errorf("the control is also a cell of the matrix")
		}
	}
}

// A cell whose knobs make a model fail conformance cases on purpose skips
// exactly those, and only that cell.
func TestCellSkipsItsKnobsDeviations(t *testing.T) {
	p, err := Parse("c.yaml", []byte("version: 1\ncpus: {server: 0, load: 1}\nservers: [epoll, nethttp]\nmatrix: {close_after_response: [false, true]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range p.Cells {
		m, _ := servers.Lookup(c.Server.Model)
		want := m.DeviationsWith(c.Server.Knobs.Options())
		got := c.Server.Verify.Skip
		if len(got) != len(want) {
			t.Errorf("%s skips %v, want %v", c.ID, got, want)
		}
		for _, name := range got {
			if _, ok := want[name]; !ok {
				t.Errorf("%s skips %s", c.ID, name)
			}
		}
		if c.Axes["close_after_response"] == "true" && !slices.Contains(got, "keep-alive") {
			t.Errorf("%s with close_after_response does not skip keep-alive: %v", c.ID, got)
		}
	}
}
