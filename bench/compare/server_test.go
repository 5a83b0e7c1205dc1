package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/sockbench/sockbench/internal/affinity"
	"github.com/sockbench/sockbench/servers"
)

// TestServersComeFromTheRegistry: every registered model is one of ours,
// known and in the default order, followed by the peers; nothing else is.
func TestServersComeFromTheRegistry(t *testing.T) {
	models := servers.Models()
	if len(models) == 0 {
		t.Fatal("no model registered: the blank import of servers/all is missing")
	}
	var want []string
	for _, m := range models {
		want = append(want, m.Name)
		if !ours(m.Name) || !knownServer(m.Name) {
			t.Errorf("registered model %s is not known as ours", m.Name)
		}
	}
	want = append(want, peerServers...)
	if got := defaultServers(); got != strings.Join(want, ",") {
		t.Errorf("defaultServers() = %s, want %s", got, strings.Join(want, ","))
	}
	for _, peer := range peerServers {
		if ours(peer) || !knownServer(peer) {
			t.Errorf("peer %s: ours %v, known %v", peer, ours(peer), knownServer(peer))
		}
	}
	if knownServer("apache") {
		t.Error("apache is known")
	}
}

func lastCPU(t *testing.T) []int {
	t.Helper()
	cpus, err := affinity.Allowed(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	return cpus[len(cpus)-1:]
}

// TestStartServer starts our epoll server and nginx the way a round does,
// checks they answered the page check and stop cleanly.
func TestStartServer(t *testing.T) {
	dir := t.TempDir()
	sockbench := filepath.Join(dir, "sockbench")
	if out, err := exec.Command("go", "build", "-o", sockbench, "../../cmd/sockbench").CombinedOutput(); err != nil {
		t.Fatalf("build sockbench: %v\n%s", err, out)
	}
	l := serverLauncher{sockbench: sockbench, peers: filepath.Join(dir, "no-peers"), nginx: "/usr/sbin/nginx"}
	for _, name := range []string{"epoll", "nginx"} {
		t.Run(name, func(t *testing.T) {
			if name == "nginx" {
				if _, err := os.Stat(l.nginx); err != nil {
					t.Skipf("nginx is not installed: %v", err)
				}
			}
			srv, err := startServer(l, name, lastCPU(t))
			if err != nil {
				t.Fatal(err)
			}
			if srv.bodyLen == 0 {
				t.Error("no page size recorded")
			}
			if err := srv.stop(10 * time.Second); err != nil {
				t.Fatal(err)
			}
		})
	}
	if _, err := startServer(l, "gnet", lastCPU(t)); !isSkip(err) {
		t.Errorf("a peer that is not built: %v, want a skip", err)
	}
}

func TestRunPinned(t *testing.T) {
	cpus := lastCPU(t)
	run, err := runPinned([]string{"sh", "-c", "echo Requests/sec: 1"}, nil, cpus, 10*time.Second)
	if err != nil || run.output != "Requests/sec: 1\n" {
		t.Errorf("runPinned = %q, %v", run.output, err)
	}
	_, err = runPinned([]string{"sh", "-c", "echo 'unable to connect' >&2; exit 1"}, nil, cpus, 10*time.Second)
	if err == nil || err.Error() != "sh: exit status 1: unable to connect" {
		t.Errorf("a failing run: %v", err)
	}
	_, err = runPinned([]string{"sleep", "30"}, nil, cpus, 50*time.Millisecond)
	if err == nil || !strings.HasPrefix(err.Error(), "sleep ran past 50ms and was killed") {
		t.Errorf("a run past its limit: %v", err)
	}
	if !slices.Equal(cpus, lastCPU(t)) {
		t.Error("the test's own CPUs changed")
	}
}

// MODEL@BINARY runs a model from another build, to measure a change's cost
// beside the code before it in one run.
func TestModelFromAnotherBuild(t *testing.T) {
	l := serverLauncher{sockbench: "/nonexistent/sockbench"}
	if !ours("epoll@/bin/true") || ours("nginx@/bin/true") {
		t.Errorf("ours: %v %v", ours("epoll@/bin/true"), ours("nginx@/bin/true"))
	}
	argv, _, err := l.command("epoll@/bin/true", "127.0.0.1:1")
	if err != nil || argv[0] != "/bin/true" || argv[1] != "serve" || argv[2] != "epoll" {
		t.Errorf("epoll@/bin/true: %v, %v", argv, err)
	}
	if _, _, err := l.command("epoll", "127.0.0.1:1"); !isSkip(err) {
		t.Errorf("a missing default binary: %v, want a skip", err)
	}
}

// TestRawOutputOfAnotherBuild: a contestant named MODEL@path/to/binary
// had its raw output written into a folder that does not exist, and every
// one of its rounds failed after its load had run.
func TestRawOutputOfAnotherBuild(t *testing.T) {
	dir := t.TempDir()
	if err := keepRaw(dir, "servers-uring@bin/sockbench-old-round1.txt", "wrk's output"); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || !strings.Contains(entries[0].Name(), "uring@bin_sockbench-old") {
		t.Errorf("raw output stored as %v", entries)
	}
}
