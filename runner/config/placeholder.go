package config

import (
	"regexp"
	"slices"
	"sort"

	"github.com/sockbench/sockbench/runner/results"
)

// The placeholders an external server's command, URL, files, environment
// and readiness command may use; the runner fills them in for every start.
// A knob set for the cell is a placeholder too, by its YAML key.
const (
	PlaceAddr      = "addr"       // 127.0.0.1:PORT, a free loopback port
	PlaceHost      = "host"       // 127.0.0.1
	PlacePort      = "port"       // PORT
	PlaceDir       = "dir"        // a fresh folder of this start's own
	PlaceStatsFile = "stats_file" // where a sockbench-format stats file is read from after it stops
	PlaceCPUs      = "cpus"       // the server's CPU list
	PlaceSockbench = "sockbench"  // the path of the sockbench binary running the benchmark
	// PlaceWorkdir is the folder sockbench run was started in: a server
	// starts in its own {dir}, so a script of the repository (the
	// thread's Python servers) is named from here.
	PlaceWorkdir = "workdir"
)

var runPlaceholders = []string{PlaceAddr, PlaceHost, PlacePort, PlaceDir, PlaceStatsFile, PlaceCPUs, PlaceSockbench, PlaceWorkdir}

// placeholderRE matches {name}; braces around anything else (nginx's
// blocks, JSON) are left alone.
var placeholderRE = regexp.MustCompile(`\{([a-z][a-z0-9_]*)\}`)

// Substitute replaces every {name} whose name is in vars.
func Substitute(s string, vars map[string]string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(m string) string {
		if v, ok := vars[m[1:len(m)-1]]; ok {
			return v
		}
		return m
	})
}

// placeholders lists the names used in s.
func placeholders(s string) []string {
	var names []string
	for _, m := range placeholderRE.FindAllStringSubmatch(s, -1) {
		names = append(names, m[1])
	}
	return names
}

// UsesPlaceholder reports whether any text of the server uses {name}.
func UsesPlaceholder(s results.ServerSpec, name string) bool {
	for _, text := range s.Texts() {
		if slices.Contains(placeholders(text), name) {
			return true
		}
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
