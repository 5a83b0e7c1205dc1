// Package sshlaunch starts `sockbench agent` on bare machines over SSH (the
// convention of Tsung and of vegeta's pdsh recipe), for a coordinator to
// drive, and stops them at the end. Host keys are checked against
// known_hosts; keys come from the usual files or a running ssh-agent. A
// host that lacks this very sockbench (by the SHA-256 of its executable)
// gets a copy first.
package sshlaunch

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	sshagent "golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/sockbench/sockbench/loadgen/agentpb"
)

// DefaultRemoteDir is where binaries and tokens go on a host, relative to
// the login's home.
const DefaultRemoteDir = ".cache/sockbench"

// DefaultListen is the agents' --listen: every address of the host, on the
// port the deploy/ files use; the host's SSH address is where the
// coordinator reaches it.
const DefaultListen = ":7000"

// Config says where and how to start agents.
type Config struct {
	// Hosts are user@host or user@host:port (SSH's port, 22 by default).
	Hosts []string
	// Listen is each agent's --listen (DefaultListen when empty).
	Listen string
	// AgentArgs are more flags for every agent: --allow, --max-*.
	AgentArgs []string
	// Token is the agents' bearer token: written for each agent to a file
	// only its user can read, and removed once the agent has read it.
	Token []byte
	// Binary is the sockbench executable to copy where it is missing
	// (this process's own when empty).
	Binary string
	// RemoteDir is the folder on each host for the binary and the token
	// (DefaultRemoteDir when empty).
	RemoteDir string
	// KnownHosts are the known_hosts files host keys are checked against
	// (~/.ssh/known_hosts when empty); a host not in them is refused.
	KnownHosts []string
	// KeyFiles are private keys to log in with (~/.ssh/id_ed25519,
	// id_ecdsa and id_rsa, those that exist, when empty); a running
	// ssh-agent (SSH_AUTH_SOCK) is asked too.
	KeyFiles []string
	// Dial opens the TCP connections to the hosts (net.Dialer's when nil).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Timeout bounds reaching a host, copying the binary and the agent's
	// start (30s when zero).
	Timeout time.Duration
	// Log receives what is done on each host; nil discards it.
	Log *slog.Logger
}

// Agent is one agent started over SSH.
type Agent struct {
	// Host is the host as given; Addr the agent's address to reach it
	// at (the host's, and the port the agent listens on).
	Host, Addr string
	// Copied says the binary was copied there first.
	Copied bool

	client  *ssh.Client
	session *ssh.Session
	// tty is the agent's terminal: a ^C on it stops the agent.
	tty    io.WriteCloser
	exited chan struct{}
}

// Fleet is the agents of one Launch.
type Fleet struct {
	Agents []*Agent
}

// Addrs are the agents' addresses, for coordinator.Config.Agents.
func (f *Fleet) Addrs() []string {
	out := make([]string, len(f.Agents))
	for i, a := range f.Agents {
		out[i] = a.Addr
	}
	return out
}

