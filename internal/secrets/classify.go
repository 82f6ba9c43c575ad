package secrets

import (
	"fmt"
	"regexp"
	"strings"
	"time"

	sops "github.com/productgalaxy/sops-deploy-action/internal/xsops"
)

// wouldMark prefixes values in the classification copy that sops asked to
// decrypt; asNonString marks non-string scalars turned into strings so that
// sops passes them to the cipher instead of failing on them.
const (
	wouldMark   = "\x00sops-deploy:would-decrypt\x00"
	asNonString = "\x00sops-deploy:non-string\x00"
	commentMark = "\x00sops-deploy:comment\x00"
)

// classify reports, for every leaf in file order, whether sops' own rules
// (unencrypted_suffix, encrypted_regex, …) say it is encrypted. It runs sops'
// decryption walk on a copy of the tree with a cipher that decrypts nothing,
// so the rules are sops' own, not a re-implementation.
func classify(tree sops.Tree) ([]bool, error) {
	c := tree
	c.Branches = sops.TreeBranches{copyBranch(tree.Branches[0])}
	if _, err := c.Decrypt(nil, classifyCipher{}); err != nil {
		return nil, &FileError{Problem: "has a value sops cannot walk (an unsupported type or a non-string key)",
			Fix: "re-encrypt the file with sops encrypt"}
	}
	var out []bool
	walkLeaves(c.Branches[0], func(_ string, v any) {
		s, ok := v.(string)
		out = append(out, ok && strings.HasPrefix(s, wouldMark))
	})
	if n := countLeaves(tree.Branches[0]); n != len(out) {
		return nil, &FileError{Problem: "has a structure sops cannot walk consistently", Fix: "re-encrypt the file with sops encrypt"}
	}
	return out, nil
}

func countLeaves(b sops.TreeBranch) int {
	n := 0
	walkLeaves(b, func(string, any) { n++ })
	return n
}

type classifyCipher struct{}

func (classifyCipher) Encrypt(any, []byte, string) (string, error) {
	return "", fmt.Errorf("encryption is not used")
}

func (classifyCipher) Decrypt(ct string, _ []byte, _ string) (any, error) {
	if strings.HasPrefix(ct, commentMark) || isEncryptedComment(ct) {
		return sops.Comment{Value: ct}, nil
	}
	return wouldMark + ct, nil
}

// checkPlaintext refuses files whose values are plaintext where they should
// not be: values sops would decrypt that are not ENC[…] envelopes, every
// value left plaintext because an encryption rule does not compile (the
// seed runbook's `encrypted_regex: ^(?!sops_).*`), and files in which no
// value at all is encrypted.
func checkPlaintext(tree sops.Tree, wouldDecrypt []bool) error {
	md := tree.Metadata
	var mistakes, byRule []string
	encrypted := 0
	i := 0
	walkLeaves(tree.Branches[0], func(path string, v any) {
		would := wouldDecrypt[i]
		i++
		s, isStr := v.(string)
		switch {
		case v == nil:
		case isStr && s == "":
			// sops never encrypts empty strings.
		case would && isStr && isEnvelope(s):
			encrypted++
		case would:
			mistakes = append(mistakes, path)
		default:
			byRule = append(byRule, path)
		}
	})
	for _, r := range []struct{ name, re string }{
		{"encrypted_regex", md.EncryptedRegex},
		{"encrypted_comment_regex", md.EncryptedCommentRegex},
	} {
		if r.re == "" {
			continue
		}
		if _, err := regexp.Compile(r.re); err != nil && len(byRule) > 0 {
			return &PlaintextError{Keys: byRule, Reason: fmt.Sprintf(
				"the file's %s %q is not a valid Go (RE2) regular expression (lookahead such as (?!…) is not supported), so sops silently encrypted nothing", r.name, r.re)}
		}
	}
	if len(mistakes) > 0 {
		return &PlaintextError{Keys: mistakes, Reason: "the file's own sops rules say these values are encrypted, but they are not ENC[…] envelopes"}
	}
	if md.MACOnlyEncrypted && len(byRule) > 0 {
		return &UnsupportedError{Problem: fmt.Sprintf("uses mac_only_encrypted, so its %d unencrypted value(s) (%s) are not covered by the MAC: anyone who can write to the repository could change them unnoticed",
			len(byRule), strings.Join(byRule, ", ")), Fix: "re-encrypt the file without --mac-only-encrypted (or mac_only_encrypted in .sops.yaml)"}
	}
	if encrypted == 0 && len(byRule) > 0 {
		return &PlaintextError{Keys: byRule, Reason: "the file's sops rules leave every value unencrypted"}
	}
	return nil
}

func isEnvelope(s string) bool {
	return strings.HasPrefix(s, "ENC[AES256_GCM,") && strings.HasSuffix(s, "]")
}

func isEncryptedComment(s string) bool {
	return isEnvelope(s) && strings.HasSuffix(s, ",type:comment]")
}

// walkLeaves calls fn for every non-comment value in file order with its
// display path ("a.b[0]").
func walkLeaves(b sops.TreeBranch, fn func(path string, v any)) {
	var walk func(v any, path string)
	walk = func(v any, path string) {
		switch v := v.(type) {
		case sops.Comment:
		case sops.TreeBranch:
			for _, it := range v {
				k, ok := it.Key.(string)
				if !ok {
					continue // comments, and non-string keys sops refuses anyway
				}
				if _, ok := it.Value.(sops.Comment); ok {
					continue
				}
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(it.Value, p)
			}
		case []any:
			n := 0
			for _, e := range v {
				if _, ok := e.(sops.Comment); ok {
					continue
				}
				if s, ok := e.(string); ok && isEncryptedComment(s) {
					continue
				}
				walk(e, fmt.Sprintf("%s[%d]", path, n))
				n++
			}
		default:
			fn(path, v)
		}
	}
	walk(b, "")
}

// commentSet lists the comment texts of a tree, so ciphers can tell a
// comment from a value.
func commentSet(b sops.TreeBranch) map[string]bool {
	set := map[string]bool{}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case sops.Comment:
			set[v.Value] = true
		case string:
			if isEncryptedComment(v) {
				set[v] = true
			}
		case sops.TreeBranch:
			for _, it := range v {
				walk(it.Key)
				walk(it.Value)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(b)
	return set
}

// copyBranch deep-copies a tree branch for the classification walk, turning
// non-string scalars into marked strings and marking comments, so that the
// classifying cipher can tell them from values.
func copyBranch(b sops.TreeBranch) sops.TreeBranch {
	out := make(sops.TreeBranch, len(b))
	for i, it := range b {
		out[i] = sops.TreeItem{Key: copyValue(it.Key), Value: copyValue(it.Value)}
	}
	return out
}

func copyValue(v any) any {
	switch v := v.(type) {
	case sops.Comment:
		return sops.Comment{Value: commentMark + v.Value, Inline: v.Inline}
	case sops.TreeBranch:
		return copyBranch(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = copyValue(e)
		}
		return out
	case int, float64, bool, time.Time, []byte:
		return asNonString
	}
	return v
}
