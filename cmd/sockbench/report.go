package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/sockbench/sockbench/report"
)

func init() { rootCmd.AddCommand(newReportCmd()) }

func newReportCmd() *cobra.Command {
	var (
		format string
		out    string
		claims string
	)
	cmd := &cobra.Command{
		Use:   "report RUN_DIR [RUN_DIR_B]",
		Short: "Tables, plots and an HTML page from stored results",
		Long: `Build the report of a results folder from its stored results alone:
Markdown and CSV tables (one row per cell), a ranking of the servers within
each group of cells that differ only in the server, a benchstat export (one
line per repetition), plots as PNG and SVG, and one self-contained HTML page
showing all of them. The report goes to RUN_DIR/report unless --out says
otherwise.

With two folders it compares the second run (B) with the first (A) cell by
cell and writes to RUN_DIR_B/report/vs-<A's run id>.

Servers and runs are compared as benchstat compares benchmarks: a
Mann-Whitney U test over the repetitions at alpha 0.05, on requests/s,
server CPU per request and the repetitions' p50 and p99 latency, each
median given with its 95% confidence interval. A change reads
"-12.1% ± 3.0% (p=0.008, n=5+5)", "no significant difference", or "too few
repetitions to tell" when there are too few for any difference to show (the
report says how many it needs). Cells where the load generator was
saturated are ranked by server CPU per request, and cells with failed
repetitions or failed requests are not ranked. A repetition the runner
found measured on a busy machine (other work or steal on the run's CPUs)
is shown in the interference table and left out of every number; a cell
with no quiet repetition is not ranked. An adaptive run gives each cell's
interval and whether it converged. A run with a drift control plots it
over the run and warns when it trends beyond its own noise (Kendall's
test); two runs that both have the same control are also compared
relative to it, each repetition divided by the control measured nearest
to it in time, and the page says which reading it used.

With --claims FILE it judges the forum thread's claims instead
(configs/forum/claims.yaml, issue #13): RUN_DIR is one run, or a folder of
runs such as make forum's results/forum/<stamp>/, each found by its
configuration's name. Per claim it writes the thread's figure, sockbench's
with its 95% interval, and a verdict for the Python stacks and for Go
(reproduced, not reproduced, inconclusive, flagged, no data, not applicable
here) into RUN_DIR/REPORT.md, with a plot per claim in RUN_DIR/plots/.

A result file that is truncated or is not a sockbench result is an error
naming the file.`,
		Example: `  sockbench report results/20251124-100000
  sockbench report results/20251124-100000 --format md --out /tmp/r
  sockbench report results/A results/B                # B against A
  sockbench report results/forum/20251124-100000 --claims configs/forum/claims.yaml
  benchstat results/A/report/bench.txt results/B/report/bench.txt
  benchstat -col /server results/A/report/bench.txt   # servers of one run`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			f, err := report.ParseFormat(format)
			if err != nil {
				return err
			}
			opts := report.Options{Format: f, OutDir: out}
			var paths report.Paths
			if claims != "" {
				if len(args) == 2 {
					return fmt.Errorf("--claims judges one results folder; %s and %s are two (compare them without --claims)", args[0], args[1])
				}
				if cmd.Flags().Changed("format") {
					return fmt.Errorf("--claims writes %s and its PNG plots; --format applies to the report of a run (drop one of them)", report.ClaimsReport)
				}
				paths, err = report.Claims(args[0], claims, opts)
			} else if len(args) == 2 {
				paths, err = report.Compare(args[0], args[1], opts)
			} else {
				paths, err = report.Build(args[0], opts)
			}
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if paths.HTML != "" {
				fmt.Fprintln(w, "page:", paths.HTML)
			}
			if paths.Markdown != "" {
				fmt.Fprintln(w, "markdown:", paths.Markdown)
			}
			for _, p := range paths.CSV {
				fmt.Fprintln(w, "csv:", p)
			}
			for _, p := range paths.Benchstat {
				fmt.Fprintln(w, "benchstat:", p)
			}
			if len(paths.Plots) > 0 {
				fmt.Fprintf(w, "plots: %d files in %s/plots\n", len(paths.Plots), paths.Dir)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "all", "what to write: md, csv, html (page and plots), bench (benchstat) or all")
	cmd.Flags().StringVar(&claims, "claims", "", "judge the claims of this file (configs/forum/claims.yaml) on RUN_DIR, one run or a folder of runs such as make forum's, into RUN_DIR/"+report.ClaimsReport+" and plots/")
	cmd.Flags().StringVar(&out, "out", "", "folder to write into (default RUN_DIR/report, or RUN_DIR_B/report/vs-<A> when comparing)")
	return cmd
}
