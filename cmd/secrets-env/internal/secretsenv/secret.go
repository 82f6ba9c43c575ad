package secretsenv

import "fmt"

// Secret is a value from the secrets file. It prints a redaction under
// every fmt verb; only Environ reads the text.
type Secret struct {
	text string
}

// Format implements fmt.Formatter: a Secret never prints its value.
func (Secret) Format(f fmt.State, _ rune) { fmt.Fprint(f, "[redacted]") }

var _ fmt.Formatter = Secret{}
