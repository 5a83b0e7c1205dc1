package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/ranktest"
)

// serverResult collects one server's runs over all rounds.
type serverResult struct {
	name     string
	cells    map[int]serverCell // by round
	skipped  error
	failures []string
	bodyLen  int
}

func runServersMode(args []string) error {
	fs := flag.NewFlagSet("compare servers", flag.ContinueOnError)
	var c common
	serverCPUs, clientCPUs := c.register(fs)
	list := fs.String("servers", defaultServers(), "servers to compare, in the order each round runs them; MODEL@BINARY runs a model from another sockbench build (e.g. epoll@bin/sockbench-before)")
	peers := fs.String("peers", "bench/peers/bin", "directory with the fasthttp and gnet peer binaries")
	serveArgs := fs.String("serve-args", "", `extra arguments for "sockbench serve NAME", e.g. "--handler static"`)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := c.finish(*serverCPUs, *clientCPUs); err != nil {
		return err
	}
	names := splitList(*list)
	if len(names) == 0 {
		return errors.New("--servers is empty")
	}
	launcher := serverLauncher{sockbench: c.sockbench, serveArgs: strings.Fields(*serveArgs), peers: *peers, nginx: c.nginx}
	for _, n := range names {
		if !knownServer(n) {
			return fmt.Errorf("unknown server %q (known: %s)", n, defaultServers())
		}
	}

	printMachine(os.Stdout, &c)
	if *serveArgs != "" {
		fmt.Printf("ours:     sockbench serve NAME %s\n", *serveArgs)
	}
	fmt.Println()

	results := make(map[string]*serverResult, len(names))
	for _, n := range names {
		results[n] = &serverResult{name: n, cells: map[int]serverCell{}}
	}
	for round := 1; round <= c.rounds; round++ {
		for _, name := range names {
			r := results[name]
			if r.skipped != nil {
				continue
			}
			fmt.Printf("round %d/%d  %-10s ", round, c.rounds, name)
			cell, bodyLen, err := runServerOnce(&c, launcher, name, round)
			switch {
			case isSkip(err):
				r.skipped = err
				fmt.Printf("skipped: %v\n", err)
			case err != nil:
				r.failures = append(r.failures, fmt.Sprintf("round %d: %v", round, err))
				fmt.Printf("FAILED: %v\n", err)
			default:
				r.cells[round] = cell
				r.bodyLen = bodyLen
				fmt.Printf("%8.0f req/s  %6.2f µs CPU/request  server CPU %3.0f%%  wrk CPU %3.0f%%%s\n",
					cell.rps, perRequestMicros(cell.server.CPU().Seconds(), cell.requests),
					100*cell.server.Utilization(), 100*cell.client.Utilization(), errorNote(cell.errors))
			}
		}
	}
	fmt.Println()
	if err := serversTable(names, results, c.rounds).write(os.Stdout); err != nil {
		return err
	}
	for _, n := range names {
		r := results[n]
		if r.skipped != nil {
			fmt.Printf("\nskipped %s: %v", n, r.skipped)
		}
		for _, f := range r.failures {
			fmt.Printf("\nfailed %s, %s", n, f)
		}
	}
	fmt.Println()
	return nil
}

// runServerOnce starts one server, measures it and stops it.
func runServerOnce(c *common, l serverLauncher, name string, round int) (serverCell, int, error) {
	srv, err := startServer(l, name, c.serverCPUs)
	if err != nil {
		return serverCell{}, 0, err
	}
	cell, err := measureServer(c, srv, round)
	if stopErr := srv.stop(5 * time.Second); stopErr != nil && err == nil {
		// The numbers stand; a server that does not stop cleanly is still
		// worth knowing about.
		fmt.Printf("(%v) ", stopErr)
	}
	return cell, srv.bodyLen, err
}

func errorNote(errs []string) string {
	if len(errs) == 0 {
		return ""
	}
	return "  ERRORS: " + strings.Join(errs, "; ")
}

// serversTable builds the summary. CPU per request is compared with nginx's
// in the same round, then the per-round ratios are summarised, so drift
// between rounds does not enter the ratio; whether it differs from
// nginx's is the rank test's over the rounds.
func serversTable(names []string, results map[string]*serverResult, rounds int) *table {
	t := &table{header: []string{"server", "req/s", "min–max", "user µs/req", "sys µs/req", "total µs/req", "vs nginx", "test vs nginx", "server CPU", "wrk CPU", "body B", "notes"}}
	cpuPerReq := func(name string, round int) float64 {
		r, ok := results[name]
		if !ok {
			return math.NaN()
		}
		cell, ok := r.cells[round]
		if !ok {
			return math.NaN()
		}
		return perRequestMicros(cell.server.CPU().Seconds(), cell.requests)
	}
	var nginx []float64
	for round := 1; round <= rounds; round++ {
		nginx = append(nginx, cpuPerReq("nginx", round))
	}
	for _, name := range names {
		r := results[name]
		if r.skipped != nil {
			t.add(name, "–", "–", "–", "–", "–", "–", "–", "–", "–", "–", "skipped (below)")
			continue
		}
		var rps, user, sys, total, vsNginx, util, wrkUtil []float64
		errRounds := 0
		for round := 1; round <= rounds; round++ {
			cell, ok := r.cells[round]
			if !ok {
				continue
			}
			rps = append(rps, cell.rps)
			user = append(user, perRequestMicros(cell.server.User.Seconds(), cell.requests))
			sys = append(sys, perRequestMicros(cell.server.System.Seconds(), cell.requests))
			total = append(total, cpuPerReq(name, round))
			vsNginx = append(vsNginx, ratio(cpuPerReq(name, round), cpuPerReq("nginx", round)))
			util = append(util, cell.server.Utilization())
			wrkUtil = append(wrkUtil, cell.client.Utilization())
			if len(cell.errors) > 0 {
				errRounds++
			}
		}
		var notes []string
		if errRounds > 0 {
			notes = append(notes, fmt.Sprintf("ERRORS in %d rounds", errRounds))
		}
		if len(r.failures) > 0 {
			notes = append(notes, fmt.Sprintf("%d rounds failed (below)", len(r.failures)))
		}
		of := ranktest.NewSample
		rs := of(rps)
		body := "–"
		if r.bodyLen > 0 {
			body = fmt.Sprint(r.bodyLen)
		}
		test := "–"
		if name != "nginx" {
			test = fmtTest(of(nginx), of(total))
		}
		t.add(name, fmtRate(rs.Median), fmtRange(rs), fmtMicros(of(user).Median), fmtMicros(of(sys).Median),
			fmtMicros(of(total).Median), fmtRatio(of(vsNginx).Median), test, fmtPercent(of(util).Median),
			fmtPercent(of(wrkUtil).Median), body, strings.Join(notes, "; "))
	}
	return t
}
