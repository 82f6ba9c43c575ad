package secretsenv

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestEnvName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		parts []string
		want  string
	}{
		{[]string{"db", "password"}, "DB_PASSWORD"},
		{[]string{"database_url"}, "DATABASE_URL"},
		{[]string{"hosts", "0", "name"}, "HOSTS_0_NAME"},
		{[]string{"better-auth", "secret"}, "BETTER_AUTH_SECRET"},
		{[]string{"Mixed.Case"}, "MIXED_CASE"},
		{[]string{"café"}, "CAF_"},
		{[]string{"1password"}, "_1PASSWORD"},
		{[]string{"a b"}, "A_B"},
		{[]string{""}, ""},
		{[]string{"-"}, ""},
		{[]string{"_x"}, "_X"},
	} {
		if got := EnvName(tc.parts); got != tc.want {
			t.Errorf("EnvName(%q) = %q, want %q", tc.parts, got, tc.want)
		}
		if tc.want != "" && !ValidName(tc.want) {
			t.Errorf("EnvName(%q) = %q is not a valid name", tc.parts, tc.want)
		}
	}
}

func TestValidName(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{
		"A": true, "_": true, "DB_PASSWORD": true, "db2": true, "_1": true,
		"": false, "1A": false, "A-B": false, "A.B": false, "A B": false, "É": false, "A=B": false,
	} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestSelect(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "db:\n  password: pw\nport: 5432\nlist: [a]\n")
	xs, err := Select(f, []Spec{{"DB_PASS", "db.password"}, {"PORT", "port"}, {"FIRST", "list[0]"}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range xs {
		got = append(got, x.Var+"="+x.Value.text+" ("+x.Key+")")
	}
	if want := []string{"DB_PASS=pw (db.password)", "PORT=5432 (port)", "FIRST=a (list[0])"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	_, err = Select(f, []Spec{{"PORT", "port"}, {"X", "db"}})
	if got, want := err.Error(), `key "db" is a mapping, not a scalar, in "galaxy.yaml" (for variable X)`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAll(t *testing.T) {
	t.Parallel()
	f := mustParse(t, "db:\n  password: pw\n  hosts: [h0, h1]\nport: 5432\nempty: {}\n")
	xs, err := All(f)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, x := range xs {
		got = append(got, x.Var+"="+x.Value.text)
	}
	if want := []string{"DB_PASSWORD=pw", "DB_HOSTS_0=h0", "DB_HOSTS_1=h1", "PORT=5432"}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestAllErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		src, want string
	}{
		{"db:\n  password: canary-a\ndb_password: canary-b\n", `keys "db.password" and "db_password" of "galaxy.yaml" both map to variable DB_PASSWORD`},
		{"a-b: canary-a\na_b: canary-b\n", `keys "a-b" and "a_b" of "galaxy.yaml" both map to variable A_B`},
		{"Key: canary-a\nkey: canary-b\n", `keys "Key" and "key" of "galaxy.yaml" both map to variable KEY`},
		{"a.b: canary-a\na:\n  b: canary-b\n", `keys "a.b" and "a.b" of "galaxy.yaml" both map to variable A_B`},
		{"\"\": canary\n", `key "" maps to no variable name with -all, in "galaxy.yaml"`},
		{"a: {}\nb: []\n", `"galaxy.yaml" has no values to export`},
		{"a: \"canary\\0nul\"\n", `key "a" has a value with a NUL character, which an environment variable cannot hold, in "galaxy.yaml" (for variable A)`},
		{"a: " + strings.Repeat("canary", MaxEnvString/6) + "\n", `key "a" has a value too long for an environment variable`},
	} {
		_, err := All(mustParse(t, tc.src))
		if err == nil {
			t.Errorf("All(%.40q): no error, want %q", tc.src, tc.want)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("All(%.40q): got %q, want %q", tc.src, err, tc.want)
		}
		if strings.Contains(err.Error()+Hint(err), "canary") {
			t.Errorf("All(%.40q): the error shows a value: %q", tc.src, err)
		}
	}
}

func exports(kv ...string) []Export {
	var xs []Export
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		xs = append(xs, Export{Var: k, Key: strings.ToLower(k), File: "galaxy.yaml", Value: Secret{text: v}})
	}
	return xs
}

func TestEnviron(t *testing.T) {
	t.Parallel()
	base := []string{"PATH=/bin", "A=old", "HOME=/root", "A=dup", "B=old-b"}
	got, err := Environ(base, exports("C=new-c", "D="), false)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"PATH=/bin", "A=old", "HOME=/root", "A=dup", "B=old-b", "C=new-c", "D="}; !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}

	_, err = Environ(base, exports("B=canary-b", "C=x", "A=canary-a"), false)
	var ee *EnvSetError
	if !errors.As(err, &ee) {
		t.Fatalf("got %v, want an *EnvSetError", err)
	}
	if got, want := err.Error(), `B (key "b"), A (key "a") of "galaxy.yaml" are already set in the environment`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if strings.Contains(err.Error()+Hint(err), "canary") || strings.Contains(err.Error()+Hint(err), "old") {
		t.Errorf("the error shows a value: %q", err)
	}
	_, err = Environ([]string{"EMPTY="}, exports("EMPTY=x"), false)
	if err == nil || err.Error() != `EMPTY (key "empty") of "galaxy.yaml" is already set in the environment` {
		t.Errorf("a variable set to the empty string: got %v", err)
	}

	got, err = Environ(base, exports("B=new-b", "C=new-c", "A=new-a"), true)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"PATH=/bin", "A=new-a", "HOME=/root", "B=new-b", "C=new-c"}; !slices.Equal(got, want) {
		t.Errorf("override: got %q, want %q", got, want)
	}
}
