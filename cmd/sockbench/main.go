// Command sockbench compares HTTP server I/O models under load: it starts
// servers, checks them, drives them with its own load engines and reports
// requests/s, latency percentiles and server CPU and syscalls per request.
//
// It is the one place that wires the packages together: it registers the
// server models, hands a run's plan to the runner and the stored results
// to the reporter; no library package calls another at the end of its work.
package main

import (
	"fmt"
	"os"
	"runtime/debug"

	"github.com/spf13/cobra"

	// Every built-in server model registers itself with package servers.
	_ "github.com/sockbench/sockbench/servers/all"
)

// rootCmd is the one binary's entry; every subcommand file adds itself to it
// from an init function so the files stay independent of each other.
var rootCmd = &cobra.Command{
	Use:   "sockbench",
	Short: "Compare HTTP server I/O models under load",
	Long: `sockbench measures what a server's I/O model (net/http, raw epoll, poll,
select, a worker pool, ...) and its knobs (backlog, SO_REUSEPORT, batched
accept, re-arming the poller, response size) cost in requests/s, latency
percentiles, CPU µs and syscalls per request.`,
	Example: `  sockbench serve epoll --addr 127.0.0.1:8080
  sockbench verify http://127.0.0.1:8080/
  sockbench attack http://127.0.0.1:8080/ -c 100 -d 10s`,
	Version:       version(),
	SilenceUsage:  true,
	SilenceErrors: true,
}

func init() { rootCmd.SetVersionTemplate("{{.Name}} {{.Version}}\n") }

// version says which sockbench this is, from what the Go toolchain stamped
// into the binary: the module's version (a tag, or a pseudo-version naming
// the commit), else the commit and whether the tree had uncommitted
// changes; then the Go release that built it.
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(no build information)"
	}
	v := info.Main.Version
	if v == "" || v == "(devel)" {
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		v = "(devel, commit unknown: built without version control information)"
		if rev := settings["vcs.revision"]; rev != "" {
			v = rev
			if settings["vcs.modified"] == "true" {
				v += " with uncommitted changes"
			}
		}
	}
	return v + ", built with " + info.GoVersion
}

func main() {
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "sockbench:", err)
		os.Exit(exitCode(err))
	}
}

// exitStatus lets a command choose its exit status (verify: 1 when a case
// failed) while still printing one clear sentence.
type exitStatus struct {
	code int
	err  error
}

func (e exitStatus) Error() string { return e.err.Error() }
func (e exitStatus) Unwrap() error { return e.err }

func exitCode(err error) int {
	if es, ok := err.(exitStatus); ok {
		return es.code
	}
	return 2
}
