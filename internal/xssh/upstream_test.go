package ssh

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/forktest"
)

// importRewrites undo the fork's import rewrites.
var importRewrites = []forktest.Rewrite{
	{Fork: `"github.com/productgalaxy/sops-deploy-action/internal/xssh/internal/bcrypt_pbkdf"`, Upstream: `"golang.org/x/crypto/ssh/internal/bcrypt_pbkdf"`},
	{Fork: `ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"`, Upstream: `"golang.org/x/crypto/ssh"`},
	{Fork: `"golang.org/x/crypto/poly1305"`, Upstream: `"golang.org/x/crypto/internal/poly1305"`},
}

// forkedDirs are the directories copied from upstream's ssh package.
var forkedDirs = []string{".", "knownhosts", "internal/bcrypt_pbkdf"}

// patched is the one file that differs from upstream beyond imports,
// and only between "// xssh: begin patch" and "// xssh: end patch".
const patched = "client_auth.go"

// replacedUpstream is forktest's ReplacedDigest of client_auth.go at the
// version the fork was made from (v0.59.0).
const replacedUpstream = "ac4b7cdf49ad40d81c1c8e89e2fba10deb28f8c1699bc57d0d37db87c2ab653c"

func goFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		if n := e.Name(); !e.IsDir() && strings.HasSuffix(n, ".go") && !strings.HasSuffix(n, "_test.go") {
			names = append(names, n)
		}
	}
	return names
}

// TestForkEqualsUpstream holds the fork to the module cache's
// golang.org/x/crypto: the same files, equal after the import rewrites,
// and client_auth.go equal outside its patches.
func TestForkEqualsUpstream(t *testing.T) {
	up := forktest.ModuleDir(t, "golang.org/x/crypto", "ssh/client_auth.go")
	forktest.SameLicense(t, up)
	markers := forktest.NewMarkers("xssh")
	for _, d := range forkedDirs {
		upDir := filepath.Join(up, "ssh", d)
		want, got := goFiles(t, upDir), goFiles(t, d)
		if !slices.Equal(want, got) {
			t.Errorf("%s: files %v, upstream has %v", d, got, want)
		}
		for _, name := range want {
			upSrc, err := os.ReadFile(filepath.Join(upDir, name))
			if err != nil {
				t.Fatal(err)
			}
			src, err := os.ReadFile(filepath.Join(d, name))
			if err != nil {
				t.Error(err)
				continue
			}
			path, digest := filepath.Join(d, name), ""
			if path == patched {
				// An upgrade that changes what the patches replace (an auth
				// fix upstream) must be looked at: the patch may need it.
				digest = replacedUpstream
			}
			markers.Check(t, path, forktest.Undo(src, importRewrites), upSrc, digest)
		}
	}
}
