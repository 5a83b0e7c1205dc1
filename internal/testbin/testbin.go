// Package testbin builds this repository's sockbench binary once per test
// binary, for tests that run it as its own process (agents, servers, hosts
// of a testbed).
package testbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
)

var (
	once sync.Once
	bin  string
	err  error
)

// Sockbench returns the path of cmd/sockbench built from this tree.
func Sockbench(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		top := filepath.Join(filepath.Dir(here), "..", "..")
		dir, derr := os.MkdirTemp("", "sockbench-testbin")
		if derr != nil {
			err = derr
			return
		}
		bin = filepath.Join(dir, "sockbench")
		if out, berr := exec.Command("go", "build", "-C", top, "-o", bin, "./cmd/sockbench").CombinedOutput(); berr != nil {
			err = fmt.Errorf("building sockbench: %v\n%s", berr, out)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return bin
}
