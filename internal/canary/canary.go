// Package canary plants unique marker values in test secrets and searches
// outputs for them in every form a leak could take.
//
// The package is meant to be imported from _test.go files only.
package canary

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Marker returns a fresh marker token: CNRY and 16 hex digits.
func Marker() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return "CNRY" + hex.EncodeToString(b[:])
}

// Set is a plaintext secrets document whose every value holds a marker.
type Set struct {
	// YAML is the document, as a user would write it before `sops encrypt`.
	YAML []byte
	// Values are the full values; Markers the tokens inside them.
	Values, Markers []string
}

// New returns a document with one canary value for each key, in order.
// The values are long enough to be masked (never booleans or short).
func New(keys ...string) Set {
	var s Set
	var b bytes.Buffer
	b.WriteString("# TEST-ONLY: canary values made by a test; not secrets.\n")
	for _, k := range keys {
		m := Marker()
		v := m + "-" + k
		s.Markers = append(s.Markers, m)
		s.Values = append(s.Values, v)
		fmt.Fprintf(&b, "%s: %s\n", k, v)
	}
	s.YAML = b.Bytes()
	return s
}

// Forms returns every form in which the canaries must not appear: each
// marker and its 8-character substrings, and each value raw, base64 (std
// and raw URL), hex, JSON- and URL-escaped.
func Forms(values, markers []string) []string {
	var forms []string
	for _, m := range markers {
		forms = append(forms, m)
		for i := 1; i+8 <= len(m); i++ {
			forms = append(forms, m[i:i+8])
		}
	}
	for _, v := range values {
		j, _ := json.Marshal(v)
		forms = append(forms, v,
			base64.StdEncoding.EncodeToString([]byte(v)),
			base64.RawURLEncoding.EncodeToString([]byte(v)),
			hex.EncodeToString([]byte(v)),
			string(j[1:len(j)-1]),
			url.QueryEscape(v), url.PathEscape(v))
	}
	return forms
}

// Forms of the set.
func (s Set) Forms() []string { return Forms(s.Values, s.Markers) }

// Find returns the forms that text holds.
func Find(text []byte, forms []string) []string {
	var found []string
	for _, f := range forms {
		if bytes.Contains(text, []byte(f)) {
			found = append(found, f)
		}
	}
	return found
}

// AssertNone fails the test for every form that text holds; what names
// the output searched.
func AssertNone(t testing.TB, what string, text []byte, forms []string) {
	t.Helper()
	for _, f := range Find(text, forms) {
		t.Errorf("canary form %q found in %s", f, what)
	}
}

// AssertNoneInDir searches every regular file below dir, except those skip
// accepts (such as the encrypted input itself).
func AssertNoneInDir(t testing.TB, dir string, forms []string, skip func(path string) bool) {
	t.Helper()
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() || (skip != nil && skip(p)) {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		AssertNone(t, "file "+p, b, forms)
		return nil
	})
	if err != nil {
		t.Errorf("searching %s: %v", dir, err)
	}
}

// VisibleLog drops the ::add-mask:: lines of a workflow log: the runner
// consumes them and never shows them.
func VisibleLog(log string) string {
	var out []string
	for _, l := range strings.Split(log, "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
