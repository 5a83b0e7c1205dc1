package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/sockbench/sockbench/loadgen/agentpb"
	"github.com/sockbench/sockbench/loadgen/sshlaunch"
	"github.com/sockbench/sockbench/loadgen/sshlaunch/sshdtest"
	"github.com/sockbench/sockbench/servers"
)

// A run whose agents.ssh names a machine starts `sockbench agent` there
// over SSH, measures its repetition through it, and stops it at the end.
func TestRunWithAgentsOverSSH(t *testing.T) {
	sshd := sshdtest.Start(t)
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	// The agent's binary goes to the login's home: removed after the
	// test unless it was there before.
	sum, err := agentpb.FileSum(binPath)
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(u.HomeDir, sshlaunch.DefaultRemoteDir, "sockbench-"+sum[:16])
	if _, err := os.Stat(copied); err != nil {
		t.Cleanup(func() { os.Remove(copied) })
	}
	listen, err := servers.FreeLoopbackAddr()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := fmt.Sprintf(`version: 1
name: ssh
repetitions: 1
cpus: {server: 0, load: 1}
load_from: agents
agents:
  ssh: ["%s@%s"]
  known_hosts: [%s]
  identity: [%s]
  ssh_listen: "127.0.0.5:0"
  listen: "%s"
servers: [epoll]
load: {connections: 2, duration: 1s, warmup: 100ms}
`, u.Username, sshd.Addr, sshd.KnownHosts, sshd.ClientKey, listen)
	os.WriteFile(filepath.Join(dir, "c.yaml"), []byte(cfg), 0o644)
	cmd := exec.Command(binPath, "run", "c.yaml")
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("sockbench run: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`agent started over SSH on \S+ at (\S+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("the run does not say where it started the agent:\n%s", out)
	}
	agentAddr := string(m[1])
	data, err := os.ReadFile(filepath.Join(dir, "results", "latest", "cells", "c1-epoll", "rep-1.json"))
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Status string `json:"status"`
		Load   struct {
			Requests int64 `json:"requests"`
			Agents   []struct {
				Agent    string `json:"agent"`
				Requests int64  `json:"requests"`
			} `json:"agents"`
		} `json:"load"`
	}
	if err := json.Unmarshal(data, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Status != "ok" || len(rep.Load.Agents) != 1 || rep.Load.Agents[0].Agent != agentAddr || rep.Load.Agents[0].Requests == 0 {
		t.Errorf("the repetition was not measured by the agent at %s:\n%.800s", agentAddr, data)
	}
	if conn, err := net.DialTimeout("tcp", agentAddr, time.Second); err == nil {
		conn.Close()
		t.Errorf("the agent at %s still accepts after the run", agentAddr)
	}
}
