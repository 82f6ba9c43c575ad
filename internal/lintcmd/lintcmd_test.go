package lintcmd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/lint"
)

func TestPrint(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	print(&b, &lint.Result{Findings: []lint.Finding{
		{File: "secrets/a.yaml", Line: 3, Severity: lint.Error, Message: "bad", Hint: "fix it"},
		{File: "x\n::error::forged", Line: 1, Severity: lint.Warning, Message: "odd name"},
	}})
	want := "secrets/a.yaml:3: error: bad\n\tfix: fix it\n\"x\\n::error::forged\":1: warning: odd name\n"
	if got := b.String(); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestRunExitsOnErrorsOnly(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "secrets"), 0o755); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if err := Run(dir, nil, &out, &errOut); err != nil {
		t.Fatalf("empty repository: %v\n%s%s", err, out.String(), errOut.String())
	}
	if err := os.WriteFile(filepath.Join(dir, "secrets", "a.env"), []byte("A=CNRYLINTcmd0000001\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	err := Run(dir, []string{"secrets"}, &out, &errOut)
	var fe *findingsError
	if !errors.As(err, &fe) || fe.Errors != 1 {
		t.Fatalf("got %v, want a findingsError with 1 error\n%s%s", err, out.String(), errOut.String())
	}
	if bytes.Contains(out.Bytes(), []byte("CNRYLINT")) || bytes.Contains(errOut.Bytes(), []byte("CNRYLINT")) {
		t.Errorf("a value was printed:\n%s%s", out.String(), errOut.String())
	}
	var ue *usageError
	if err := Run(dir, []string{"-max-age", "x"}, &out, &errOut); !errors.As(err, &ue) {
		t.Errorf("bad -max-age: got %v, want a UsageError", err)
	}
	if err := Run(dir, []string{"../x"}, &out, &errOut); !errors.As(err, &ue) {
		t.Errorf("path outside: got %v, want a UsageError", err)
	}
}
