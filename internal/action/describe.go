package action

import (
	"context"
	"errors"
	"strings"

	"github.com/productgalaxy/sops-deploy-action/internal/remote"
)

// describe turns an error from any layer into one line saying what is wrong
// (naming the input, file, key, host or recipient) and a hint saying how to
// fix it. The line is the error's own text, behind the host's label; the
// hint is the Hint method of the outermost error in the chain that has
// one. Neither ever holds a secret: the typed errors carry only places and
// public data, and an error that is not one of ours is not printed where it
// could quote the file (see fileProblem).
//
// What no type of ours can say is worded here: the errors of libraries
// (libraryError).
func describe(err error) (msg, hint string) {
	var he *hostError
	if errors.As(err, &he) {
		msg, hint = describe(he.Err)
		return he.Label + ": " + msg, hint
	}
	msg, hint = strings.TrimSpace(err.Error()), hintOf(err)
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
	if h, ok := err.(hinter); ok {
		return h.Hint()
	}
	return ""
}

// libraryError words the errors of libraries that reach the edge with no
// hint of ours: they cannot carry a Hint method.
func libraryError(err error) (msg, hint string, ok bool) {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return "the deploy was cancelled or timed out; " + remote.OldOrNew, "run the deploy again", true
	}
	return "", "", false
}
