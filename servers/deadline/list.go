// Package deadline is the raw event loops' timeouts: lists of the
// connections that wait under one timeout, in the order their deadlines
// fall. A connection joins at the tail, due the timeout after the loop's
// clock, and that clock only moves forward, so a list is sorted by
// construction: the loop looks at its heads once per wake-up and waits
// until the first is due. Moving a connection is a few pointer writes —
// no timer, no heap, no allocation — so a request pays nothing else for
// its timeouts.
package deadline

import "time"

// List holds the T that wait under one timeout.
type List[T any] struct {
	timeout    int64 // nanoseconds
	head, tail *T
	timer      func(*T) *Timer[T]
}

// Timer is a T's place in a List; a T holds one and tells the List where
// it is.
type Timer[T any] struct {
	list       *List[T] // nil: no deadline
	prev, next *T
	due        int64 // on the loop's clock
}

// NewList makes a list of timeout d; timer finds a T's Timer.
func NewList[T any](d time.Duration, timer func(*T) *Timer[T]) List[T] {
	return List[T]{timeout: int64(d), timer: timer}
}

// Push puts c, which is in no list, at the tail, due now plus the timeout.
func (q *List[T]) Push(c *T, now int64) {
	*q.timer(c) = Timer[T]{list: q, prev: q.tail, due: now + q.timeout}
	if q.tail != nil {
		q.timer(q.tail).next = c
	} else {
		q.head = c
	}
	q.tail = c
}

// Move takes c out of its list, if it is in one, and pushes it onto q.
func (q *List[T]) Move(c *T, now int64) {
	q.timer(c).Leave()
	q.Push(c, now)
}

// Expired is the head when it is due at now, else nil.
func (q *List[T]) Expired(now int64) *T {
	if q.head != nil && q.timer(q.head).due <= now {
		return q.head
	}
	return nil
}

// Next is when the head is due, and whether there is one.
func (q *List[T]) Next() (int64, bool) {
	if q.head == nil {
		return 0, false
	}
	return q.timer(q.head).due, true
}

// Leave takes the timer's T out of its list, if it is in one.
func (t *Timer[T]) Leave() {
	q := t.list
	if q == nil {
		return
	}
	prev, next := t.prev, t.next
	if prev != nil {
		q.timer(prev).next = next
	} else {
		q.head = next
	}
	if next != nil {
		q.timer(next).prev = prev
	} else {
		q.tail = prev
	}
	*t = Timer[T]{}
}

// In reports whether the timer is in q.
func (t *Timer[T]) In(q *List[T]) bool { return t.list == q }
