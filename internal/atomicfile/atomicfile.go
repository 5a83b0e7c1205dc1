// Package atomicfile writes files so that a reader sees either the old
// content or the whole new content, never a prefix: results survive a
// process killed mid-write. A path that names something other than a
// regular file (a device such as /dev/null, a FIFO, a socket) is written
// in place: renaming over it would replace the device.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// mode is what a written file is created with, before the umask: results
// and reports are meant to be shared, so readable by everyone, as
// os.WriteFile would leave them. (os.CreateTemp makes 0600 files, which
// the rename would carry over to the target.)
const mode fs.FileMode = 0o644

// Write stores data at path through a temporary file in the same directory,
// synced and renamed over the target.
func Write(path string, data []byte) error {
	return WriteWith(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteWith is Write for content too large to hold in memory at once:
// write writes it, buffered, to the temporary file.
func WriteWith(path string, write func(w io.Writer) error) error {
	special, err := Special(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if special {
		return writeInPlace(path, write)
	}
	tmp, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	bw := bufio.NewWriter(tmp)
	if err := write(bw); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// createTemp creates a new file beside path, hidden and marked temporary,
// with mode and the process's umask.
func createTemp(path string) (*os.File, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	for range 100 {
		name := filepath.Join(dir, "."+base+"."+strconv.FormatUint(rand.Uint64(), 36)+".tmp")
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("no unused temporary name beside %s", path)
}

// Special says whether path exists as something that is not a regular
// file, following links (a link to /dev/stdout is the device it names); a
// directory is an error.
func Special(path string) (bool, error) {
	st, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if st.IsDir() {
		return false, errors.New("it is a directory")
	}
	return !st.Mode().IsRegular(), nil
}

// writeInPlace writes to a device, FIFO or socket as a stream, with
// nothing to rename.
func writeInPlace(path string, write func(w io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	bw := bufio.NewWriter(f)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// CheckWritable says, before any work that would be lost, whether Write
// could store a file at path: its folder exists and takes new files, and
// the path is not a directory. A device or FIFO there must be writable to
// this process.
func CheckWritable(path string) error {
	special, err := Special(path)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	if special {
		if err := unix.Access(path, unix.W_OK); err != nil {
			return fmt.Errorf("cannot write %s: %w", path, err)
		}
		return nil
	}
	dir := filepath.Dir(path)
	if st, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("cannot write %s: there is no folder %s", path, dir)
	} else if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	} else if !st.IsDir() {
		return fmt.Errorf("cannot write %s: %s is not a folder", path, dir)
	}
	// Creating the temporary file Write would create is the one test that
	// covers permissions, read-only mounts and /proc alike.
	tmp, err := createTemp(path)
	if err != nil {
		return fmt.Errorf("cannot write %s: %w", path, err)
	}
	tmp.Close()
	return os.Remove(tmp.Name())
}
