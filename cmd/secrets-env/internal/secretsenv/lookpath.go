package secretsenv

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultPath is used when the environment has no PATH (Docker sets one in
// every container; this is its default).
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// PathOf returns the value of PATH in env, the first one as getenv(3) and
// Go's os.Getenv read it, or DefaultPath when unset.
func PathOf(env []string) string {
	for _, kv := range env {
		if v, ok := strings.CutPrefix(kv, "PATH="); ok {
			return v
		}
	}
	return DefaultPath
}

// LookPath finds the executable for name as execvp(3) would, with PATH
// from the command's environment, checked with the current (already
// switched) user's permissions. A name with a "/" is used as is. Empty and
// relative PATH entries are skipped, as Go's os/exec does: a command is
// never found in the working directory by accident.
func LookPath(name, path string) (string, error) {
	if strings.Contains(name, "/") {
		if err := executable(name); err != nil {
			return "", commandError(name, err)
		}
		return name, nil
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			continue
		}
		p := filepath.Join(dir, name)
		err := executable(p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrNotExist) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", commandError(name, denied)
	}
	return "", &CommandError{Command: name, Problem: "not found in any directory of PATH", Code: ExitNotFound}
}

// errNotExecutable is a file without execute permission for this user.
var errNotExecutable = errors.New("permission denied")

func executable(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	if fi.IsDir() {
		return syscall.EISDIR
	}
	if !fi.Mode().IsRegular() {
		return errNotExecutable
	}
	// access(2) checks with the real ids; after -user they equal the
	// effective ones.
	if err := syscall.Access(p, 1 /* X_OK */); err != nil {
		return errNotExecutable
	}
	return nil
}

// commandError words a failure to find or run name; ENOENT is 127 (not
// found, or a script's interpreter not found), anything else 126, as GNU
// env reports them.
func commandError(name string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	code := ExitCannotRun
	if errors.Is(err, fs.ErrNotExist) {
		code = ExitNotFound
	}
	return &CommandError{Command: name, Problem: fmt.Sprint(err), Code: code}
}

// ExecError words an execve failure.
func ExecError(name string, err error) error {
	ce := commandError(name, err).(*CommandError)
	ce.Problem = "failed to execute: " + ce.Problem
	if errors.Is(err, syscall.E2BIG) {
		ce.Problem += " (the environment and arguments are too large)"
	}
	return ce
}
