package results

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/servers"
)

// Plan is a run configuration checked and expanded (package config makes
// it): everything a run executes, stored in the manifest so that a run can
// be resumed and reported from its folder alone. Its JSON is part of the
// format: a field changes meaning only with FormatVersion.
type Plan struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Output is the folder the run's own folder is created in.
	Output string `json:"output"`
	// Repetitions is how often every cell is measured; with Adaptive, at
	// least.
	Repetitions int `json:"repetitions"`
	// Adaptive, when set, goes on measuring the cells whose confidence
	// interval is wider than CI, round after round, up to Max.
	Adaptive *Adaptive `json:"adaptive,omitempty"`
	CPUs     CPUs      `json:"cpus"`
	LoadFrom string    `json:"load_from"`
	// Agents say where the load comes from with LoadFrom "agents".
	Agents *Agents `json:"agents,omitempty"`
	// Axes are "server" and then the matrix axes, in the order written.
	Axes []string `json:"axes"`
	// Cells are in run order within a round: the server axis varies
	// fastest, so cells that differ only in the server run side by side.
	Cells     []Cell    `json:"cells"`
	Calibrate Calibrate `json:"calibrate"`
	// Interference says when a repetition counts as measured on a busy
	// machine, and how often such a one is measured again.
	Interference Interference `json:"interference"`
	// Control, when set, is a cell measured at the start, after every
	// Every repetitions and at the end, so that the machine's drift over
	// the run shows (and runs can be compared relative to it).
	Control      *Control `json:"control,omitempty"`
	StartTimeout Duration `json:"start_timeout"`
	StopTimeout  Duration `json:"stop_timeout"`
}

// Control is the plan's drift control: its cell's repetitions are
// numbered in the order they were measured.
type Control struct {
	Every int  `json:"every"`
	Cell  Cell `json:"cell"`
}

// Adaptive is the repetitions setting {min, max, ci}.
type Adaptive struct {
	Max int     `json:"max"`
	CI  Percent `json:"ci"`
}

// MaxRepetitions is the most repetitions a cell may have.
func (p *Plan) MaxRepetitions() int {
	if p.Adaptive != nil {
		return p.Adaptive.Max
	}
	return p.Repetitions
}

// Interference is the plan's interference check.
type Interference struct {
	// Max is the share (0–1) of a CPU set's time that other work and
	// steal may take before a repetition is flagged "machine busy".
	Max Percent `json:"max"`
	// Retries is how often a busy repetition is measured again.
	Retries int `json:"retries,omitempty"`
}

// Percent is a share from 0 to 1, written in a configuration as "5%".
type Percent float64

// ServerAxis is the name of the axis made of the configuration's servers.
const ServerAxis = "server"

// Cell is one point of the matrix with every setting resolved.
type Cell struct {
	ID string `json:"id"`
	// Axes holds the cell's value on every axis, as text.
	Axes   map[string]string `json:"axes"`
	Server ServerSpec        `json:"server"`
	Load   Load              `json:"load"`
}

// ServerSpec is a cell's server: a built-in model (Model set) or an
// external command (Command set).
type ServerSpec struct {
	Name  string `json:"name"`
	Model string `json:"model,omitempty"`
	// Knobs are the knobs set for this cell: serve flags for a built-in
	// model, placeholder values for an external command.
	Knobs   servers.Settings  `json:"knobs"`
	Command []string          `json:"command,omitempty"`
	URL     string            `json:"url,omitempty"`
	Ready   Ready             `json:"ready"`
	Files   map[string]string `json:"files,omitempty"`
	Env     map[string]string `json:"env,omitempty"`
	Verify  Verify            `json:"verify"`
}

// PlainFileName reports whether name can be one of Files: a name in the
// server's own folder, not a path out of it.
func PlainFileName(name string) bool {
	return name != "" && name == filepath.Base(name) && name != "." && name != ".."
}

// External reports whether the server is an external command.
func (s ServerSpec) External() bool { return len(s.Command) > 0 }

// Texts are every string of an external server that placeholders are
// replaced in, by the field path below the server entry.
func (s ServerSpec) Texts() map[string]string {
	t := map[string]string{"url": s.URL}
	for i, c := range s.Command {
		t[fmt.Sprintf("command[%d]", i)] = c
	}
	for i, c := range s.Ready.Command {
		t[fmt.Sprintf("ready.command[%d]", i)] = c
	}
	if s.Ready.HTTP != "" {
		t["ready.http"] = s.Ready.HTTP
	}
	for k, v := range s.Files {
		t["files."+k] = v
	}
	for k, v := range s.Env {
		t["env."+k] = v
	}
	return t
}

// CPUs are the CPU sets of the server and of the load generator.
type CPUs struct {
	Server CPUList `json:"server"`
	Load   CPUList `json:"load"`
}

// CPUList is a CPU list in the kernel's cpu-list syntax ("0", "1-3",
// "0,2") with its CPUs.
type CPUList struct {
	Text string
	CPUs []int
}

