package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
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

// TestSpecialFilesAreWrittenInPlace: a FIFO (and, as root, a device node
// like /dev/null's) receives the content and stays what it was; renaming a
// temporary file over it replaced /dev/null with a regular file.
func TestSpecialFilesAreWrittenInPlace(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// A reader opened without blocking is there before the write, so the
	// write's open does not wait, and what it wrote waits in the pipe.
	r, err := os.OpenFile(fifo, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := Write(fifo, []byte("through the pipe")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := r.Read(buf)
	if s := string(buf[:n]); s != "through the pipe" {
		t.Errorf("the FIFO's reader got %q", s)
	}
	paths := map[string]uint32{fifo: unix.S_IFIFO}
	if os.Geteuid() == 0 {
		null := filepath.Join(dir, "null")
		if err := unix.Mknod(null, unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
			t.Fatal(err)
		}
		if err := Write(null, []byte("gone")); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "stdout")
		if err := os.Symlink(null, link); err != nil {
			t.Fatal(err)
		}
		if err := Write(link, []byte("gone too")); err != nil {
			t.Fatal(err)
		}
		paths[null] = unix.S_IFCHR
		paths[link] = unix.S_IFLNK
	} else {
		t.Log("not root: the device node case needs mknod")
	}
	for p, want := range paths {
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		if st.Mode&unix.S_IFMT != want {
			t.Errorf("%s is of type %o after the write, want %o", filepath.Base(p), st.Mode&unix.S_IFMT, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != len(paths) {
		t.Errorf("%d entries in the folder, want %d: something was created beside them", len(entries), len(paths))
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "new.json"), file, fifo} {
		if err := CheckWritable(p); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
	for p, want := range map[string]string{
		filepath.Join(dir, "missing", "r.json"): "there is no folder",
		dir:                                     "is a directory",
		filepath.Join(file, "r.json"):           "not a directory",
		"/proc/sockbench-test.json":             "/proc/sockbench-test.json",
	} {
		err := CheckWritable(p)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("CheckWritable(%s) = %v, want an error with %q", p, err, want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("%d entries in the folder, want 2: the check left a file", len(entries))
	}
}
