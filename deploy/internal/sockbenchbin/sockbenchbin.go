// Package sockbenchbin builds the sockbench binary of this repository for
// the deploy tests, which check that the manifests and units call it with
// flags it has.
package sockbenchbin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sync"
	"testing"
)

var (
	once sync.Once
	bin  string
	err  error
)

// Path builds cmd/sockbench once per test binary and returns its path.
func Path(t testing.TB) string {
	t.Helper()
	once.Do(func() {
		_, here, _, _ := runtime.Caller(0)
		top := filepath.Join(filepath.Dir(here), "..", "..", "..")
		dir, derr := os.MkdirTemp("", "sockbench-deploy-test")
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

// Flags are the long flags `sockbench <command> --help` lists.
func Flags(t testing.TB, command string) map[string]bool {
	t.Helper()
	out, err := exec.Command(Path(t), command, "--help").CombinedOutput()
	if err != nil {
		t.Fatalf("sockbench %s --help: %v\n%s", command, err, out)
	}
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+(?:-\w, )?--([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	return flags
}

// Unknown are the --flags of args that flags lacks.
func Unknown(args []string, flags map[string]bool) []string {
	var bad []string
	for _, a := range args {
		if m := regexp.MustCompile(`^--([a-z][a-z0-9-]*)`).FindStringSubmatch(a); m != nil && !flags[m[1]] {
			bad = append(bad, a)
		}
	}
	return bad
}
