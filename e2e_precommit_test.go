package main

// The pre-commit hook (.pre-commit-hooks.yaml) with the real pre-commit
// (Debian's package) on scratch git repositories: pre-commit builds the
// hook from a snapshot of this module with the system Go, offline (the Go
// module and build caches of this machine), and `git commit` runs it.

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

// hookEnv is the environment of git and pre-commit: a fresh HOME and
// pre-commit cache, this machine's Go caches, and no network for Go.
func hookEnv(t *testing.T, home string) []string {
	t.Helper()
	goEnv := func(name string) string {
		out, err := exec.Command("go", "env", name).Output()
		if err != nil {
			t.Fatalf("go env %s: %v", name, err)
		}
		return strings.TrimSpace(string(out))
	}
	return []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + home,
		"PRE_COMMIT_HOME=" + filepath.Join(home, "pre-commit"),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=test", "GIT_AUTHOR_EMAIL=test@example.invalid",
		"GIT_COMMITTER_NAME=test", "GIT_COMMITTER_EMAIL=test@example.invalid",
		"GOMODCACHE=" + goEnv("GOMODCACHE"),
		"GOCACHE=" + goEnv("GOCACHE"),
		"GOPROXY=off", "GOSUMDB=off", "GOTOOLCHAIN=local",
		// pre-commit builds the hook from a fresh clone: -trimpath keys the
		// build cache by content, not by the clone's path, so a rerun
		// compiles nothing (only the links remain).
		"GOFLAGS=-trimpath",
	}
}

func runIn(t *testing.T, dir string, env []string, name string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir, cmd.Env = dir, env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

func mustRun(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	out, err := runIn(t, dir, env, name, args...)
	if err != nil {
		t.Fatalf("%s %v in %s: %v\n%s", name, args, dir, err, out)
	}
	return out
}

// snapshotModule commits this working tree (tracked and new files, not
// ignored ones) to a fresh repository, so that the hook under test is the
// one being edited, and returns its path and commit.
func snapshotModule(t *testing.T, env []string) (dir, rev string) {
	t.Helper()
	dir = t.TempDir()
	list := mustRun(t, ".", env, "git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	for _, rel := range strings.Split(strings.TrimRight(list, "\x00"), "\x00") {
		data, err := os.ReadFile(rel)
		if os.IsNotExist(err) {
			continue // deleted in the working tree
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustRun(t, dir, env, "git", "init", "-q")
	mustRun(t, dir, env, "git", "add", "-A")
	mustRun(t, dir, env, "git", "commit", "-q", "-m", "snapshot")
	return dir, strings.TrimSpace(mustRun(t, dir, env, "git", "rev-parse", "HEAD"))
}

func TestPreCommitHook(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"pre-commit", "git", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			testenv.Missing(t, tool+" is not installed (Debian: apt-get install pre-commit git)")
		}
	}
	home := t.TempDir()
	env := hookEnv(t, home)
	module, rev := snapshotModule(t, env)
	config := "repos:\n  - repo: " + module + "\n    rev: " + rev + "\n    hooks:\n      - id: sops-lint\n"

	for _, c := range []struct {
		name    string
		repo    lintCase
		refused bool
		words   []string
	}{
		// The first case builds the hook (about 4 s with warm caches).
		{"good repository", lintCase{config: "good", files: map[string]string{stagingFile: "good.enc.yaml", "README.md": "raw:hello\n"}}, false, []string{"sops-deploy lint", "Passed"}},
		{"seed's plaintext file", lintCase{config: "good", files: map[string]string{stagingFile: "seedbug.enc.yaml"}}, true,
			[]string{stagingFile + ":2: error: 4 value(s) are in plaintext", "git history"}},
		{"lookahead in .sops.yaml", lintCase{config: "seed"}, true,
			[]string{".sops.yaml:4: error: creation rule 1 of .sops.yaml: encrypted_regex \"^(?!sops_).*\" uses a lookahead", "unencrypted_regex: ^sops_"}},
		{"plain YAML under secrets/", lintCase{config: "good", files: map[string]string{"secrets/staging/galaxy.yaml": "raw:# TEST-ONLY\ndatabase_url: CNRYLINTprecommit0001\n"}}, true,
			[]string{"secrets/staging/galaxy.yaml:1: error: not sops-encrypted"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			// The first case builds the hook; the others reuse it, at once.
			if c.name != "good repository" {
				t.Parallel()
			}
			dir := t.TempDir()
			c.repo.layOut(t, dir)
			if err := os.WriteFile(filepath.Join(dir, ".pre-commit-config.yaml"), []byte(config), 0o644); err != nil {
				t.Fatal(err)
			}
			mustRun(t, dir, env, "git", "init", "-q")
			mustRun(t, dir, env, "pre-commit", "install")
			mustRun(t, dir, env, "git", "add", "-A")
			out, err := runIn(t, dir, env, "git", "commit", "-m", "add secrets")
			_, headErr := runIn(t, dir, env, "git", "rev-parse", "--verify", "-q", "HEAD")
			switch {
			case c.refused && (err == nil || headErr == nil):
				t.Errorf("git commit was not refused:\n%s", out)
			case !c.refused && (err != nil || headErr != nil):
				t.Errorf("git commit failed: %v\n%s", err, out)
			}
			if m, _ := filepath.Glob(filepath.Join(home, "pre-commit", "repo*", "golangenv-system", "bin", "sops-deploy-action")); len(m) != 1 {
				t.Errorf("the hook was not built with the system Go (language_version: system): found %v", m)
			}
			for _, w := range c.words {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, v := range c.repo.canaries(t) {
				if strings.Contains(out, v) {
					t.Errorf("the value %s was printed:\n%s", v, out)
				}
			}
		})
	}
}
