// Package secret holds the types that carry one secret in memory: they
// print as a redaction under every fmt verb. It is the leaf of the data
// flow that every layer may import (remote, inputs, mask) without linking
// the decryption and its dependencies (internal/secrets).
package secret

import (
	"fmt"
	"strings"
)

// redacted is what every secret-bearing type renders as.
const redacted = "[REDACTED]"

// Bytes holds secret material. It renders as [REDACTED] under every fmt verb
// so that a stray %v cannot print it. Use Reveal for the real bytes.
type Bytes struct{ b []byte }

// NewBytes wraps b; the caller must not keep using b.
func NewBytes(b []byte) Bytes { return Bytes{b: b} }

// Reveal returns the secret bytes. Callers must never print them.
func (s Bytes) Reveal() []byte { return s.b }

// Len returns the number of bytes, which is safe to print.
func (s Bytes) Len() int { return len(s.b) }

// String implements fmt.Stringer with a redaction.
func (s Bytes) String() string { return redacted }

// GoString implements fmt.GoStringer with a redaction.
func (s Bytes) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb prints a redaction.
func (s Bytes) Format(f fmt.State, _ rune) { fmt.Fprint(f, redacted) }

// String holds one secret string. It renders as [REDACTED] under every fmt
// verb. Use Reveal for the value.
type String struct{ s string }

// NewString wraps s.
func NewString(s string) String { return String{s: s} }

// Reveal returns the secret value. Callers must never print it.
func (s String) Reveal() string { return s.s }

// Len returns the length in bytes, which is safe to print.
func (s String) Len() int { return len(s.s) }

// String implements fmt.Stringer with a redaction.
func (s String) String() string { return redacted }

// GoString implements fmt.GoStringer with a redaction.
func (s String) GoString() string { return redacted }

// Format implements fmt.Formatter so that every verb prints a redaction.
func (s String) Format(f fmt.State, _ rune) { fmt.Fprint(f, redacted) }

// Leaf is one decrypted value with its key path.
type Leaf struct {
	Path      string // key path, e.g. "db.password" or "hosts[1]"; safe to print
	Value     String // the decrypted value as text; never print it
	Type      string // "str", "int", "float", "bool", "time", "bytes" or "null"
	Encrypted bool   // false when the file's own sops rules leave it in plaintext
}

// NormalizeKeyText undoes what copy-paste does to key material: a UTF-8 BOM,
// CRLF or CR line ends, and surrounding blank lines or spaces.
func NormalizeKeyText(s string) string {
	s = strings.TrimPrefix(s, "\uFEFF")
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.TrimSpace(s)
}
