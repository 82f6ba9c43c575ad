// Package lintcmd is the `sops-deploy-action lint [PATH…]` command: the
// lint checks on a laptop or in a pre-commit hook. It prints one
// `file:line: severity: message` line per finding, with the fix on the next
// line, and returns an error when any finding is an error.
package lintcmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unicode"

	"github.com/productgalaxy/sops-deploy-action/internal/lint"
)

// findingsError says the lint found errors; they are already printed.
type findingsError struct{ Errors int }

func (e *findingsError) Error() string { return fmt.Sprintf("%d error(s) found", e.Errors) }

// usageError says the command line is wrong; it is already printed.
type usageError struct{ Err error }

func (e *usageError) Error() string { return e.Err.Error() }
func (e *usageError) Unwrap() error { return e.Err }

// Run lints the repository rooted at dir (the working directory for the
// command: sops reads .sops.yaml from there). args are the command's
// arguments after "lint". Paths outside dir are refused.
func Run(dir string, args []string, stdout, stderr io.Writer) error {
	fl := flag.NewFlagSet("lint", flag.ContinueOnError)
	fl.SetOutput(stderr)
	maxAge := fl.String("max-age", lint.FormatMaxAge(lint.DefaultMaxAge), "warn about files sops last changed longer ago than this (90d, 12w, 2160h; 0 turns it off)")
	fl.Usage = func() {
		fmt.Fprintln(stderr, "usage: sops-deploy-action lint [-max-age 90d] [PATH…]\n\nChecks .sops.yaml and the sops files its rules or a secrets/ directory hold; exits 1 on any error.")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return &usageError{err}
	}
	age, err := lint.ParseMaxAge(*maxAge)
	if err != nil {
		fmt.Fprintf(stderr, "error: -max-age %v\n", err)
		return &usageError{err}
	}
	paths, err := relPaths(dir, fl.Args())
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return &usageError{err}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		fmt.Fprintf(stderr, "error: failed to open %q: %v\n", dir, err)
		return err
	}
	defer root.Close()
	res, err := lint.Run(root.FS(), paths, lint.Options{MaxAge: age})
	if err != nil {
		fmt.Fprintf(stderr, "error: %v\n", err)
		return err
	}
	print(stdout, res)
	if n := res.Errors(); n > 0 {
		fmt.Fprintf(stderr, "sops-deploy-action lint: %d error(s) in %d file(s) checked\n", n, len(res.Files))
		return &findingsError{Errors: n}
	}
	return nil
}

// print writes one line per finding, `file:line: severity: message`, and
// the fix indented on the next line.
func print(w io.Writer, res *lint.Result) {
	for _, f := range res.Findings {
		fmt.Fprintf(w, "%s:%d: %s: %s\n", safePath(f.File), f.Line, f.Severity, f.Message)
		if f.Hint != "" {
			fmt.Fprintf(w, "\tfix: %s\n", f.Hint)
		}
	}
}

// safePath quotes a path that holds control characters, so that a file name
// cannot forge a line of output.
func safePath(p string) string {
	if strings.IndexFunc(p, unicode.IsControl) >= 0 {
		return strconv.Quote(p)
	}
	return p
}

// relPaths turns command-line paths into slash-separated paths relative to
// dir.
func relPaths(dir string, args []string) ([]string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, a := range args {
		p := a
		if filepath.IsAbs(a) {
			if p, err = filepath.Rel(abs, a); err != nil {
				return nil, fmt.Errorf("path %q is not inside %q", a, abs)
			}
		}
		p = filepath.ToSlash(filepath.Clean(p))
		if p == ".." || strings.HasPrefix(p, "../") {
			return nil, fmt.Errorf("path %q is outside the repository %q; run lint from the repository root", a, abs)
		}
		out = append(out, p)
	}
	if len(args) > 0 && len(out) == 0 {
		return nil, errors.New("no path given")
	}
	return out, nil
}
