package nginx

import (
	"bytes"
	"context"
	"html/template"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockbench/sockbench/servers"
	"github.com/sockbench/sockbench/servers/http1"
)

func TestPageIsOurPageAndThePeers(t *testing.T) {
	// Our servers render the template per request; the peers send it
	// rendered once, for a loopback client at a fixed time.
	tmpl := template.Must(template.New("page").Parse(http1.PageSource(servers.BodySmall)))
	var want bytes.Buffer
	err := tmpl.Execute(&want, http1.PageData{ClientIP: "127.0.0.1", Time: "2025-01-01 00:00:00 UTC"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(Page, want.Bytes()) {
		t.Fatalf("bench/nginx/page.html differs from servers/http1's page rendered for 127.0.0.1:\n%s\nwant:\n%s", Page, want.Bytes())
	}
	if len(Page) != 379 {
		t.Fatalf("page is %d bytes, the thread's response body is 379", len(Page))
	}
	peers, err := os.ReadFile("../peers/page/page.html")
	if err != nil {
		t.Fatalf("read the peers' copy: %v", err)
	}
	if !bytes.Equal(peers, Page) {
		t.Fatal("bench/peers/page/page.html differs from bench/nginx/page.html; copy one over the other")
	}
}

func TestQuote(t *testing.T) {
	cases := []struct {
		in, want string
		ok       bool
	}{
		{"plain", `"plain"`, true},
		{"it's", `"it's"`, true},
		{`say "hi"`, `"say \"hi\""`, true},
		{`a\b`, `"a\\b"`, true},
		{"two\nlines", "\"two\nlines\"", true},
		{"costs $5", "", false},
	}
	for _, c := range cases {
		got, err := quote([]byte(c.in))
		if (err == nil) != c.ok || got != c.want {
			t.Errorf("quote(%q) = %q, %v; want %q, ok=%v", c.in, got, err, c.want, c.ok)
		}
	}
}

func TestRenderRefusesBadInput(t *testing.T) {
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"relative dir", Config{Dir: "tmp", Addr: "127.0.0.1:1"}, "absolute"},
		{"no port", Config{Dir: "/tmp", Addr: "127.0.0.1"}, "listen address"},
		{"dollar in body", Config{Dir: "/tmp", Addr: "127.0.0.1:1", Body: []byte("$x")}, "'$'"},
	}
	for _, c := range cases {
		if _, err := Render(c.cfg); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want one mentioning %s", c.name, err, c.want)
		}
	}
}

// TestNginxServesThePage starts the real nginx on a free loopback port.
func TestNginxServesThePage(t *testing.T) {
	if _, err := os.Stat(DefaultBinary); err != nil {
		t.Fatalf("nginx is not installed at %s: `make deps` installs it (scripts/deps): %v", DefaultBinary, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	cfg := Config{Dir: t.TempDir(), Addr: addr, Body: append([]byte(`quote " and backslash \ `), Page...)}
	if err := WriteConfig(cfg); err != nil {
		t.Fatal(err)
	}
	cmd := Command("", cfg)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
	}()

	// Poll for readiness; both the attempts and the time are bounded.
	deadline := time.Now().Add(10 * time.Second)
	for i := 0; ; i++ {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(cfg.ErrorLog())
			stopped = true
			t.Fatalf("nginx exited: %v\n%s", err, log)
		case <-time.After(10 * time.Millisecond):
		}
		if i > 1000 || time.Now().After(deadline) {
			t.Fatalf("nginx did not accept on %s: %v", addr, err)
		}
	}

	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || !bytes.Equal(body, cfg.Body) {
		t.Fatalf("GET /: %s, body %q", resp.Status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
		t.Fatalf("Content-Type %q", ct)
	}
	if resp.Header.Get("Date") == "" || resp.Header.Get("Server") != "nginx" {
		t.Fatalf("headers %v", resp.Header)
	}
	if resp.Close {
		t.Fatal("nginx closed the connection after one request")
	}
	resp, err = client.Get("http://" + addr + "/other")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Fatalf("GET /other: %s", resp.Status)
	}
	for _, f := range []string{"nginx.pid", "error.log"} {
		if _, err := os.Stat(filepath.Join(cfg.Dir, f)); err != nil {
			t.Errorf("nginx did not write %s into its directory: %v", f, err)
		}
	}

	// SIGTERM is nginx's fast shutdown; the master waits for its worker.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("nginx exit after SIGTERM: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("nginx did not stop within 10s of SIGTERM")
	}
}
