package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sockbench/sockbench/report"
	"github.com/sockbench/sockbench/runner"
	"github.com/sockbench/sockbench/runner/config"
	"github.com/sockbench/sockbench/runner/results"
)

func init() { rootCmd.AddCommand(newRunCmd()) }

func newRunCmd() *cobra.Command {
	var (
		resume   string
		out      string
		dryRun   bool
		waitCPUs time.Duration
		yes      bool
	)
	cmd := &cobra.Command{
		Use:   "run CONFIG | run --resume RESULTS_DIR",
		Short: "Run a benchmark matrix from a YAML configuration",
		Long: `Run every cell of a configuration (servers × knobs × load parameters, see
configs/README.md), repetition 1 of every cell first, then repetition 2, ...
Each repetition starts its server afresh, pinned to the configured CPUs,
checks it with the conformance cases of ` + "`sockbench verify`" + `, warms it up and
measures it while sampling its CPU time from /proc. A server that fails is
recorded with the reason and the run goes on.

Results go to <output>/<run-id>/ (output is results/ unless the
configuration or --out says otherwise; results/README.md describes the
files), <output>/latest points at the newest run, and the report is built at
the end. Ctrl-C stops after the current step and keeps every finished
repetition; --resume runs only what did not finish or failed.

A results folder may come from someone else, and its stored plan names the
commands of its external servers (and SSH hosts for agents). --resume with
the configuration the run was started from runs them as that configuration
says; --resume alone lists them and asks first (on a terminal), or needs
--yes.

Two runs never share a CPU: a run that wants a CPU another run is using
refuses, naming it, unless --wait-cpus lets it wait.

Exit status: 0 when every repetition succeeded, 1 when some failed or did
not run (the results and report are still written), 2 for a configuration
or usage error.`,
		Example: `  sockbench run configs/quick.yaml
  sockbench run configs/quick.yaml --out /tmp/results
  sockbench run configs/quick.yaml --dry-run          # check it, list the cells, run nothing
  sockbench run --resume results/latest               # finish an interrupted run
  sockbench run --resume results/20251125-101500-quick configs/quick.yaml
  sockbench run --resume results/received --yes        # trust its stored commands
  sockbench run configs/quick.yaml --wait-cpus 30m    # queue behind another run on the same CPUs`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 && resume == "" {
				return errors.New("run needs a configuration file, or --resume with a results folder")
			}
			opts := runner.Options{Output: out, Out: cmd.OutOrStdout(), Live: isTerminal(os.Stdout), WaitForCPUs: waitCPUs}
			opts.Agents = runAgents(cmd.OutOrStdout())
			opts.Trust = trustPrograms(cmd, yes)
			var plan *results.Plan
			if len(args) == 1 {
				text, err := os.ReadFile(args[0])
				if err != nil {
					return fmt.Errorf("read configuration: %w", err)
				}
				if plan, err = config.Parse(args[0], text); err != nil {
					return err
				}
				opts.ConfigFile, opts.ConfigText = args[0], string(text)
			}
			if dryRun {
				if plan == nil {
					return errors.New("--dry-run needs a configuration file")
				}
				return runner.Describe(cmd.OutOrStdout(), plan)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// The first Ctrl-C stops the run gracefully; a second one
			// is the default: the process ends at once.
			go func() {
				<-ctx.Done()
				stop()
			}()
			var (
				sum *runner.Summary
				err error
			)
			if resume != "" {
				sum, err = runner.Resume(ctx, resume, opts)
			} else {
				sum, err = runner.Run(ctx, plan, opts)
			}
			if sum == nil {
				return err
			}
			reportErr := summarize(cmd.OutOrStdout(), sum)
			switch {
			case err != nil:
				return err
			case !sum.OK():
				return exitStatus{1, fmt.Errorf("run %s is %s: %d repetitions failed, %d did not run, %d strace calibrations failed", sum.RunID, sum.Status, sum.Failed, sum.Unfinished, sum.FailedCalibrations)}
			case reportErr != nil:
				return exitStatus{1, fmt.Errorf("run %s is complete, but its report was not built: %w; the results are stored, rebuild it with: sockbench report %s", sum.RunID, reportErr, sum.Dir)}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&resume, "resume", "", "carry on the run in this results folder: only what did not finish or failed")
	f.StringVar(&out, "out", "", "create the run's folder in this folder instead of the configuration's output (default results)")
	f.BoolVar(&dryRun, "dry-run", false, "check the configuration and list its cells and warnings; run nothing")
	f.DurationVar(&waitCPUs, "wait-cpus", 0, "wait this long for CPUs another run is using (0: refuse at once)")
	f.BoolVarP(&yes, "yes", "y", false, "--resume without CONFIG: run the programs the results folder's stored plan names without asking")
	return cmd
}

// summarize prints the run's summary table and builds its report from the
// stored results; a report that fails leaves the results as they are.
func summarize(w io.Writer, sum *runner.Summary) error {
	err := report.WriteSummary(w, sum.Dir)
	if err == nil {
		var paths report.Paths
		if paths, err = report.Build(sum.Dir, report.Options{}); err == nil {
			fmt.Fprintf(w, "report: %s\n", paths.HTML)
		}
	}
	if err != nil {
		fmt.Fprintf(w, "report: not built: %v\n", err)
	}
	if sum.Status != results.Complete {
		fmt.Fprintf(w, "run %s is %s; finish it with: sockbench run --resume %s\n", sum.RunID, sum.Status, sum.Dir)
	}
	return err
}

// trustPrograms asks whether a resume may run the programs a results
// folder's stored plan names: yes says so at once, a person at a terminal
// is asked, and anything else is refused by the runner.
func trustPrograms(cmd *cobra.Command, yes bool) func([]string) error {
	if !yes && !isTerminal(os.Stdin) {
		return nil
	}
	return func(programs []string) error {
		w := cmd.ErrOrStderr()
		fmt.Fprintln(w, "The results folder's stored plan runs these programs:")
		for _, p := range programs {
			fmt.Fprintln(w, "  "+p)
		}
		if yes {
			return nil
		}
		fmt.Fprint(w, "Run them? [y/N] ")
		answer, _ := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
		if a := strings.TrimSpace(strings.ToLower(answer)); a != "y" && a != "yes" {
			return errors.New("resume refused: the stored plan's programs were not confirmed")
		}
		return nil
	}
}
