package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/sockbench/sockbench/verify"
)

func init() { rootCmd.AddCommand(newVerifyCmd()) }

func newVerifyCmd() *cobra.Command {
	var (
		opts   verify.Options
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "verify URL",
		Short: "Check that a server speaks HTTP/1.1 correctly before it is benchmarked",
		Long: `Run a quick HTTP/1.1 conformance gate against URL (http://host:port/path,
the page that must answer 200). A server that fails it is not worth
measuring, and the runner makes the same checks before measuring each cell.

Every case opens its own connection, writes exact bytes and reads the answer
with a strict parser. A run takes about 1.1 s, the time date-advances waits
to see the Date header change, while the other cases run one after another
beside it; a server that hangs costs --timeout per case it hangs on. The
well-formed cases want 200 (404 for an unknown path, 405 for POST and
DELETE), keep-alive, in-order pipelining, a close after Connection: close
and HTTP/1.0, and requests split at any byte served. The malformed cases
want a 4xx (400, any 4xx for the oversized head) and the connection closed,
never a hang; where RFC 9112 lets a server repair the request instead
(obs-fold, bare LF) a 200 passes too, and a request with both
Transfer-Encoding and Content-Length may be served if the connection is
closed after it.

Exit status: 0 when every case passed, 1 when one failed, 2 when URL or a
flag is wrong or nothing accepts connections at URL.

Cases:
` + caseList(),
		Example: `  sockbench verify http://127.0.0.1:8080/
  sockbench verify http://127.0.0.1:8080/ --expect-body-contains '<title>sockbench</title>'
  sockbench verify http://127.0.0.1:8081/ --skip method-not-allowed   # nginx "return 200" answers any method
  sockbench verify http://127.0.0.1:8080/ --timeout 500ms --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			parent := cmd.Context()
			if parent == nil { // run outside Execute, as tests may
				parent = context.Background()
			}
			ctx, stop := signal.NotifyContext(parent, os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := verify.Run(ctx, args[0], opts)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if asJSON {
				if err := writeVerifyJSON(w, rep); err != nil {
					return err
				}
			} else {
				writeVerifyText(w, rep)
			}
			if f := rep.Failures(); len(f) > 0 {
				names := make([]string, len(f))
				for i, r := range f {
					names[i] = r.Name
				}
				return exitStatus{code: 1, err: fmt.Errorf("%s failed %d of %d cases: %s",
					rep.Target, len(f), len(rep.Results), strings.Join(names, ", "))}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.DurationVar(&opts.Timeout, "timeout", verify.DefaultTimeout, "deadline of each case; a server still silent then fails it")
	f.IntVar(&opts.Parallel, "parallel", verify.DefaultParallel, "cases run at once; more end a run against a hanging server sooner but can overflow a small listen backlog (--backlog 1) and fail cases spuriously")
	f.StringSliceVar(&opts.Skip, "skip", nil, "cases not to run, comma-separated (see the list above)")
	f.StringArrayVar(&opts.ExpectBodyContains, "expect-body-contains", nil, "text the 200 page must contain (repeatable)")
	f.BoolVar(&asJSON, "json", false, "print the report as JSON instead of one line per case")
	cmd.RegisterFlagCompletionFunc("skip", fixedCompletion(verify.Cases()...))
	return cmd
}

// caseList formats the case names for the help text, several to a line.
func caseList() string {
	var b strings.Builder
	line := " "
	for _, name := range verify.Cases() {
		if len(line)+1+len(name) > 78 {
			b.WriteString(line + "\n")
			line = " "
		}
		line += " " + name
	}
	b.WriteString(line)
	return b.String()
}

// writeVerifyText prints one line per case and, under a failure, what was
// sent, what came back and why that is wrong.
func writeVerifyText(w io.Writer, rep verify.Report) {
	var passed, failed, skipped int
	for _, r := range rep.Results {
		switch {
		case r.Skipped:
			skipped++
			fmt.Fprintf(w, "SKIP %s\n", r.Name)
		case r.Pass:
			passed++
			fmt.Fprintf(w, "PASS %s\n", r.Name)
		default:
			failed++
			fmt.Fprintf(w, "FAIL %s\n     sent: %s\n     got:  %s\n     why:  %s\n", r.Name, r.Sent, r.Got, r.Reason)
		}
	}
	fmt.Fprintf(w, "%s: %d passed, %d failed, %d skipped in %s\n",
		rep.Target, passed, failed, skipped, rep.Duration.Round(time.Millisecond))
}

func writeVerifyJSON(w io.Writer, rep verify.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}