// Launch starts an agent on every host, at once; if one fails, those
// started are stopped and the error names the host.
func Launch(ctx context.Context, cfg Config) (*Fleet, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("no SSH hosts given (user@host)")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.RemoteDir == "" {
		cfg.RemoteDir = DefaultRemoteDir
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if cfg.Dial == nil {
		var d net.Dialer
		cfg.Dial = d.DialContext
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("find this sockbench to copy: %w", err)
		}
		cfg.Binary = exe
	}
	sum, err := agentpb.FileSum(cfg.Binary)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", cfg.Binary, err)
	}
	auth, err := authMethods(cfg.KeyFiles)
	if err != nil {
		return nil, err
	}
	hostKeys, err := hostKeyCheck(cfg.KnownHosts)
	if err != nil {
		return nil, err
	}
	f := &Fleet{Agents: make([]*Agent, len(cfg.Hosts))}
	errs := make([]error, len(cfg.Hosts))
	var wg sync.WaitGroup
	for i, h := range cfg.Hosts {
		wg.Go(func() {
			a, err := launch(ctx, cfg, h, sum, auth, hostKeys)
			f.Agents[i] = a
			if err != nil {
				errs[i] = fmt.Errorf("ssh %s: %w", h, err)
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.Stop()
		return nil, err
	}
	return f, nil
}

// Stop ends every agent (a ^C on its terminal, as a person would; failing
// that, the session's end hangs it up) and waits, a few seconds at most,
// for each to go.
func (f *Fleet) Stop() {
	var wg sync.WaitGroup
	for _, a := range f.Agents {
		if a != nil {
			wg.Go(a.stop)
		}
	}
	wg.Wait()
}

func (a *Agent) stop() {
	if a.session != nil {
		// sshd may refuse signal requests (privilege separation); the
		// terminal's interrupt character always reaches the agent, which
		// stops on SIGINT as on SIGTERM.
		a.tty.Write([]byte{3})
		select {
		case <-a.exited:
		case <-time.After(5 * time.Second):
		}
		a.session.Close()
	}
	if a.client != nil {
		a.client.Close()
	}
}

// launch starts the agent on one host.
func launch(ctx context.Context, cfg Config, host, sum string, auth []ssh.AuthMethod, hostKeys ssh.HostKeyCallback) (*Agent, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	user, addr, err := SplitHost(host)
	if err != nil {
		return nil, err
	}
	conn, err := cfg.Dial(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	// The handshake has no context: the deadline bounds it.
	deadline, _ := ctx.Deadline()
	conn.SetDeadline(deadline)
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: hostKeys, Timeout: cfg.Timeout})
	if err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	a := &Agent{Host: host, client: ssh.NewClient(c, chans, reqs), exited: make(chan struct{})}
	fail := func(err error) (*Agent, error) {
		a.client.Close()
		return nil, err
	}
	stop := context.AfterFunc(ctx, func() { a.client.Close() })
	defer stop()

	osArch, err := a.output("uname -sm")
	if err != nil {
		return fail(fmt.Errorf("uname: %w", err))
	}
	if want := goUname(); strings.TrimSpace(osArch) != want {
		return fail(fmt.Errorf("the host is %q and this sockbench is built for %q: build one for it", strings.TrimSpace(osArch), want))
	}
	dir := quote([]string{cfg.RemoteDir})
	bin := quote([]string{cfg.RemoteDir + "/sockbench-" + sum[:16]})
	if _, err := a.output("test -x " + bin); err != nil {
		if err := a.copy(cfg.Binary, dir, bin); err != nil {
			return fail(fmt.Errorf("copying %s: %w", cfg.Binary, err))
		}
		a.Copied = true
		cfg.Log.Info("copied sockbench", "host", host, "to", bin)
	}
	args := []string{"exec", cfg.RemoteDir + "/sockbench-" + sum[:16], "agent", "--listen", cfg.Listen}
	tokenFile := ""
	if len(cfg.Token) > 0 {
		tokenFile = cfg.RemoteDir + "/token-" + randomHex()
		if err := a.run("umask 077 && mkdir -p "+dir+" && cat > "+quote([]string{tokenFile}), strings.NewReader(string(cfg.Token)+"\n")); err != nil {
			return fail(fmt.Errorf("writing the token: %w", err))
		}
		args = append(args, "--token-file", tokenFile)
	}
	args = append(args, cfg.AgentArgs...)
	listening, err := a.start(ctx, quote(args))
	if tokenFile != "" {
		// Read at the agent's start: no copy is left behind.
		a.run("rm -f "+quote([]string{tokenFile}), nil)
	}
	if err != nil {
		return fail(err)
	}
	if !stop() {
		// The deadline closed the connection, and with it the agent's
		// session, as the agent started: it is hung up already.
		return fail(fmt.Errorf("starting the agent took longer than %s (Timeout)", cfg.Timeout))
	}
	_, port, err := net.SplitHostPort(listening)
	if err != nil {
		return fail(fmt.Errorf("the agent says it listens on %q", listening))
	}
	h, _, _ := net.SplitHostPort(addr)
	a.Addr = net.JoinHostPort(h, port)
	cfg.Log.Info("agent started", "host", host, "agent", a.Addr, "copied", a.Copied)
	return a, nil
}

// start runs the agent in a session with a terminal, so that it is hung up
// (SIGHUP) when the session ends, however it ends, and returns the
// address its first line says it listens on.
func (a *Agent) start(ctx context.Context, command string) (string, error) {
	s, err := a.client.NewSession()
	if err != nil {
		return "", err
	}
	if err := s.RequestPty("dumb", 24, 200, ssh.TerminalModes{ssh.ECHO: 0, ssh.ISIG: 1, ssh.VINTR: 3}); err != nil {
		s.Close()
		return "", fmt.Errorf("a terminal for the agent: %w", err)
	}
	out, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return "", err
	}
	if a.tty, err = s.StdinPipe(); err != nil {
		s.Close()
		return "", err
	}
	if err := s.Start(command); err != nil {
		s.Close()
		return "", err
	}
	a.session = s
	lines := make(chan string, 1)
	var tail []string
	go func() {
		sc := bufio.NewScanner(out)
		sent := false
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			if v, ok := strings.CutPrefix(line, "sockbench agent listening on "); ok && !sent {
				lines <- v
				sent = true
				continue
			}
			if !sent && len(tail) < 5 {
				tail = append(tail, line)
			}
		}
		if !sent {
			close(lines)
		}
	}()
	go func() {
		s.Wait()
		close(a.exited)
	}()
	select {
	case addr, ok := <-lines:
		if !ok {
			return "", fmt.Errorf("the agent exited before it listened: %s", strings.Join(tail, "; "))
		}
		return addr, nil
	case <-ctx.Done():
		return "", fmt.Errorf("the agent did not listen in time: %w", ctx.Err())
	}
}

