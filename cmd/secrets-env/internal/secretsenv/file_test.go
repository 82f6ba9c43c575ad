package secretsenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mustParse(t *testing.T, src string) *File {
	t.Helper()
	f, err := Parse("galaxy.yaml", []byte(src))
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return f
}

func value(t *testing.T, f *File, key string) string {
	t.Helper()
	e, err := f.Lookup(key)
	if err != nil {
		t.Fatalf("Lookup(%q): %v", key, err)
	}
	return e.Value.text
}

// TestScalarsAsWritten: a value is its YAML text, never re-formatted by
// type; quotes and escapes are YAML's, block scalars keep their breaks.
func TestScalarsAsWritten(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
bool: true
yes: yes
octal: 0123
hex: 0x1F
float: 1e3
big: 123456789012345678901234567890
date: 2024-01-01
quoted: "0123"
single: 'it''s'
escaped: "a\tb\nc"
unicode: "caf\u00e9"
null1: ~
null2: null
null3:
strnull: "null"
empty: ""
literal: |
  line one
  line two
strip: |-
  line one
  line two
keep: |+
  kept

folded: >
  one
  two
spaces: "  padded  "
bin: !!binary aGVsbG8=
`)
	for key, want := range map[string]string{
		"bool":    "true",
		"yes":     "yes",
		"octal":   "0123",
		"hex":     "0x1F",
		"float":   "1e3",
		"big":     "123456789012345678901234567890",
		"date":    "2024-01-01",
		"quoted":  "0123",
		"single":  "it's",
		"escaped": "a\tb\nc",
		"unicode": "café",
		"null1":   "",
		"null2":   "",
		"null3":   "",
		"strnull": "null",
		"empty":   "",
		"literal": "line one\nline two\n",
		"strip":   "line one\nline two",
		"keep":    "kept\n\n",
		"folded":  "one two\n",
		"spaces":  "  padded  ",
		"bin":     "aGVsbG8=",
	} {
		if got := value(t, f, key); got != want {
			t.Errorf("%s: got %q, want %q", key, got, want)
		}
	}
}

// TestPaths: the action's key path naming (internal/secrets Leaf.Path).
func TestPaths(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
app:
  db:
    password: p
  hosts:
    - name: h0
    - name: h1
  matrix:
    - [a, b]
    - [c]
top: t
`)
	var got []string
	for _, e := range f.Leaves() {
		got = append(got, e.Path+"="+e.Value.text+"@"+strings.Join(e.Parts, "/"))
	}
	want := []string{
		"app.db.password=p@app/db/password",
		"app.hosts[0].name=h0@app/hosts/0/name",
		"app.hosts[1].name=h1@app/hosts/1/name",
		"app.matrix[0][0]=a@app/matrix/0/0",
		"app.matrix[0][1]=b@app/matrix/0/1",
		"app.matrix[1][0]=c@app/matrix/1/0",
		"top=t@top",
	}
	if g, w := strings.Join(got, "\n"), strings.Join(want, "\n"); g != w {
		t.Errorf("leaves:\n%s\nwant:\n%s", g, w)
	}
	if got := value(t, f, "app.hosts[1].name"); got != "h1" {
		t.Errorf("app.hosts[1].name = %q", got)
	}
}

