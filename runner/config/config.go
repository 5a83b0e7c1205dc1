// Package config reads a sockbench run configuration (YAML) and expands it
// into the cells the runner executes: server × server knobs × load
// parameters, trimmed by include and exclude, each repeated.
//
// Everything that can be wrong with a configuration — a syntax error, an
// unknown key, a value of the wrong type, an impossible value or an
// impossible combination — is found by LoadFile before anything runs, and is
// reported as "file:line: field: what is wrong", one line per problem.
//
// The YAML keys are the yaml tags of the types below; configs/README.md
// documents them and configs/schema.json describes them for editors (a test
// keeps the schema and these types in agreement).
package config

import (
	"encoding/json"
	"fmt"
	"time"
)

// Version is the configuration format this package reads.
const Version = 1

// Config is a run configuration as written.
type Config struct {
	// Version must be 1.
	Version int `yaml:"version"`
	// Name names the run; it becomes part of the run id.
	Name        string `yaml:"name"`
	Description string `yaml:"description"`
	// Output is the folder results/<run-id>/ folders are created in,
	// relative to the working directory.
	Output string `yaml:"output"`
	// Repetitions is how often every cell is measured.
	Repetitions int `yaml:"repetitions"`
	// CPUs are the CPU sets of the server and of the load generator.
	CPUs CPUs `yaml:"cpus"`
	// LoadFrom says where the load comes from: "local" (agents on other
	// machines come later).
	LoadFrom string `yaml:"load_from"`
	// Servers is the server axis: built-in models and external commands.
	Servers []ServerEntry `yaml:"servers"`
	// Knobs are server settings fixed for every cell.
	Knobs Knobs `yaml:"knobs"`
	// Load holds the load parameters fixed for every cell.
	Load Load `yaml:"load"`
	// Matrix maps a load parameter or server knob to the values it takes;
	// the axes expand as a cross product.
	Matrix Matrix `yaml:"matrix"`
	// Include, when given, keeps only the cells that match one of its
	// entries; Exclude then drops the cells that match one of its.
	Include []Assignment `yaml:"include"`
	Exclude []Assignment `yaml:"exclude"`
	// Verify tunes the conformance check run before every measurement.
	Verify Verify `yaml:"verify"`
	// Calibrate asks for a syscall-counting pass under strace per cell.
	Calibrate Calibrate `yaml:"calibrate"`
	// StartTimeout bounds how long a server may take to accept its first
	// connection; StopTimeout how long it may take to exit after SIGTERM
	// before it is killed.
	StartTimeout Duration `yaml:"start_timeout"`
	StopTimeout  Duration `yaml:"stop_timeout"`
}

// CPUs are CPU lists in the kernel's cpu-list syntax ("0", "1-3", "0,2").
type CPUs struct {
	Server CPUList `yaml:"server" json:"server"`
	Load   CPUList `yaml:"load" json:"load"`
}

// CPUList is a parsed cpu-list; YAML may give it as text or a number.
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
	cpus, err := parseCPUs(c.Text)
	c.CPUs = cpus
	return err
}

// ServerEntry is one server of the server axis. Written as a bare name it
// is the built-in model of that name; as a mapping it is a built-in model
// with knobs of its own (model) or an external command (command).
type ServerEntry struct {
	// Name is the server's value on the server axis; unique.
	Name string `yaml:"name"`
	// Model is the built-in model (sockbench serve MODEL); defaults to
	// Name when neither model nor command is given.
	Model string `yaml:"model"`
	// Knobs are this server's own fixed knobs (built-in servers only).
	Knobs Knobs `yaml:"knobs"`
	// Command is an external server's command line, with placeholders
	// such as {addr}; URL is where it answers.
	Command []string `yaml:"command"`
	URL     string   `yaml:"url"`
	// Ready is how to tell that an external server is ready.
	Ready Ready `yaml:"ready"`
	// Files are written into the server's own folder ({dir}) before it
	// starts, name → content, with placeholders replaced.
	Files map[string]string `yaml:"files"`
	// Env adds environment variables, with placeholders replaced.
	Env map[string]string `yaml:"env"`
	// Verify adds conformance cases to skip for this server (and may set
	// its own timeout).
	Verify Verify `yaml:"verify"`
}

