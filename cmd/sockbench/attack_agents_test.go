package main

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/logwatch"
	"github.com/sockbench/sockbench/loadgen"
)

// startAgentProc runs `sockbench agent` on a loopback address with the
// token in tokenFile and returns its address.
func startAgentProc(t *testing.T, ip, tokenFile string) string {
	t.Helper()
	return startAgentLogged(t, ip, tokenFile).addr
}

// agentProc is a `sockbench agent` child process, its log kept.
type agentProc struct {
	cmd  *exec.Cmd
	addr string
	log  *logwatch.Log
}

func startAgentLogged(t *testing.T, ip, tokenFile string) *agentProc {
	t.Helper()
	var tee func(string)
	if testing.Verbose() {
		tee = func(line string) { t.Log("agent " + ip + ": " + line) }
	}
	a := &agentProc{log: logwatch.New(tee)}
	a.cmd, a.addr = startListeningLogged(t, a.log, "agent", "--listen", ip+":0", "--token-file", tokenFile)
	return a
}

// agentAttack is a minute-long `sockbench attack` run by two agents,
// writing -o to result.
type agentAttack struct {
	agents [2]*agentProc
	cmd    *exec.Cmd
	result string
	// wait returns the attack's output and exit status.
	wait func() (string, int)
}

// attackOnTwoAgents starts an attack from two agents on a server of its
// own and returns once the server has answered 500 of its requests.
func attackOnTwoAgents(t *testing.T) *agentAttack {
	t.Helper()
	const n = 500
	reached := make(chan struct{})
	var requests atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if requests.Add(1) == n {
			close(reached)
		}
		io.WriteString(w, "hello")
	}))
	t.Cleanup(srv.Close)
	tok := writeToken(t)
	at := &agentAttack{result: filepath.Join(t.TempDir(), "r.json")}
	at.agents = [2]*agentProc{startAgentLogged(t, "127.0.0.2", tok), startAgentLogged(t, "127.0.0.3", tok)}
	at.cmd = exec.Command(binPath, "attack", srv.URL+"/", "-c", "4", "-t", "1", "-d", "1m", "-q",
		"--agents", at.agents[0].addr+","+at.agents[1].addr, "--token-file", tok, "-o", at.result)
	var out bytes.Buffer
	at.cmd.Stdout, at.cmd.Stderr = &out, &out
	if err := at.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { at.cmd.Process.Kill() })
	done := make(chan error, 1)
	go func() { done <- at.cmd.Wait() }()
	at.wait = func() (string, int) {
		t.Helper()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			at.cmd.Process.Kill()
			<-done
			t.Fatalf("attack still running after 20s:\n%s", out.String())
		}
		return out.String(), at.cmd.ProcessState.ExitCode()
	}
	select {
	case <-reached:
	case <-time.After(10 * time.Second):
		t.Fatalf("the server had no %d requests within 10s", n)
	}
	return at
}

// One of two agents killed mid-attack: the survivor's requests are the
// summary and the -o result, marked partial with the lost agent and why,
// and the exit status is 3 (#19: exit 2, no -o file, and the survivor's
// 82,179 requests lost).
func TestAttackWithAnAgentKilledKeepsTheSurvivors(t *testing.T) {
	at := attackOnTwoAgents(t)
	a1, a2, result := at.agents[0], at.agents[1], at.result
	a2.cmd.Process.Kill()
	out, code := at.wait()
	if code != 3 {
		t.Fatalf("exit %d, want 3:\n%s", code, out)
	}
	for _, want := range []string{"Requests/sec:", "Agents: 1, and 1 lost", a2.addr + " ", "LOST: its stream broke", "PARTIAL", "sockbench: partial result: 1 of 2 agents lost mid-attack, agent " + a2.addr} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	r, err := loadgen.ReadFile(result)
	if err != nil {
		t.Fatalf("the partial result was not written: %v", err)
	}
	if len(r.Agents) != 1 || r.Agents[0].Agent != a1.addr || r.Requests == 0 || r.Requests != r.Agents[0].Requests {
		t.Errorf("agents %+v, %d requests: want %s's requests alone", r.Agents, r.Requests, a1.addr)
	}
	if len(r.LostAgents) != 1 || r.LostAgents[0].Agent != a2.addr || r.LostAgents[0].Reason == "" {
		t.Errorf("lost agents %+v, want %s with its reason", r.LostAgents, a2.addr)
	}
}

