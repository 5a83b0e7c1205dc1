package sshlaunch

import (
	"context"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sockbench/sockbench/internal/testbin"
	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/coordinator"
	"github.com/sockbench/sockbench/loadgen/sshlaunch/sshdtest"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"

	_ "github.com/sockbench/sockbench/servers/all"
)

func config(t *testing.T, s *sshdtest.SSHD) Config {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Hosts: []string{u.Username + "@" + s.Addr}, Listen: "127.0.0.5:0", AgentArgs: []string{"--allow", "127.0.0.0/8"},
		Token: []byte("ssh-test-token-0123456789abcdef"), Binary: testbin.Sockbench(t),
		RemoteDir: filepath.Join(s.Dir, "remote"), KnownHosts: []string{s.KnownHosts}, KeyFiles: []string{s.ClientKey},
		// A hang guard: copying the binary beside another make test took
		// most of 20 s.
		Timeout: time.Minute,
	}
}

// Over SSH: the binary is copied where it is missing (and only then), the
// agent starts, drives an attack, and is gone once stopped.
func TestLaunchAttackAndStop(t *testing.T) {
	sshd := sshdtest.Start(t)
	m, _ := servers.Lookup("epoll")
	target, _ := servertest.Start(t, m, servers.Options{})
	cfg := config(t, sshd)
	ctx := context.Background()

	fleet, err := Launch(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := fleet.Agents[0]
	if !a.Copied {
		t.Error("the binary was not copied to a host that lacked it")
	}
	if entries, _ := filepath.Glob(filepath.Join(cfg.RemoteDir, "token-*")); len(entries) != 0 {
		t.Errorf("the token is left on the host: %v", entries)
	}
	c, err := coordinator.New(coordinator.Config{Agents: fleet.Addrs(), Token: cfg.Token})
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Run(ctx, loadgen.Options{URL: "http://" + target + "/", Connections: 2, Duration: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if r.Requests == 0 || len(r.Agents) != 1 {
		t.Errorf("%d requests from %d agents", r.Requests, len(r.Agents))
	}
	fleet.Stop()
	if conn, err := net.DialTimeout("tcp", a.Addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("the agent at %s still accepts after Stop", a.Addr)
	}

	again, err := Launch(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	if again.Agents[0].Copied {
		t.Error("the binary was copied again to a host that has it")
	}
}

// A host whose key is not the one in known_hosts, or that is not there at
// all, is refused.
func TestHostKeysAreChecked(t *testing.T) {
	sshd := sshdtest.Start(t)
	cfg := config(t, sshd)
	_, other := sshdtest.NewKey(t, t.TempDir(), "other")
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(wrong, []byte(knownhosts.Line([]string{knownhosts.Normalize(sshd.Addr)}, other)+"\n"), 0o600)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	for name, tc := range map[string]struct{ file, says string }{
		"another key": {wrong, "does not match known_hosts"},
		"unknown":     {empty, "not in known_hosts"},
	} {
		cfg.KnownHosts = []string{tc.file}
		_, err := Launch(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), sshd.Addr) {
			t.Errorf("%s: %v, want a refusal saying %q and naming the host", name, err, tc.says)
		}
	}
}
