// Package config reads a sockbench run configuration (YAML) and expands it
// into the cells the runner executes: server × server knobs × load
// parameters, trimmed by include and exclude, each repeated.
//
// Everything that can be wrong with a configuration — a syntax error, an
// unknown key, a value of the wrong type, an impossible value or an
// impossible combination — is found by LoadFile before anything runs, and is
// reported as "file:line: field: what is wrong", one line per problem.
//
// The YAML keys are the yaml tags of the types below, the JSON names of
// the stored types of package results where a section is one of those
// (load, cpus, verify, calibrate), and the knob names of package servers
// under knobs; configs/README.md
// documents them and configs/schema.json describes them for editors (a test
// keeps the schema and these types in agreement).
package config

import (
	"github.com/sockbench/sockbench/runner/results"
	"github.com/sockbench/sockbench/servers"
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
	// Repetitions is how often every cell is measured: a number, or
	// {min, max, ci} to go on measuring cells whose confidence interval
	// is wider than ci until max.
	Repetitions Repetitions `yaml:"repetitions"`
	// CPUs are the CPU sets of the server and of the load generator.
	CPUs results.CPUs `yaml:"cpus"`
	// LoadFrom says where the load comes from: "local" (this process) or
	// "agents" (sockbench agents on other machines, given by Agents).
	LoadFrom string `yaml:"load_from"`
	// Agents are the agents of load_from: agents.
	Agents results.Agents `yaml:"agents"`
	// Servers is the server axis: built-in models and external commands.
	Servers []ServerEntry `yaml:"servers"`
	// Knobs are server settings fixed for every cell.
	Knobs servers.Settings `yaml:"knobs"`
	// Load holds the load parameters fixed for every cell.
	Load results.Load `yaml:"load"`
	// Matrix maps a load parameter or server knob to the values it takes;
	// the axes expand as a cross product.
	Matrix Matrix `yaml:"matrix"`
	// Include, when given, keeps only the cells that match one of its
	// entries; Exclude then drops the cells that match one of its.
	Include []Assignment `yaml:"include"`
	Exclude []Assignment `yaml:"exclude"`
	// Verify tunes the conformance check run before every measurement.
	Verify results.Verify `yaml:"verify"`
	// Calibrate asks for a syscall-counting pass under strace per cell.
	Calibrate results.Calibrate `yaml:"calibrate"`
	// Interference flags repetitions measured while other work used the
	// run's CPUs, and may measure them again.
	Interference results.Interference `yaml:"interference"`
	// Control names a server of the servers list measured with the fixed
	// load at the start, after every Every repetitions and at the end.
	Control Control `yaml:"control"`
	// StartTimeout bounds how long a server may take to accept its first
	// connection; StopTimeout how long it may take to exit after SIGTERM
	// before it is killed.
	StartTimeout results.Duration `yaml:"start_timeout"`
	StopTimeout  results.Duration `yaml:"stop_timeout"`
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
	Knobs servers.Settings `yaml:"knobs"`
	// Command is an external server's command line, with placeholders
	// such as {addr}; URL is where it answers.
	Command []string `yaml:"command"`
	URL     string   `yaml:"url"`
	// Ready is how to tell that an external server is ready.
	Ready results.Ready `yaml:"ready"`
	// Files are written into the server's own folder ({dir}) before it
	// starts, name → content, with placeholders replaced.
	Files map[string]string `yaml:"files"`
	// Env adds environment variables, with placeholders replaced.
	Env map[string]string `yaml:"env"`
	// Verify adds conformance cases to skip for this server (and may set
	// its own timeout).
	Verify results.Verify `yaml:"verify"`
}

// Control is the drift control as written.
type Control struct {
	Server string `yaml:"server"`
	Every  int    `yaml:"every"`
}

// Repetitions is the repetitions setting as written.
type Repetitions struct {
	Min int             `yaml:"min"`
	Max int             `yaml:"max"`
	CI  results.Percent `yaml:"ci"`
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
