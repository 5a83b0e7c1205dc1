package main

import (
	"errors"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/procstat"
)

// The loadgen comparison measures the generators, not the server. One
// nginx worker on one core is the target of every run, and at full speed
// it is the limit (~141k req/s here): every generator that keeps up with
// it shows the same req/s, so what tells them apart is what each spends on
// a request, its own CPU from start to exit over the requests answered.
// That is the headline of every table. Three kinds of rows:
//
//   - unpaced: each generator as fast as it can (wrk, sockbench on epoll
//     and on io_uring, vegeta), compared with wrk in the same round;
//   - race (--race DEPTH): wrk and sockbench pipelining DEPTH requests per
//     round trip, so that nginx answers DEPTH requests per read and has
//     more in hand than a generator can ask of it: then req/s is the
//     generators' own, and a race;
//   - paced (--rates): sockbench --rate R beside wrk2 -R R (--wrk2), wrk2's
//     constant-throughput model at rates the server is far from, where the
//     generator's cost is its pacing; compared with wrk2 in the same round.

// defaultGenerators is the interleaving order of the unpaced rows.
const defaultGenerators = "wrk,sockbench,sockbench-uring,vegeta"

// defaultRates are the paced rows' rates, those of issue #11.
const defaultRates = "5000,20000,50000"

// buildWrk2 says how to get wrk2, which Debian does not package.
const buildWrk2 = "wrk2 is not packaged in Debian: git clone https://github.com/giltene/wrk2 && make -C wrk2 " +
	"(needs gcc, make, libssl-dev and zlib1g-dev; it builds its own LuaJIT), then --wrk2 wrk2/wrk"

// contestant is one generator under one load: a row of a table.
type contestant struct {
	// row names it in the tables, gen is the generator ("wrk2").
	row, gen string
	// kind is unpaced, race or paced.
	kind string
	// rate is the paced rate asked for; depth the race's pipelining.
	rate  float64
	depth int
	// argv builds its command line for a run of d against url.
	argv func(url string, d time.Duration) ([]string, error)
}

const (
	unpaced = "unpaced"
	race    = "race"
	paced   = "paced"
)

// loadgenFlags are the loadgen mode's own flags.
type loadgenFlags struct {
	generators string
	race       int
	rates      string
	wrk2       string
}