// output runs command and returns what it wrote.
func (a *Agent) output(command string) (string, error) {
	s, err := a.client.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	out, err := s.CombinedOutput(command)
	return string(out), err
}

// run runs command with stdin.
func (a *Agent) run(command string, stdin io.Reader) error {
	s, err := a.client.NewSession()
	if err != nil {
		return err
	}
	defer s.Close()
	s.Stdin = stdin
	if out, err := s.CombinedOutput(command); err != nil {
		return fmt.Errorf("%s: %v: %s", command, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// copy puts the local file at path (quoted) in dir (quoted) on the host,
// made executable, whole or not at all.
func (a *Agent) copy(local, dir, path string) error {
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	tmp := path + ".part-" + randomHex()
	return a.run(fmt.Sprintf("mkdir -p %s && cat > %s && chmod 755 %s && mv -f %s %s", dir, tmp, tmp, tmp, path), f)
}

// SplitHost splits a host as Config.Hosts has it, user@host or
// user@host:port, into the user and the host:port of its SSH server.
func SplitHost(h string) (user, addr string, err error) {
	user, hostPort, ok := strings.Cut(h, "@")
	if !ok || user == "" || hostPort == "" {
		return "", "", fmt.Errorf("want user@host or user@host:port")
	}
	if _, _, err := net.SplitHostPort(hostPort); err != nil {
		hostPort = net.JoinHostPort(strings.Trim(hostPort, "[]"), "22")
	}
	return user, hostPort, nil
}

func authMethods(files []string) ([]ssh.AuthMethod, error) {
	home, _ := os.UserHomeDir()
	explicit := len(files) > 0
	if !explicit {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			files = append(files, filepath.Join(home, ".ssh", n))
		}
	}
	var signers []ssh.Signer
	for _, f := range files {
		pem, err := os.ReadFile(f)
		if err != nil {
			if explicit {
				return nil, fmt.Errorf("SSH key: %w", err)
			}
			continue
		}
		s, err := ssh.ParsePrivateKey(pem)
		if err != nil {
			// A key with a passphrase is the ssh-agent's to use.
			if explicit {
				return nil, fmt.Errorf("SSH key %s: %w", f, err)
			}
			continue
		}
		signers = append(signers, s)
	}
	var methods []ssh.AuthMethod
	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		if c, err := net.Dial("unix", sock); err == nil {
			methods = append(methods, ssh.PublicKeysCallback(sshagent.NewClient(c).Signers))
		}
	}
	if len(methods) == 0 {
		return nil, errors.New("no SSH key: none of ~/.ssh/id_ed25519, id_ecdsa, id_rsa could be read and no ssh-agent runs (SSH_AUTH_SOCK)")
	}
	return methods, nil
}

func hostKeyCheck(files []string) (ssh.HostKeyCallback, error) {
	if len(files) == 0 {
		home, _ := os.UserHomeDir()
		files = []string{filepath.Join(home, ".ssh", "known_hosts")}
	}
	cb, err := knownhosts.New(files...)
	if err != nil {
		return nil, fmt.Errorf("known_hosts: %w (a host is trusted only by its key there: ssh to it once, or add it with ssh-keyscan)", err)
	}
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		err := cb(hostname, remote, key)
		var ke *knownhosts.KeyError
		switch {
		case errors.As(err, &ke) && len(ke.Want) > 0:
			return fmt.Errorf("its host key does not match known_hosts (%s:%d): refusing it", ke.Want[0].Filename, ke.Want[0].Line)
		case errors.As(err, &ke):
			return fmt.Errorf("it is not in known_hosts (%s): ssh to it once, or add it with ssh-keyscan, to trust it", strings.Join(files, ", "))
		}
		return err
	}, nil
}

// goUname is what `uname -sm` says on a host this binary runs on.
func goUname() string {
	arch := map[string]string{"amd64": "x86_64", "arm64": "aarch64", "386": "i686", "arm": "armv7l"}[runtime.GOARCH]
	if arch == "" {
		arch = runtime.GOARCH
	}
	return strings.ToUpper(runtime.GOOS[:1]) + runtime.GOOS[1:] + " " + arch
}

func randomHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// quote makes a POSIX shell command of args, each single-quoted except a
// leading exec (a quoted word followed by more stays one word: 'a'.part-x).
func quote(args []string) string {
	parts := make([]string, len(args))
	for i, a := range args {
		if i == 0 && a == "exec" {
			parts[i] = a
			continue
		}
		parts[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return strings.Join(parts, " ")
}
