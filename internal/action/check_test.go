package action

import (
	"bytes"
	"context"
	"errors"
	"go.yaml.in/yaml/v3"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/sethvargo/go-githubactions"
)

// checkRun runs the action with inputs in a fake runner over an in-memory
// workspace; files maps a workspace path to a file under the repository
// root (TEST-ONLY fixtures).
func checkRun(t *testing.T, in map[string]string, files map[string]string) (stdout, summary string, err error) {
	t.Helper()
	ws := fstest.MapFS{}
	for p, src := range files {
		b, rerr := os.ReadFile(filepath.Join("..", "..", src))
		if rerr != nil {
			t.Fatal(rerr)
		}
		ws[p] = &fstest.MapFile{Data: b}
	}
	sumFile := filepath.Join(t.TempDir(), "summary")
	if err := os.WriteFile(sumFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	getenv := func(k string) string {
		if k == "GITHUB_STEP_SUMMARY" {
			return sumFile
		}
		if name, ok := strings.CutPrefix(k, "INPUT_"); ok {
			return in[strings.ToLower(name)]
		}
		return ""
	}
	var buf bytes.Buffer
	gha := githubactions.New(githubactions.WithWriter(&buf), githubactions.WithGetenv(getenv))
	err = Run(context.Background(), gha, Options{Workspace: ws})
	b, rerr := os.ReadFile(sumFile)
	if rerr != nil {
		t.Fatal(rerr)
	}
	return buf.String(), string(b), err
}

const (
	lintTD      = "internal/lint/testdata/"
	stagingPath = "secrets/staging/galaxy.enc.yaml"
)

func TestLintAnnotations(t *testing.T) {
	t.Parallel()
	stdout, summary, err := checkRun(t, map[string]string{"operation": "lint", "max_age": "0"}, map[string]string{
		".sops.yaml": lintTD + "configs/seed.sops.yaml",
		stagingPath:  lintTD + "files/seedbug.enc.yaml",
	})
	var lf *lintFailedError
	if !errors.As(err, &lf) || lf.Errors != 2 {
		t.Fatalf("got %v, want a lintFailedError with 2 errors\n%s", err, stdout)
	}
	// go-githubactions sorts and escapes the properties (':' is %3A, ',' is %2C).
	for _, want := range []string{
		"::error file=.sops.yaml,line=4,title=lookahead in encrypted_regex (the seed runbook's trap)::creation rule 1 of .sops.yaml: encrypted_regex \"^(?!sops_).*\" uses a lookahead",
		"::error file=" + stagingPath + ",line=2,title=values in plaintext (the seed runbook's lookahead trap)::4 value(s) are in plaintext",
		"once committed (as on a pull request) they are in git history and must be rotated; fix: rotate every listed value",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	for _, want := range []string{
		"### ❌ sops-deploy lint: 2 error(s), 0 warning(s) in 2 file(s)",
		"| `.sops.yaml` | ❌ errors | 1 | 0 |",
		"| `" + stagingPath + "` | ❌ errors | 1 | 0 |",
		"| `" + stagingPath + ":2` | error |",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	assertNoCanary(t, stdout+summary, lintTD+"files/seedbug.enc.yaml")
}

func TestLintAnnotationSeverities(t *testing.T) {
	t.Parallel()
	stdout, summary, err := checkRun(t, map[string]string{"operation": "lint"}, map[string]string{
		".sops.yaml": lintTD + "configs/good.sops.yaml",
		stagingPath:  lintTD + "files/old.enc.yaml",
	})
	if err != nil {
		t.Fatalf("a warning failed the run: %v\n%s", err, stdout)
	}
	if want := "::warning file=" + stagingPath + ",line=17,title=old secrets::last changed by sops on 2025-01-02"; !strings.Contains(stdout, want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout)
	}
	if !strings.Contains(summary, "### ✅ sops-deploy lint: 2 file(s) checked, 1 warning(s)") || !strings.Contains(summary, "| ⚠️ warnings | 0 | 1 | 1 | 1 | 4 (3) | 2025-01-02 |") {
		t.Errorf("summary:\n%s", summary)
	}
}

func TestLintBadInput(t *testing.T) {
	t.Parallel()
	stdout, summary, err := checkRun(t, map[string]string{"operation": "lint", "max_age": "soon"}, nil)
	if err == nil || !strings.Contains(stdout, "::error::input max_age: \"soon\" is not a duration") || !strings.Contains(summary, "lint: not run") {
		t.Errorf("got %v\n%s\n%s", err, stdout, summary)
	}
}

func TestVerifyCompare(t *testing.T) {
	t.Parallel()
	key, err := os.ReadFile("../../testdata/keys/a.agekey")
	if err != nil {
		t.Fatal(err)
	}
	stdout, summary, err := checkRun(t, map[string]string{"operation": "verify", "env": "staging", "age_key": string(key),
		"compare_file": "base/" + stagingPath, "required_keys": "plain,db"},
		map[string]string{stagingPath: "testdata/canary/canary.enc.yaml", "base/" + stagingPath: "testdata/nested/galaxy.enc.yaml"})
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, stdout)
	}
	for _, want := range []string{
		"### ✅ sops-deploy verify: `" + stagingPath + "` decrypts with the `staging` key",
		"| Operation | verify (no host contacted) |",
		"**Key names added** (12): `plain`, `multiline`",
		"**Key names removed** (10): `app.db.host`",
		"**Keys whose value changed** (0): \n",
	} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	assertMasksFirst(t, stdout)
	assertNoCanary(t, summary, "testdata/canary/canary.enc.yaml")
}

