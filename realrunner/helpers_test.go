package realrunner

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/productgalaxy/sops-deploy-action/internal/canary"
	"github.com/productgalaxy/sops-deploy-action/internal/dockertest"
	"github.com/productgalaxy/sops-deploy-action/internal/sopstest"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

// runbookKeys are the keys the runbook's galaxy.yaml holds; the example
// workflows require them.
var runbookKeys = []string{
	"database_url", "mcp_db_url", "better_auth_secret", "oauth_signing_key", "docs_api_token",
	"b2_key_id", "b2_application_key", "pgbackrest_cipher_pass", "smoke_principal_jwt",
}

// DefaultRemotePath is action.yml's default remote_path.
const defaultRemotePath = "/etc/galaxy/secrets/galaxy.yaml"

func repoFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dockertest.RepoRoot(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// recipientA is the public recipient of the test-only key a.
func recipientA(t testing.TB) string {
	t.Helper()
	for _, l := range strings.Split(string(repoFile(t, "testdata/keys/recipients.txt")), "\n") {
		if r, ok := strings.CutPrefix(l, "a "); ok {
			return strings.TrimSpace(r)
		}
	}
	t.Fatal("testdata/keys/recipients.txt has no recipient a")
	return ""
}

// secrets is an encrypted file and what the host must hold after it is
// deployed.
type secrets struct {
	canary.Set
	Enc, Plain []byte
}

// secretsFile makes a fresh canary document with the runbook's keys and
// encrypts it with the real sops CLI to the test key a.
func secretsFile(t testing.TB) secrets {
	t.Helper()
	set := canary.New(runbookKeys...)
	enc := sopstest.Encrypt(t, set.YAML, recipientA(t))
	key := filepath.Join(dockertest.RepoRoot(t), "testdata", "keys", "a.agekey")
	return secrets{Set: set, Enc: enc, Plain: sopstest.Decrypt(t, enc, key)}
}

// host is a real sshd whose SFTP sessions are chrooted to Root, so the
// default remote_path lands in Root/etc/galaxy/secrets.
type host struct {
	*sshtest.SSHD
	Root string
	User string
}

// File is path on the host, as seen from the test.
func (h *host) File(path string) string { return filepath.Join(h.Root, path) }

// chrootHost starts sshd chrooted to a fresh root that holds
// /etc/galaxy/secrets, owned by login (0700), as the README's setup makes
// it. login must be a local user; CI creates "deploy".
func chrootHost(t testing.TB, login string) *host {
	t.Helper()
	u, err := user.Lookup(login)
	if err != nil {
		t.Fatalf("local user %q: %v (.ci/run creates it: useradd --create-home %s)", login, err, login)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	root := sshtest.ChrootDir(t)
	secretsDir := filepath.Join(root, "etc", "galaxy", "secrets")
	if err := os.MkdirAll(secretsDir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(secretsDir, uid, gid); err != nil {
		t.Fatal(err)
	}
	os.Chmod(secretsDir, 0o700)
	s := sshtest.Start(t, sshtest.WithChroot(root))
	return &host{SSHD: s, Root: root, User: login}
}

// actionInputs returns action.yml's inputs with their defaults.
func actionInputs(t testing.TB) map[string]string {
	t.Helper()
	var meta struct {
		Inputs map[string]struct {
			Default string `yaml:"default"`
		} `yaml:"inputs"`
	}
	if err := yaml.Unmarshal(repoFile(t, "action.yml"), &meta); err != nil {
		t.Fatalf("failed to parse action.yml: %v", err)
	}
	in := map[string]string{}
	for name, i := range meta.Inputs {
		in[name] = i.Default
	}
	return in
}

// mustDir makes the directories under root and returns their paths.
func mustDirs(t testing.TB, root string, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		p := filepath.Join(root, n)
		if err := os.MkdirAll(p, 0o755); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

func writeFile(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
}

// lookTool finds a Go tool installed with go install, failing under CI
// and skipping elsewhere when it is missing.
func lookTool(t testing.TB, name, install string) string {
	t.Helper()
	return testenv.MustHaveCommand(t, name, "go install "+install)
}

// assertInstalled checks that the host holds want at path with mode 0600.
func assertInstalled(t testing.TB, h *host, want []byte) {
	t.Helper()
	p := h.File(defaultRemotePath)
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatalf("the host has no installed file: %v", err)
	}
	if string(got) != string(want) {
		t.Errorf("the installed file differs from the plaintext (%d bytes, want %d)", len(got), len(want))
	}
	if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
		t.Errorf("installed mode %04o, want 0600", fi.Mode().Perm())
	}
}

func readFile(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
