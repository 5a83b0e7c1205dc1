package agent

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// DefaultAllow is the --allow list an agent has unless told otherwise: this
// machine only.
const DefaultAllow = "127.0.0.0/8,::1/128"

// AllowList is the set of targets an agent may attack: networks (any port)
// and single host:port pairs.
type AllowList struct {
	prefixes []netip.Prefix
	hosts    []hostPort
	text     []string
}

type hostPort struct {
	host string
	port uint16
}

// ParseAllowList reads a comma-separated list of CIDRs (198.18.0.0/15,
// ::1/128), single addresses (198.18.0.1) and host:port pairs
// (server.lab:8080, [::1]:8080). A name is resolved whenever a target is
// checked against it.
func ParseAllowList(s string) (AllowList, error) {
	var a AllowList
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		switch p, perr := netip.ParsePrefix(item); {
		case perr == nil:
			a.prefixes = append(a.prefixes, p.Masked())
		default:
			if ip, err := netip.ParseAddr(item); err == nil {
				a.prefixes = append(a.prefixes, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
				break
			}
			host, port, err := net.SplitHostPort(item)
			if err != nil || host == "" {
				return AllowList{}, fmt.Errorf("--allow %q: want a CIDR (198.18.0.0/15), an address, or host:port", item)
			}
			n, err := strconv.ParseUint(port, 10, 16)
			if err != nil || n == 0 {
				return AllowList{}, fmt.Errorf("--allow %q: port %q is not a port number", item, port)
			}
			a.hosts = append(a.hosts, hostPort{host, uint16(n)})
		}
		a.text = append(a.text, item)
	}
	if len(a.text) == 0 {
		return AllowList{}, fmt.Errorf("--allow %q names no target", s)
	}
	return a, nil
}

// String is the list as given.
func (a AllowList) String() string { return strings.Join(a.text, ",") }

// Entries are the list's items as given.
func (a AllowList) Entries() []string { return append([]string(nil), a.text...) }

// resolver is what the list resolves names with; tests replace it.
type resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// pin checks rawURL's target against the list and returns the URL to
// attack instead: its host replaced by the address it was checked at, so
// that a name cannot resolve to somewhere else between the check and the
// attack; host is then the Host header the request must carry (empty when
// the URL named an address). Every address the name has must be allowed.
func (a AllowList) pin(ctx context.Context, r resolver, rawURL string) (pinned, host string, err error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", "", fmt.Errorf("URL %q: %v", rawURL, err)
	}
	name, portText := u.Hostname(), u.Port()
	if portText == "" {
		portText = "80"
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return "", "", fmt.Errorf("URL %q: port %q is not a port number", rawURL, portText)
	}
	addrs, err := a.lookup(ctx, r, name)
	if err != nil {
		return "", "", err
	}
	for _, ip := range addrs {
		if !a.allows(ctx, r, ip, uint16(port)) {
			return "", "", fmt.Errorf("target %s is not in this agent's --allow list (%s)", describe(name, ip, uint16(port)), a)
		}
	}
	target := netip.AddrPortFrom(addrs[0], uint16(port)).String()
	if _, err := netip.ParseAddr(name); err != nil {
		host = u.Host
	}
	u.Host = target
	return u.String(), host, nil
}

func describe(name string, ip netip.Addr, port uint16) string {
	ap := netip.AddrPortFrom(ip, port).String()
	if name != ip.String() {
		return fmt.Sprintf("%s (%s)", net.JoinHostPort(name, strconv.Itoa(int(port))), ap)
	}
	return ap
}

func (a AllowList) lookup(ctx context.Context, r resolver, name string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	addrs, err := r.LookupNetIP(ctx, "ip", name)
	if err != nil {
		return nil, fmt.Errorf("target host %q does not resolve: %v", name, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("target host %q has no address", name)
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

func (a AllowList) allows(ctx context.Context, r resolver, ip netip.Addr, port uint16) bool {
	for _, p := range a.prefixes {
		if p.Contains(ip) {
			return true
		}
	}
	for _, hp := range a.hosts {
		if hp.port != port {
			continue
		}
		addrs, err := a.lookup(ctx, r, hp.host)
		if err != nil {
			continue
		}
		for _, x := range addrs {
			if x == ip {
				return true
			}
		}
	}
	return false
}
