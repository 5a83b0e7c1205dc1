// Package inside resolves the paths sockbench writes into a folder it may
// have received from someone else (a results folder): every folder below
// the root is a real folder, never a symbolic link, and no name climbs
// out with "..", so a planted link or a crafted name cannot turn a report
// or a resumed run into a write somewhere else. The root itself may be a
// link (results/latest is one): the user named it.
package inside

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Dir makes the folder rel below root, and any folder on the way, and
// returns its path. A part that exists must be a folder, not a link.
func Dir(root, rel string) (string, error) {
	parts, err := split(rel)
	if err != nil {
		return "", fmt.Errorf("folder %q in %s: %w", rel, root, err)
	}
	path := root
	for _, part := range parts {
		path = filepath.Join(path, part)
		st, err := os.Lstat(path)
		if errors.Is(err, fs.ErrNotExist) {
			if err := os.Mkdir(path, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return "", err
			}
			continue
		}
		if err != nil {
			return "", err
		}
		if err := mustBe(path, st, fs.ModeDir); err != nil {
			return "", err
		}
	}
	return path, nil
}

// File makes the folders of rel below root as Dir does and returns the
// path of the file rel, which may not exist yet; one that exists must be
// a regular file, so that a write replaces it and never goes through a
// link, into a FIFO or onto a device.
func File(root, rel string) (string, error) {
	dir, err := Dir(root, filepath.Dir(rel))
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, filepath.Base(rel))
	st, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return path, nil
	}
	if err != nil {
		return "", err
	}
	return path, mustBe(path, st, 0)
}

// split checks that rel stays below its root and returns its parts.
func split(rel string) ([]string, error) {
	if filepath.IsAbs(rel) {
		return nil, errors.New("an absolute path, not one inside the folder")
	}
	var parts []string
	for _, part := range strings.Split(filepath.ToSlash(rel), "/") {
		switch part {
		case "", ".":
		case "..":
			return nil, errors.New(`".." leads out of the folder`)
		default:
			parts = append(parts, part)
		}
	}
	return parts, nil
}

// mustBe refuses what is not of the type wanted (fs.ModeDir, or 0 for a
// regular file), saying what it is instead.
func mustBe(path string, st fs.FileInfo, want fs.FileMode) error {
	got := st.Mode().Type()
	if got == want {
		return nil
	}
	what := "not a regular file"
	switch {
	case got&fs.ModeSymlink != 0:
		what = "a symbolic link"
	case want == fs.ModeDir:
		what = "not a folder"
	case got == fs.ModeDir:
		what = "a folder"
	}
	return fmt.Errorf("%s is %s; sockbench writes into a results folder only through its own folders and files, so move it away", path, what)
}
