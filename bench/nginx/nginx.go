// Package nginx runs nginx as a peer server in sockbench's comparisons: it
// writes a self-contained configuration into a directory of its own (pid
// file, logs and temp paths included, so nothing outside it is touched) and
// builds the command that runs nginx in the foreground with it.
package nginx

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultBinary is where Debian's nginx package installs the server.
const DefaultBinary = "/usr/sbin/nginx"

// Page is the body nginx returns for GET /: sockbench's own page rendered
// for a loopback client at a fixed time (379 bytes), the same bytes the
// peers in bench/peers send.
//
//go:embed page.html
var Page []byte

// Config describes one nginx instance.
type Config struct {
	// Dir holds nginx.conf, the pid file, the error log and the temp paths.
	Dir string
	// Addr is the host:port to listen on.
	Addr string
	// Body is returned for GET /; nil means Page.
	Body []byte
	// Workers is worker_processes; 0 means 1, the one-core comparison.
	Workers int
	// Backlog is the listen backlog; 0 means 65535, which the kernel caps
	// at net.core.somaxconn — as large as the other servers ask for.
	Backlog int
}

// ConfPath is where WriteConfig puts the configuration.
func (c Config) ConfPath() string { return filepath.Join(c.Dir, "nginx.conf") }

// ErrorLog is nginx's error log, worth showing when it does not start.
func (c Config) ErrorLog() string { return filepath.Join(c.Dir, "error.log") }

// WriteConfig writes the configuration to c.ConfPath().
func WriteConfig(c Config) error {
	text, err := Render(c)
	if err != nil {
		return err
	}
	if err := os.WriteFile(c.ConfPath(), []byte(text), 0o644); err != nil {
		return fmt.Errorf("write nginx config: %w", err)
	}
	return nil
}

// Render returns the configuration text.
func Render(c Config) (string, error) {
	if c.Dir == "" || !filepath.IsAbs(c.Dir) {
		return "", fmt.Errorf("nginx config: directory %q must be an absolute path", c.Dir)
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		return "", fmt.Errorf("nginx config: listen address %q: %w", c.Addr, err)
	}
	body := c.Body
	if body == nil {
		body = Page
	}
	quoted, err := quote(body)
	if err != nil {
		return "", fmt.Errorf("nginx config: body: %w", err)
	}
	workers := c.Workers
	if workers <= 0 {
		workers = 1
	}
	backlog := c.Backlog
	if backlog <= 0 {
		backlog = 65535
	}
	user := ""
	if os.Geteuid() == 0 {
		// As root, nginx would switch its workers to "nobody", who may not
		// be able to enter a private temp directory.
		user = "user root;\n"
	}
	d := c.Dir
	return fmt.Sprintf(`# Written by sockbench bench/nginx; every path is inside %[1]s.
daemon off;
master_process on;
worker_processes %[2]d;
%[3]spid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
worker_rlimit_nofile 65536;

events {
    worker_connections 8192;
}

http {
    access_log off;
    server_tokens off;
    # wrk keeps its connections open for the whole run; the default of 1000
    # requests per connection would make nginx alone pay for reconnects.
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    # Adds "; charset=utf-8" to text/html, as every other server sends.
    charset utf-8;
    client_body_temp_path %[1]s/client_body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;

    server {
        listen %[4]s backlog=%[5]d;
        location = / {
            default_type text/html;
            return 200 %[6]s;
        }
        location / {
            return 404;
        }
    }
}
`, d, workers, user, c.Addr, backlog, quoted), nil
}

// quote writes b as an nginx double-quoted string. nginx expands variables
// in return's text and has no escape for '$', so a body holding one is
// refused rather than served differently.
func quote(b []byte) (string, error) {
	s := string(b)
	if strings.Contains(s, "$") {
		return "", errors.New("contains '$', which nginx would expand as a variable")
	}
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `"`, `\"`)
	return `"` + s + `"`, nil
}

// Command returns the command that runs nginx in the foreground with c's
// configuration. -e sends the messages nginx writes before it has read the
// configuration to c's log too, instead of the system's.
func Command(binary string, c Config) *exec.Cmd {
	if binary == "" {
		binary = DefaultBinary
	}
	return exec.Command(binary, "-p", c.Dir+"/", "-c", c.ConfPath(), "-e", c.ErrorLog())
}
