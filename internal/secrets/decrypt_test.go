package secrets

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func td(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ids(t testing.TB, names ...string) Identities {
	t.Helper()
	var all []string
	for _, n := range names {
		all = append(all, string(td(t, "keys/"+n+".agekey")))
	}
	id, err := ParseIdentities(strings.Join(all, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestDecryptMatchesSopsCLI(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		dir, file string
		keys      []string
	}{
		{"staging", "galaxy", []string{"a"}},
		{"canary", "canary", []string{"a"}},
		{"multi", "galaxy", []string{"a"}},
		{"multi", "galaxy", []string{"b"}},
		{"multi", "galaxy", []string{"c", "b"}},
		{"nested", "galaxy", []string{"a"}},
		{"unencsuffix", "galaxy", []string{"a"}},
		{"unencregex", "galaxy", []string{"a"}},
		{"large", "galaxy", []string{"a"}},
	} {
		t.Run(tc.dir+"/"+strings.Join(tc.keys, "+"), func(t *testing.T) {
			t.Parallel()
			res, err := Decrypt(td(t, tc.dir+"/"+tc.file+".enc.yaml"), ids(t, tc.keys...))
			if err != nil {
				t.Fatalf("Decrypt: %v", err)
			}
			want := td(t, tc.dir+"/"+tc.file+".plain.yaml")
			if !bytes.Equal(res.Plaintext.Reveal(), want) {
				t.Errorf("plaintext differs from sops decrypt output (%d vs %d bytes)", res.Plaintext.Len(), len(want))
			}
			if len(res.Leaves) == 0 || len(res.Recipients) == 0 || res.LastModified.IsZero() {
				t.Errorf("incomplete result: %d leaves, %d recipients, lastmodified %v", len(res.Leaves), len(res.Recipients), res.LastModified)
			}
		})
	}
}

func TestDecryptLeaves(t *testing.T) {
	t.Parallel()
	res, err := Decrypt(td(t, "nested/galaxy.enc.yaml"), ids(t, "a"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range res.Leaves {
		got = append(got, l.Path+":"+l.Type)
	}
	want := "app.db.host:str app.db.user:str app.db.password:str app.features[0]:str app.features[1]:str app.features[2]:str port:int enabled:bool empty:str motd:str"
	if g := strings.Join(got, " "); g != want {
		t.Errorf("leaves:\n got %s\nwant %s", g, want)
	}
	if got := res.Leaves[6].Value.Reveal(); got != "5432" {
		t.Errorf("port = %q", got)
	}

	res, err = Decrypt(td(t, "unencsuffix/galaxy.enc.yaml"), ids(t, "a"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(res.Unencrypted(), ","), "region_unencrypted"; got != want {
		t.Errorf("Unencrypted() = %q, want %q", got, want)
	}
}

func TestDecryptRefusals(t *testing.T) {
	t.Parallel()
	good := string(td(t, "staging/galaxy.enc.yaml"))
	encRE := regexp.MustCompile(`(database_url: ENC\[AES256_GCM,data:)([A-Za-z0-9+/])`)
	flip := func(s string) string {
		return encRE.ReplaceAllStringFunc(s, func(m string) string {
			last := m[len(m)-1]
			r := byte('A')
			if last == 'A' {
				r = 'B'
			}
			return m[:len(m)-1] + string(r)
		})
	}
	lines := strings.Split(good, "\n")
	val := func(key string) string {
		for _, l := range lines {
			if strings.HasPrefix(l, key+": ") {
				return strings.TrimPrefix(l, key+": ")
			}
		}
		t.Fatalf("no key %s", key)
		return ""
	}
	swapped := strings.NewReplacer(
		"database_url: "+val("database_url"), "database_url: "+val("mcp_db_url"),
		"mcp_db_url: "+val("mcp_db_url"), "mcp_db_url: "+val("database_url"),
	).Replace(good)
	lmRE := regexp.MustCompile(`lastmodified: "(\d{4})`)
	macRE := regexp.MustCompile(`(?m)^    mac: .*\n`)

	for _, tc := range []struct {
		name string
		file string
		keys []string
		as   any
		want string
	}{
		{"seed bug regex", string(td(t, "seedbug/galaxy.enc.yaml")), []string{"a"}, new(*PlaintextError), "not a valid Go (RE2) regular expression"},
		{"seed bug wrong key still says plaintext", string(td(t, "seedbug/galaxy.enc.yaml")), []string{"c"}, new(*PlaintextError), "encrypted_regex"},
		{"not sops", string(td(t, "notsops/plain.yaml")), []string{"a"}, new(*FileError), "no sops metadata"},
		{"garbage", string(td(t, "notsops/garbage.yaml")), []string{"a"}, new(*FileError), ""},
		{"wrong key", good, []string{"c"}, new(*NoMatchingKeyError), "matches none"},
		{"flipped byte", flip(good), []string{"a"}, new(*IntegrityError), `"database_url" does not decrypt`},
		{"swapped values", swapped, []string{"a"}, new(*IntegrityError), "does not decrypt"},
		{"edited lastmodified", lmRE.ReplaceAllString(good, `lastmodified: "2001`), []string{"a"}, new(*IntegrityError), "MAC"},
		{"missing mac", macRE.ReplaceAllString(good, ""), []string{"a"}, new(*IntegrityError), "no MAC"},
		{"top level list", "- a\n- b\n", []string{"a"}, new(*FileError), "a list at the top level"},
		{"top level scalar", "hello\n", []string{"a"}, new(*FileError), "single value"},
		{"empty", "\n\n", []string{"a"}, new(*FileError), "empty"},
		{"two docs", good + "---\nfoo: bar\n", []string{"a"}, new(*FileError), "2 YAML documents"},
		{"alias", "x: &a hello\ny: *a\nsops: {}\n", []string{"a"}, new(*FileError), "anchors or aliases"},
		{"deep", strings.Repeat("{a: ", 40) + "1" + strings.Repeat("}", 40) + "\n", []string{"a"}, new(*FileError), "deeper than"},
		{"binary", "\xff\xfe\x00garbage", []string{"a"}, new(*FileError), "UTF-8"},
		{"too big", strings.Repeat("#", MaxFileSize+1), []string{"a"}, new(*FileError), "limit"},
		{"recipient edited to inject a command", strings.Replace(good, "recipient: age1", "recipient: x ##[warning]injected age1", 1), []string{"a"}, new(*FileError), "not an age public key"},
		{"mac_only_encrypted with plaintext values", strings.Replace(string(td(t, "unencsuffix/galaxy.enc.yaml")), "    lastmodified:", "    mac_only_encrypted: true\n    lastmodified:", 1), []string{"a"}, new(*UnsupportedError), "mac_only_encrypted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decrypt([]byte(tc.file), ids(t, tc.keys...))
			if err == nil {
				t.Fatal("Decrypt succeeded, want an error")
			}
			if !errors.As(err, tc.as) {
				t.Fatalf("error %T (%v), want %T", err, err, tc.as)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestSeedBugNamesKeysNotValues(t *testing.T) {
	t.Parallel()
	_, err := Decrypt(td(t, "seedbug/galaxy.enc.yaml"), ids(t, "a"))
	var pe *PlaintextError
	if !errors.As(err, &pe) {
		t.Fatalf("got %v, want PlaintextError", err)
	}
	plain := string(td(t, "seedbug/galaxy.plain.yaml"))
	for _, k := range pe.Keys {
		if !strings.Contains(plain, k+":") {
			t.Errorf("key %q not in the file", k)
		}
	}
	if len(pe.Keys) != 3 {
		t.Errorf("got keys %v, want 3", pe.Keys)
	}
	for _, line := range strings.Split(plain, "\n") {
		if _, v, ok := strings.Cut(line, ": "); ok && len(v) > 3 && strings.Contains(err.Error(), v) {
			t.Errorf("error contains a value")
		}
	}
}

func TestRedaction(t *testing.T) {
	t.Parallel()
	s := NewString("CANARY-redact-me")
	b := NewBytes([]byte("CANARY-redact-me"))
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T"} {
		for _, v := range []any{s, b, &s, Leaf{Value: s}, []String{s}} {
			got := sprintf(f, v)
			if strings.Contains(got, "CANARY") || strings.Contains(strings.ToLower(got), "43414e415259") {
				t.Errorf("%s of %T printed the secret: %s", f, v, got)
			}
		}
	}
}
