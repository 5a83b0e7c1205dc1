package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"time"

	vegeta "github.com/tsenart/vegeta/v12/lib"
)

// vegetaMode is the hidden mode loadgen runs as a child process: vegeta's
// attacker in-process at its maximum rate, so it can be pinned and charged
// for its CPU like any other generator without the vegeta command.
const vegetaMode = "vegeta-attack"

// runVegetaMode attacks --url with a fixed pool of workers, each waiting for
// its answer before sending again — vegeta's closed-loop shape at
// Rate{Freq: 0}, comparable with wrk's connections — and prints the lines of
// a wrk report that compare reads.
func runVegetaMode(args []string) error {
	fs := flag.NewFlagSet("compare "+vegetaMode, flag.ContinueOnError)
	url := fs.String("url", "", "target URL")
	conns := fs.Int("connections", 100, "workers, each with its own keep-alive connection")
	d := fs.Duration("duration", 5*time.Second, "attack length")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *url == "" || *conns < 1 || *d <= 0 {
		return errors.New("vegeta-attack needs --url, a positive --connections and --duration")
	}
	n := uint64(*conns)
	atk := vegeta.NewAttacker(
		vegeta.Workers(n),
		// A zero rate means "as fast as possible", which vegeta only
		// allows with a bounded worker pool.
		vegeta.MaxWorkers(n),
		vegeta.Connections(*conns),
		vegeta.MaxConnections(*conns),
		vegeta.KeepAlive(true),
	)
	target := vegeta.NewStaticTargeter(vegeta.Target{Method: http.MethodGet, URL: *url})
	var ok, bad, failed int64
	start := time.Now()
	for res := range atk.Attack(target, vegeta.Rate{Freq: 0}, *d, "compare") {
		switch {
		case res.Code >= 200 && res.Code < 400:
			ok++
		case res.Code != 0:
			bad++
		default:
			failed++
		}
	}
	elapsed := time.Since(start)
	fmt.Printf("  %d requests in %.2fs\n", ok+bad, elapsed.Seconds())
	if failed > 0 {
		fmt.Printf("  Socket errors: %d\n", failed)
	}
	if bad > 0 {
		fmt.Printf("  Non-2xx or 3xx responses: %d\n", bad)
	}
	fmt.Printf("Requests/sec: %.2f\n", float64(ok+bad)/elapsed.Seconds())
	return nil
}