// MarshalJSON writes the list as the text it was given as.
func (c CPUList) MarshalJSON() ([]byte, error) { return json.Marshal(c.Text) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (c *CPUList) UnmarshalJSON(b []byte) error {
	if err := json.Unmarshal(b, &c.Text); err != nil {
		return err
	}
	cpus, err := affinity.ParseCPUList(c.Text)
	c.CPUs = cpus
	return err
}

// Ready is an external server's readiness check. The default is a TCP
// connect to the URL's host and port.
type Ready struct {
	// HTTP is a path to GET until any HTTP response comes back.
	HTTP string `json:"http,omitempty"`
	// Command is run until it exits 0.
	Command []string `json:"command,omitempty"`
}

// Verify tunes the conformance check (package verify).
type Verify struct {
	// Timeout bounds each case.
	Timeout Duration `json:"timeout,omitempty"`
	// Skip names cases not to run.
	Skip []string `json:"skip,omitempty"`
}

// Agents are the sockbench agents that drive a run's servers (load_from:
// agents), and how the servers are reached from them.
type Agents struct {
	// Addresses are the agents' host:port; a name stands for every
	// address it resolves to (a Kubernetes headless Service).
	Addresses []string `json:"addresses,omitempty"`
	// SSH are machines (user@host or user@host:port) to start agents on
	// over SSH at the start of the run, stopped at its end; the agents
	// started there join Addresses.
	SSH []string `json:"ssh,omitempty"`
	// KnownHosts are the known_hosts files the SSH hosts' keys are
	// checked against (~/.ssh/known_hosts when empty).
	KnownHosts []string `json:"known_hosts,omitempty"`
	// Identity are the private keys to log in to the SSH hosts with
	// (~/.ssh/id_* when empty; a running ssh-agent is asked too).
	Identity []string `json:"identity,omitempty"`
	// SSHListen is the --listen of the agents started over SSH
	// (sshlaunch.DefaultListen when empty).
	SSHListen string `json:"ssh_listen,omitempty"`
	// TokenFile holds the agents' bearer token.
	TokenFile string `json:"token_file,omitempty"`
	// TLS reaches the agents over TLS: CA signs their certificates; Cert
	// and Key are this runner's, for mutual TLS.
	TLS AgentTLS `json:"tls,omitempty"`
	// Listen is where the servers listen (host:port), an address the
	// agents can reach; Target is the host:port they reach it at, when
	// that differs (a name, a NAT).
	Listen string `json:"listen"`
	Target string `json:"target,omitempty"`
}

// AgentTLS names the PEM files of the runner's TLS to its agents.
type AgentTLS struct {
	CA   string `json:"ca,omitempty"`
	Cert string `json:"cert,omitempty"`
	Key  string `json:"key,omitempty"`
}

// TargetAddr is the host:port the agents send to.
func (a *Agents) TargetAddr() string {
	if a.Target != "" {
		return a.Target
	}
	return a.Listen
}

// Calibrate configures the strace pass that counts the syscalls of servers
// that do not count their own.
type Calibrate struct {
	// Strace turns the pass on: once per cell, the server runs under
	// `strace -c -f` for a fixed number of requests.
	Strace bool `json:"strace"`
	// Requests is that number.
	Requests int64 `json:"requests,omitempty"`
}

// Load holds a cell's load parameters, each resolved to what the cell runs
// with. The JSON names are also the configuration's keys (package config
// reads them from these tags), so a parameter has one name everywhere.
type Load struct {
	Mode        string   `json:"mode"`
	Connections int      `json:"connections"`
	Threads     int      `json:"threads,omitempty"`
	KeepAlive   bool     `json:"keep_alive"`
	Pipeline    int      `json:"pipeline"`
	IO          string   `json:"io,omitempty"`
	Rate        float64  `json:"rate,omitempty"`
	Pacer       string   `json:"pacer,omitempty"`
	RateTo      float64  `json:"rate_to,omitempty"`
	Amplitude   float64  `json:"amplitude,omitempty"`
	Period      Duration `json:"period,omitempty"`
	Duration    Duration `json:"duration"`
	Warmup      Duration `json:"warmup"`
	Timeout     Duration `json:"timeout"`
	Method      string   `json:"method"`
	Path        string   `json:"path"`
	Headers     []string `json:"headers,omitempty"`
	Status      int      `json:"status"`
	ChunkSize   int      `json:"chunk_size,omitempty"`
	MaxRequests int64    `json:"max_requests,omitempty"`
}

// Options turns the load parameters into loadgen's options aimed at
// target. Headers were checked when the plan was made; one that does not
// parse is left out.
func (l Load) Options(target string) loadgen.Options {
	o := loadgen.Options{
		URL: target, Mode: loadgen.Mode(l.Mode), Connections: l.Connections, Threads: l.Threads,
		Duration: l.Duration.D(), Warmup: l.Warmup.D(), Timeout: l.Timeout.D(), Close: !l.KeepAlive,
		Pipeline: l.Pipeline, IO: loadgen.IO(l.IO), Rate: l.Rate, Pacer: loadgen.Pacer(l.Pacer), RateTo: l.RateTo,
		Amplitude: l.Amplitude, Period: l.Period.D(), Method: l.Method, Status: l.Status,
		ChunkSize: l.ChunkSize, MaxRequests: l.MaxRequests,
	}
	for _, h := range l.Headers {
		if hd, err := loadgen.ParseHeader(h); err == nil {
			o.Headers = append(o.Headers, hd)
		}
	}
	return o
}

// Duration is a time.Duration stored as text with a unit ("1.5s").
type Duration time.Duration

// D is the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalJSON writes the duration as text, so manifests read like configs.
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(d.String()) }

// UnmarshalJSON reads what MarshalJSON wrote.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("duration %q: %w", s, err)
	}
	*d = Duration(v)
	return nil
}
