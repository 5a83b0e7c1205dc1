package loadgen

// Fairness is how evenly a window's answers were spread over the
// connections. Thread post #18 measured a scheduler that skips its yield
// giving one of two clients all of the bandwidth: the mean rate hides
// that, these figures do not.
type Fairness struct {
	// Jain is Jain's fairness index of the requests each connection got
	// answered, (Σx)² / (n·Σx²): 1 when every connection got as many,
	// 1/n when one got them all.
	Jain float64 `json:"jain"`
	// MinShare and MaxShare are the fewest and the most answers of one
	// connection, over the mean of all.
	MinShare    float64 `json:"min_share"`
	MaxShare    float64 `json:"max_share"`
	Connections int     `json:"connections"`
	// PerConnection holds the answers of each connection slot (a slot
	// keeps its count across the connections it reopens), so that the
	// results of several generators merge into the index of all their
	// connections, not an average of indexes.
	PerConnection []int64 `json:"per_connection"`
}

// newFairness computes the figures of the answers per connection; nil
// when there were none.
func newFairness(perConn []int64) *Fairness {
	var sum, squares float64
	lo, hi := int64(-1), int64(0)
	for _, x := range perConn {
		sum += float64(x)
		squares += float64(x) * float64(x)
		if lo < 0 || x < lo {
			lo = x
		}
		hi = max(hi, x)
	}
	if sum == 0 {
		return nil
	}
	n := float64(len(perConn))
	mean := sum / n
	return &Fairness{
		Jain:          sum * sum / (n * squares),
		MinShare:      float64(lo) / mean,
		MaxShare:      float64(hi) / mean,
		Connections:   len(perConn),
		PerConnection: perConn,
	}
}
