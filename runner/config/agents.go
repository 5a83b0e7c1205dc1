package config

import (
	"net"
	"os"
	"strconv"
	"strings"

	"github.com/sockbench/sockbench/loadgen/sshlaunch"
	"github.com/sockbench/sockbench/runner/results"
)

// agents checks the agents section of load_from: agents.
func (b *builder) agents() *results.Agents {
	a := b.cfg.Agents
	if !b.given("agents") {
		b.problem("load_from", "load_from: agents needs an agents section: {addresses: [host:port, ...], listen: host:port, token_file: FILE}")
		return &a
	}
	if len(a.Addresses) == 0 && len(a.SSH) == 0 {
		b.problem("agents.addresses", "load_from: agents needs the agents' addresses (host:port, e.g. [198.18.0.2:7000, 198.18.0.3:7000]), or machines to start them on over SSH (agents.ssh: [user@host, ...])")
	}
	for i, h := range a.SSH {
		if _, addr, err := sshlaunch.SplitHost(h); err != nil {
			b.problem(index("agents.ssh", i), "%q: %v (e.g. bench@198.18.0.2)", h, err)
		} else if _, port, _ := net.SplitHostPort(addr); strings.ContainsAny(h, " \t") || !isPort(port) {
			b.problem(index("agents.ssh", i), "%q: want user@host or user@host:port with a port number (e.g. bench@198.18.0.2:22)", h)
		}
	}
	sshOnly := func(path string, given bool) {
		if given && len(a.SSH) == 0 {
			b.problem(path, "is for the agents of agents.ssh, and none are given")
		}
	}
	sshOnly("agents.known_hosts", len(a.KnownHosts) > 0)
	sshOnly("agents.identity", len(a.Identity) > 0)
	sshOnly("agents.ssh_listen", a.SSHListen != "")
	if a.SSHListen != "" {
		if _, port, err := net.SplitHostPort(a.SSHListen); err != nil || !isPort(port) {
			b.problem("agents.ssh_listen", "%q: want [host]:port, the agents' --listen on their machines (e.g. :7000)", a.SSHListen)
		}
	}
	for i, addr := range a.Addresses {
		if host, port, err := net.SplitHostPort(addr); err != nil || host == "" || port == "" {
			b.problem(index("agents.addresses", i), "%q: want host:port (e.g. 198.18.0.2:7000)", addr)
		}
	}
	files := []struct{ path, file string }{
		{"agents.token_file", a.TokenFile}, {"agents.tls.ca", a.TLS.CA}, {"agents.tls.cert", a.TLS.Cert}, {"agents.tls.key", a.TLS.Key},
	}
	for i, f := range a.KnownHosts {
		files = append(files, struct{ path, file string }{index("agents.known_hosts", i), f})
	}
	for i, f := range a.Identity {
		files = append(files, struct{ path, file string }{index("agents.identity", i), f})
	}
	for _, f := range files {
		if f.file == "" {
			continue
		}
		if _, err := os.Stat(f.file); err != nil {
			b.problem(f.path, "%v", err)
		}
	}
	if (a.TLS.Cert == "") != (a.TLS.Key == "") {
		b.problem("agents.tls", "a certificate needs its key: give both cert and key, or neither")
	}
	hostPort := func(path, v string) (string, bool) {
		host, port, err := net.SplitHostPort(v)
		if err != nil || port == "" || port == "0" {
			b.problem(path, "%q: want host:port with a fixed port, an address the agents can reach (e.g. 198.18.0.1:8080)", v)
			return "", false
		}
		return host, true
	}
	switch {
	case a.Listen == "":
		b.problem("agents.listen", "missing: where the servers listen, an address the agents can reach (host:port, e.g. 198.18.0.1:8080)")
	default:
		host, ok := hostPort("agents.listen", a.Listen)
		if ip := net.ParseIP(host); ok && a.Target == "" && (host == "" || ip != nil && ip.IsUnspecified()) {
			b.problem("agents.listen", "%q listens on every address: give agents.target, the host:port the agents reach the servers at", a.Listen)
		}
	}
	if a.Target != "" {
		hostPort("agents.target", a.Target)
	}
	return &a
}

// isPort says port is a TCP port number.
func isPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}
