package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
)

// printMachine writes what a reader needs to judge the numbers below it:
// when, on what CPU and kernel, with which tools.
func printMachine(w io.Writer, c *common) {
	fmt.Fprintf(w, "date:     %s\n", time.Now().UTC().Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(w, "cpu:      %s × %d online\n", cpuModel(), runtime.NumCPU())
	fmt.Fprintf(w, "kernel:   %s\n", readTrim("/proc/sys/kernel/osrelease"))
	fmt.Fprintf(w, "go:       %s   somaxconn: %s\n", runtime.Version(), readTrim("/proc/sys/net/core/somaxconn"))
	fmt.Fprintf(w, "pinning:  server on CPU %s, load generator on CPU %s\n", affinity.FormatCPUList(c.serverCPUs), affinity.FormatCPUList(c.clientCPUs))
	fmt.Fprintf(w, "load:     %d rounds × %v, %d keep-alive connections, %v wrk warm-up\n",
		c.rounds, c.duration, c.connections, c.warmup)
	fmt.Fprintf(w, "tools:    %s; %s\n", firstLine(c.wrk, "-v"), firstLine(c.nginx, "-v"))
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func readTrim(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "unknown"
	}
	return strings.TrimSpace(string(b))
}

// firstLine runs a tool's version flag; wrk and nginx print it on stderr.
func firstLine(bin string, args ...string) string {
	out, _ := exec.Command(bin, args...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return bin + " (version unknown)"
	}
	return line
}
