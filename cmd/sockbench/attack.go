package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sockbench/sockbench/internal/atomicfile"
	"github.com/sockbench/sockbench/loadgen"
)

func init() { rootCmd.AddCommand(newAttackCmd()) }

func newAttackCmd() *cobra.Command {
	var (
		o          loadgen.Options
		mode       string
		pacer      string
		ioMode     string
		headers    []string
		out        string
		histLog    string
		vegetaOut  string
		quietTicks bool
		maxErrors  = shareFlag(loadgen.DefaultMaxErrors)
		dist       agentFlags
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
          the measured response times only. --io uring does the loops'
          I/O on io_uring instead of epoll: every connection's send of a
          loop iteration in one io_uring_enter that also waits for the
          answers, which come from a multishot receive per connection into
          a provided buffer ring (Linux 6.0; a kernel lacking a feature is
          refused, naming it). Paced or not; with --agents, on each agent.
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
status (not --status), malformed (an answer that is not HTTP/1.1, such as
an SSH banner). The attack ends when the window does: requests still in
flight then are cancelled and counted as unfinished, neither answered nor
failed. Ctrl-C ends the attack early and still prints and writes what was
measured.

A server that closes a connection after a complete answer (as the thread's
servers did after every one, and close_after_response does) is no error:
where wrk prints "Socket errors: read N", sockbench reconnects, sends again a
request the close caught on a connection that had answered (it had nothing
of the next answer yet), and prints "Server closes: N", which --max-errors
does not count. A close in the middle of an answer, or on a connection that
answered nothing, is a read error. "Reconnects" counts the connections
opened in place of earlier ones; a request that needed one is timed from
before its connect, so its latency includes the handshake. With more than
one connection the summary gives the fairness between them: Jain's index
of the requests each had answered (1: even; 1/c: one had them all) and the
fewest and most over the mean (closed mode).

The summary reads like wrk's, and wrk's parsers read it. Requests/sec
counts every answer, whatever its status, as wrk does; beside it the share
answered with --status (and their rate, -o's requests_per_sec). "MB read"
and Transfer/sec are bytes of whole responses (status line, headers, body)
in every mode. The latency distribution is always printed (--latency is
accepted for wrk's command lines). Closed-mode latency runs from the
event-loop wake-up that sends a request to the one that sees its answer,
so "In flight" (requests/s × mean latency) comes out at -c; wrk starts its
clock in its write callback, a loop turn after the answer, so its
latencies are lower at the same rate. The slowest second of the window
is given too: an average hides it.

--agents runs the attack on 'sockbench agent's on other machines instead:
connections, event loops, rates and --requests are shared out among them,
they start at one instant (their clock offsets measured and corrected) and
their histograms are merged exactly, so the summary means what a local one
means; a table of the agents (requests, errors, CPU, clock offset, start
skew, saturated) follows it. An agent lost mid-attack (dead, cut off, or
silent) stops the others at once; the summary and -o are then what they
measured, marked partial: the lost agents and why are listed (-o's
lost_agents), and the exit status is 3. --ssh user@host,... starts agents
over SSH for the one attack (allowed to attack its target only) and stops
them after it.

Exit status:
  0  the attack ran and passed its checks
  1  it ran but failed them: no request succeeded (all unfinished counts
     as none), or more than --max-errors of the requests failed (stream
     mode: errors per connection); the last line names the main error and
     its cause
  2  bad usage, or refused before starting: options that cannot work
     (-c 0, -d 0, -t 0 and other zeros included), more connections than
     the open-file limit or the local port range allows, --close at a
     --rate whose closed connections would use up the local ports, stream
     mode aimed at an http:// URL, nothing listening at URL, or an output
     file (-o, --hist-log, --vegeta-out) that cannot be written
  3  with --agents, agents were lost once the attack had started: the
     summary and -o hold what the others measured, marked partial, and
     the last line names each lost agent and why (this outranks 1); with
     every agent lost, or when this coordinator was itself stopped
     (SIGSTOP, a suspended machine) long enough to lose them, nothing is
     kept and the last line says so`,
		Example: `  sockbench attack http://127.0.0.1:8080/ -c 100 -t 1 -d 30s
  sockbench attack http://127.0.0.1:8080/ -c 50 --close -d 10s          # a connection per request
  sockbench attack http://127.0.0.1:8080/ -c 100 --rate 20000 -o r.json  # paced, corrected latency
  sockbench attack http://127.0.0.1:8080/ -c 100 -t 1 --io uring       # the loop on io_uring
  sockbench attack http://127.0.0.1:8080/ --mode open --rate 5000 --pacer linear --rate-to 50000 -d 60s
  sockbench attack tcp://127.0.0.1:8080 --mode stream -c 4 -d 10s
  sockbench attack http://198.18.0.1:8080/ -c 400 --agents 198.18.0.2:7000,198.18.0.3:7000 --token-file token`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			o.URL = args[0]
			o.Mode = loadgen.Mode(mode)
			o.Pacer = loadgen.Pacer(pacer)
			if f.Changed("io") {
				o.IO = loadgen.IO(ioMode)
			}
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
			// Refuse bad options before announcing anything. A flag not
			// given takes its default; one given is checked as given, so
			// -c 0 is an error, as connections: 0 is in a configuration.
			if err := o.CheckGiven(loadgen.FlagName, f.Changed); err != nil {
				return err
			}
			if o.Mode == loadgen.Stream && strings.HasPrefix(o.URL, "http://") {
				// The runner's stream cells are aimed at its own stream
				// servers by http:// URL, so this is the command's rule,
				// not an option check.
				return fmt.Errorf("URL %q: stream mode writes raw bytes and counts bytes, not HTTP requests, so an HTTP server only sees garbage; aim it at a server started with 'serve --stream' as tcp://host:port", o.URL)
			}
			if err := dist.checkLimits(o); err != nil {
				return err
			}
			// Where the result goes is checked now: found wrong after the
			// attack, it would cost the whole attack.
			if histLog == "" && out != "" && out != "-" && o.Mode != loadgen.Stream {
				if special, _ := atomicfile.Special(out); !special {
					// The histogram also goes where HdrHistogram's own
					// tools read it, beside the JSON.
					histLog = strings.TrimSuffix(out, filepath.Ext(out)) + ".hlog"
				}
			}
			for _, p := range []string{out, histLog, vegetaOut} {
				if p == "" || p == out && out == "-" { // standard output
					continue
				}
				if err := atomicfile.CheckWritable(p); err != nil {
					return err
				}
			}
			summary := cmd.OutOrStdout()
			if out == "-" {
				// Standard output carries the result, for a pipe.
				summary = errw
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
			fmt.Fprintf(summary, "Running %s %s test @ %s\n", o.Duration, mode, o.URL)
			r, err := dist.run(ctx, o)
			if o.Progress != nil {
				fmt.Fprint(errw, "\r"+strings.Repeat(" ", 72)+"\r")
			}
			if err != nil {
				return err
			}
			if err := r.WriteSummary(summary); err != nil {
				return err
			}
			switch out {
			case "":
			case "-":
				if err := r.Encode(cmd.OutOrStdout()); err != nil {
					return fmt.Errorf("writing the result to standard output: %w", err)
				}
			default:
				if err := r.WriteFile(out); err != nil {
					return fmt.Errorf("writing %s: %w", out, err)
				}
			}
			if histLog != "" {
				if err := r.WriteHistogramLog(histLog); err != nil {
					return fmt.Errorf("writing %s: %w", histLog, err)
				}
			}
			if err := r.CheckComplete(); err != nil {
				return exitStatus{code: exitLost, err: err}
			}
			if err := r.Check(float64(maxErrors)); err != nil {
				return exitStatus{code: 1, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	// Flags show their defaults where they have one of their own
	// (--threads and --chunk-size depend on others); a flag given is
	// checked as given, zero included (CheckGiven).
	f.StringVar(&mode, "mode", string(loadgen.Closed), "load model: closed, open or stream")
	f.IntVarP(&o.Connections, "connections", "c", loadgen.DefaultConnections, "connections to keep open")
	f.IntVarP(&o.Threads, "threads", "t", 0, "event loops, each on its own OS thread (default: one per usable CPU, at most -c)")
	f.DurationVarP(&o.Duration, "duration", "d", loadgen.DefaultDuration, "measured window")
	f.Var(&maxErrors, "max-errors", "exit 1 when more than this share of the requests failed (wrong statuses included)")
	f.Bool("latency", false, "accepted for wrk's command lines: the latency distribution is always printed")
	f.DurationVar(&o.Warmup, "warmup", 0, "load sent before the window, not counted")
	f.DurationVar(&o.Timeout, "timeout", loadgen.DefaultTimeout, "a connect or an answer slower than this, or a stream write stalled this long, is a timeout error")
	f.StringVar(&ioMode, "io", string(loadgen.IOEpoll), "closed mode: the event loops' I/O, epoll or uring")
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
	f.StringVarP(&out, "output", "o", "", "write the result as JSON to this file (- for standard output; the summary then goes to standard error)")
	f.StringVar(&histLog, "hist-log", "", "write the latency histogram in HdrHistogram's log format to this file (default with -o: beside it, as .hlog)")
	f.StringVar(&vegetaOut, "vegeta-out", "", "open mode: write every result in vegeta's encoding (grows with the run)")
	f.BoolVarP(&quietTicks, "quiet", "q", false, "no per-second progress line")
	dist.register(f)
	cmd.RegisterFlagCompletionFunc("mode", fixedCompletion("closed", "open", "stream"))
	cmd.RegisterFlagCompletionFunc("io", fixedCompletion("epoll", "uring"))
	cmd.RegisterFlagCompletionFunc("pacer", fixedCompletion("constant", "linear", "sine"))
	return cmd
}

// shareFlag is a share of requests, written as a percentage ("1%",
// "0.5%"); 0 may go without the sign.
type shareFlag float64

func (s *shareFlag) String() string {
	return strconv.FormatFloat(float64(*s)*100, 'f', -1, 64) + "%"
}

func (s *shareFlag) Set(v string) error {
	num, percent := strings.CutSuffix(strings.TrimSpace(v), "%")
	f, err := strconv.ParseFloat(num, 64)
	switch {
	case err != nil || f < 0 || f > 100:
		return fmt.Errorf("want a percentage from 0%% to 100%%, such as 1%%")
	case !percent && f != 0:
		return fmt.Errorf("write it as a percentage: %s%%", num)
	}
	*s = shareFlag(f / 100)
	return nil
}

func (s *shareFlag) Type() string { return "percent" }

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
