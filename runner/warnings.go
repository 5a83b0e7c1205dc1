package runner

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/internal/machine"
	"github.com/sockbench/sockbench/runner/results"
)

// The sysctls recorded with every run: each one changes what a benchmark
// of connection handling measures.
var recordedSysctls = []string{
	"net.core.somaxconn",           // caps every listen backlog (thread post #5)
	"net.ipv4.tcp_max_syn_backlog", // half-open connections before SYN cookies
	"net.ipv4.ip_local_port_range", // client ports for new connections
	"net.ipv4.tcp_tw_reuse",        // whether TIME_WAIT ports may be reused
}

// readMachine reads the machine's facts without running anything the
// configuration names: a dry run calls it too. The real run adds the
// interpreters' versions.
func readMachine(src string) results.Machine {
	m := results.Machine{
		Kernel: machine.Kernel(), CPUModel: machine.CPUModel(), CPUCount: runtime.NumCPU(),
		Arch: runtime.GOARCH, GoVersion: runtime.Version(), Sysctls: map[string]string{},
	}
	if online, err := affinity.Online(); err == nil {
		m.CPUCount = len(online)
	}
	for _, name := range recordedSysctls {
		m.Sysctls[name] = machine.Sysctl(name)
	}
	m.GitCommit, m.GitDirty = machine.Git(src)
	return m
}

// interpreters asks each Python interpreter the plan's servers run for
// its implementation and version; one that does not answer within a few
// seconds is recorded as such, not waited for. It runs the programs the
// configuration names, so only a real run calls it, never a dry run.
func interpreters(plan *results.Plan) map[string]string {
	var progs []string
	for _, c := range plan.Cells {
		if !c.Server.External() {
			continue
		}
		prog := c.Server.Command[0]
		base := filepath.Base(prog)
		if (strings.HasPrefix(base, "python") || strings.HasPrefix(base, "pypy")) && !slices.Contains(progs, prog) {
			progs = append(progs, prog)
		}
	}
	if len(progs) == 0 {
		return nil
	}
	versions := map[string]string{}
	for _, prog := range progs {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		out, err := exec.CommandContext(ctx, prog, "-c", "import platform; print(platform.python_implementation(), platform.python_version())").Output()
		cancel()
		if err != nil {
			versions[prog] = "unknown (" + err.Error() + ")"
			continue
		}
		versions[prog] = strings.TrimSpace(string(out))
	}
	return versions
}

// timeWait is how long Linux keeps a closed connection's port in
// TIME_WAIT (TCP_TIMEWAIT_LEN, fixed at 60 s).
const timeWait = 60 * time.Second

// warnings finds what in the setup will distort the results, before
// anything runs.
func warnings(plan *results.Plan, m results.Machine) []string {
	var w []string
	var shared []int
	for _, c := range plan.CPUs.Server.CPUs {
		if slices.Contains(plan.CPUs.Load.CPUs, c) {
			shared = append(shared, c)
		}
	}
	if len(shared) > 0 {
		w = append(w, fmt.Sprintf("the server (CPUs %s) and the load generator (CPUs %s) share CPU %s: they take turns on it, so every number measures both",
			plan.CPUs.Server.Text, plan.CPUs.Load.Text, affinity.FormatCPUList(shared)))
	}
	if somax, err := strconv.Atoi(m.Sysctls["net.core.somaxconn"]); err == nil {
		var over []string
		for _, c := range plan.Cells {
			if b, ok := c.Server.Knobs["backlog"].(int); ok && b > somax && !slices.Contains(over, strconv.Itoa(b)) {
				over = append(over, strconv.Itoa(b))
			}
		}
		if len(over) > 0 {
			w = append(w, fmt.Sprintf("backlog %s is above net.core.somaxconn %d: the kernel silently caps it at %d", strings.Join(over, ", "), somax, somax))
		}
	}
	if p := portWarning(plan, m.Sysctls); p != "" {
		w = append(w, p)
	}
	if plan.Calibrate.Strace {
		if _, err := exec.LookPath("strace"); err != nil {
			w = append(w, "calibrate.strace is on but strace is not installed (Debian: apt-get install strace): every calibration will fail")
		}
	}
	return w
}

// portWarning: with keep_alive false every request takes a new local
// port, and a port that ends in TIME_WAIT stays taken for a minute unless
// tcp_tw_reuse lets new connections reuse it (1: always; 2, the default:
// on loopback, where sockbench's servers are).
func portWarning(plan *results.Plan, sysctls map[string]string) string {
	if r := sysctls["net.ipv4.tcp_tw_reuse"]; r == "1" || r == "2" {
		return ""
	}
	lo, hi, ok := strings.Cut(sysctls["net.ipv4.ip_local_port_range"], " ")
	first, err1 := strconv.Atoi(lo)
	last, err2 := strconv.Atoi(hi)
	if !ok || err1 != nil || err2 != nil || last < first {
		return ""
	}
	ports := float64(last - first + 1)
	for _, c := range plan.Cells {
		l := c.Load
		if l.KeepAlive {
			continue
		}
		window := min(l.Warmup.D()+l.Duration.D(), timeWait).Seconds()
		sustainable := ports / timeWait.Seconds()
		switch {
		case l.Rate > 0 && l.Rate*window > ports:
			return fmt.Sprintf("cell %s opens a connection per request at %g/s: about %.0f in %gs, more than the %.0f local ports of ip_local_port_range while TIME_WAIT holds each for 60s (tcp_tw_reuse is %s); connects will fail", c.ID, l.Rate, l.Rate*window, window, ports, sysctls["net.ipv4.tcp_tw_reuse"])
		case l.Rate == 0:
			return fmt.Sprintf("cell %s opens a connection per request as fast as it can: above about %.0f requests/s the %.0f local ports run out while TIME_WAIT holds each for 60s (tcp_tw_reuse is %s); connects will then fail", c.ID, ports/window, ports, sysctls["net.ipv4.tcp_tw_reuse"])
		case l.Rate > sustainable && l.Warmup.D()+l.Duration.D() > timeWait:
			return fmt.Sprintf("cell %s opens %g connections/s for longer than a minute; only about %.0f/s can be sustained with %.0f local ports and a 60s TIME_WAIT", c.ID, l.Rate, sustainable, ports)
		}
	}
	return ""
}
