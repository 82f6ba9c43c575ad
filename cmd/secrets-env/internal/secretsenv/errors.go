package secretsenv

import (
	"fmt"
	"strings"
)

// Exit codes, as GNU env(1), chroot(1) and docker run use them: the
// command's own codes pass through untouched, so secrets-env keeps its
// failures in the range shells reserve (125 and up).
const (
	// ExitFailure is secrets-env's own failure: usage, file, key,
	// environment or user. The command never started.
	ExitFailure = 125
	// ExitCannotRun means the command was found but could not be executed
	// (not executable, a directory, bad format, environment too large).
	ExitCannotRun = 126
	// ExitNotFound means the command was not found.
	ExitNotFound = 127
)

// UsageError is a wrong command line.
type UsageError struct {
	Problem string
	Hint    string
}

func (e *UsageError) Error() string { return e.Problem }

// FileError is a problem with the secrets file as a whole.
type FileError struct {
	File    string
	Problem string // follows the quoted file name, e.g. "is not valid YAML (line 3)"
	Hint    string
}

func (e *FileError) Error() string { return fmt.Sprintf("%q %s", e.File, e.Problem) }

// KeyError is a problem with one key of the file, for one variable.
type KeyError struct {
	File    string
	Key     string
	Var     string // empty when no variable is involved yet
	Problem string // e.g. "is not in", "is a mapping, not a scalar, in"
	Hint    string
}

func (e *KeyError) Error() string {
	s := fmt.Sprintf("key %q %s %q", e.Key, e.Problem, e.File)
	if e.Var != "" {
		s += fmt.Sprintf(" (for variable %s)", e.Var)
	}
	return s
}

// ClashError is two keys of the file that -all maps to one variable name.
type ClashError struct {
	File       string
	Var        string
	KeyA, KeyB string
}

func (e *ClashError) Error() string {
	return fmt.Sprintf("keys %q and %q of %q both map to variable %s", e.KeyA, e.KeyB, e.File, e.Var)
}

// EnvSetError lists exports whose variables are already set in the
// environment.
type EnvSetError struct {
	File    string
	Exports []Export // Var and Key; never printed whole
}

func (e *EnvSetError) Error() string {
	parts := make([]string, len(e.Exports))
	for i, x := range e.Exports {
		parts[i] = fmt.Sprintf("%s (key %q)", x.Var, x.Key)
	}
	verb := "is"
	if len(parts) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("%s of %q %s already set in the environment", strings.Join(parts, ", "), e.File, verb)
}

// UserError is a failure to become the -user uid and gid.
type UserError struct {
	User    string // as given, e.g. "1000:1000"
	Problem string
	Hint    string
}

func (e *UserError) Error() string {
	return fmt.Sprintf("failed to switch to user %s: %s", e.User, e.Problem)
}

// CommandError is a command that could not be started; Code is
// ExitNotFound or ExitCannotRun.
type CommandError struct {
	Command string
	Problem string
	Code    int
}

func (e *CommandError) Error() string { return fmt.Sprintf("%q: %s", e.Command, e.Problem) }

// Hint returns the hint of a typed error of this package, or "".
func Hint(err error) string {
	switch e := err.(type) {
	case *UsageError:
		return e.Hint
	case *FileError:
		return e.Hint
	case *KeyError:
		return e.Hint
	case *ClashError:
		return "map one of them by hand with VAR=key instead of -all, or rename a key"
	case *EnvSetError:
		return "remove the variable from the service's environment: (or the image's ENV), or pass -override to let the secret win"
	case *UserError:
		return e.Hint
	case *CommandError:
		if e.Code == ExitNotFound {
			return "the command must exist in the image (a scratch image has no shell): check its name, PATH, or a script's #! line"
		}
	}
	return ""
}
