// Package testenv holds the one rule for tests that need a part of the
// machine (sshd, the sops CLI, root, a local user): without it they skip
// locally and fail under CI, where the workflow provides every part. A
// missing part under CI=true is a broken CI set-up, not a reason to pass.
//
// The package is meant to be imported from _test.go files and test-support
// packages only.
package testenv

import (
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// CI reports whether the tests run under CI (the environment variable CI
// is "true", as GitHub Actions sets it).
func CI() bool { return os.Getenv("CI") == "true" }

// Missing ends the test because a part it needs is missing: it fails the
// test under CI and skips it elsewhere. msg says what is missing and how
// to get it.
func Missing(t testing.TB, msg string) {
	t.Helper()
	if CI() {
		t.Fatal(msg + " (CI=true: the CI set-up must provide it)")
	}
	t.Skip(msg)
}

// MustHaveRoot ends the test by Missing unless it runs as root; why says
// what root is needed for.
func MustHaveRoot(t testing.TB, why string) {
	t.Helper()
	if os.Geteuid() != 0 {
		Missing(t, "needs root: "+why)
	}
}

// MustHaveCommand returns the path of the program name, found on PATH or
// in $(go env GOPATH)/bin, and ends the test by Missing when there is
// none; install says how to install it.
func MustHaveCommand(t testing.TB, name, install string) string {
	t.Helper()
	if p := LookPath(name); p != "" {
		return p
	}
	Missing(t, name+" not found; "+install)
	return ""
}

// LookPath returns the path of the program name on PATH or in
// $(go env GOPATH)/bin, where `go install` puts it, or "" when there is
// none.
func LookPath(name string) string {
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(out)), "bin", name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// RunConcurrently runs f(t, i) as a subtest named names[i] for every i,
// up to workers at once, and returns when all have ended. Subtests that
// mostly wait for another process (sshd forking and answering) can run
// more at once than the machine has CPUs; t.Parallel subtests are bound
// by -parallel, GOMAXPROCS by default, and these, started from goroutines
// and not parallel, are not. Each f must use state of its own.
func RunConcurrently(t *testing.T, workers int, names []string, f func(t *testing.T, i int)) {
	t.Helper()
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, name := range names {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t.Run(name, func(t *testing.T) { f(t, i) })
		}()
	}
	wg.Wait()
}

// RaiseParallel lets n tests marked t.Parallel run at once, unless the
// command line sets -parallel; call it from TestMain before m.Run. The
// default, GOMAXPROCS, fits tests that use the CPU; tests that mostly
// wait for sshd, sftp-server or a child process leave the CPUs idle at
// that bound (two, on a small CI machine).
func RaiseParallel(n int) {
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set && n > runtime.GOMAXPROCS(0) {
		if err := flag.Set("test.parallel", strconv.Itoa(n)); err != nil {
			panic(err) // a testing package without -test.parallel
		}
	}
}
