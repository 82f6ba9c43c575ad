package main

// End-to-end tests of `sops-deploy-action lint`: the real binary (this test
// binary re-run as main) on repositories laid out in temporary directories
// from internal/lint/testdata (TEST-ONLY fixtures made by the sops CLI).

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// lintCase is a repository and what lint must say about it.
type lintCase struct {
	name   string
	config string            // internal/lint/testdata/configs/<config>.sops.yaml, or ""
	files  map[string]string // path → internal/lint/testdata/files/<name>, or "raw:<content>"
	maxAge string            // "" means 0 (off), so that results do not depend on the day
	code   int
	want   []lintWant
}

type lintWant struct {
	file  string
	line  int
	sev   string // error, warning
	words []string
}

const stagingFile = "secrets/staging/galaxy.enc.yaml"

var lintCases = []lintCase{
	{name: "good", config: "good", files: map[string]string{stagingFile: "good.enc.yaml", "secrets/staging/galaxy.enc.env": "good.enc.env"}},
	{name: "seed lookahead", config: "seed", files: map[string]string{stagingFile: "seedbug.enc.yaml"}, code: 1, want: []lintWant{
		{".sops.yaml", 4, "error", []string{"lookahead", "^(?!sops_).*", "unencrypted_regex: ^sops_"}},
		{stagingFile, 2, "error", []string{"4 value(s) are in plaintext", "database_url", "git history", "rotate"}},
	}},
	{name: "one plaintext value", config: "good", files: map[string]string{stagingFile: "oneplain.enc.yaml"}, code: 1, want: []lintWant{
		{stagingFile, 4, "error", []string{"1 value(s) are in plaintext", "docs_api_token", "git history"}},
	}},
	{name: "old recipient only", config: "dropold", files: map[string]string{stagingFile: "good.enc.yaml"}, code: 1, want: []lintWant{
		{stagingFile, 7, "error", []string{"not encrypted to age recipient", "sops updatekeys"}},
		{stagingFile, 16, "error", []string{"still encrypted to age recipient", "sops rotate", "if the old key leaked"}},
	}},
	{name: "missing new recipient", config: "addnew", files: map[string]string{stagingFile: "good.enc.yaml"}, code: 1, want: []lintWant{
		{stagingFile, 7, "error", []string{"not encrypted to age recipient", "creation rule 1", "sops updatekeys"}},
	}},
	{name: "old lastmodified", config: "good", files: map[string]string{stagingFile: "old.enc.yaml"}, maxAge: "90d", want: []lintWant{
		{stagingFile, 17, "warning", []string{"2025-01-02", "max_age 90d"}},
	}},
	{name: "plain yaml under secrets", config: "good", files: map[string]string{"secrets/staging/galaxy.yaml": "raw:# TEST-ONLY\ndatabase_url: CNRYLINTe2eplain00001\n"}, code: 1, want: []lintWant{
		{"secrets/staging/galaxy.yaml", 1, "error", []string{"not sops-encrypted", "git history", "must be rotated"}},
	}},
	{name: "no rule matches", config: "good", files: map[string]string{"secrets/dev/galaxy.enc.yaml": "good.enc.yaml"}, code: 1, want: []lintWant{
		{"secrets/dev/galaxy.enc.yaml", 6, "error", []string{"no creation rule", "path_regex"}},
	}},
	{name: "config does not parse", config: "broken", files: map[string]string{stagingFile: "good.enc.yaml"}, code: 1, want: []lintWant{
		{".sops.yaml", 3, "error", []string{"not valid YAML", "sops cannot read its creation rules"}},
	}},
}

func lintFixture(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("internal", "lint", "testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// layOut writes the case's repository into dir.
func (c lintCase) layOut(t *testing.T, dir string) {
	t.Helper()
	put := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if c.config != "" {
		put(".sops.yaml", lintFixture(t, "configs/"+c.config+".sops.yaml"))
	}
	for p, src := range c.files {
		if raw, ok := strings.CutPrefix(src, "raw:"); ok {
			put(p, []byte(raw))
		} else {
			put(p, lintFixture(t, "files/"+src))
		}
	}
}

// canaries returns the canary tokens in the case's files: values that must
// never be printed.
func (c lintCase) canaries(t *testing.T) []string {
	t.Helper()
	re := regexp.MustCompile(`CNRYLINT[0-9a-z]{12,16}`)
	var out []string
	for _, src := range c.files {
		data := []byte(strings.TrimPrefix(src, "raw:"))
		if !strings.HasPrefix(src, "raw:") {
			data = lintFixture(t, "files/"+src)
		}
		out = append(out, re.FindAllString(string(data), -1)...)
	}
	return out
}

func runLintCLI(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], append([]string{"lint"}, args...)...)
	cmd.Dir = dir
	cmd.Env = []string{asActionEnv + "=1", "PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatal(err)
	}
	return code, out.String(), errOut.String()
}

