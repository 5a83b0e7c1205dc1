// Package systemd holds the unit of an agent that stays up; its test has
// systemd check the unit and sockbench check its flags.
package systemd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sockbench/sockbench/deploy/internal/sockbenchbin"
)

const unit = "sockbench-agent.service"

func execStart(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "ExecStart="); ok {
			return v
		}
	}
	t.Fatal("the unit has no ExecStart")
	return ""
}

func TestTheUnitRunsTheAgentWithFlagsItHas(t *testing.T) {
	args := strings.Fields(execStart(t))
	if args[0] != "/usr/local/bin/sockbench" || args[1] != "agent" {
		t.Fatalf("ExecStart runs %q, want /usr/local/bin/sockbench agent", args[:2])
	}
	flags := sockbenchbin.Flags(t, "agent")
	if bad := sockbenchbin.Unknown(args[2:], flags); len(bad) > 0 {
		t.Errorf("ExecStart passes flags `sockbench agent` does not have: %v", bad)
	}
	for _, need := range []string{"--listen", "--token-file", "--allow"} {
		if !strings.Contains(execStart(t), need+" ") {
			t.Errorf("ExecStart lacks %s", need)
		}
	}
}

// systemd-analyze verify reads the unit as systemd would (it needs the
// binary the unit names: the one built here stands in for it).
func TestSystemdAcceptsTheUnit(t *testing.T) {
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (Debian's systemd; `make deps` installs it): cannot verify the unit")
	}
	data, err := os.ReadFile(unit)
	if err != nil {
		t.Fatal(err)
	}
	copy := filepath.Join(t.TempDir(), unit)
	text := strings.ReplaceAll(string(data), "/usr/local/bin/sockbench", sockbenchbin.Path(t))
	if err := os.WriteFile(copy, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(analyze, "verify", copy).CombinedOutput(); err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
}
