// Command compare runs the side-by-side benchmarks behind make bench-servers
// and make bench-loadgen: every server (sockbench's own and the peers: nginx,
// fasthttp, gnet) on one pinned core under the same wrk load, and every load
// generator (wrk, sockbench attack, vegeta) against the same nginx. Rounds
// interleave the contestants (A B C A B C …) so that machine drift hits all
// of them alike, and the table reports medians with their spread and, by
// benchstat's rank test over the rounds (internal/ranktest, as the report's
// comparisons), whether each differs from the baseline.
//
//	compare servers [--duration 5s] [--rounds 4] [--servers epoll,nginx,…]
//	compare loadgen [--duration 5s] [--rounds 4] [--generators wrk,sockbench,vegeta]
//
// It is a benchmark tool, not a test: it needs wrk and nginx installed and
// two CPUs to be meaningful (server on one, load on the other).
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/internal/ranktest"
)

func main() {
	if len(os.Args) < 2 {
		usage()
		os.Exit(2)
	}
	var err error
	switch mode, args := os.Args[1], os.Args[2:]; mode {
	case "servers":
		err = runServersMode(args)
	case "loadgen":
		err = runLoadgenMode(args)
	case vegetaMode:
		err = runVegetaMode(args)
	case "-h", "--help", "help":
		usage()
		return
	default:
		err = fmt.Errorf("unknown mode %q (want servers or loadgen)", mode)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

func usage() {
	fmt.Fprintln(os.Stderr, `usage: compare servers|loadgen [flags]   (compare MODE -h lists the flags)

  servers   each server pinned to --server-cpus under wrk pinned to --client-cpus:
            requests/s and server CPU µs per request, relative to nginx
  loadgen   nginx as the target, each load generator pinned to --client-cpus:
            requests/s and the generator's own CPU µs per request, relative to wrk`)
}

// common holds the flags both modes share.
type common struct {
	duration    time.Duration
	warmup      time.Duration
	rounds      int
	connections int
	serverCPUs  []int
	clientCPUs  []int
	sockbench   string
	nginx       string
	wrk         string
	rawDir      string
}

func (c *common) register(fs *flag.FlagSet) (serverCPUs, clientCPUs *string) {
	fs.DurationVar(&c.duration, "duration", 5*time.Second, "measured length of each run")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "wrk warm-up before each measured run")
	fs.IntVar(&c.rounds, "rounds", ranktest.MinRepsToTell(), "rounds; each runs every contestant once (the default is the fewest with which the rank test can call a difference significant)")
	fs.IntVar(&c.connections, "connections", 100, "keep-alive connections of the load generator")
	fs.StringVar(&c.sockbench, "sockbench", "bin/sockbench", "the sockbench binary (serve and attack)")
	fs.StringVar(&c.nginx, "nginx", "/usr/sbin/nginx", "the nginx binary")
	fs.StringVar(&c.wrk, "wrk", "wrk", "the wrk binary")
	fs.StringVar(&c.rawDir, "raw", "", "directory to keep every load generator's raw output in (off when empty)")
	return fs.String("server-cpus", "0", "CPUs the server is pinned to (cpu-list, as taskset -c)"),
		fs.String("client-cpus", "1", "CPUs the load generator is pinned to")
}

func (c *common) finish(serverCPUs, clientCPUs string) error {
	var err error
	if c.serverCPUs, err = affinity.ParseCPUList(serverCPUs); err != nil {
		return fmt.Errorf("--server-cpus: %w", err)
	}
	if c.clientCPUs, err = affinity.ParseCPUList(clientCPUs); err != nil {
		return fmt.Errorf("--client-cpus: %w", err)
	}
	if c.rounds < 1 || c.duration <= 0 || c.connections < 1 {
		return fmt.Errorf("--rounds, --duration and --connections must be positive")
	}
	if c.rawDir != "" {
		if err := os.MkdirAll(c.rawDir, 0o755); err != nil {
			return fmt.Errorf("--raw: %w", err)
		}
	}
	// This process only waits during a measurement, but it must not wake up
	// on the server's core while doing so.
	if err := affinity.PinSelf(c.clientCPUs); err != nil {
		return err
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
