package runner

import (
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/sockbench/sockbench/runner/config"
)

// forumCells is what each experiment of configs/forum/ (issue #13) must
// expand to: servers × matrix values, counted by hand from the thread.
var forumCells = map[int]int{
	1:  10, // 4 Python frameworks + 6 Go servers
	2:  18, // 3 Python + 6 Go, 1 and 4 listeners
	3:  12, // 6 Python layers + 6 Go sinks
	4:  10, // epoll, poll, selectors, uvloop + 6 Go
	5:  10, // 4 Python + 6 Go, large page
	6:  8,  // enable-async, template, uvloop + 5 Go handler cells
	7:  8,  // 2 Python + 2 Go, backlog 1 and 65535
	8:  5,  // epoll, selectors, epoll pure parser, PyPy epoll and selectors
	9:  4,  // Python and Go epoll, persistent and oneshot
	10: 8,  // Python epoll + Go epoll, poll, select, batch 1 and until EAGAIN
	11: 13, // every Python and Go stack, io_uring's too
	12: 12, // every Python and Go stack
	13: 20, // 5 servers × 10, 100, 1000, 5000 connections
	14: 3,  // nginx, Python epoll, Go epoll
}

// forumBudget is the time `make forum` may take on a 2-core machine
// (issue #13: 40 minutes), less what the estimate leaves out: the strace
// passes of experiment 11, the reports and the servers' slower starts.
const forumBudget = 34 * time.Minute

var forumFile = regexp.MustCompile(`^(\d\d)-[a-z0-9-]+\.yaml$`)

// TestForumConfigs: one configuration per experiment of the thread, each
// valid, expanding to the cells it should, server on CPU 0 and load on
// CPU 1, with enough repetitions for the rank test (4 each: p = 0.029 at
// best), and all of them together within the budget.
func TestForumConfigs(t *testing.T) {
	files, _ := filepath.Glob("../configs/forum/[0-9][0-9]-*.yaml")
	seen := map[int]string{}
	var total time.Duration
	for _, f := range files {
		m := forumFile.FindStringSubmatch(filepath.Base(f))
		if m == nil {
			t.Errorf("%s: a forum configuration is named NN-what.yaml after its experiment", f)
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if prev, dup := seen[n]; dup {
			t.Errorf("experiment %d has two configurations: %s and %s", n, prev, f)
		}
		seen[n] = f
		p, err := config.LoadFile(f)
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		if want, ok := forumCells[n]; !ok || len(p.Cells) != want {
			t.Errorf("%s: %d cells, want %d", f, len(p.Cells), want)
		}
		if p.CPUs.Server.Text != "0" || p.CPUs.Load.Text != "1" {
			t.Errorf("%s: server on CPUs %s and load on %s, want 0 and 1", f, p.CPUs.Server.Text, p.CPUs.Load.Text)
		}
		if p.Repetitions < 4 {
			t.Errorf("%s: %d repetitions; the rank test needs 4 on each side to reach p < 0.05", f, p.Repetitions)
		}
		total += EstimatedTime(p)
	}
	for n := range forumCells {
		if _, ok := seen[n]; !ok {
			t.Errorf("experiment %d has no configuration in configs/forum/", n)
		}
	}
	if total > forumBudget {
		t.Errorf("the forum configurations take %s by the estimate, more than the %s they may", total.Round(time.Second), forumBudget)
	}
	t.Logf("forum configurations: %s by the estimate", total.Round(time.Second))
}
