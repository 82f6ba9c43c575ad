package secrets

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestInspectAgreesWithDecrypt holds Inspect to what Decrypt finds: the
// same recipients, dates and key paths, and the same rule classification.
func TestInspectAgreesWithDecrypt(t *testing.T) {
	t.Parallel()
	for _, dir := range []string{"staging", "multi", "nested", "unencsuffix", "unencregex"} {
		data := td(t, dir+"/galaxy.enc.yaml")
		info, err := Inspect(data, FormatYAML)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		res, err := Decrypt(data, ids(t, "a"))
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		if !slices.Equal(info.Recipients, res.Recipients) || !info.LastModified.Equal(res.LastModified) || !info.HasMAC {
			t.Errorf("%s: Inspect %+v disagrees with Decrypt (recipients %v, lastmodified %v)", dir, info, res.Recipients, res.LastModified)
		}
		if len(info.Keys) != len(res.Leaves) {
			t.Fatalf("%s: %d keys, Decrypt has %d", dir, len(info.Keys), len(res.Leaves))
		}
		for i, k := range info.Keys {
			if l := res.Leaves[i]; k.Path != l.Path || k.Encrypted != l.Encrypted {
				t.Errorf("%s: key %d is %+v; Decrypt has %s encrypted=%v", dir, i, k, l.Path, l.Encrypted)
			}
		}
	}
}

func TestInspectRefusals(t *testing.T) {
	t.Parallel()
	var pe *PlaintextError
	if _, err := Inspect(td(t, "seedbug/galaxy.enc.yaml"), FormatYAML); !errors.As(err, &pe) || len(pe.Keys) != 3 {
		t.Errorf("seedbug: got %v, want a PlaintextError for 3 keys", err)
	}
	var fe *FileError
	for _, tc := range []struct {
		data   string
		format Format
	}{
		{string(td(t, "notsops/plain.yaml")), FormatYAML},
		{`{"a": "b"}`, FormatJSON},
		{"A=b\n", FormatDotenv},
	} {
		_, err := Inspect([]byte(tc.data), tc.format)
		if !errors.Is(err, ErrNotEncrypted) || !errors.As(err, &fe) {
			t.Errorf("format %d: got %v, want a *FileError wrapping ErrNotEncrypted", tc.format, err)
		}
	}
	for _, tc := range []struct {
		data   string
		format Format
	}{{`{"a": }`, FormatJSON}, {"no equals\n", FormatDotenv}, {"\xff", FormatJSON}} {
		if _, err := Inspect([]byte(tc.data), tc.format); !errors.As(err, &fe) || errors.Is(err, ErrNotEncrypted) {
			t.Errorf("format %d: got %v, want a *FileError that is not ErrNotEncrypted", tc.format, err)
		}
	}
}

// TestInspectOtherStores reads sops JSON and dotenv files made by the sops
// CLI (internal/lint/testdata/gen.sh).
func TestInspectOtherStores(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		format Format
		keys   []string
	}{
		{"good.enc.json", FormatJSON, []string{"database_url", "nested.token"}},
		{"good.enc.env", FormatDotenv, []string{"DATABASE_URL", "DOCS_API_TOKEN"}},
	} {
		data, err := os.ReadFile(filepath.Join("..", "lint", "testdata", "files", tc.name))
		if err != nil {
			t.Fatal(err)
		}
		info, err := Inspect(data, tc.format)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, k := range info.Keys {
			if !k.Encrypted {
				t.Errorf("%s: %s is not encrypted", tc.name, k.Path)
			}
			got = append(got, k.Path)
		}
		if !slices.Equal(got, tc.keys) || len(info.Recipients) != 1 || !info.HasMAC {
			t.Errorf("%s: keys %v, recipients %v, mac %v; want %v, one recipient, a MAC", tc.name, got, info.Recipients, info.HasMAC, tc.keys)
		}
	}
}

func TestEncryptedUnder(t *testing.T) {
	t.Parallel()
	data := td(t, "staging/galaxy.enc.yaml")
	for _, tc := range []struct {
		rules Rules
		want  int // values encrypted
	}{
		{Rules{}, 9},
		{Rules{EncryptedRegex: "^database_url$"}, 1},
		{Rules{UnencryptedRegex: "^b2_"}, 7},
		{Rules{EncryptedSuffix: "_key"}, 2}, // oauth_signing_key, b2_application_key
	} {
		keys, err := EncryptedUnder(data, FormatYAML, tc.rules)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, k := range keys {
			if k.Encrypted {
				n++
			}
		}
		if n != tc.want || len(keys) != 9 {
			t.Errorf("%+v: %d of %d encrypted, want %d of 9", tc.rules, n, len(keys), tc.want)
		}
	}
}
