package action

import (
	"context"
	"errors"
	"io/fs"
	"strings"

	"github.com/productgalaxy/sops-deploy-action/internal/remote"
)

// oldOrNew is what is always true of remote_path after a failure.
const oldOrNew = "remote_path holds the previous or the new version, complete, never a partial one"

// describe turns an error from any layer into one line saying what is wrong
// (naming the input, file, key, host or recipient) and a hint saying how to
// fix it. The line is the error's own text, behind the host's label; the
// hint is the Hint method of the outermost error in the chain that has
// one. Neither ever holds a secret: the typed errors carry only places and
// public data, and an error that is not one of ours is not printed where it
// could quote the file (see fileProblem).
//
// What no type can say yet is worded here: what a failure left at
// remote_path for the remote errors whose files are being reworked
// (remoteOutcome), and the errors of libraries (libraryError).
func describe(err error) (msg, hint string) {
	var he *hostError
	if errors.As(err, &he) {
		msg, hint = describe(he.Err)
		return he.Label + ": " + msg, hint
	}
	msg, hint = strings.TrimSpace(err.Error()), hintOf(err)
	outcome, pending := remoteOutcome(err)
	if outcome != "" {
		msg += "; " + outcome
	}
	if hint == "" {
		hint = pending
	}
	if hint == "" {
		if m, h, ok := libraryError(err); ok {
			return m, h
		}
	}
	return msg, hint
}

// hinter is an error that says how to fix it.
type hinter interface{ Hint() string }

// ours reports whether err is, or wraps, one of the project's typed
// errors: those say how to fix them, and name places, never contents.
func ours(err error) bool {
	var h hinter
	return errors.As(err, &h)
}

// hintOf returns the first non-empty hint in err's chain, outermost first:
// the error that wraps another knows more of the context.
func hintOf(err error) string {
	for ; err != nil; err = errors.Unwrap(err) {
		if h := ownHint(err); h != "" {
			return h
		}
	}
	return ""
}

// ownHint is err's own hint, not its cause's.
func ownHint(err error) string {
	switch e := err.(type) {
	case hinter:
		return e.Hint()
	case *remote.InstallError:
		return e.Hint // a field, which takes the method's name (see remoteOutcome)
	}
	return ""
}

// remoteOutcome says what a failure left at remote_path, and the hint of
// an *remote.InstallError that has none of its own, for the remote errors
// whose types cannot say it themselves while their files (install.go,
// lock.go, conn.go) are being reworked; each belongs in its type's Error
// and Hint. InstallError's Hint field takes the method's name, and its
// documentation leaves the fallback hint to the edge.
func remoteOutcome(err error) (outcome, hint string) {
	var (
		te  *timeoutError
		cxe *remote.CancelledError
		le  *remote.LockError
		ine *remote.InstallError
		ote *remote.OpTimeoutError
	)
	switch {
	case errors.As(err, &te), errors.As(err, &cxe):
		return "", "" // their messages say what remote_path holds
	case errors.As(err, &le):
		return "remote_path was not touched", ""
	case errors.As(err, &ine) && ine.Hint != "":
		return "", "" // a refusal: nothing was replaced, and ownHint has its hint
	case errors.As(err, &ine) && errors.Is(err, fs.ErrPermission):
		return oldOrNew, "the login user cannot write there (or set that owner): set sudo: true with a sudoers rule for sftp-server, or use a directory the user owns"
	case errors.As(err, &ine):
		return oldOrNew, "check free space and permissions on the host"
	case errors.As(err, &ote):
		return oldOrNew, ""
	}
	return "", ""
}

// libraryError words the errors of libraries that reach the edge with no
// hint of ours: they cannot carry a Hint method.
func libraryError(err error) (msg, hint string, ok bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "the deploy was cancelled or timed out; " + oldOrNew, "run the deploy again", true
	}
	return "", "", false
}
