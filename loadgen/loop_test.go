package loadgen

import (
	"runtime"
	"testing"
)

// Loops that hold their P bring one each; overlapping attacks add up, and
// GOMAXPROCS is what it was once the last is done.
func TestHoldPsLeavesTheProgramAP(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(1))
	one := holdPs(1)
	if got := runtime.GOMAXPROCS(0); got != 2 {
		t.Errorf("one loop holding: GOMAXPROCS %d, want 2", got)
	}
	three := holdPs(3)
	if got := runtime.GOMAXPROCS(0); got != 5 {
		t.Errorf("four loops holding: GOMAXPROCS %d, want 5", got)
	}
	one()
	if got := runtime.GOMAXPROCS(0); got != 5 {
		t.Errorf("three loops still holding: GOMAXPROCS %d, want it left at 5", got)
	}
	three()
	if got := runtime.GOMAXPROCS(0); got != 1 {
		t.Errorf("none holding: GOMAXPROCS %d, want the 1 it was", got)
	}
}
