package secrets

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"filippo.io/age"
)

// maxKeyInputSize bounds the age_key input. A real identity file with a
// handful of keys and comments is well under 4 KiB.
const maxKeyInputSize = 64 << 10

// Identities are the age keys given by the user, with their public
// recipients (safe to print) in the same order.
type Identities struct {
	ids        []age.Identity
	Recipients []string
}

// Format implements fmt.Formatter: identities print as their recipients only.
func (i Identities) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "age identities for %s", strings.Join(i.Recipients, ", "))
}

// KeyInputError reports a problem in a key input by line number and kind,
// never by content.
type KeyInputError struct {
	Input   string // input name, e.g. "age_key"
	Line    int    // 1-based; 0 when the problem is not tied to a line
	Problem string
	Fix     string // how to fix it
}

func (e *KeyInputError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("input %s: line %d: %s", e.Input, e.Line, e.Problem)
	}
	return fmt.Sprintf("input %s: %s", e.Input, e.Problem)
}

// Hint says how to fix it.
func (e *KeyInputError) Hint() string { return e.Fix }

// ParseIdentities parses the age_key input: one or more AGE-SECRET-KEY-1 (or
// AGE-SECRET-KEY-PQ-1) lines, with comments and blank lines allowed. It
// parses line by line so that a problem is reported by line number; the
// offending line is never echoed.
func ParseIdentities(input string) (Identities, error) {
	kerr := func(line int, problem, hint string) error {
		return &KeyInputError{Input: "age_key", Line: line, Problem: problem, Fix: hint}
	}
	if len(input) > maxKeyInputSize {
		return Identities{}, kerr(0, fmt.Sprintf("is larger than %d bytes", maxKeyInputSize), "pass the contents of an age identity file, such as the output of age-keygen")
	}
	if !utf8.ValidString(input) {
		return Identities{}, kerr(0, "is not valid UTF-8", "pass the contents of an age identity file, such as the output of age-keygen")
	}
	var out Identities
	for n, line := range strings.Split(NormalizeKeyText(input), "\n") {
		n++
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		var id age.Identity
		var recipient string
		switch {
		case strings.HasPrefix(line, "AGE-SECRET-KEY-PQ-1"):
			h, err := age.ParseHybridIdentity(line)
			if err != nil {
				return Identities{}, kerr(n, "malformed post-quantum age secret key (bad length or checksum)", "copy the whole AGE-SECRET-KEY-PQ-1… line again")
			}
			id, recipient = h, h.Recipient().String()
		case strings.HasPrefix(line, "AGE-SECRET-KEY-1"):
			x, err := age.ParseX25519Identity(line)
			if err != nil {
				return Identities{}, kerr(n, "malformed age secret key (bad length or checksum)", "copy the whole AGE-SECRET-KEY-1… line again, for example from the password manager")
			}
			id, recipient = x, x.Recipient().String()
		case strings.HasPrefix(strings.ToUpper(line), "AGE-SECRET-KEY-1"):
			return Identities{}, kerr(n, "age secret key is not in upper case", "paste the key exactly as age-keygen printed it")
		case strings.HasPrefix(line, "AGE-PLUGIN-"):
			return Identities{}, kerr(n, "age plugin identities are not supported (they run external programs)", "use a native AGE-SECRET-KEY-1 key")
		case strings.HasPrefix(line, "age1"):
			return Identities{}, kerr(n, "is a public recipient, not a secret key", "age_key takes the AGE-SECRET-KEY-1… line; the age1… recipient belongs in .sops.yaml")
		case strings.HasPrefix(line, "-----BEGIN"):
			return Identities{}, kerr(n, "is a PEM block (an SSH or other private key), not an age key", "age_key takes AGE-SECRET-KEY-1… lines; SSH keys go in ssh_key")
		default:
			return Identities{}, kerr(n, "is not an age secret key", "each non-comment line must start with AGE-SECRET-KEY-1")
		}
		out.ids = append(out.ids, id)
		out.Recipients = append(out.Recipients, recipient)
	}
	if len(out.ids) == 0 {
		return Identities{}, kerr(0, "holds no AGE-SECRET-KEY-1 line", "set age_key to the contents of the age identity file, e.g. ${{ secrets.SOPS_AGE_KEY_STAGING }}")
	}
	return out, nil
}
