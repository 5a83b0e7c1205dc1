package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/procstat"
	"github.com/sockbench/sockbench/internal/spread"
)

// defaultGenerators is the interleaving order of one round.
const defaultGenerators = "wrk,sockbench,vegeta"

// generatorCommand builds the command line for one load generator run.
type generatorCommand func(url string, d time.Duration) ([]string, error)

// generators maps names to their commands. Every one runs with one thread
// (or GOMAXPROCS=1) and c.connections keep-alive connections.
func generators(c *common) map[string]generatorCommand {
	return map[string]generatorCommand{
		"wrk": func(url string, d time.Duration) ([]string, error) {
			return wrkCommand(c.wrk, c.connections, d, url), nil
		},
		"sockbench": func(url string, d time.Duration) ([]string, error) {
			return []string{c.sockbench, "attack", url, "-c", fmt.Sprint(c.connections), "-t", "1", "-d", d.String()}, nil
		},
		"vegeta": func(url string, d time.Duration) ([]string, error) {
			self, err := os.Executable()
			if err != nil {
				return nil, fmt.Errorf("find this program to run its vegeta mode: %w", err)
			}
			return []string{self, vegetaMode, "--url", url, "--connections", fmt.Sprint(c.connections), "--duration", d.String()}, nil
		},
	}
}

// probeGenerator finds out whether a generator exists here before the
// rounds start, so a missing one is skipped with its reason once.
func probeGenerator(c *common, name string) error {
	switch name {
	case "wrk":
		if _, err := exec.LookPath(c.wrk); err != nil {
			return skipf("%v", err)
		}
	case "sockbench":
		if _, err := os.Stat(c.sockbench); err != nil {
			return skipf("sockbench binary: %v (build it with go build -o bin/sockbench ./cmd/sockbench)", err)
		}
		out, err := exec.Command(c.sockbench, "attack", "--help").CombinedOutput()
		if err != nil {
			return skipf(`"sockbench attack" is not available: %s`, clipOutput(string(out)))
		}
	}
	return nil
}

// generatorCell is one measured run of one load generator.
type generatorCell struct {
	summary
	generator procstat.Delta
	server    procstat.Delta
}

func runLoadgenMode(args []string) error {
	fs := flag.NewFlagSet("compare loadgen", flag.ContinueOnError)
	var c common
	serverCPUs, clientCPUs := c.register(fs)
	list := fs.String("generators", defaultGenerators, "load generators to compare, in the order each round runs them")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := c.finish(*serverCPUs, *clientCPUs); err != nil {
		return err
	}
	cmds := generators(&c)
	names := splitList(*list)
	if len(names) == 0 {
		return errors.New("--generators is empty")
	}
	for _, n := range names {
		if cmds[n] == nil {
			return fmt.Errorf("unknown generator %q (known: %s)", n, defaultGenerators)
		}
	}

	printMachine(os.Stdout, &c)
	fmt.Println("target:   nginx, started once for all rounds")
	fmt.Println()

	// One nginx serves every run: the target stays the same process, so
	// only the generators differ.
	srv, err := startServer(serverLauncher{nginx: c.nginx}, "nginx", c.serverCPUs)
	if err != nil {
		return fmt.Errorf("the target: %w", err)
	}
	defer srv.stop(5 * time.Second)
	warm := wrkCommand(c.wrk, c.connections, c.warmup, srv.url())
	if _, err := runPinned(warm, nil, c.clientCPUs, wrkSeconds(c.warmup)+30*time.Second); err != nil {
		return fmt.Errorf("warm up nginx: %w", err)
	}

	skipped := map[string]error{}
	failures := map[string][]string{}
	cells := map[string]map[int]generatorCell{}
	for _, n := range names {
		cells[n] = map[int]generatorCell{}
		if err := probeGenerator(&c, n); err != nil {
			skipped[n] = err
		}
	}
	for round := 1; round <= c.rounds; round++ {
		for _, name := range names {
			if skipped[name] != nil {
				if round == 1 {
					fmt.Printf("round %d/%d  %-10s skipped: %v\n", round, c.rounds, name, skipped[name])
				}
				continue
			}
			fmt.Printf("round %d/%d  %-10s ", round, c.rounds, name)
			cell, err := measureGenerator(&c, srv, name, cmds[name], round)
			if err != nil {
				failures[name] = append(failures[name], fmt.Sprintf("round %d: %v", round, err))
				fmt.Printf("FAILED: %v\n", err)
				continue
			}
			cells[name][round] = cell
			fmt.Printf("%8.0f req/s  %6.2f µs generator CPU/request  generator CPU %3.0f%%%s\n",
				cell.rps, perRequestMicros(cell.generator.CPU().Seconds(), cell.requests),
				100*cell.generator.Utilization(), errorNote(cell.errors))
		}
	}
	fmt.Println()
	if err := loadgenTable(names, cells, skipped, failures, c.rounds).write(os.Stdout); err != nil {
		return err
	}
	for _, n := range names {
		if skipped[n] != nil {
			fmt.Printf("\nskipped %s: %v", n, skipped[n])
		}
		for _, f := range failures[n] {
			fmt.Printf("\nfailed %s, %s", n, f)
		}
	}
	fmt.Println()
	return nil
}

