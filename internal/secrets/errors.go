package secrets

import (
	"errors"
	"fmt"
	"strings"
)

// FileError says that the secrets file is not a well-formed sops YAML file.
type FileError struct {
	Line    int // 1-based line, 0 if unknown
	Problem string
	Fix     string // how to fix it
	cause   error  // ErrNotEncrypted, or nil
}

// ErrNotEncrypted is wrapped by the *FileError for a file that has no sops
// metadata at all: test for it with errors.Is.
var ErrNotEncrypted = errors.New("not a sops-encrypted file")

// Unwrap returns ErrNotEncrypted for a file with no sops metadata, else nil.
func (e *FileError) Unwrap() error { return e.cause }

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, e.Problem)
	}
	return e.Problem
}

// Hint says how to fix it.
func (e *FileError) Hint() string { return e.Fix }

// PlaintextError says that values in a file that claims to be encrypted are
// in plaintext. Keys holds their key paths, never their values.
type PlaintextError struct {
	Keys   []string
	Reason string // why sops left them in plaintext, if known
}

func (e *PlaintextError) Error() string {
	msg := fmt.Sprintf("%d value(s) are stored in plaintext in the encrypted file: %s", len(e.Keys), strings.Join(e.Keys, ", "))
	if e.Reason != "" {
		msg += " (" + e.Reason + ")"
	}
	return msg + "; these values are in git history and must be rotated"
}

// Hint says how to fix it.
func (e *PlaintextError) Hint() string {
	return "set `unencrypted_regex: ^sops_` (or no regex) in .sops.yaml instead of `encrypted_regex: ^(?!sops_).*`, rotate every listed value, and re-encrypt with `sops encrypt --in-place`"
}

// NoMatchingKeyError says that none of the given age keys is a recipient of
// the file. Both lists hold public recipients only.
type NoMatchingKeyError struct {
	FileRecipients []string
	KeyRecipients  []string
}

func (e *NoMatchingKeyError) Error() string {
	return fmt.Sprintf("the age key matches none of the file's recipients: file is encrypted to %s; age_key holds %s",
		strings.Join(e.FileRecipients, ", "), strings.Join(e.KeyRecipients, ", "))
}

// Hint says how to fix it.
func (e *NoMatchingKeyError) Hint() string {
	return "use the age key of one of the file's recipients; after rotating keys, run `sops updatekeys` on the file so it is encrypted to the new recipient"
}

// IntegrityError says that the file was modified after sops encrypted it.
// It never carries a MAC or any digest: the sops MAC is an unkeyed hash of
// the plaintext.
type IntegrityError struct {
	Key     string // key path of the value that failed, if one did
	Problem string
}

func (e *IntegrityError) Error() string {
	if e.Key != "" {
		return fmt.Sprintf("failed its integrity check: value of %q %s", e.Key, e.Problem)
	}
	return "failed its integrity check: " + e.Problem
}

// Hint says how to fix it.
func (e *IntegrityError) Hint() string {
	return "restore the file from git, or re-encrypt it with sops; never edit ENC[…] values or the sops: block by hand"
}

// UnsupportedError says that the file uses a sops feature this action does
// not handle.
type UnsupportedError struct {
	Problem string
	Fix     string // how to fix it
}

func (e *UnsupportedError) Error() string { return e.Problem }

// Hint says how to fix it.
func (e *UnsupportedError) Hint() string { return e.Fix }