// A coordinator stopped (SIGSTOP) until its agents gave up on it blames
// itself once it resumes (SIGCONT), not an agent: the attack is lost,
// exit 3, nothing written.
func TestAttackWhoseCoordinatorWasStoppedBlamesItself(t *testing.T) {
	at := attackOnTwoAgents(t)
	cmd := at.cmd
	if err := cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// The agents drop a coordinator that answers no ping for a few
	// seconds; by then its silence timers are due too.
	for _, a := range at.agents {
		if _, err := a.log.WaitFor("coordinator gone: attack stopped", 15*time.Second); err != nil {
			cmd.Process.Signal(syscall.SIGCONT)
			t.Fatalf("agent %s: %v", a.addr, err)
		}
	}
	if err := cmd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	out, code := at.wait()
	if code != 3 || !strings.Contains(out, "this coordinator was itself stopped for") {
		t.Fatalf("exit %d, want 3 and the coordinator's own stop named:\n%s", code, out)
	}
	if _, err := os.Stat(at.result); !os.IsNotExist(err) {
		t.Errorf("a result was written from a void attack (%v)", err)
	}
	t.Log(strings.TrimSpace(out))
}

func writeToken(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("cmd-test-token-0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// attack --agents prints the summary of a local attack, with the agents'
// table after it, and its -o result keeps each agent's figures.
func TestAttackWithAgents(t *testing.T) {
	srv := startServe(t, "epoll")
	tok := writeToken(t)
	a1 := startAgentProc(t, "127.0.0.2", tok)
	a2 := startAgentProc(t, "127.0.0.3", tok)
	result := filepath.Join(t.TempDir(), "r.json")
	out, code := runCLI(t, "attack", "http://"+srv.addr+"/", "-c", "6", "-t", "1", "-d", "1s", "-q",
		"--agents", a1+","+a2, "--token-file", tok, "-o", result)
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	for _, want := range []string{"Requests/sec:", "Latency Distribution", "6 connections", "Agents: 2", a1, a2, "Start skew"} {
		if !strings.Contains(out, want) {
			t.Errorf("the summary lacks %q:\n%s", want, out)
		}
	}
	data, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"agents": [`) || !strings.Contains(string(data), `"start_skew_us"`) {
		t.Errorf("the result file keeps no agents' figures:\n%.600s", data)
	}
}

func TestAttackWithAgentsUsageErrors(t *testing.T) {
	srv := startServe(t, "epoll")
	tok := writeToken(t)
	url := "http://" + srv.addr + "/"
	a := startAgentProc(t, "127.0.0.2", tok)
	b := startAgentProc(t, "127.0.0.3", tok)
	blank := filepath.Join(t.TempDir(), "blank")
	if err := os.WriteFile(blank, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"none was given", []string{"attack", url, "--token-file", tok}},
		{"refused this coordinator's credentials", []string{"attack", url, "-d", "1s", "--agents", a}},
		{"cannot be shared by 2 agents", []string{"attack", url, "-c", "1", "--agents", a + "," + b, "--token-file", tok}},
		{"want host:port", []string{"attack", url, "--agents", "127.0.0.2", "--token-file", tok}},
		{"token file " + blank + ": it is empty", []string{"attack", url, "--agents", a, "--token-file", blank}},
		{"token file " + blank + ": it is empty", []string{"agent", "--listen", "127.0.0.1:0", "--token-file", blank}},
	} {
		out, code := runCLI(t, tc.args...)
		if code != 2 || !strings.Contains(out, tc.want) {
			t.Errorf("%v: exit %d, want 2 and %q:\n%s", tc.args, code, tc.want, out)
		}
		if strings.Contains(out, "Running") && tc.want == "none was given" {
			t.Errorf("%v: announced the run before refusing it:\n%s", tc.args, out)
		}
	}
}
