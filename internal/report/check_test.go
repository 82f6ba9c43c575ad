package report

import (
	"strings"
	"testing"
	"time"
)

func TestLintMarkdown(t *testing.T) {
	t.Parallel()
	md := LintMarkdown(Lint{
		Files: []LintFile{
			{Path: ".sops.yaml", Errors: 1},
			{Path: "secrets/a|b`c.yaml", Format: "yaml", Rule: 2, Recipients: 1, LastModified: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC), Keys: 4, Encrypted: 3, Warnings: 1},
		},
		Findings: []LintFinding{{File: ".sops.yaml", Line: 4, Severity: "error", Message: "encrypted_regex \"^(?!sops_).*\" | uses a lookahead\nsecond"}},
	})
	for _, want := range []string{
		"### ❌ sops-deploy lint: 1 error(s), 1 warning(s) in 2 file(s)\n",
		"| `.sops.yaml` | ❌ errors | 1 | 0 |  |  |  |  |\n",
		"| ``secrets/a\\|b`c.yaml`` | ⚠️ warnings | 0 | 1 | 2 | 1 | 4 (3) | 2025-01-02 |\n",
		"| `.sops.yaml:4` | error | `encrypted_regex \"^(?!sops_).*\" \\| uses a lookahead second` |\n",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
	if got := LintMarkdown(Lint{Error: "input max_age: bad"}); !strings.Contains(got, "not run") || strings.Contains(got, "| File |") {
		t.Errorf("error summary:\n%s", got)
	}
}

func TestVerifyMarkdown(t *testing.T) {
	t.Parallel()
	md := VerifyMarkdown(Verify{Env: "staging", File: "secrets/staging/galaxy.enc.yaml", Keys: []string{"a", "b"}, CompareFile: "base/x.yaml",
		Compared: true, Added: []string{"b"}, Removed: []string{"old"}, Changed: []string{"a"}})
	for _, want := range []string{"decrypts with the `staging` key", "| Compared with | `base/x.yaml` |", "**Key names added** (1): `b`", "**Key names removed** (1): `old`", "**Keys whose value changed** (1): `a`"} {
		if !strings.Contains(md, want) {
			t.Errorf("missing %q in:\n%s", want, md)
		}
	}
	if md := VerifyMarkdown(Verify{File: "f", CompareFile: "base/x.yaml", CompareNote: "not compared: x"}); strings.Contains(md, "Key names added") || !strings.Contains(md, "not compared: x") {
		t.Errorf("no comparison:\n%s", md)
	}
}