func TestLintCLI(t *testing.T) {
	t.Parallel()
	for _, c := range lintCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			c.layOut(t, dir)
			maxAge := c.maxAge
			if maxAge == "" {
				maxAge = "0"
			}
			code, stdout, stderr := runLintCLI(t, dir, "-max-age", maxAge)
			if code != c.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			// Each finding is one line, then its fix on an indented line.
			var lines []string
			for _, l := range strings.Split(stdout, "\n") {
				switch {
				case strings.HasPrefix(l, "\tfix: ") && len(lines) > 0:
					lines[len(lines)-1] += "\n" + l
				case l != "":
					lines = append(lines, l)
				}
			}
			if len(lines) != len(c.want) {
				t.Fatalf("got %d findings, want %d:\n%s", len(lines), len(c.want), stdout)
			}
			for i, w := range c.want {
				prefix := w.file + ":" + itoa(w.line) + ": " + w.sev + ": "
				if !strings.HasPrefix(lines[i], prefix) {
					t.Errorf("line %d is %q; want it to start with %q", i, lines[i], prefix)
				}
				for _, word := range w.words {
					if !strings.Contains(lines[i], word) {
						t.Errorf("line %d lacks %q: %s", i, word, lines[i])
					}
				}
			}
			for _, v := range c.canaries(t) {
				if strings.Contains(stdout+stderr, v) {
					t.Errorf("the value %s was printed:\n%s%s", v, stdout, stderr)
				}
			}
		})
	}
}

// TestLintCLIPaths checks what the paths a pre-commit hook passes select.
func TestLintCLIPaths(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	lintCase{config: "good", files: map[string]string{stagingFile: "good.enc.yaml", "secrets/prod/galaxy.enc.yaml": "oneplain.enc.yaml", "README.md": "raw:hello"}}.layOut(t, dir)
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{stagingFile, "README.md"}, 0},        // a good file and a non-candidate
		{[]string{filepath.Join(dir, stagingFile)}, 0}, // an absolute path inside the repository
		{[]string{"secrets/prod/galaxy.enc.yaml"}, 1},  // the bad one
		{[]string{".sops.yaml"}, 1},                    // the config: every file
		{nil, 1},                                       // no path: every file
		{[]string{"../elsewhere"}, 1},                  // outside
		{[]string{"-max-age", "soon", stagingFile}, 1}, // a bad flag
	} {
		code, stdout, stderr := runLintCLI(t, dir, append([]string{"-max-age", "0"}, tc.args...)...)
		if code != tc.code {
			t.Errorf("lint %v: exit code %d, want %d\n%s%s", tc.args, code, tc.code, stdout, stderr)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestLintAction runs operation lint as the runner would, on each case:
// one annotation per finding on its file and line, the exit code, a summary
// row per file, and no value anywhere.
func TestLintAction(t *testing.T) {
	t.Parallel()
	for _, c := range lintCases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := newRunner(t)
			c.layOut(t, r.workspace)
			r.inputs["operation"] = "lint"
			r.inputs["max_age"] = c.maxAge
			if c.maxAge == "" {
				r.inputs["max_age"] = "0"
			}
			res := r.run()
			if res.code != c.code {
				t.Errorf("exit code %d, want %d\n%s%s", res.code, c.code, res.stdout, res.stderr)
			}
			var annotations []string
			for _, l := range strings.Split(res.stdout, "\n") {
				if strings.HasPrefix(l, "::error ") || strings.HasPrefix(l, "::warning ") || strings.HasPrefix(l, "::notice ") {
					annotations = append(annotations, l)
				}
			}
			if len(annotations) != len(c.want) {
				t.Fatalf("got %d annotations, want %d:\n%s", len(annotations), len(c.want), res.stdout)
			}
			for i, w := range c.want {
				prefix := "::" + w.sev + " file=" + w.file + ",line=" + itoa(w.line) + ",title="
				if !strings.HasPrefix(annotations[i], prefix) {
					t.Errorf("annotation %d is %q; want it to start with %q", i, annotations[i], prefix)
				}
				for _, word := range w.words {
					if !strings.Contains(annotations[i], word) {
						t.Errorf("annotation %d lacks %q: %s", i, word, annotations[i])
					}
				}
				if !strings.Contains(res.summary, "| `"+w.file+"` |") {
					t.Errorf("summary has no row for %s:\n%s", w.file, res.summary)
				}
			}
			for _, v := range c.canaries(t) {
				if strings.Contains(res.all(), v) {
					t.Errorf("the value %s was printed:\n%s", v, res.all())
				}
			}
		})
	}
}
