package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// startAgentProc runs `sockbench agent` on a loopback address with the
// token in tokenFile and returns its address.
func startAgentProc(t *testing.T, ip, tokenFile string) string {
	t.Helper()
	_, addr := startListening(t, "agent", "--listen", ip+":0", "--token-file", tokenFile)
	return addr
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
	for _, tc := range []struct {
		want string
		args []string
	}{
		{"none was given", []string{"attack", url, "--token-file", tok}},
		{"refused this coordinator's credentials", []string{"attack", url, "-d", "1s", "--agents", a}},
		{"cannot be shared by 2 agents", []string{"attack", url, "-c", "1", "--agents", a + "," + b, "--token-file", tok}},
		{"want host:port", []string{"attack", url, "--agents", "127.0.0.2", "--token-file", tok}},
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
