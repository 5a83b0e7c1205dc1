package loadgen

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// systemLimits are what the machine allows an attack: descriptors and
// local ports. An attack that needs more fails in ways its counts hide
// (connects refused by the generator's own kernel, connections that never
// open while the window runs), so it is refused before it starts.
type systemLimits struct {
	// openFiles is RLIMIT_NOFILE's soft limit (Go raises it to the hard
	// limit when the process starts), 0 when unknown.
	openFiles int
	// openNow is how many descriptors the process holds already.
	openNow int
	// portLo and portHi are net.ipv4.ip_local_port_range, 0 when unknown.
	portLo, portHi int
	// twReuse is net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 on for loopback
	// only (Linux's default); -1 when unknown.
	twReuse int
}

// ownDescriptors is how many descriptors, beyond those it holds when the
// attack is checked, the process may need besides its connections: each
// event loop's epoll instance and wake-up eventfd are counted apart; this
// covers the reachability probe, the result files, the runtime's own.
const ownDescriptors = 16

// timeWait is how long Linux keeps a closed connection's local port in
// TIME_WAIT (TCP_TIMEWAIT_LEN, fixed at 60 s); with tcp_tw_reuse a new
// connect may take the port once the TIME_WAIT is a second old.
const (
	timeWait        = 60 * time.Second
	timeWaitReusing = time.Second
)

func readSystemLimits() systemLimits {
	l := systemLimits{twReuse: -1}
	var rl unix.Rlimit
	if unix.Getrlimit(unix.RLIMIT_NOFILE, &rl) == nil && rl.Cur < 1<<31 {
		l.openFiles = int(rl.Cur)
	}
	if fds, err := os.ReadDir("/proc/self/fd"); err == nil {
		l.openNow = len(fds)
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range"); err == nil {
		if f := strings.Fields(string(b)); len(f) == 2 {
			lo, err1 := strconv.Atoi(f[0])
			hi, err2 := strconv.Atoi(f[1])
			if err1 == nil && err2 == nil && lo <= hi {
				l.portLo, l.portHi = lo, hi
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_tw_reuse"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			l.twReuse = n
		}
	}
	return l
}

// ports is the size of the ephemeral port range.
func (l systemLimits) ports() int {
	if l.portHi == 0 {
		return 0
	}
	return l.portHi - l.portLo + 1
}

// CheckLimits reports, as an *OptionError naming the option to lower,
// an attack this machine cannot carry: more connections than the
// open-file limit leaves descriptors for, more connections to the one
// target address than there are local ports, or, with Close at a known
// rate, more new connections than the ports closed ones hold in
// TIME_WAIT. A zero option takes its default, and name renders option
// names, as Check's do.
func (o Options) CheckLimits(name func(option string) string) error {
	o = o.withDefaults(nil)
	target, err := o.check(name)
	if err != nil {
		return err
	}
	return o.checkLimits(name, target, readSystemLimits())
}

func (o Options) checkLimits(name func(string) string, target *url.URL, l systemLimits) error {
	bad := func(option, format string, args ...any) error {
		return &OptionError{Option: option, Msg: fmt.Sprintf(format, args...)}
	}
	if l.openFiles > 0 {
		own := l.openNow + ownDescriptors
		if o.Mode != Open {
			own += 2 * o.Threads
		}
		if room := l.openFiles - own; o.Connections > room {
			return bad("connections", "%s %d: each connection needs a descriptor, and the open-file limit is %d, of which this process keeps %d for itself: use at most %d connections, or raise the limit to at least %d (ulimit -n)",
				name("connections"), o.Connections, l.openFiles, own, max(room, 0), o.Connections+own)
		}
	}
	ports := l.ports()
	if ports == 0 {
		return nil
	}
	portRange := fmt.Sprintf("the ephemeral port range (net.ipv4.ip_local_port_range %d-%d) has %d", l.portLo, l.portHi, ports)
	if o.Connections > ports {
		return bad("connections", "%s %d: every connection to %s needs a local port of its own, and %s: use at most %d connections, or widen the range",
			name("connections"), o.Connections, target.Host, portRange, ports)
	}
	// With Close every request opens a connection; the port of each one
	// the client closes first stays taken while it waits in TIME_WAIT.
	// Only a paced attack's rate is known before it runs; an unpaced one
	// that runs out of ports fails with connect errors that say so.
	rate := o.peakRate()
	if !o.Close || rate == 0 {
		return nil
	}
	hold, fixes := timeWait, ", or set net.ipv4.tcp_tw_reuse to 1"
	if l.twReuse == 1 || l.twReuse == 2 && isLoopback(target.Hostname()) {
		hold, fixes = timeWaitReusing, ""
	}
	held := min(hold, o.Warmup+o.Duration)
	if need := rate * held.Seconds(); need > float64(ports) {
		return bad("rate", "%s at %s %g opens %g connections a second, and each one the client closes keeps its local port for %v in TIME_WAIT: up to %.0f ports at once, and %s: use at most %s %.0f, or widen the range%s",
			name("close"), name("rate"), rate, rate, hold, need, portRange, name("rate"), math.Floor(float64(ports)/held.Seconds()), fixes)
	}
	return nil
}

// peakRate is the highest rate the attack is paced at (0: unpaced).
func (o Options) peakRate() float64 {
	switch {
	case o.Mode == Open && o.Pacer == PacerLinear:
		return max(o.Rate, o.RateTo)
	case o.Mode == Open && o.Pacer == PacerSine:
		return o.Rate + o.Amplitude
	}
	return o.Rate
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
