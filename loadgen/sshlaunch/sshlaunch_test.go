package sshlaunch

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sockbench/sockbench/internal/supervise"
	"github.com/sockbench/sockbench/internal/testbin"
	"github.com/sockbench/sockbench/loadgen"
	"github.com/sockbench/sockbench/loadgen/coordinator"
	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/servertest"

	_ "github.com/sockbench/sockbench/servers/all"
)

const sshdPath = "/usr/sbin/sshd"

// testSSHD is Debian's sshd run by the test on 127.0.0.5, with a host key
// and a client key made for it.
type testSSHD struct {
	addr       string
	hostKey    ssh.PublicKey
	clientKey  string // the client's private key file
	knownHosts string
	dir        string
}

func newKey(t *testing.T, dir, name string) (string, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	spub, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return path, spub
}

func startSSHD(t *testing.T) *testSSHD {
	t.Helper()
	if _, err := os.Stat(sshdPath); err != nil {
		t.Fatalf("Debian's openssh-server is needed (`make deps` installs it): %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("sshd logs users in only when run as root; this test runs as root in CI")
	}
	// sshd's privilege separation needs its empty folder.
	if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	hostKeyFile, hostKey := newKey(t, dir, "host_key")
	clientKey, clientPub := newKey(t, dir, "client_key")
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.5:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	host, port, _ := net.SplitHostPort(addr)
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %s
ListenAddress %s
HostKey %s
AuthorizedKeysFile %s
PidFile %s
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
LogLevel ERROR
`, port, host, hostKeyFile, filepath.Join(dir, "authorized_keys"), filepath.Join(dir, "sshd.pid"))
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := supervise.Start(supervise.Spec{Name: "sshd", Argv: []string{sshdPath, "-D", "-e", "-f", cfg}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Kill)
	if err := p.WaitReady(context.Background(), 10*time.Second, supervise.Accepts(addr)); err != nil {
		t.Fatal(err)
	}
	known := filepath.Join(dir, "known_hosts")
	line := knownhosts.Line([]string{knownhosts.Normalize(addr)}, hostKey)
	if err := os.WriteFile(known, []byte(line+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return &testSSHD{addr: addr, hostKey: hostKey, clientKey: clientKey, knownHosts: known, dir: dir}
}

func (s *testSSHD) config(t *testing.T) Config {
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	return Config{
		Hosts: []string{u.Username + "@" + s.addr}, Listen: "127.0.0.5:0", AgentArgs: []string{"--allow", "127.0.0.0/8"},
		Token: []byte("ssh-test-token-0123456789abcdef"), Binary: testbin.Sockbench(t),
		RemoteDir: filepath.Join(s.dir, "remote"), KnownHosts: []string{s.knownHosts}, KeyFiles: []string{s.clientKey},
		Timeout: 20 * time.Second,
	}
}

// Over SSH: the binary is copied where it is missing (and only then), the
// agent starts, drives an attack, and is gone once stopped.
func TestLaunchAttackAndStop(t *testing.T) {
	sshd := startSSHD(t)
	m, _ := servers.Lookup("epoll")
	target, _ := servertest.Start(t, m, servers.Options{})
	cfg := sshd.config(t)
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
	sshd := startSSHD(t)
	cfg := sshd.config(t)
	_, other := newKey(t, t.TempDir(), "other")
	wrong := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(wrong, []byte(knownhosts.Line([]string{knownhosts.Normalize(sshd.addr)}, other)+"\n"), 0o600)
	empty := filepath.Join(t.TempDir(), "known_hosts")
	os.WriteFile(empty, nil, 0o600)
	for name, tc := range map[string]struct{ file, says string }{
		"another key": {wrong, "does not match known_hosts"},
		"unknown":     {empty, "not in known_hosts"},
	} {
		cfg.KnownHosts = []string{tc.file}
		_, err := Launch(context.Background(), cfg)
		if err == nil || !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), sshd.addr) {
			t.Errorf("%s: %v, want a refusal saying %q and naming the host", name, err, tc.says)
		}
	}
}
