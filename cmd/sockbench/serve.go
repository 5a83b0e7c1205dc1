package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/servers"
)

func init() { rootCmd.AddCommand(newServeCmd()) }

func newServeCmd() *cobra.Command {
	var (
		opts      servers.Options
		statsFile string
		cpuProf   string
		cpus      string
	)
	cmd := &cobra.Command{
		Use:   "serve NAME",
		Short: "Run one of the built-in servers",
		Long: `Run one of the built-in servers until SIGINT or SIGTERM, then write its own
counters (connections, requests, accepts per wakeup, syscalls by kind) to
--stats-file and exit.

Every server answers GET / with the thread's page (client IP and time),
404 for other paths and 405 for other methods. Knobs a model does not have
are refused, so a benchmark never measures a setting that had no effect.

Servers:
` + modelTable(),
		Example: `  sockbench serve epoll --addr 127.0.0.1:8080
  sockbench serve epoll --backlog 1 --accept-batch 1          # thread post #5 and #16
  sockbench serve epoll --rearm oneshot                        # thread post #15
  sockbench serve poll --reuseport --listeners 2 --gomaxprocs 2
  sockbench serve nethttp --handler template-reparse --body large
  sockbench serve uring --buffer-ring=false --stats-file st.json  # one io_uring feature off
  sockbench serve epoll --stream --stats-file stats.json      # read-and-discard sink
  sockbench serve epoll --cpus 0 --gomaxprocs 1               # pinned, as benchmarks run it`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeModels,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := servers.Lookup(args[0])
			if err != nil {
				return err
			}
			if cpus != "" {
				set, err := affinity.ParseCPUList(cpus)
				if err != nil {
					return fmt.Errorf("--cpus: %w", err)
				}
				if err := affinity.PinSelf(set); err != nil {
					return fmt.Errorf("--cpus: %w", err)
				}
				// The runtime sized itself for the CPUs it started with.
				if opts.GOMAXPROCS == 0 {
					opts.GOMAXPROCS = len(set)
				}
			}
			if opts.GOMAXPROCS > 0 {
				runtime.GOMAXPROCS(opts.GOMAXPROCS)
			}
			srv, err := m.Start(opts)
			if err != nil {
				return err
			}
			if cpuProf != "" {
				stopProfile, err := startCPUProfile(cpuProf)
				if err != nil {
					return err
				}
				defer stopProfile()
			}
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			fmt.Fprintf(cmd.OutOrStdout(), "sockbench %s listening on %s\n", m.Name, srv.Addr())
			if w := exposure(srv.Addr()); w != "" {
				fmt.Fprintln(cmd.ErrOrStderr(), "warning:", w)
			}
			serveErr := srv.Serve(ctx)
			if statsFile != "" {
				if err := servers.WriteStatsFile(statsFile, srv.Stats()); err != nil {
					return err
				}
			}
			if serveErr != nil {
				return fmt.Errorf("%s server stopped: %w", m.Name, serveErr)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Addr, "addr", "127.0.0.1:8080", "address to listen on (port 0 picks a free one)")
	for _, k := range servers.Knobs {
		fl := f.VarPF(k.FlagValue(&opts), k.Flag(), "", k.Describe())
		fl.DefValue = k.Format(k.Default)
		if k.Type() == "bool" {
			fl.NoOptDefVal = "true"
		}
		if k.Choices != nil {
			cmd.RegisterFlagCompletionFunc(k.Flag(), fixedCompletion(k.Choices...))
		}
	}
	f.BoolVar(&opts.Stream, "stream", false, "raw TCP sink: read and discard everything (no HTTP)")
	f.StringVar(&statsFile, "stats-file", "", "write the server's counters as JSON here when it stops")
	f.StringVar(&cpus, "cpus", "", "pin the server to these CPUs (kernel cpu-list syntax: 0, 0-1, 0,2)")
	f.StringVar(&cpuProf, "cpuprofile", "", "write a Go CPU profile of the server here (go tool pprof reads it)")
	return cmd
}

// exposure says so when a server listens beyond loopback: a benchmark
// server answers anyone who can reach it.
func exposure(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if !ok || tcp.IP.IsLoopback() {
		return ""
	}
	if tcp.IP.IsUnspecified() {
		return fmt.Sprintf("listening on every interface (%s): the server is reachable from the network; --addr 127.0.0.1:%d keeps it on this machine", a, tcp.Port)
	}
	return fmt.Sprintf("listening on %s, not loopback: the server is reachable from the network", a)
}

// startCPUProfile profiles until the returned function is called.
func startCPUProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

func modelTable() string {
	var b strings.Builder
	for _, m := range servers.Models() {
		var knobs []string
		for _, k := range m.Knobs() {
			knobs = append(knobs, "--"+k.Flag())
		}
		extra := ""
		if len(knobs) > 0 {
			extra = " (" + strings.Join(knobs, ", ") + ")"
		}
		fmt.Fprintf(&b, "  %-11s %s%s\n", m.Name, m.Summary, extra)
	}
	return b.String()
}

func completeModels(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	var names []string
	for _, m := range servers.Models() {
		names = append(names, m.Name+"\t"+m.Summary)
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func fixedCompletion(values ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return values, cobra.ShellCompDirectiveNoFileComp
	}
}
