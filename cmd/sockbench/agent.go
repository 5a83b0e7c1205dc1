package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/sockbench/sockbench/loadgen/agent"
	"github.com/sockbench/sockbench/loadgen/agentpb"
)

func init() { rootCmd.AddCommand(newAgentCmd()) }

func newAgentCmd() *cobra.Command {
	var (
		cfg       agent.Config
		tokenFile string
		tlsFiles  agentpb.TLSFiles
		allow     string
	)
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run attacks for a coordinator on another machine (sockbench attack --agents, load_from: agents)",
		Long: fmt.Sprintf(`Serve attack specs from a sockbench coordinator over gRPC until SIGINT or
SIGTERM: each runs through the same engine as 'sockbench attack', and the
agent streams its per-second histograms, counts and CPU back, then its
result.

An agent sends traffic where it is told, so it is nobody's but its
coordinator's: every call must carry the token of --token-file (compared in
constant time) or a client certificate signed by --tls-ca (mutual TLS), or
both; beyond loopback it refuses to listen without one of them. A call is
checked on its headers, before its message is read, and the agent holds
at most %d connections that have made no authenticated call (the oldest
is closed to let a new one in). It attacks only the targets of --allow
(CIDRs, addresses or host:port; default this machine only) and refuses a
spec above --max-duration (warm-up included), --max-connections or
--max-rate, saying why. It stops an attack at once
when its coordinator's stream breaks or falls silent (a few seconds), and
in any case %s past the attack's planned end. It logs who asked for what.`, agent.MaxPendingConnections, agent.DefaultGrace),
		Example: `  sockbench agent                                     # loopback only, for a coordinator on this machine
  head -c 32 /dev/urandom | base64 > token && chmod 600 token
  sockbench agent --listen 198.18.0.2:7000 --token-file token --allow 198.18.0.1:8080
  sockbench agent --listen :7000 --tls-cert agent.pem --tls-key agent.key --tls-ca ca.pem --allow 10.1.0.0/24`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if tokenFile != "" {
				tok, err := agentpb.ReadToken(tokenFile)
				if err != nil {
					return err
				}
				cfg.Token = tok
			}
			if !tlsFiles.Empty() {
				tc, err := tlsFiles.ServerConfig()
				if err != nil {
					return err
				}
				cfg.TLS = tc
			}
			a, err := agent.ParseAllowList(allow)
			if err != nil {
				return err
			}
			cfg.Allow = a
			cfg.Log = slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			srv, err := agent.Listen(cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "sockbench agent listening on %s\n", srv.Addr())
			ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return srv.Serve(ctx)
		},
	}
	f := cmd.Flags()
	f.SortFlags = false
	f.StringVar(&cfg.Listen, "listen", agent.DefaultListen, "address to serve on; beyond loopback it needs --token-file or mutual TLS")
	f.StringVar(&tokenFile, "token-file", "", "file holding the bearer token every call must carry (at least 16 bytes)")
	f.StringVar(&tlsFiles.Cert, "tls-cert", "", "PEM certificate to serve TLS with")
	f.StringVar(&tlsFiles.Key, "tls-key", "", "PEM key of --tls-cert")
	f.StringVar(&tlsFiles.CA, "tls-ca", "", "PEM CA that must sign every client's certificate (mutual TLS)")
	f.StringVar(&allow, "allow", agent.DefaultAllow, "targets this agent may attack: CIDRs, addresses or host:port, comma-separated")
	f.DurationVar(&cfg.Limits.MaxDuration, "max-duration", agent.DefaultMaxDuration, "longest attack accepted, warm-up included (0: no limit)")
	f.IntVar(&cfg.Limits.MaxConnections, "max-connections", agent.DefaultMaxConnections, "most connections one attack may ask for (0: no limit)")
	f.Float64Var(&cfg.Limits.MaxRate, "max-rate", 0, "highest requests/s one attack may ask for; with it, unpaced attacks are refused (0: no limit)")
	return cmd
}
