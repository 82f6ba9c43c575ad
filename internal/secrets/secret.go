// Package secrets turns an encrypted sops file and the user's age keys into
// plaintext held in memory, and refuses files that are not what they claim.
//
// Nothing in this package prints. Errors name places (key names, line
// numbers, recipients) and never contents.
package secrets

import "fmt"

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
