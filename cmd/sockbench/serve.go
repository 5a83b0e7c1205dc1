package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/servers"
	_ "github.com/sockbench/sockbench/servers/all"
)

func init() { rootCmd.AddCommand(newServeCmd()) }

func newServeCmd() *cobra.Command {
	var (
		opts      servers.Options
		rearm     string
		handler   string
		body      string
		nodelay   bool
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
  sockbench serve epoll --stream --stats-file stats.json      # read-and-discard sink
  sockbench serve epoll --cpus 0 --gomaxprocs 1               # pinned, as benchmarks run it`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeModels,
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := servers.Lookup(args[0])
			if err != nil {
				return err
			}
			opts.Rearm = servers.Rearm(rearm)
			opts.Handler = servers.Handler(handler)
			opts.Body = servers.Body(body)
			if cmd.Flags().Changed("nodelay") {
				opts.NoDelay = &nodelay
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
	f.IntVar(&opts.Backlog, "backlog", 0, "listen backlog; 0 = the kernel maximum (net.core.somaxconn)")
	f.BoolVar(&opts.ReusePort, "reuseport", false, "open --listeners sockets with SO_REUSEPORT, one loop each")
	f.IntVar(&opts.Listeners, "listeners", 1, "number of SO_REUSEPORT listeners (needs --reuseport)")
	f.IntVar(&opts.Loops, "loops", 1, "event loops sharing one listener (raw servers)")
	f.IntVar(&opts.GOMAXPROCS, "gomaxprocs", 0, "set GOMAXPROCS; 0 = leave the runtime's default")
	f.BoolVar(&nodelay, "nodelay", true, "set TCP_NODELAY on accepted connections")
	f.IntVar(&opts.AcceptBatch, "accept-batch", 0, "connections accepted per listener wakeup; 0 = until EAGAIN")
	f.StringVar(&rearm, "rearm", string(servers.RearmPersistent), "poller registration: persistent, or oneshot (unregister/register around every accept and read)")
	f.IntVar(&opts.Workers, "workers", 0, fmt.Sprintf("worker pool cap (workerpool); 0 = %d", servers.DefaultWorkers))
	f.StringVar(&handler, "handler", string(servers.HandlerTemplate), "page handler: static, template, template-reparse")
	f.StringVar(&body, "body", string(servers.BodySmall), "page size: small (379 bytes) or large (3044 bytes)")
	f.BoolVar(&opts.Stream, "stream", false, "raw TCP sink: read and discard everything (no HTTP)")
	f.StringVar(&statsFile, "stats-file", "", "write the server's counters as JSON here when it stops")
	f.StringVar(&cpus, "cpus", "", "pin the server to these CPUs (kernel cpu-list syntax: 0, 0-1, 0,2)")
	f.StringVar(&cpuProf, "cpuprofile", "", "write a Go CPU profile of the server here (go tool pprof reads it)")
	cmd.RegisterFlagCompletionFunc("handler", fixedCompletion("static", "template", "template-reparse"))
	cmd.RegisterFlagCompletionFunc("body", fixedCompletion("small", "large"))
	cmd.RegisterFlagCompletionFunc("rearm", fixedCompletion("persistent", "oneshot"))
	return cmd
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
		knobs := make([]string, len(m.Knobs))
		for i, k := range m.Knobs {
			knobs[i] = "--" + string(k)
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
