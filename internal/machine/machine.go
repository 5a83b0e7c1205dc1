// Package machine reads the facts about this machine that a benchmark
// result is meaningless without: the CPU, the kernel and its network
// settings, and the state of the source tree that was measured.
package machine

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// Unknown stands for a fact that could not be read.
const Unknown = "unknown"

// CPUModel is the first "model name" of /proc/cpuinfo.
func CPUModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return Unknown
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return Unknown
}

// Kernel is the running kernel's release.
func Kernel() string { return ReadTrim("/proc/sys/kernel/osrelease") }

// Sysctl reads a kernel setting by its dotted name (net.core.somaxconn),
// with white space folded to single spaces: "32768	60999" reads as
// "32768 60999".
func Sysctl(name string) string {
	v := ReadTrim(filepath.Join("/proc/sys", strings.ReplaceAll(name, ".", "/")))
	return strings.Join(strings.Fields(v), " ")
}

// ReadTrim reads a small text file without its surrounding white space,
// or Unknown.
func ReadTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return Unknown
	}
	return strings.TrimSpace(string(b))
}

// Git is the commit checked out in dir and whether the working tree has
// changes git would show (untracked files included); commit is Unknown
// outside a git checkout or without git.
func Git(dir string) (commit string, dirty bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return Unknown, false
	}
	status, err := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain").Output()
	return strings.TrimSpace(string(out)), err != nil || len(strings.TrimSpace(string(status))) > 0
}
