package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sockbench/sockbench/loadgen"
)

func init() { rootCmd.AddCommand(newAttackCmd()) }

func newAttackCmd() *cobra.Command {
	var (
		o          loadgen.Options
		mode       string
		pacer      string
		headers    []string
		out        string
		histLog    string
		vegetaOut  string
		quietTicks bool
	)
	cmd := &cobra.Command{
		Use:   "attack URL",
		Short: "Drive a server with load and measure it (wrk-style closed loop, open loop, raw stream)",
		Long: `Send load to URL for --duration and print a wrk-style summary; -o writes
the full result as JSON (with the latency histogram, a per-second series and
errors by kind) for the runner and the reporter, and the histogram beside it
in HdrHistogram's log format (.hlog).

Modes:
  closed  (default) -c connections over -t event loops, each sending its next
          request when the previous answer is read, like wrk. --close opens a
          new connection per request (latency then includes the handshake);
          --pipeline N sends N requests per round trip. --rate R paces the
          requests (wrk2): latency is measured from when each request was due,
          so a server stall shows in every request queued behind it
          (coordinated-omission correction). Without --rate, percentiles are
          the measured response times only.
  open    requests leave at --rate whatever the server does (vegeta's
          attacker): --pacer constant, linear (to --rate-to) or sine
          (--amplitude, --period). --vegeta-out writes vegeta's own encoding.
  stream  raw TCP: every connection writes --chunk-size bytes as fast as it
          can (to a server started with 'serve --stream'); reports bytes/s.
          A connection whose writes make no progress for --timeout (a
          server that stopped reading) counts once as a timeout error and
          is kept.

Every response is checked (status line, Content-Length or chunked framing)
before it counts; errors are counted by kind: connect, read, write, timeout,
status (not --status), malformed. The attack ends when the window does:
requests still in flight then are cancelled and counted as unfinished,
neither answered nor failed. The summary also gives the slowest second of
the window, which an average hides. Ctrl-C ends the attack early and still
prints and writes what was measured. Exit status: 0 when the attack ran, 1
when it ran but had errors, 2 when it could not run.`,
		Example: `  sockbench attack http://127.0.0.1:8080/ -c 100 -t 1 -d 30s
  sockbench attack http://127.0.0.1:8080/ -c 50 --close -d 10s          # a connection per request
  sockbench attack http://127.0.0.1:8080/ -c 100 --rate 20000 -o r.json  # paced, corrected latency
  sockbench attack http://127.0.0.1:8080/ --mode open --rate 5000 --pacer linear --rate-to 50000 -d 60s
  sockbench attack tcp://127.0.0.1:8080 --mode stream -c 4 -d 10s`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.URL = args[0]
			o.Mode = loadgen.Mode(mode)
			o.Pacer = loadgen.Pacer(pacer)
			for _, h := range headers {
				hd, err := loadgen.ParseHeader(h)
				if err != nil {
					return err
				}
				o.Headers = append(o.Headers, hd)
			}
			errw := cmd.ErrOrStderr()
			if !quietTicks && isTerminal(os.Stderr) {
				o.Progress = func(s loadgen.Second) {
					fmt.Fprintf(errw, "\r  %3.0fs  %9d req/s  p50 %6.0fµs  p99 %7.0fµs  errors %d   ",
						s.T+1, s.Requests, s.P50US, s.P99US, s.Errors)
				}
			}
			parent := cmd.Context()
			if parent == nil {
				parent = context.Background()
			}
			ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
			defer stop()
			if vegetaOut != "" {
				// Checked as if set, and created only once the options
				// pass: a refused run leaves an existing file as it was.
				o.VegetaResults = io.Discard
			}
			// Refuse bad options before announcing anything.
			if err := o.Check(loadgen.FlagName); err != nil {
				return err
			}
			if vegetaOut != "" {
				f, err := os.Create(vegetaOut)
				if err != nil {
					return err
				}
				defer f.Close()
				o.VegetaResults = f
			}
			// Like wrk, say what starts before the wait; only now is
			// Ctrl-C handled.
			fmt.Fprintf(cmd.OutOrStdout(), "Running %s %s test @ %s\n", o.Duration, mode, o.URL)
			r, err := loadgen.Run(ctx, o)
			if o.Progress != nil {
				fmt.Fprint(errw, "\r"+strings.Repeat(" ", 72)+"\r")
			}
			if err != nil {
				return err
			}
			if err := r.WriteSummary(cmd.OutOrStdout()); err != nil {
				return err
			}
			if out != "" {
				if err := r.WriteFile(out); err != nil {
					return fmt.Errorf("writing %s: %w", out, err)
				}
			}
			if histLog == "" && out != "" && r.Mode != loadgen.Stream {
				// The result's histogram also goes where HdrHistogram's
				// own tools read it, beside the JSON.
				histLog = strings.TrimSuffix(out, filepath.Ext(out)) + ".hlog"
			}
			if histLog != "" {
				if err := r.WriteHistogramLog(histLog); err != nil {
					return fmt.Errorf("writing %s: %w", histLog, err)
				}
			}
			if n := r.Errors.Total(); n > 0 {
				what := "requests failed"
				if r.Mode == loadgen.Stream {
					what = "stream errors (failed connects, failed or stalled writes)"
				}
				return exitStatus{code: 1, err: fmt.Errorf("%d %s", n, what)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&mode, "mode", string(loadgen.Closed), "load model: closed, open or stream")
	f.IntVarP(&o.Connections, "connections", "c", loadgen.DefaultConnections, "connections to keep open")
	f.IntVarP(&o.Threads, "threads", "t", 0, "event loops, each on its own OS thread (default: one per usable CPU, at most -c)")
	f.DurationVarP(&o.Duration, "duration", "d", loadgen.DefaultDuration, "measured window")
	f.DurationVar(&o.Warmup, "warmup", 0, "load sent before the window, not counted")
	f.DurationVar(&o.Timeout, "timeout", loadgen.DefaultTimeout, "a connect or an answer slower than this, or a stream write stalled this long, is a timeout error")
	f.BoolVar(&o.Close, "close", false, "closed mode: a new connection for every request (Connection: close)")
	f.IntVar(&o.Pipeline, "pipeline", 1, "closed mode: requests sent per round trip")
	f.Float64Var(&o.Rate, "rate", 0, "requests/s: closed mode paces to it (corrected latency); open mode starts at it")
	f.StringVar(&pacer, "pacer", string(loadgen.PacerConstant), "open mode: constant, linear or sine")
	f.Float64Var(&o.RateTo, "rate-to", 0, "open mode, linear pacer: rate reached at the end")
	f.Float64Var(&o.Amplitude, "amplitude", 0, "open mode, sine pacer: requests/s above and below --rate")
	f.DurationVar(&o.Period, "period", 0, "open mode, sine pacer: length of one wave")
	f.StringVarP(&o.Method, "method", "X", "GET", "request method")
	f.StringArrayVarP(&headers, "header", "H", nil, "request header 'Name: value' (repeatable)")
	f.IntVar(&o.Status, "status", loadgen.DefaultStatus, "status code that counts as success")
	f.IntVar(&o.ChunkSize, "chunk-size", 0, fmt.Sprintf("stream mode: bytes per write (default %d)", loadgen.DefaultChunkSize))
	f.Int64Var(&o.MaxRequests, "requests", 0, "stop after this many answers (0: run for --duration)")
	f.StringVarP(&out, "output", "o", "", "write the result as JSON to this file")
	f.StringVar(&histLog, "hist-log", "", "write the latency histogram in HdrHistogram's log format to this file (default with -o: beside it, as .hlog)")
	f.StringVar(&vegetaOut, "vegeta-out", "", "open mode: write every result in vegeta's encoding (grows with the run)")
	f.BoolVarP(&quietTicks, "quiet", "q", false, "no per-second progress line")
	cmd.RegisterFlagCompletionFunc("mode", fixedCompletion("closed", "open", "stream"))
	cmd.RegisterFlagCompletionFunc("pacer", fixedCompletion("constant", "linear", "sine"))
	return cmd
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