// Ready is an external server's readiness check. The default is a TCP
// connect to the URL's host and port.
type Ready struct {
	// HTTP is a path to GET until any HTTP response comes back.
	HTTP string `yaml:"http" json:"http,omitempty"`
	// Command is run until it exits 0.
	Command []string `yaml:"command" json:"command,omitempty"`
}

// Verify tunes the conformance check (package verify).
type Verify struct {
	// Timeout bounds each case.
	Timeout Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Skip names cases not to run.
	Skip []string `yaml:"skip" json:"skip,omitempty"`
}

// Calibrate configures the strace pass that counts the syscalls of servers
// that do not count their own.
type Calibrate struct {
	// Strace turns the pass on: once per cell, the server runs under
	// `strace -c -f` for a fixed number of requests.
	Strace bool `yaml:"strace" json:"strace"`
	// Requests is that number.
	Requests int64 `yaml:"requests" json:"requests,omitempty"`
}

// Knobs are server settings; nil means the server's default. They are
// the flags of `sockbench serve` (accept_batch is --accept-batch).
type Knobs struct {
	Backlog     *int    `yaml:"backlog" json:"backlog,omitempty"`
	ReusePort   *bool   `yaml:"reuseport" json:"reuseport,omitempty"`
	Listeners   *int    `yaml:"listeners" json:"listeners,omitempty"`
	Loops       *int    `yaml:"loops" json:"loops,omitempty"`
	GOMAXPROCS  *int    `yaml:"gomaxprocs" json:"gomaxprocs,omitempty"`
	NoDelay     *bool   `yaml:"nodelay" json:"nodelay,omitempty"`
	AcceptBatch *int    `yaml:"accept_batch" json:"accept_batch,omitempty"`
	Rearm       *string `yaml:"rearm" json:"rearm,omitempty"`
	Workers     *int    `yaml:"workers" json:"workers,omitempty"`
	Handler     *string `yaml:"handler" json:"handler,omitempty"`
	Body        *string `yaml:"body" json:"body,omitempty"`
}

// Load holds the load parameters (package loadgen's Options). In a
// configuration a zero value means "not given"; in a Cell every field has
// been resolved to what the cell runs with.
type Load struct {
	Mode        string   `yaml:"mode" json:"mode"`
	Connections int      `yaml:"connections" json:"connections"`
	Threads     int      `yaml:"threads" json:"threads,omitempty"`
	KeepAlive   bool     `yaml:"keep_alive" json:"keep_alive"`
	Pipeline    int      `yaml:"pipeline" json:"pipeline"`
	Rate        float64  `yaml:"rate" json:"rate,omitempty"`
	Pacer       string   `yaml:"pacer" json:"pacer,omitempty"`
	RateTo      float64  `yaml:"rate_to" json:"rate_to,omitempty"`
	Amplitude   float64  `yaml:"amplitude" json:"amplitude,omitempty"`
	Period      Duration `yaml:"period" json:"period,omitempty"`
	Duration    Duration `yaml:"duration" json:"duration"`
	Warmup      Duration `yaml:"warmup" json:"warmup"`
	Timeout     Duration `yaml:"timeout" json:"timeout"`
	Method      string   `yaml:"method" json:"method"`
	Path        string   `yaml:"path" json:"path"`
	Headers     []string `yaml:"headers" json:"headers,omitempty"`
	Status      int      `yaml:"status" json:"status"`
	ChunkSize   int      `yaml:"chunk_size" json:"chunk_size,omitempty"`
	MaxRequests int64    `yaml:"max_requests" json:"max_requests,omitempty"`
}

// Duration is a time.Duration written as text with a unit ("1.5s").
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

// Matrix is the axes other than the server, in the order written.
type Matrix []Axis

// Axis is one parameter and the values it takes.
type Axis struct {
	Name   string
	Values []Value
}

// Value is one value of an axis (or of an include/exclude entry).
type Value struct {
	// Text is the value as the results and reports show it.
	Text string
	// v is the decoded value, of the parameter's type.
	v    any
	path string
}

// Assignment is an include or exclude entry: axis name → value. The
// entry matches a cell when every one of its axes has that value.
type Assignment []AssignedValue

// AssignedValue is one axis of an Assignment.
type AssignedValue struct {
	Axis  string
	Value Value
}