// contestants lists the rows in their interleaving order: unpaced, race,
// then paced by rate, sockbench before wrk2.
func contestants(c *common, f loadgenFlags, tmp string) ([]contestant, error) {
	conns := fmt.Sprint(c.connections)
	sockbench := func(url string, d time.Duration, extra ...string) []string {
		return append([]string{c.sockbench, "attack", url, "-c", conns, "-t", "1", "-d", d.String()}, extra...)
	}
	var out []contestant
	for _, name := range splitList(f.generators) {
		ct := contestant{row: name, gen: name, kind: unpaced}
		switch name {
		case "wrk":
			ct.argv = func(url string, d time.Duration) ([]string, error) {
				return wrkCommand(c.wrk, c.connections, d, url), nil
			}
		case "sockbench":
			ct.argv = func(url string, d time.Duration) ([]string, error) { return sockbench(url, d), nil }
		case "sockbench-uring":
			// Issue #14's goal: io_uring's CPU per request against wrk's.
			ct.argv = func(url string, d time.Duration) ([]string, error) { return sockbench(url, d, "--io", "uring"), nil }
		case "vegeta":
			ct.argv = func(url string, d time.Duration) ([]string, error) {
				self, err := os.Executable()
				if err != nil {
					return nil, fmt.Errorf("find this program to run its vegeta mode: %w", err)
				}
				return []string{self, vegetaMode, "--url", url, "--connections", conns, "--duration", d.String()}, nil
			}
		default:
			return nil, fmt.Errorf("unknown generator %q (known: %s)", name, defaultGenerators)
		}
		out = append(out, ct)
	}
	if f.race > 1 {
		script := filepath.Join(tmp, "pipeline.lua")
		if err := os.WriteFile(script, []byte(wrkPipelineScript(f.race)), 0o644); err != nil {
			return nil, fmt.Errorf("wrk's pipelining script: %w", err)
		}
		depth := fmt.Sprint(f.race)
		out = append(out,
			contestant{row: "wrk, depth " + depth, gen: "wrk", kind: race, depth: f.race, argv: func(url string, d time.Duration) ([]string, error) {
				return append(wrkCommand(c.wrk, c.connections, d, url), "-s", script), nil
			}},
			contestant{row: "sockbench, depth " + depth, gen: "sockbench", kind: race, depth: f.race, argv: func(url string, d time.Duration) ([]string, error) {
				return sockbench(url, d, "--pipeline", depth), nil
			}},
			contestant{row: "sockbench-uring, depth " + depth, gen: "sockbench-uring", kind: race, depth: f.race, argv: func(url string, d time.Duration) ([]string, error) {
				return sockbench(url, d, "--pipeline", depth, "--io", "uring"), nil
			}})
	}
	rates, err := parseRates(f.rates)
	if err != nil {
		return nil, err
	}
	for _, r := range rates {
		rate := strconv.FormatFloat(r, 'f', -1, 64)
		out = append(out, contestant{row: "sockbench --rate " + rate, gen: "sockbench", kind: paced, rate: r,
			argv: func(url string, d time.Duration) ([]string, error) { return sockbench(url, d, "--rate", rate), nil }})
		out = append(out, contestant{row: "wrk2 -R" + rate, gen: "wrk2", kind: paced, rate: r,
			argv: func(url string, d time.Duration) ([]string, error) {
				return []string{f.wrk2, "-t1", "-c" + conns, fmt.Sprintf("-d%ds", int(wrkSeconds(d).Seconds())), "-R" + rate, "--latency", url}, nil
			}})
	}
	return out, nil
}

// wrkPipelineScript is wrk's own scripts/pipeline.lua at depth n: every
// write carries n requests, and wrk counts the n answers.
func wrkPipelineScript(n int) string {
	return fmt.Sprintf(`init = function(args)
   local r = {}
   for i = 1, %d do r[i] = wrk.format() end
   req = table.concat(r)
end
request = function() return req end
`, n)
}

// parseRates reads --rates: positive requests per second.
func parseRates(s string) ([]float64, error) {
	var out []float64
	for _, f := range splitList(s) {
		r, err := strconv.ParseFloat(f, 64)
		if err != nil || r <= 0 || math.IsInf(r, 0) {
			return nil, fmt.Errorf("--rates: %q is not a positive rate", f)
		}
		out = append(out, r)
	}
	return out, nil
}

