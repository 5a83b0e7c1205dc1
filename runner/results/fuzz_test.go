package results

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The readers take files someone may have cut short, edited or sent: any
// bytes are a result or an error that names the file, never a panic.

func fixture(f *testing.F, rel string) {
	data, err := os.ReadFile(filepath.Join("..", "..", "report", "testdata", "run-a", rel))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add(data[:len(data)/2])
}

func FuzzReadManifest(f *testing.F) {
	fixture(f, ManifestName)
	f.Add([]byte(`{"format_version": 1, "run_id": "x", "plan": {"repetitions": 1, "cells": [{"id": "../x", "axes": {"server": "a"}}]}}`))
	f.Add([]byte(`{"format_version": 1, "run_id": "x", "plan": {"repetitions": 1, "cells": [{"id": "c", "axes": {"server": "a"}, "server": {"knobs": {"loops": 0}}}]}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.WriteFile(ManifestPath(dir), data, 0o644)
		m, err := ReadManifest(dir)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for _, c := range m.Plan.Cells {
			if c.ID != filepath.Base(c.ID) || strings.HasPrefix(c.ID, ".") {
				t.Fatalf("cell id %q would lead out of the cells folder", c.ID)
			}
		}
	})
}

func FuzzReadRep(f *testing.F) {
	fixture(f, filepath.Join(CellsDir, "c1", "rep-1.json"))
	f.Add([]byte(`{"format_version": 1, "cell": "c1", "rep": 1, "status": "ok", "load": {"format_version": 1, "histogram": "x"}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.MkdirAll(CellDir(dir, "c1"), 0o755)
		os.WriteFile(RepPath(dir, "c1", 1), data, 0o644)
		r, err := ReadRep(dir, "c1", 1)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if r.Status == OK {
			if _, err := r.Load.Histogram(); err != nil {
				t.Fatalf("an ok repetition whose histogram does not decode: %v", err)
			}
		}
		r.Cost(nil)
	})
}

func FuzzReadCalibration(f *testing.F) {
	f.Add([]byte(`{"format_version": 1, "cell": "c1", "requests": 10, "syscalls": 25, "by_name": {"read": 10}}`))
	f.Add([]byte(`{"format_version": 1, "cell": "c1"`))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.MkdirAll(CellDir(dir, "c1"), 0o755)
		os.WriteFile(CalibrationPath(dir, "c1"), data, 0o644)
		if _, err := ReadCalibration(dir, "c1"); err != nil && !strings.Contains(err.Error(), dir) {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}
