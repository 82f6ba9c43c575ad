package sopstest

import (
	"bytes"
	"regexp"
	"testing"
)

// Fixture surgery for refusal tests: a sops file made wrong in one
// place, and the recipient a test key file names.

var firstEncRE = regexp.MustCompile(`(?m)^(\w+: ENC\[AES256_GCM,data:)(.)`)

// FlipFirstValue changes one byte of the first encrypted value, so that
// its authentication fails.
func FlipFirstValue(file []byte) []byte {
	done := false
	return firstEncRE.ReplaceAllFunc(file, func(m []byte) []byte {
		if done {
			return m
		}
		done = true
		out := bytes.Clone(m)
		if out[len(out)-1] == 'A' {
			out[len(out)-1] = 'B'
		} else {
			out[len(out)-1] = 'A'
		}
		return out
	})
}

// SwapFirstTwoValues exchanges the ENC values of the first two keys: each
// still decrypts, but under the other key's name.
func SwapFirstTwoValues(t testing.TB, file []byte) []byte {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(\w+): (ENC\[.*\])$`)
	m := re.FindAllSubmatch(file, 2)
	if len(m) < 2 {
		t.Fatal("fixture has fewer than two encrypted values")
	}
	out := bytes.Replace(file, m[0][0], []byte(string(m[0][1])+": "+string(m[1][2])), 1)
	return bytes.Replace(out, m[1][0], []byte(string(m[1][1])+": "+string(m[0][2])), 1)
}

// Recipient returns the age public key an age-keygen key file names in
// its "public key:" comment.
func Recipient(t testing.TB, keyFile []byte) string {
	t.Helper()
	m := regexp.MustCompile(`public key: (age1\w+)`).FindSubmatch(keyFile)
	if m == nil {
		t.Fatal("no public key in the key file")
	}
	return string(m[1])
}
