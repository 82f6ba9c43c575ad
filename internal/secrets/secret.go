// Package secrets turns an encrypted sops file and the user's age keys into
// plaintext held in memory, and refuses files that are not what they claim.
//
// Nothing in this package prints. Errors name places (key names, line
// numbers, recipients) and never contents.
package secrets

import "github.com/productgalaxy/sops-deploy-action/internal/secret"

// The secret-bearing types live in internal/secret, which layers that
// need no decryption import instead of this package.
type (
	// Bytes holds secret material; see secret.Bytes.
	Bytes = secret.Bytes
	// String holds one secret string; see secret.String.
	String = secret.String
	// Leaf is one decrypted value with its key path; see secret.Leaf.
	Leaf = secret.Leaf
)

// NewBytes wraps b; the caller must not keep using b.
func NewBytes(b []byte) Bytes { return secret.NewBytes(b) }

// NewString wraps s.
func NewString(s string) String { return secret.NewString(s) }

// NormalizeKeyText undoes what copy-paste does to key material.
func NormalizeKeyText(s string) string { return secret.NormalizeKeyText(s) }
