package action

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
)

// The runner's file commands (GITHUB_OUTPUT, GITHUB_STEP_SUMMARY) are
// written here rather than through go-githubactions, whose SetOutput and
// AddStepSummary panic when the file cannot be written. Every write returns
// its error, which becomes one ::error:: line.

// fileCommandError says a file command could not be written.
type fileCommandError struct {
	Var  string // GITHUB_OUTPUT, GITHUB_STEP_SUMMARY
	Path string
	What string // "the outputs", "the step summary"
	Err  error
	// Done describes what the run did on the hosts before the write failed,
	// e.g. "installed on 2 of 2 host(s)"; empty when nothing was attempted.
	Done string
}

func (e *fileCommandError) Error() string {
	msg := fmt.Sprintf("failed to write %s to %s (%q): %v", e.What, e.Var, e.Path, errText(e.Err))
	if e.Done != "" {
		msg += "; the hosts are not affected by this: " + e.Done
	}
	return msg
}

func (e *fileCommandError) Unwrap() error { return e.Err }

// Hint says how to fix it.
func (e *fileCommandError) Hint() string {
	return fmt.Sprintf("the runner sets %s to a writable file; when running the action by hand, point it at a writable file or unset it", e.Var)
}

// errText is the reason of a file-system error without the path it names
// (the message quotes the path itself).
func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// appendFileCommand appends text to the file the variable names. An unset
// variable means the runner offers no such file: nothing is written and
// no error is returned.
func (s *step) appendFileCommand(variable, what, text string) error {
	p := s.gha.Getenv(variable)
	if p == "" {
		return nil
	}
	f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		_, err = io.WriteString(f, text)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return &fileCommandError{Var: variable, Path: p, What: what, Err: err}
	}
	return nil
}

// outputsText renders outputs in the runner's multi-line form, name<<D,
// value, D, with a random delimiter D that no value holds.
func outputsText(outputs [][2]string) (string, error) {
	var b strings.Builder
	for _, kv := range outputs {
		delim, err := delimiter(kv[1])
		if err != nil {
			return "", err
		}
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", kv[0], delim, kv[1], delim)
	}
	return b.String(), nil
}

func delimiter(value string) (string, error) {
	for {
		var buf [16]byte
		if _, err := rand.Read(buf[:]); err != nil {
			return "", fmt.Errorf("failed to make an output delimiter: %w", err)
		}
		d := "ghadelimiter_" + hex.EncodeToString(buf[:])
		if !strings.Contains(value, d) {
			return d, nil
		}
	}
}

// safeWriter writes the workflow log and drops write errors: when stdout
// itself is gone there is nowhere left to report them, and a panic in the
// runner library would print a stack trace instead of ending cleanly.
type safeWriter struct{ w io.Writer }

func (s safeWriter) Write(p []byte) (int, error) {
	_, _ = s.w.Write(p)
	return len(p), nil
}

// LogWriter wraps the workflow log (stdout) so that writing it never fails
// the run; pass it to githubactions.WithWriter.
func LogWriter(w io.Writer) io.Writer { return safeWriter{w} }
