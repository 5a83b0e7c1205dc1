// Package sshdtest runs Debian's sshd for tests that log in over SSH, on
// loopback, with keys made for the test.
package sshdtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sockbench/sockbench/internal/supervise"
)

const sshdPath = "/usr/sbin/sshd"

// SSHD is Debian's sshd run by a test on 127.0.0.5, with a host key and a
// client key made for it.
type SSHD struct {
	// Addr is its host:port; HostKey the key it proves itself with.
	Addr    string
	HostKey ssh.PublicKey
	// ClientKey is the private key file that logs in (as any user,
	// root included); KnownHosts a known_hosts file that holds HostKey.
	ClientKey  string
	KnownHosts string
	// Dir is the test's folder of these files, for the test's own.
	Dir string
}

// NewKey writes a new ed25519 private key to dir/name and returns its
// path and public key.
func NewKey(t *testing.T, dir, name string) (string, ssh.PublicKey) {
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

// Start runs sshd for t, stopped at its end. It fails t where Debian's
// openssh-server is not installed, and skips it, saying why, where the
// test does not run as root.
func Start(t *testing.T) *SSHD {
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
	hostKeyFile, hostKey := NewKey(t, dir, "host_key")
	clientKey, clientPub := NewKey(t, dir, "client_key")
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
	return &SSHD{Addr: addr, HostKey: hostKey, ClientKey: clientKey, KnownHosts: known, Dir: dir}
}
