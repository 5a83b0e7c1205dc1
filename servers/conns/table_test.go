package conns

import "testing"

// A closed connection is the next one added, whatever its descriptor; a
// descriptor past the table's end grows it.
func TestTableReusesClosedConnections(t *testing.T) {
	type conn struct{ fd int }
	var tab Table[conn]
	made := 0
	fresh := func() *conn { made++; return &conn{} }
	a := tab.Add(3, fresh)
	b := tab.Add(200, fresh)
	if tab.Get(3) != a || tab.Get(200) != b || tab.Get(4) != nil || tab.Get(1000) != nil || tab.Get(-1) != nil || tab.Len() != 2 {
		t.Fatalf("after two adds: Get(3) %p (want %p), Get(200) %p (want %p), Len %d", tab.Get(3), a, tab.Get(200), b, tab.Len())
	}
	tab.Remove(3)
	if c := tab.Add(7, fresh); c != a || made != 2 || tab.Get(3) != nil || tab.Get(7) != a {
		t.Fatalf("the connection added after a close is %p, want the closed one %p (%d made)", c, a, made)
	}
	var seen []*conn
	for c := range tab.All() {
		seen = append(seen, c)
		tab.Remove(map[*conn]int{a: 7, b: 200}[c])
	}
	if len(seen) != 2 || seen[0] != a || seen[1] != b || tab.Len() != 0 {
		t.Errorf("All yielded %v while removing each, then Len %d; want [%p %p], 0", seen, tab.Len(), a, b)
	}
}
