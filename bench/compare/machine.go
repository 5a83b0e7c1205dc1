package main

import (
	"fmt"
	"io"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/internal/machine"
)

// printMachine writes what a reader needs to judge the numbers below it:
// when, on what CPU and kernel, with which tools.
func printMachine(w io.Writer, c *common) {
	fmt.Fprintf(w, "date:     %s\n", time.Now().UTC().Format("2006-01-02 15:04:05 UTC"))
	fmt.Fprintf(w, "cpu:      %s × %d online\n", machine.CPUModel(), runtime.NumCPU())
	fmt.Fprintf(w, "kernel:   %s\n", machine.Kernel())
	fmt.Fprintf(w, "go:       %s   somaxconn: %s\n", runtime.Version(), machine.Sysctl("net.core.somaxconn"))
	fmt.Fprintf(w, "pinning:  server on CPU %s, load generator on CPU %s\n", affinity.FormatCPUList(c.serverCPUs), affinity.FormatCPUList(c.clientCPUs))
	fmt.Fprintf(w, "load:     %d rounds × %v, %d keep-alive connections, %v wrk warm-up\n",
		c.rounds, c.duration, c.connections, c.warmup)
	fmt.Fprintf(w, "tools:    %s; %s\n", firstLine(c.wrk, "-v"), firstLine(c.nginx, "-v"))
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
