// Package conns is a raw loop's connections by descriptor. The loop
// looks one up on every event or completion, so they sit in a slice the
// descriptor indexes, not a map; a closed connection is kept, buffers and
// all, for the next accept, so that a loop past its first connections
// allocates none.
package conns

import "iter"

// Table holds a loop's open connections, of type T, and its closed ones.
type Table[T any] struct {
	byFD []*T
	free []*T
	open int
}

// Add files a connection under fd and returns it for the caller to
// reset: a closed one when there is one, else a new one from fresh.
func (t *Table[T]) Add(fd int, fresh func() *T) *T {
	var c *T
	if n := len(t.free); n > 0 {
		c, t.free = t.free[n-1], t.free[:n-1]
	} else {
		c = fresh()
	}
	for fd >= len(t.byFD) {
		t.byFD = append(t.byFD, make([]*T, len(t.byFD)+64)...)
	}
	t.byFD[fd] = c
	t.open++
	return c
}

// Get is fd's connection, nil when it has none.
func (t *Table[T]) Get(fd int) *T {
	if fd < 0 || fd >= len(t.byFD) {
		return nil
	}
	return t.byFD[fd]
}

// Remove takes fd's connection out of the table and keeps it for reuse.
func (t *Table[T]) Remove(fd int) {
	t.free = append(t.free, t.byFD[fd])
	t.byFD[fd] = nil
	t.open--
}

// Len is how many connections are open.
func (t *Table[T]) Len() int { return t.open }

// All yields the open connections; the loop may remove them as it goes.
func (t *Table[T]) All() iter.Seq[*T] {
	return func(yield func(*T) bool) {
		for _, c := range t.byFD {
			if c != nil && !yield(c) {
				return
			}
		}
	}
}