func TestVerifyChangedKeys(t *testing.T) {
	t.Parallel()
	keys := ""
	for _, k := range []string{"a", "b"} {
		b, err := os.ReadFile("../../testdata/keys/" + k + ".agekey")
		if err != nil {
			t.Fatal(err)
		}
		keys += string(b) + "\n"
	}
	// multi (to a and b) holds 3 of staging's 9 keys, with other values.
	stdout, summary, err := checkRun(t, map[string]string{"operation": "verify", "env": "staging", "age_key": keys, "compare_file": "base.enc.yaml"},
		map[string]string{stagingPath: "testdata/staging/galaxy.enc.yaml", "base.enc.yaml": "testdata/multi/galaxy.enc.yaml"})
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, stdout)
	}
	for _, want := range []string{"**Key names added** (6):", "**Key names removed** (0):", "**Keys whose value changed** (3): `database_url`, `better_auth_secret`, `docs_api_token`"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, summary)
		}
	}
	assertMasksFirst(t, stdout)
}

func TestVerifyFailures(t *testing.T) {
	t.Parallel()
	keyA, _ := os.ReadFile("../../testdata/keys/a.agekey")
	keyC, _ := os.ReadFile("../../testdata/keys/c.agekey")
	for _, tc := range []struct {
		name    string
		in      map[string]string
		files   map[string]string
		wantErr bool
		want    string // in stdout
	}{
		{"wrong key", map[string]string{"age_key": string(keyC)}, map[string]string{stagingPath: "testdata/staging/galaxy.enc.yaml"}, true, "::error::file \"secrets/staging/galaxy.enc.yaml\" the age key matches none of the file's recipients"},
		{"plaintext", map[string]string{"age_key": string(keyA)}, map[string]string{stagingPath: "testdata/seedbug/galaxy.enc.yaml"}, true, "in plaintext"},
		{"missing key", map[string]string{"age_key": string(keyA), "required_keys": "redis_url"}, map[string]string{stagingPath: "testdata/staging/galaxy.enc.yaml"}, true, "lacks 1 required key(s): redis_url"},
		{"old lastmodified breaks the MAC", map[string]string{"age_key": string(keyA)}, map[string]string{stagingPath: lintTD + "files/old.enc.yaml"}, true, "failed its integrity check"},
		{"no age_key", map[string]string{}, nil, true, "::error::input age_key: is required for operation verify"},
		{"compare_file undecryptable", map[string]string{"age_key": string(keyA), "compare_file": "base.yaml"},
			map[string]string{stagingPath: "testdata/staging/galaxy.enc.yaml", "base.yaml": "testdata/seedbug/galaxy.enc.yaml"}, false, "::warning::compare_file \"base.yaml\" is not compared: file \"base.yaml\" 3 value(s) are stored in plaintext"},
		{"compare_file missing", map[string]string{"age_key": string(keyA), "compare_file": "base.yaml"}, map[string]string{stagingPath: "testdata/staging/galaxy.enc.yaml"}, false, "Decrypted"},
	} {
		in := map[string]string{"operation": "verify", "env": "staging"}
		for k, v := range tc.in {
			in[k] = v
		}
		stdout, summary, err := checkRun(t, in, tc.files)
		if (err != nil) != tc.wantErr || !strings.Contains(stdout, tc.want) {
			t.Errorf("%s: got %v, want error %v and %q in:\n%s", tc.name, err, tc.wantErr, tc.want, stdout)
		}
		if tc.wantErr && !strings.Contains(summary, "does not verify") {
			t.Errorf("%s: summary:\n%s", tc.name, summary)
		}
		if tc.name == "compare_file missing" && !strings.Contains(summary, "every key is new") {
			t.Errorf("%s: summary:\n%s", tc.name, summary)
		}
		for _, f := range tc.files {
			if plain := strings.TrimSuffix(f, ".enc.yaml") + ".plain.yaml"; strings.HasPrefix(f, "testdata/") {
				assertNoValues(t, tc.name, stdout+summary, plain)
			} else {
				assertNoCanary(t, stdout+summary, f)
			}
		}
	}
}

