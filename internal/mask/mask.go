// Package mask decides which strings to register with the runner's secret
// masker (::add-mask::) for secret inputs and decrypted values.
//
// Masking is the backstop; not printing is the control.
package mask

import (
	"strings"

	"github.com/productgalaxy/sops-deploy-action/internal/secret"
)

// MinLength is the shortest value registered as a mask. The runner masks
// every occurrence of a registered string in all later output, so a value
// such as "1" or "yes" would blank that text everywhere in the log.
const MinLength = 4

// Registrar registers a mask; githubactions.Action implements it and
// escapes %, CR and LF so a multi-line value is one command.
type Registrar interface{ AddMask(string) }

// forms returns the strings to register for one secret value: the value
// itself and each of its lines, with and without surrounding white space,
// leaving out those shorter than MinLength. Order is stable, no repeats.
func forms(value string) []string {
	var out []string
	seen := map[string]bool{}
	add := func(s string) {
		if len(s) >= MinLength && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	add(value)
	add(strings.TrimSpace(value))
	if strings.ContainsAny(value, "\r\n") {
		for _, line := range strings.FieldsFunc(value, func(r rune) bool { return r == '\n' || r == '\r' }) {
			add(line)
			add(strings.TrimSpace(line))
		}
	}
	return out
}

// Secret registers every form of a secret input.
func Secret(r Registrar, value string) {
	for _, f := range forms(value) {
		r.AddMask(f)
	}
}

// Skipped lists decrypted values that were not registered, by key path.
type Skipped struct {
	Empty []string // empty or null: nothing to mask
	Short []string // shorter than MinLength, or a boolean: masking would blank common text
}

// Values registers every decrypted value and reports those it left out.
func Values(r Registrar, leaves []secret.Leaf) Skipped {
	var sk Skipped
	seen := map[string]bool{}
	for _, l := range leaves {
		v := l.Value.Reveal()
		switch {
		case l.Type == "null" || v == "":
			sk.Empty = append(sk.Empty, l.Path)
			continue
		case l.Type == "bool" || len(strings.TrimSpace(v)) < MinLength:
			sk.Short = append(sk.Short, l.Path)
			continue
		}
		for _, f := range forms(v) {
			if !seen[f] {
				seen[f] = true
				r.AddMask(f)
			}
		}
	}
	return sk
}