func TestFixtureNested(t *testing.T) {
	t.Parallel()
	f, err := Load(filepath.Join("..", "..", "..", "..", "testdata", "nested", "galaxy.plain.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{
		"app.db.password": "demo-not-a-secret-nested-aae93e0ef4733d74",
		"app.features[2]": "gamma",
		"port":            "5432",
		"enabled":         "true",
		"empty":           "",
		"motd":            "demo line one\ndemo line two\n",
		"app.db.host":     "postgres",
		"app.features[0]": "alpha",
		"app.db.user":     "galaxy_app",
		"app.features[1]": "beta",
	} {
		if got := value(t, f, key); got != want {
			t.Errorf("%s: got %q, want %q", key, got, want)
		}
	}
}

func TestLookupErrors(t *testing.T) {
	t.Parallel()
	f := mustParse(t, `
db:
  password: x
list: [a, b]
a.b: dotted
a:
  b: nested
emptymap: {}
`)
	for _, tc := range []struct {
		key, want, hint string
	}{
		{"nope", `key "nope" is not in "galaxy.yaml"`, `the top level holds: db, list, a.b, a, emptymap (nested keys are joined with ".", list items written [n])`},
		{"db.pasword", `key "db.pasword" is not in "galaxy.yaml"`, "db holds: db.password ("},
		{"db.password.x", `key "db.password.x" is not in "galaxy.yaml"`, "db holds: db.password ("},
		{"list[5]", `key "list[5]" is not in "galaxy.yaml"`, "list holds: list[0], list[1] ("},
		{"db", `key "db" is a mapping, not a scalar, in "galaxy.yaml"`, "e.g. db.password"},
		{"list", `key "list" is a list, not a scalar, in "galaxy.yaml"`, "e.g. list[0]"},
		{"list[2]", `key "list[2]" is not in`, ""},
		{"list.0", `key "list.0" is not in`, ""},
		{"emptymap", `key "emptymap" is a mapping, not a scalar`, ""},
		{"a.b", `key "a.b" names two entries (lines 5 and 7) of "galaxy.yaml"`, "rename one"},
	} {
		_, err := f.Lookup(tc.key)
		var ke *KeyError
		if !errors.As(err, &ke) {
			t.Errorf("Lookup(%q): got %v, want a *KeyError", tc.key, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Lookup(%q): got %q, want it to contain %q", tc.key, err, tc.want)
		}
		if !strings.Contains(Hint(err), tc.hint) {
			t.Errorf("Lookup(%q): hint %q, want it to contain %q", tc.key, Hint(err), tc.hint)
		}
	}
}

// TestNearestHint: a missing key's hint lists the keys beside it, at most
// maxHintKeys, matching path parts, not text.
func TestNearestHint(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("app:\n  x: 1\napple:\n  y: 2\nmany:\n")
	for i := range 20 {
		fmt.Fprintf(&b, "  k%02d: v\n", i)
	}
	f := mustParse(t, b.String())
	for key, want := range map[string]string{
		"app.z":  "app holds: app.x (",
		"many.z": "many holds: many.k00, many.k01, many.k02, many.k03, many.k04, many.k05, many.k06, many.k07, … (",
		"zzz":    "the top level holds: app, apple, many (",
	} {
		_, err := f.Lookup(key)
		if got := Hint(err); !strings.HasPrefix(got, want) {
			t.Errorf("Lookup(%q) hint %q, want %q…", key, got, want)
		}
	}
}

// TestParseRefusals: each refusal names the file and, where it can, a
// line; none quotes the file's text.
func TestParseRefusals(t *testing.T) {
	t.Parallel()
	deep := "a: " + strings.Repeat("[", MaxDepth+2) + strings.Repeat("]", MaxDepth+2)
	for _, tc := range []struct {
		name, src, want string
	}{
		{"empty", "", "is empty"},
		{"blank", " \n\t\n", "is empty"},
		{"comment only", "# nothing\n", "is empty"},
		{"list", "- a\n- b\n", "is not a YAML mapping"},
		{"scalar", "canary-scalar\n", "is not a YAML mapping"},
		{"invalid", "a: b\nc: [canary-invalid\n", "is not valid YAML (line"},
		{"tab", "a:\n\tb: canary-tab\n", "is not valid YAML (line 2)"},
		{"two documents", "a: canary-1\n---\nb: canary-2\n", "holds more than one YAML document"},
		{"duplicate", "a: canary-dup-1\nb: x\na: canary-dup-2\n", `has key "a" twice (lines 1 and 3)`},
		{"nested duplicate", "x:\n  a: 1\n  a: 2\n", `has key "x.a" twice (lines 2 and 3)`},
		{"alias", "a: &anchor canary-alias\nb: *anchor\n", "uses a YAML alias (line 2)"},
		{"merge", "base: &b {k: canary-merge}\nother:\n  <<: *b\n", "uses a YAML alias (line 3)"},
		{"complex key", "? [a, b]\n: canary-complex\n", "has a mapping key that is not a string (line 1)"},
		{"sops", "a: ENC[AES256_GCM,data:canary-enc]\nsops:\n  mac: ENC[x]\n  version: 3.13.3\n", "is still sops-encrypted"},
		{"deep", deep, fmt.Sprintf("nests deeper than %d levels", MaxDepth)},
		{"too large", "a: " + strings.Repeat("x", MaxFileSize), "larger than the"},
	} {
		_, err := Parse("galaxy.yaml", []byte(tc.src))
		var fe *FileError
		if !errors.As(err, &fe) {
			t.Errorf("%s: got %v, want a *FileError", tc.name, err)
			continue
		}
		if msg := err.Error(); !strings.HasPrefix(msg, `"galaxy.yaml" `) || !strings.Contains(msg, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, msg, tc.want)
		}
		if strings.Contains(err.Error()+Hint(err), "canary") {
			t.Errorf("%s: the error quotes the file: %q", tc.name, err.Error()+Hint(err))
		}
	}
}

// TestSopsKeyAlone: a key named sops that is not sops's block is data.
func TestSopsKeyAlone(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "sops:\n  version: x\n")
	if got := value(t, f, "sops.version"); got != "x" {
		t.Errorf("got %q", got)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || !strings.Contains(err.Error(), "is a directory") || !strings.Contains(Hint(err), "bind mount") {
		t.Errorf("Load(dir): %v (hint %q)", err, Hint(err))
	}
	missing := filepath.Join(dir, "missing.yaml")
	if _, err := Load(missing); err == nil || err.Error() != fmt.Sprintf("%q cannot be opened: no such file or directory", missing) {
		t.Errorf("Load(missing): %v", err)
	}
	if _, err := Load("/dev/null"); err == nil || !strings.Contains(err.Error(), "is not a regular file") {
		t.Errorf("Load(/dev/null): %v", err)
	}
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("a: "+strings.Repeat("x", MaxFileSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || !strings.Contains(err.Error(), "larger than the 16777216-byte limit") {
		t.Errorf("Load(big): %v", err)
	}
}

// TestSecretPrintsNothing: no fmt verb shows a value, in an Entry or an
// Export either.
func TestSecretPrintsNothing(t *testing.T) {
	t.Parallel()
	s := Secret{text: "canary-fmt"}
	for _, v := range []any{s, &s, Entry{Path: "k", Value: s}, Export{Var: "V", Value: s}, []Export{{Value: s}}} {
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
			if got := fmt.Sprintf(verb, v); strings.Contains(got, "canary") || strings.Contains(got, fmt.Sprintf("%x", "canary")) {
				t.Errorf("Sprintf(%q, %T) = %q", verb, v, got)
			}
		}
	}
}

func FuzzSecretsFile(f *testing.F) {
	f.Add([]byte("a: b\nc:\n  d: [e, f]\n"))
	f.Add([]byte("a: |\n  x\n  y\n"))
	f.Add([]byte("a: &x b\nc: *x\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse("f", data)
		if err != nil {
			var fe *FileError
			if !errors.As(err, &fe) {
				t.Fatalf("Parse: %T %v, want a *FileError", err, err)
			}
			return
		}
		for _, e := range file.Leaves() {
			if _, err := file.Lookup(e.Path); err != nil {
				var ke *KeyError
				if !errors.As(err, &ke) || !strings.Contains(ke.Problem, "names two entries") {
					t.Fatalf("Lookup(%q) of a leaf: %v", e.Path, err)
				}
			}
		}
		_, _ = All(file)
	})
}