// assertNoValues checks that no value of the fixture's golden plaintext
// appears in out outside ::add-mask:: lines.
func assertNoValues(t *testing.T, name, out, plainGolden string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", plainGolden))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, v := range doc {
		if s, ok := v.(string); ok && len(s) >= 8 {
			values = append(values, s)
		}
	}
	if len(values) == 0 {
		t.Fatalf("%s: %s has no values to look for", name, plainGolden)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "::add-mask::") {
			continue
		}
		for _, v := range values {
			if strings.Contains(l, v) {
				t.Errorf("%s: a value of %s was printed: %q", name, plainGolden, l)
			}
		}
	}
}

// assertMasksFirst checks that no line but ::add-mask:: comes before the
// last ::add-mask:: of the decrypted values.
func assertMasksFirst(t *testing.T, stdout string) {
	t.Helper()
	lines := strings.Split(stdout, "\n")
	last := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "::add-mask::") {
			last = i
		}
	}
	if last < 0 {
		t.Fatalf("no value was masked:\n%s", stdout)
	}
	for _, l := range lines[:last] {
		if !strings.HasPrefix(l, "::add-mask::") {
			t.Errorf("%q was printed before every value was masked", l)
		}
	}
}

// assertNoCanary checks that no canary of the fixture appears in out,
// outside ::add-mask:: lines.
func assertNoCanary(t *testing.T, out, fixture string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", fixture))
	if err != nil {
		t.Fatal(err)
	}
	canaries := regexp.MustCompile(`CNRY(LINT)?[0-9a-f]{16}`).FindAllString(string(b), -1)
	if fixture == "testdata/canary/canary.enc.yaml" {
		m, _ := os.ReadFile("../../testdata/canary/markers.txt")
		canaries = regexp.MustCompile(`CNRY[0-9a-f]{16}`).FindAllString(string(m), -1)
	}
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "::add-mask::") {
			continue
		}
		for _, c := range canaries {
			if strings.Contains(l, c) {
				t.Errorf("value %s printed: %q", c, l)
			}
		}
	}
}
