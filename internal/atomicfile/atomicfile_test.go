package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestWriteIsShareable: results and reports are meant to be read by
// others, so a written file is 0644 under the usual umask, whether it is
// new or replaces a private one, and no temporary file is left behind.
func TestWriteIsShareable(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	fresh := filepath.Join(dir, "fresh.json")
	replaced := filepath.Join(dir, "replaced.json")
	if err := os.WriteFile(replaced, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{fresh, replaced} {
		if err := Write(p, []byte("new\n")); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o644 {
			t.Errorf("%s has mode %v, want 0644", filepath.Base(p), st.Mode().Perm())
		}
		if data, _ := os.ReadFile(p); string(data) != "new\n" {
			t.Errorf("%s holds %q", filepath.Base(p), data)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d files in the folder, want the 2 written: a temporary file was left", len(entries))
	}
}

// TestWriteHonoursUmask: a user who keeps files private gets them
// private.
func TestWriteHonoursUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	p := filepath.Join(t.TempDir(), "private")
	if err := Write(p, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v), want 0600 under umask 077", st.Mode().Perm(), err)
	}
}

func TestWriteIntoMissingFolderIsAnError(t *testing.T) {
	p := filepath.Join(t.TempDir(), "no-such-folder", "f")
	if err := Write(p, []byte("x")); err == nil {
		t.Error("Write into a missing folder succeeded")
	}
}