// probeGenerator finds out whether a generator exists here before the
// rounds start, so a missing one is skipped with its reason once.
func probeGenerator(c *common, f loadgenFlags, gen string) error {
	switch gen {
	case "wrk":
		if _, err := exec.LookPath(c.wrk); err != nil {
			return skipf("%v", err)
		}
	case "wrk2":
		if f.wrk2 == "" {
			return skipf("no --wrk2 given; %s", buildWrk2)
		}
		if _, err := exec.LookPath(f.wrk2); err != nil {
			return skipf("--wrk2: %v; %s", err, buildWrk2)
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

// generatorCell is one measured run of one contestant.
type generatorCell struct {
	summary
	generator procstat.Delta
	server    procstat.Delta
}

func runLoadgenMode(args []string) error {
	fs := flag.NewFlagSet("compare loadgen", flag.ContinueOnError)
	var c common
	var f loadgenFlags
	serverCPUs, clientCPUs := c.register(fs)
	fs.StringVar(&f.generators, "generators", defaultGenerators, "unpaced generators to compare, in the order each round runs them (empty: none)")
	fs.IntVar(&f.race, "race", 0, "also race wrk and sockbench pipelining this many requests per round trip, so that the server is not the limit (0: no race)")
	fs.StringVar(&f.rates, "rates", defaultRates, "paced rows: sockbench --rate R beside wrk2 -R R at each rate (empty: none)")
	fs.StringVar(&f.wrk2, "wrk2", "", "the wrk2 binary for the paced rows ("+buildWrk2+")")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if err := c.finish(*serverCPUs, *clientCPUs); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "sockbench-compare-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	all, err := contestants(&c, f, tmp)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return errors.New("nothing to compare: --generators and --rates are empty and there is no --race")
	}

	printMachine(os.Stdout, &c)
	fmt.Println("target:   nginx, one worker, started once for all rounds")
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
	for _, ct := range all {
		cells[ct.row] = map[int]generatorCell{}
		if err := probeGenerator(&c, f, ct.gen); err != nil {
			skipped[ct.row] = err
		}
	}
	width := 0
	for _, ct := range all {
		width = max(width, len(ct.row))
	}
	for round := 1; round <= c.rounds; round++ {
		for _, ct := range all {
			if skipped[ct.row] != nil {
				continue
			}
			fmt.Printf("round %d/%d  %-*s ", round, c.rounds, width, ct.row)
			cell, err := measureGenerator(&c, srv, ct, round)
			if err != nil {
				failures[ct.row] = append(failures[ct.row], fmt.Sprintf("round %d: %v", round, err))
				fmt.Printf("FAILED: %v\n", err)
				continue
			}
			cells[ct.row][round] = cell
			fmt.Printf("%7.2f µs generator CPU/request  %8.0f req/s  generator CPU %3.0f%%%s\n",
				perRequestMicros(cell.generator.CPU().Seconds(), cell.requests), cell.rps,
				100*cell.generator.Utilization(), errorNote(cell.errors))
		}
	}
	fmt.Println()
	res := loadgenResults{all: all, cells: cells, skipped: skipped, failures: failures, rounds: c.rounds, duration: c.duration}
	if err := res.write(os.Stdout); err != nil {
		return err
	}
	var notes []string
	for _, ct := range all {
		if err := skipped[ct.row]; err != nil {
			notes = append(notes, fmt.Sprintf("skipped %s: %v", ct.row, err))
		}
		for _, fl := range failures[ct.row] {
			notes = append(notes, fmt.Sprintf("failed %s, %s", ct.row, fl))
		}
	}
	if len(notes) > 0 {
		fmt.Println()
		fmt.Println(strings.Join(dedupe(notes), "\n"))
	}
	return nil
}

// dedupe drops repeated lines (every paced row of a missing wrk2 says the
// same), keeping the first.
func dedupe(lines []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, l := range lines {
		key := l
		if i := strings.Index(l, ": "); i >= 0 && strings.HasPrefix(l, "skipped wrk2") {
			key = "skipped wrk2" + l[i:]
		}
		if !seen[key] {
			seen[key] = true
			out = append(out, l)
		}
	}
	return out
}

// measureGenerator runs one contestant against srv, charging it for its
// own CPU from start to exit and sampling the server around the run.
func measureGenerator(c *common, srv *runningServer, ct contestant, round int) (generatorCell, error) {
	argv, err := ct.argv(srv.url(), c.duration)
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
	raw := strings.NewReplacer(" ", "", ",", "-", "--", "").Replace(ct.row)
	if err := keepRaw(c.rawDir, fmt.Sprintf("loadgen-%s-round%d.txt", raw, round), run.output); err != nil {
		return generatorCell{}, err
	}
	sum, err := parseSummary(run.output)
	if err != nil {
		return generatorCell{}, fmt.Errorf("%s: %w: %s", ct.row, err, clipOutput(run.output))
	}
	if sum.requests == 0 {
		sum.requests = int64(math.Round(sum.rps * c.duration.Seconds()))
	}
	if sum.requests == 0 {
		return generatorCell{}, fmt.Errorf("%s completed no requests", ct.row)
	}
	return generatorCell{summary: sum, generator: run.cost, server: after.Sub(before)}, nil
}
