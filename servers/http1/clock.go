package http1

import (
	"net/http"
	"sync/atomic"
	"time"
)

// Stamp is the current second, formatted once for every response of that
// second: nginx and fasthttp cache their Date header the same way, and
// formatting it per request would make the cheap handlers look expensive.
type Stamp struct {
	unix     int64
	date     []byte
	pageTime []byte
}

// Date is the IMF-fixdate for the Date header (RFC 9110 §5.6.7).
func (s *Stamp) Date() []byte { return s.date }

// PageTime is the time shown on the page.
func (s *Stamp) PageTime() []byte { return s.pageTime }

var current atomic.Pointer[Stamp]

// Now returns the stamp for the current second. Any goroutine may call it;
// the first caller in a new second formats and publishes the new stamp.
func Now() *Stamp {
	t := time.Now()
	if s := current.Load(); s != nil && s.unix == t.Unix() {
		return s
	}
	u := t.UTC()
	s := &Stamp{
		unix:     t.Unix(),
		date:     []byte(u.Format(http.TimeFormat)),
		pageTime: []byte(u.Format("2006-01-02 15:04:05 UTC")),
	}
	current.Store(s)
	return s
}
