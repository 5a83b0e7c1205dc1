package coordinator

import (
	"fmt"
	"math"

	"github.com/sockbench/sockbench/loadgen"
)

// split divides o among n agents: connections, event loops, rates and the
// request limit are shared out, the remainders dealt one each to the first
// agents; every other option is the same for all. o has its defaults
// filled in (connections given).
func split(o loadgen.Options, n int) ([]loadgen.Options, error) {
	if n < 1 {
		return nil, fmt.Errorf("no agent to run the attack")
	}
	if o.Connections < n {
		return nil, fmt.Errorf("--connections %d cannot be shared by %d agents: each needs at least one", o.Connections, n)
	}
	if o.MaxRequests > 0 && o.MaxRequests < int64(n) {
		return nil, fmt.Errorf("--requests %d cannot be shared by %d agents: each needs at least one", o.MaxRequests, n)
	}
	shares := make([]loadgen.Options, n)
	for i := range shares {
		s := o
		s.Progress, s.VegetaResults = nil, nil
		s.Connections = int(dealt(int64(o.Connections), n, i))
		if o.Threads > 0 {
			s.Threads = max(1, min(int(dealt(int64(o.Threads), n, i)), s.Connections))
		}
		s.MaxRequests = dealt(o.MaxRequests, n, i)
		s.Rate = splitRate(o.Rate, n, i)
		s.RateTo = splitRate(o.RateTo, n, i)
		s.Amplitude = splitRate(o.Amplitude, n, i)
		shares[i] = s
	}
	return shares, nil
}

// dealt is agent i's share of total among n: total/n, and one more for
// each of the first total%n agents.
func dealt(total int64, n, i int) int64 {
	share := total / int64(n)
	if int64(i) < total%int64(n) {
		share++
	}
	return share
}

// splitRate shares a rate: a whole number of requests/s as whole numbers
// (remainders dealt out, so the shares add up to it exactly), any other
// in equal parts.
func splitRate(r float64, n, i int) float64 {
	if r == math.Trunc(r) && r < 1<<53 {
		return float64(dealt(int64(r), n, i))
	}
	return r / float64(n)
}
