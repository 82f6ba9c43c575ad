package lint

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
	"time"
)

// The fixtures in testdata/ are TEST-ONLY: made by testdata/gen.sh with the
// real sops CLI and the public test keys in ../../testdata/keys.

// now is after every fixture's lastmodified but within 90 days of the
// fresh ones, so that the tests do not depend on the day they run.
func fixedNow(t *testing.T) func() time.Time {
	lm := lastModified(t, "good.enc.yaml")
	return func() time.Time { return lm.Add(24 * time.Hour) }
}

func lastModified(t *testing.T, name string) time.Time {
	t.Helper()
	m := regexp.MustCompile(`lastmodified: "([^"]+)"`).FindSubmatch(fixture(t, "files/"+name))
	if m == nil {
		t.Fatalf("%s: no lastmodified", name)
	}
	lm, err := time.Parse(time.RFC3339, string(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	return lm
}

func fixture(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recipients are the public test recipients by name (a, b, c).
func recipients(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../../testdata/keys/recipients.txt")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) == 2 && !strings.HasPrefix(l, "#") {
			out[f[0]] = f[1]
		}
	}
	return out
}

// repo builds a repository in memory: config names testdata/configs/<config>.sops.yaml
// ("" for none); files maps a path to a testdata/files name, or to
// "raw:<content>" for content the test makes.
func repo(t *testing.T, config string, files map[string]string) fstest.MapFS {
	t.Helper()
	fsys := fstest.MapFS{}
	if config != "" {
		fsys[configFile] = &fstest.MapFile{Data: fixture(t, "configs/"+config+".sops.yaml")}
	}
	for p, src := range files {
		data := []byte(strings.TrimPrefix(src, "raw:"))
		if !strings.HasPrefix(src, "raw:") {
			data = fixture(t, "files/"+src)
		}
		fsys[p] = &fstest.MapFile{Data: data}
	}
	return fsys
}

func lintRepo(t *testing.T, fsys fstest.MapFS, paths ...string) *Result {
	t.Helper()
	res, err := Run(fsys, paths, Options{MaxAge: DefaultMaxAge, Now: fixedNow(t)})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func (f Finding) text() string {
	return fmt.Sprintf("%s:%d: %s: [%s] %s; fix: %s", f.File, f.Line, f.Severity, f.Title, f.Message, f.Hint)
}

func dump(res *Result) string {
	var b strings.Builder
	for _, f := range res.Findings {
		b.WriteString(f.text() + "\n")
	}
	return b.String()
}

// want is an expected finding: place, severity and words of its text.
type want struct {
	file  string
	line  int
	sev   Severity
	words []string
}

// expect checks that res holds exactly the wanted findings, in order.
func expect(t *testing.T, res *Result, wants ...want) {
	t.Helper()
	if len(res.Findings) != len(wants) {
		t.Fatalf("got %d findings, want %d:\n%s", len(res.Findings), len(wants), dump(res))
	}
	for i, w := range wants {
		f := res.Findings[i]
		if f.File != w.file || f.Line != w.line || f.Severity != w.sev {
			t.Errorf("finding %d at %s:%d (%s), want %s:%d (%s):\n%s", i, f.File, f.Line, f.Severity, w.file, w.line, w.sev, f.text())
		}
		for _, word := range w.words {
			if !strings.Contains(f.text(), word) {
				t.Errorf("finding %d lacks %q:\n%s", i, word, f.text())
			}
		}
	}
}

const staging = "secrets/staging/galaxy.enc.yaml"

func TestGoodRepository(t *testing.T) {
	t.Parallel()
	res := lintRepo(t, repo(t, "good", map[string]string{
		staging:                           "good.enc.yaml",
		"secrets/staging/galaxy.enc.json": "good.enc.json",
		"secrets/staging/galaxy.enc.env":  "good.enc.env",
		"README.md":                       "raw:not a candidate",
		"secrets/README.md":               "raw:not a data file",
	}))
	expect(t, res)
	if got, want := len(res.Files), 4; got != want {
		t.Fatalf("checked %d files, want %d (.sops.yaml and three sops files): %+v", got, want, res.Files)
	}
	for _, f := range res.Files[1:] {
		if f.Rule != 1 || len(f.Recipients) != 1 || f.Keys == 0 || f.Encrypted == 0 || f.Format == "" {
			t.Errorf("%s: %+v; want rule 1, one recipient, encrypted keys", f.Path, f)
		}
	}
}

func TestSeedLookahead(t *testing.T) {
	t.Parallel()
	res := lintRepo(t, repo(t, "seed", map[string]string{staging: "seedbug.enc.yaml"}))
	expect(t, res,
		want{configFile, 4, Error, []string{"lookahead", "seed runbook's trap", `"^(?!sops_).*"`, "PLAINTEXT", "unencrypted_regex: ^sops_"}},
		want{staging, 2, Error, []string{"lookahead trap", "4 value(s)", `"database_url"`, `"sops_note"`, "git history", "rotate", "unencrypted_regex: ^sops_"}},
	)
}

func TestOnePlaintextValue(t *testing.T) {
	t.Parallel()
	res := lintRepo(t, repo(t, "good", map[string]string{staging: "oneplain.enc.yaml"}))
	expect(t, res, want{staging, 4, Error, []string{"1 value(s)", `"docs_api_token"`, "own sops rules say these values are encrypted", "git history", "rotate"}})
}

func TestOldRecipientOnly(t *testing.T) {
	t.Parallel()
	r := recipients(t)
	res := lintRepo(t, repo(t, "dropold", map[string]string{staging: "good.enc.yaml"}))
	expect(t, res,
		want{staging, 7, Error, []string{"missing recipient", "not encrypted to age recipient " + r["b"], "creation rule 1", "(line 5)", "sops updatekeys " + staging}},
		want{staging, 16, Error, []string{"stale recipient", "still encrypted to age recipient " + r["a"], "no longer lists",
			"`sops updatekeys " + staging + "`, then `sops rotate --in-place " + staging + "`", "change the values if the old key leaked"}},
	)
}

func TestMissingNewRecipient(t *testing.T) {
	t.Parallel()
	r := recipients(t)
	res := lintRepo(t, repo(t, "addnew", map[string]string{staging: "good.enc.yaml"}))
	expect(t, res, want{staging, 7, Error, []string{"not encrypted to age recipient " + r["b"], "sops updatekeys"}})
	// After sops updatekeys (to a and b), the grace period is clean.
	expect(t, lintRepo(t, repo(t, "addnew", map[string]string{staging: "multi.enc.yaml"})))
}

func TestStaleRecipientAfterGrace(t *testing.T) {
	t.Parallel()
	r := recipients(t)
	res := lintRepo(t, repo(t, "dropold", map[string]string{staging: "multi.enc.yaml"}))
	expect(t, res, want{staging, 16, Error, []string{"still encrypted to age recipient " + r["a"], "sops rotate"}})
}

func TestOldLastModified(t *testing.T) {
	t.Parallel()
	res := lintRepo(t, repo(t, "good", map[string]string{staging: "old.enc.yaml"}))
	expect(t, res, want{staging, 17, Warning, []string{"old secrets", "2025-01-02", "max_age 90d", "sops edit " + staging}})
	if res.Errors() != 0 {
		t.Errorf("an old file is a warning, not an error:\n%s", dump(res))
	}

	// A fresh file ages past max_age with the clock.
	lm := lastModified(t, "good.enc.yaml")
	later, err := Run(repo(t, "good", map[string]string{staging: "good.enc.yaml"}), nil,
		Options{MaxAge: 30 * 24 * time.Hour, Now: func() time.Time { return lm.Add(31 * 24 * time.Hour) }})
	if err != nil {
		t.Fatal(err)
	}
	expect(t, later, want{staging, 17, Warning, []string{lm.UTC().Format(time.DateOnly), "31 days ago", "max_age 30d"}})
	off, _ := Run(repo(t, "good", map[string]string{staging: "old.enc.yaml"}), nil, Options{Now: fixedNow(t)})
	expect(t, off)
}

func TestPlainFilesUnderSecrets(t *testing.T) {
	t.Parallel()
	res := lintRepo(t, repo(t, "good", map[string]string{
		"secrets/staging/galaxy.yaml":    "raw:# TEST-ONLY\ndatabase_url: CNRYLINTplainyaml0001\n",
		"secrets/staging/app.env":        "raw:API_TOKEN=CNRYLINTplainenv00001\n",
		"secrets/staging/app.json":       "raw:{\"token\": \"CNRYLINTplainjson0001\"}\n",
		"deploy/secrets/other.yml":       "raw:token: CNRYLINTplainyml00001\n",
		"secrets/staging/galaxy.yaml.j2": "raw:token: not a data file\n",
	}))
	words := []string{"not sops-encrypted", "plaintext", "git history", "must be rotated", "sops encrypt --in-place"}
	expect(t, res,
		want{"deploy/secrets/other.yml", 1, Error, words},
		want{"secrets/staging/app.env", 1, Error, words},
		want{"secrets/staging/app.json", 1, Error, words},
		want{"secrets/staging/galaxy.yaml", 1, Error, words},
	)
}

func TestPathNoRuleMatches(t *testing.T) {
	t.Parallel()
	res := lintRepo(t, repo(t, "good", map[string]string{"secrets/dev/galaxy.enc.yaml": "good.enc.yaml"}))
	expect(t, res, want{"secrets/dev/galaxy.enc.yaml", 6, Error, []string{"no creation rule", "sops updatekeys", `path_regex matches "secrets/dev/galaxy.enc.yaml"`}})
}

func TestConfigDoesNotParse(t *testing.T) {
	t.Parallel()
	res := lintRepo(t, repo(t, "broken", map[string]string{staging: "good.enc.yaml"}))
	// The file itself is fine; it is not checked against a config that
	// cannot be read.
	// The line is the one go-yaml (as sops) reports: the rule holding the
	// unclosed list.
	expect(t, res, want{configFile, 3, Error, []string{".sops.yaml does not parse", "not valid YAML"}})
}

func TestNoConfig(t *testing.T) {
	t.Parallel()
	res := lintRepo(t, repo(t, "", map[string]string{staging: "good.enc.yaml"}))
	expect(t, res, want{staging, 1, Warning, []string{"no .sops.yaml"}})
}

func TestConfigChecks(t *testing.T) {
	t.Parallel()
	r := recipients(t)
	cfg := strings.Join([]string{
		"creation_rules:",
		"  - path_regex: ^secrets/(?=x)",                      // 2
		"    age: " + r["a"] + ",AGE-SECRET-KEY-1CNRYLINTKEY", // 3
		"  - path_regex: ^secrets/a/",                         // 4
		"    encrypted_regex: (a)\\1",                         // 5
		"    unencrypted_suffix: _plain",                      // 6
		"    age: [age1notakey]",                              // 7
		"    encrypted_regx: ^x",                              // 8
		"  - unencrypted_regex: ^(?!x)",                       // 9
		"    key_groups:",
		"      - age: [ssh-ed25519 AAAAC3Nza]", // 11
		"",
	}, "\n")
	res := lintRepo(t, fstest.MapFS{configFile: {Data: []byte(cfg)}})
	expect(t, res,
		want{configFile, 2, Error, []string{"lookahead in path_regex", "refuses"}},
		want{configFile, 3, Error, []string{"age entry 2 is an age SECRET key"}},
		want{configFile, 4, Error, []string{"creation rule 2", "encrypted_regex and unencrypted_suffix", "refuses more than one"}},
		want{configFile, 5, Error, []string{"not a valid Go (RE2) regular expression", "PLAINTEXT"}},
		want{configFile, 7, Error, []string{"age entry 1 is not an age public key"}},
		want{configFile, 8, Warning, []string{`"encrypted_regx"`, "ignores"}},
		want{configFile, 9, Error, []string{"lookahead in unencrypted_regex", "leaves nothing unencrypted"}},
		want{configFile, 11, Error, []string{"creation rule 3", "not an age public key"}},
	)
	if out := dump(res); strings.Contains(out, "CNRYLINTKEY") || strings.Contains(out, "age1notakey") || strings.Contains(out, "AAAAC3Nza") {
		t.Errorf("an invalid recipient was quoted (it could be a secret):\n%s", out)
	}
}

func TestCandidates(t *testing.T) {
	t.Parallel()
	fsys := repo(t, "good", map[string]string{
		staging:                        "good.enc.yaml",
		"secrets/prod/galaxy.enc.yaml": "raw:plain: CNRYLINTcand00000001\n",
		"app/config.yaml":              "raw:not: a candidate\n",
		".git/secrets/x.yaml":          "raw:x: y\n",
	})
	// Only the given candidate files; others are skipped silently.
	res := lintRepo(t, fsys, staging, "app/config.yaml", "./README.md-missing")
	expect(t, res, want{"README.md-missing", 1, Error, []string{"does not exist"}})
	if len(res.Files) != 2 {
		t.Errorf("checked %+v; want .sops.yaml and %s", res.Files, staging)
	}
	// .sops.yaml among the paths checks every file.
	res = lintRepo(t, fsys, configFile)
	expect(t, res, want{"secrets/prod/galaxy.enc.yaml", 1, Error, []string{"not sops-encrypted"}})
	expect(t, lintRepo(t, fsys, "secrets/staging"))
	expect(t, lintRepo(t, fsys, "../x"), want{"../x", 1, Error, []string{"not a path inside the repository"}})
}

// TestNoValueInFindings plants canaries in every value of every linted file
// (plaintext ones included) and searches every finding for them.
func TestNoValueInFindings(t *testing.T) {
	t.Parallel()
	canaryRE := regexp.MustCompile(`CNRYLINT[0-9a-z]{12,16}`)
	plainYAML := "# TEST-ONLY\nCNRYkey_is_a_name: CNRYLINTvalue0000001\nlist:\n  - CNRYLINTvalue0000002\nmulti: |\n  CNRYLINTvalue0000003\n  CNRYLINTvalue0000004\n"
	cases := []fstest.MapFS{
		repo(t, "seed", map[string]string{staging: "seedbug.enc.yaml"}),
		repo(t, "good", map[string]string{staging: "oneplain.enc.yaml", "secrets/prod/galaxy.enc.yaml": "seedbug.enc.yaml"}),
		repo(t, "good", map[string]string{"secrets/x/a.yaml": "raw:" + plainYAML, "secrets/x/b.env": "raw:A=CNRYLINTvalue0000005\nB=CNRYLINTvalue0000006",
			"secrets/x/c.json": `raw:{"a": "CNRYLINTvalue0000007", "b": [1, "CNRYLINTvalue0000008"]}`, "secrets/x/d.yaml": "raw:a: [CNRYLINTvalue0000009\n\tb: }",
			"secrets/x/e.env": "raw:CNRYLINTvalue0000010 no equals sign", "secrets/x/f.json": `raw:{"a": "CNRYLINTvalue0000011"`,
			"secrets/x/g.yaml": "raw:a: CNRYLINTvalue0000012\na: CNRYLINTvalue0000013\nsops: {}\n"}),
	}
	for i, fsys := range cases {
		var planted []string
		for _, f := range fsys {
			planted = append(planted, canaryRE.FindAllString(string(f.Data), -1)...)
		}
		if len(planted) == 0 {
			t.Fatalf("case %d: no canary planted", i)
		}
		res := lintRepo(t, fsys)
		if res.Errors() == 0 {
			t.Errorf("case %d: no error:\n%s", i, dump(res))
		}
		out := dump(res) + fmt.Sprintf("%+v", res.Files)
		for _, c := range planted {
			if strings.Contains(out, c) {
				t.Errorf("case %d: value %s appears in the findings:\n%s", i, c, out)
			}
		}
	}
}

func TestParseMaxAge(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"": DefaultMaxAge, "90d": DefaultMaxAge, "12w": 84 * 24 * time.Hour, "2160h": DefaultMaxAge, "0": 0, " 7d ": 7 * 24 * time.Hour} {
		if got, err := ParseMaxAge(in); err != nil || got != want {
			t.Errorf("ParseMaxAge(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"d", "-1d", "0d", "90", "90days", "99999d", "1.5d", "-5h"} {
		if _, err := ParseMaxAge(in); err == nil {
			t.Errorf("ParseMaxAge(%q) succeeded", in)
		}
	}
	if got, want := FormatMaxAge(DefaultMaxAge), "90d"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestOtherStoresLines checks the lines of findings in sops JSON and dotenv
// files (one value replaced by plaintext, as by hand).
func TestOtherStoresLines(t *testing.T) {
	t.Parallel()
	jsonData := regexp.MustCompile(`"token": "ENC\[[^"]*"`).ReplaceAllString(string(fixture(t, "files/good.enc.json")), `"token": "CNRYLINTjsonline0001"`)
	envData := regexp.MustCompile(`(?m)^DOCS_API_TOKEN=ENC\[.*$`).ReplaceAllString(string(fixture(t, "files/good.enc.env")), "DOCS_API_TOKEN=CNRYLINTenvline00001")
	res := lintRepo(t, repo(t, "good", map[string]string{
		"secrets/staging/a.enc.json": "raw:" + jsonData,
		"secrets/staging/a.enc.env":  "raw:" + envData,
	}))
	expect(t, res,
		want{"secrets/staging/a.enc.env", 2, Error, []string{`"DOCS_API_TOKEN"`}},
		want{"secrets/staging/a.enc.json", 4, Error, []string{`"nested.token"`}},
	)
	if strings.Contains(dump(res), "CNRYLINT") {
		t.Errorf("a value was printed:\n%s", dump(res))
	}
}

// TestPlaintextByOlderRules: values a file's own rules leave in plaintext
// but its creation rule would encrypt are a warning. The files come from
// ../../testdata (made by sops with --unencrypted-suffix _unencrypted and
// --unencrypted-regex ^public_).
func TestPlaintextByOlderRules(t *testing.T) {
	t.Parallel()
	root := func(rel string) string {
		b, err := os.ReadFile(filepath.Join("..", "..", "testdata", rel))
		if err != nil {
			t.Fatal(err)
		}
		return "raw:" + string(b)
	}
	res := lintRepo(t, repo(t, "good", map[string]string{
		"secrets/staging/suffix.enc.yaml": root("unencsuffix/galaxy.enc.yaml"),
		"secrets/staging/regex.enc.yaml":  root("unencregex/galaxy.enc.yaml"),
	}))
	expect(t, res,
		want{"secrets/staging/regex.enc.yaml", 2, Warning, []string{"1 value(s) are left in plaintext by the file's own sops rules", "creation rule 1", `"public_url"`, "re-encrypt"}},
		want{"secrets/staging/suffix.enc.yaml", 3, Warning, []string{`"region_unencrypted"`}},
	)
	// A rule with no encryption choice is sops' default, the _unencrypted suffix.
	r := recipients(t)
	cfg := "creation_rules:\n  - path_regex: ^secrets/\n    age: " + r["a"] + "\n"
	fsys := fstest.MapFS{configFile: {Data: []byte(cfg)}, "secrets/s.enc.yaml": {Data: []byte(strings.TrimPrefix(root("unencsuffix/galaxy.enc.yaml"), "raw:"))}}
	expect(t, lintRepo(t, fsys))
}
