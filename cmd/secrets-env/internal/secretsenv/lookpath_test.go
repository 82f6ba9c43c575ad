package secretsenv

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestLookPath(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a"), filepath.Join(dir, "b")
	for _, d := range []string{a, b, filepath.Join(a, "isdir")} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(a, "noexec"), 0o644)
	write(filepath.Join(b, "noexec"), 0o755)
	write(filepath.Join(b, "tool"), 0o755)
	write(filepath.Join(a, "plain"), 0o644)
	path := "relative:" + ":" + a + ":" + b

	for _, tc := range []struct {
		name, want string
		code       int
	}{
		{"tool", filepath.Join(b, "tool"), 0},
		{"noexec", filepath.Join(b, "noexec"), 0}, // the first executable one wins
		{"plain", "", ExitCannotRun},
		{"isdir", "", ExitCannotRun},
		{"missing", "", ExitNotFound},
		{filepath.Join(b, "tool"), filepath.Join(b, "tool"), 0},
		{filepath.Join(a, "plain"), "", ExitCannotRun},
		{filepath.Join(a, "missing"), "", ExitNotFound},
		{a, "", ExitCannotRun},
	} {
		got, err := LookPath(tc.name, path)
		if tc.code == 0 {
			if err != nil || got != tc.want {
				t.Errorf("LookPath(%q) = %q, %v; want %q", tc.name, got, err, tc.want)
			}
			continue
		}
		var ce *CommandError
		if !errors.As(err, &ce) || ce.Code != tc.code {
			t.Errorf("LookPath(%q) = %q, %v; want a *CommandError with code %d", tc.name, got, err, tc.code)
		}
	}

	// A command in the working directory is not found through an empty
	// or relative PATH entry.
	if _, err := LookPath("tool", ":.:b"); err == nil {
		t.Error("found a command through a relative PATH entry")
	}
}

func TestPathOf(t *testing.T) {
	t.Parallel()
	if got := PathOf([]string{"A=1"}); got != DefaultPath {
		t.Errorf("no PATH: got %q", got)
	}
	if got := PathOf([]string{"PATH=/x", "PATH=/y"}); got != "/x" {
		t.Errorf("got %q", got)
	}
	if got := PathOf([]string{"PATH="}); got != "" {
		t.Errorf("got %q", got)
	}
}

func TestExecError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		code int
		want string
	}{
		{syscall.ENOENT, ExitNotFound, `"x": failed to execute: no such file or directory`},
		{syscall.EACCES, ExitCannotRun, `"x": failed to execute: permission denied`},
		{syscall.ENOEXEC, ExitCannotRun, `"x": failed to execute: exec format error`},
		{syscall.E2BIG, ExitCannotRun, `"x": failed to execute: argument list too long (the environment and arguments are too large)`},
	} {
		err := ExecError("x", tc.err)
		var ce *CommandError
		if !errors.As(err, &ce) || ce.Code != tc.code || err.Error() != tc.want {
			t.Errorf("ExecError(%v) = %v (code %d), want %q (code %d)", tc.err, err, ce.Code, tc.want, tc.code)
		}
	}
}