// measureGenerator runs one generator against srv, charging it for its own
// CPU from start to exit and sampling the server around the run.
func measureGenerator(c *common, srv *runningServer, name string, command generatorCommand, round int) (generatorCell, error) {
	argv, err := command(srv.url(), c.duration)
	if err != nil {
		return generatorCell{}, err
	}
	pid := srv.proc.PID()
	before, err := procstat.SampleTree(pid)
	if err != nil {
		return generatorCell{}, fmt.Errorf("sample nginx before: %w", err)
	}
	run, err := runPinned(argv, append(os.Environ(), "GOMAXPROCS=1"), c.clientCPUs, wrkSeconds(c.duration)+30*time.Second)
	if err != nil {
		return generatorCell{}, err
	}
	after, err := procstat.SampleTree(pid)
	if err != nil {
		return generatorCell{}, fmt.Errorf("sample nginx after (did it crash?): %w", err)
	}
	if err := keepRaw(c.rawDir, fmt.Sprintf("loadgen-%s-round%d.txt", name, round), run.output); err != nil {
		return generatorCell{}, err
	}
	sum, err := parseSummary(run.output)
	if err != nil {
		return generatorCell{}, fmt.Errorf("%s: %w: %s", name, err, clipOutput(run.output))
	}
	if sum.requests == 0 {
		sum.requests = int64(math.Round(sum.rps * c.duration.Seconds()))
	}
	if sum.requests == 0 {
		return generatorCell{}, fmt.Errorf("%s completed no requests", name)
	}
	return generatorCell{summary: sum, generator: run.cost, server: after.Sub(before)}, nil
}

// loadgenTable builds the summary; the generator's CPU per request is
// compared with wrk's in the same round.
func loadgenTable(names []string, cells map[string]map[int]generatorCell, skipped map[string]error, failures map[string][]string, rounds int) *table {
	t := &table{header: []string{"generator", "req/s", "min–max", "user µs/req", "sys µs/req", "total µs/req", "vs wrk", "generator CPU", "nginx µs/req", "notes"}}
	genPerReq := func(name string, round int) float64 {
		cell, ok := cells[name][round]
		if !ok {
			return math.NaN()
		}
		return perRequestMicros(cell.generator.CPU().Seconds(), cell.requests)
	}
	for _, name := range names {
		if skipped[name] != nil {
			t.add(name, "–", "–", "–", "–", "–", "–", "–", "–", "skipped (below)")
			continue
		}
		var rps, user, sys, total, vsWrk, util, srv []float64
		errRounds := 0
		for round := 1; round <= rounds; round++ {
			cell, ok := cells[name][round]
			if !ok {
				continue
			}
			rps = append(rps, cell.rps)
			user = append(user, perRequestMicros(cell.generator.User.Seconds(), cell.requests))
			sys = append(sys, perRequestMicros(cell.generator.System.Seconds(), cell.requests))
			total = append(total, genPerReq(name, round))
			vsWrk = append(vsWrk, ratio(genPerReq(name, round), genPerReq("wrk", round)))
			util = append(util, cell.generator.Utilization())
			srv = append(srv, perRequestMicros(cell.server.CPU().Seconds(), cell.requests))
			if len(cell.errors) > 0 {
				errRounds++
			}
		}
		var notes []string
		if errRounds > 0 {
			notes = append(notes, fmt.Sprintf("ERRORS in %d rounds", errRounds))
		}
		if n := len(failures[name]); n > 0 {
			notes = append(notes, fmt.Sprintf("%d rounds failed (below)", n))
		}
		rs := spread.Of(rps)
		t.add(name, fmtRate(rs.Median), fmtRange(rs), fmtMicros(spread.Of(user).Median), fmtMicros(spread.Of(sys).Median),
			fmtMicros(spread.Of(total).Median), fmtRatio(spread.Of(vsWrk).Median), fmtPercent(spread.Of(util).Median),
			fmtMicros(spread.Of(srv).Median), strings.Join(notes, "; "))
	}
	return t
}
