package inside

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestDirAndFileStayInside(t *testing.T) {
	base := t.TempDir()
	root := filepath.Join(base, "run")
	elsewhere := filepath.Join(base, "elsewhere")
	for _, d := range []string{root, elsewhere} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The root may be a link: the user named it.
	latest := filepath.Join(base, "latest")
	if err := os.Symlink(root, latest); err != nil {
		t.Fatal(err)
	}
	if p, err := Dir(latest, "report/plots"); err != nil || p != filepath.Join(latest, "report", "plots") {
		t.Fatalf("Dir through a root that is a link: %q, %v", p, err)
	}
	if st, err := os.Stat(filepath.Join(root, "report", "plots")); err != nil || !st.IsDir() {
		t.Fatalf("report/plots was not made: %v", err)
	}
	if p, err := File(root, "cells/c1/rep-1.json"); err != nil || p != filepath.Join(root, "cells", "c1", "rep-1.json") {
		t.Fatalf("File: %q, %v", p, err)
	}

	for name, plant := range map[string]func(string) error{
		"link":   func(p string) error { return os.Symlink(elsewhere, p) },
		"fifo":   func(p string) error { return syscall.Mkfifo(p, 0o600) },
		"folder": func(p string) error { return os.Mkdir(p, 0o755) },
		"file":   func(p string) error { return os.WriteFile(p, nil, 0o644) },
	} {
		if err := plant(filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		dir  bool
		rel  string
		want string
	}{
		{true, "link", "is a symbolic link"},
		{true, "link/plots", "is a symbolic link"},
		{true, "file/plots", "is not a folder"},
		{true, "../elsewhere", `".." leads out`},
		{true, "report/../../elsewhere", `".." leads out`},
		{true, "/tmp", "absolute"},
		{false, "link", "is a symbolic link"},
		{false, "fifo", "is not a regular file"},
		{false, "folder", "is a folder"},
		{false, "link/index.html", "is a symbolic link"},
		{false, "../elsewhere/index.html", `".." leads out`},
	} {
		var err error
		if c.dir {
			_, err = Dir(root, c.rel)
		} else {
			_, err = File(root, c.rel)
		}
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("dir %v, %q: %v, want an error with %q", c.dir, c.rel, err, c.want)
		}
	}
	if entries, _ := os.ReadDir(elsewhere); len(entries) != 0 {
		t.Errorf("something was made in the link's target: %v", entries)
	}
}
