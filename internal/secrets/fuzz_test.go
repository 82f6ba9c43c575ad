package secrets

import (
	"strings"
	"testing"
)

// FuzzParseIdentities checks that the age_key parser never panics and never
// echoes a line of its input in an error.
func FuzzParseIdentities(f *testing.F) {
	for _, k := range []string{"a", "b", "c"} {
		key := string(td(f, "keys/"+k+".agekey"))
		f.Add(key)
		f.Add("\uFEFF" + strings.ReplaceAll(key, "\n", "\r\n"))
	}
	f.Add("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ")
	f.Add("age1ks0dfm7et5cje8unmwu2ksememrtp5wslnr5vd7w0krkwdy8pf6q3dqwrt")
	f.Add("-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----")
	f.Add("AGE-PLUGIN-YUBIKEY-1XYZ")
	f.Add("# only a comment\n\n")
	f.Fuzz(func(t *testing.T, input string) {
		ids, err := ParseIdentities(input)
		if err == nil {
			if len(ids.ids) == 0 || len(ids.ids) != len(ids.Recipients) {
				t.Fatalf("success with %d identities and %d recipients", len(ids.ids), len(ids.Recipients))
			}
			return
		}
		msg := err.Error()
		if ke, ok := err.(*KeyInputError); ok {
			msg += "\n" + ke.Hint()
		}
		assertNoEcho(t, msg, input, func(in string) string {
			_, err := ParseIdentities(in)
			if err == nil {
				return ""
			}
			m := err.Error()
			if ke, ok := err.(*KeyInputError); ok {
				m += "\n" + ke.Hint()
			}
			return m
		})
	})
}

// assertNoEcho fails when msg holds a line of input long enough to be key
// material. A line that the message template itself contains (such as
// "AGE-SECRET-KEY-1" in a hint) is not an echo: msgFor re-runs the parser
// with that line blanked out, and if the message still holds it, it came
// from the template.
func assertNoEcho(t *testing.T, msg, input string, msgFor func(string) string) {
	t.Helper()
	for _, line := range strings.FieldsFunc(input, func(r rune) bool { return r == '\n' || r == '\r' }) {
		line = strings.TrimSpace(line)
		if len(line) < 12 || strings.HasPrefix(line, "#") || !strings.Contains(msg, line) {
			continue
		}
		if strings.Contains(msgFor(strings.ReplaceAll(input, line, strings.Repeat("~", len(line)))), line) {
			continue
		}
		t.Fatalf("error echoes an input line")
	}
}

// FuzzDecrypt mutates real sops files and checks that decryption never
// panics, that a failure never carries a decrypted value, and that a
// success never returns a value the file did not encrypt unless its own
// rules say so.
func FuzzDecrypt(f *testing.F) {
	for _, p := range []string{
		"canary/canary.enc.yaml", "staging/galaxy.enc.yaml", "nested/galaxy.enc.yaml",
		"seedbug/galaxy.enc.yaml", "unencsuffix/galaxy.enc.yaml", "multi/galaxy.enc.yaml",
		"notsops/plain.yaml", "notsops/garbage.yaml",
	} {
		f.Add(td(f, p))
	}
	keys := ids(f, "a")
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := Decrypt(data, keys)
		if err != nil {
			if strings.Contains(err.Error(), "CNRY") {
				t.Fatalf("error carries a canary value: %v", err)
			}
			return
		}
		if res.Plaintext.Len() == 0 {
			t.Fatalf("success with empty plaintext")
		}
		enc := 0
		for _, l := range res.Leaves {
			if l.Encrypted {
				enc++
			}
		}
		nonEmpty := 0
		for _, l := range res.Leaves {
			if l.Type != "null" && l.Value.Len() > 0 {
				nonEmpty++
			}
		}
		if nonEmpty > 0 && enc == 0 {
			t.Fatalf("success although no value was encrypted")
		}
	})
}
