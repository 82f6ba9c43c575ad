// Package sopstest encrypts test documents with the real sops CLI, run
// hermetically: no .sops.yaml, no key material from the environment or
// HOME.
//
// The package is meant to be imported from _test.go files only.
package sopstest

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

// CLI returns the sops CLI, failing the test under CI and skipping it
// elsewhere when sops is not installed.
func CLI(t testing.TB) string {
	t.Helper()
	return testenv.MustHaveCommand(t, "sops", "go install github.com/getsops/sops/v3/cmd/sops@v3.13.3")
}

// Encrypt encrypts plain YAML to the age recipients (comma-separated) and
// returns the sops file.
func Encrypt(t testing.TB, plain []byte, recipients string, extra ...string) []byte {
	t.Helper()
	sops := CLI(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "galaxy.yaml")
	if err := os.WriteFile(src, plain, 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--config", "/dev/null", "encrypt", "--age", recipients,
		"--input-type", "yaml", "--output-type", "yaml", "--filename-override", "galaxy.enc.yaml"}, extra...)
	cmd := exec.Command(sops, append(args, src)...)
	cmd.Env = []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "PATH=" + os.Getenv("PATH")}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sops encrypt: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}

// Decrypt returns what `sops decrypt` prints for the sops file enc with
// the age identity file keyFile: the bytes the action must install.
func Decrypt(t testing.TB, enc []byte, keyFile string) []byte {
	t.Helper()
	sops := CLI(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "galaxy.enc.yaml")
	if err := os.WriteFile(src, enc, 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sops, "--config", "/dev/null", "decrypt", src)
	cmd.Env = []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "PATH=" + os.Getenv("PATH"), "SOPS_AGE_KEY_FILE=" + keyFile}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sops decrypt: %v\n%s", err, stderr.String())
	}
	return stdout.Bytes()
}
