package ssh

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// importRewrites undo the fork's import rewrites.
var importRewrites = []struct{ fork, upstream string }{
	{`"github.com/productgalaxy/sops-deploy-action/internal/xssh/internal/bcrypt_pbkdf"`, `"golang.org/x/crypto/ssh/internal/bcrypt_pbkdf"`},
	{`ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"`, `"golang.org/x/crypto/ssh"`},
	{`"golang.org/x/crypto/poly1305"`, `"golang.org/x/crypto/internal/poly1305"`},
}

// forkedDirs are the directories copied from upstream's ssh package.
var forkedDirs = []string{".", "knownhosts", "internal/bcrypt_pbkdf"}

// patched is the one file that differs from upstream beyond imports,
// and only between patch markers.
const patched = "client_auth.go"

const (
	beginMarker = "// xssh: begin patch"
	endMarker   = "// xssh: end patch"
)

// upstreamDir returns the module cache's golang.org/x/crypto at the go.mod
// version, or skips (fails under CI=true) when it is absent.
func upstreamDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "golang.org/x/crypto").Output()
	dir := strings.TrimSpace(string(out))
	if err == nil && dir != "" {
		if _, statErr := os.Stat(filepath.Join(dir, "ssh", "client_auth.go")); statErr == nil {
			return dir
		}
	}
	msg := "golang.org/x/crypto's source is not in the module cache (go mod download golang.org/x/crypto)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %v", msg, err)
	}
	t.Skip(msg)
	return ""
}

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

func normalise(src []byte) []byte {
	for _, r := range importRewrites {
		src = bytes.ReplaceAll(src, []byte(r.fork), []byte(r.upstream))
	}
	return src
}

// TestForkEqualsUpstream holds the fork to upstream: the same files, equal
// after the import rewrites, and client_auth.go equal outside its patches.
func TestForkEqualsUpstream(t *testing.T) {
	up := upstreamDir(t)
	lic, err := os.ReadFile(filepath.Join(up, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("LICENSE"); err != nil || !bytes.Equal(got, lic) {
		t.Errorf("LICENSE differs from upstream's (err %v)", err)
	}
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
			src = normalise(src)
			path := filepath.Join(d, name)
			if path == patched {
				if err := equalOutsidePatches(string(src), string(upSrc)); err != "" {
					t.Errorf("%s: %s", path, err)
				}
				// An upgrade that changes what the patches replace (an auth
				// fix upstream) must be looked at: the patch may need it.
				if got := replacedDigest(string(src), string(upSrc)); got != replacedUpstream {
					t.Errorf("%s: the upstream code the patches replace changed (digest %s, was %s): port the change into the patch, then update replacedUpstream", path, got, replacedUpstream)
				}
				continue
			}
			if bytes.Contains(src, []byte(beginMarker)) {
				t.Errorf("%s: has a patch marker; only %s may be patched", path, patched)
			}
			if !bytes.Equal(src, upSrc) {
				t.Errorf("%s differs from upstream beyond the import rewrites", path)
			}
		}
	}
}

// equalOutsidePatches reports, if it is not so, that the text of fork
// outside its patch regions (marker lines included in the regions) is
// upstream's, in order, with only the patched regions replaced: the first
// piece starts upstream, the last ends it, and each is found after the one
// before.
func equalOutsidePatches(fork, upstream string) string {
	pieces, err := outsidePatches(fork)
	if err != "" {
		return err
	}
	if len(pieces) < 2 {
		return "no patch region"
	}
	if !strings.HasPrefix(upstream, pieces[0]) {
		return "differs from upstream before the first patch"
	}
	rest := upstream[len(pieces[0]):]
	for i, p := range pieces[1:] {
		last := i == len(pieces)-2
		if last {
			if !strings.HasSuffix(rest, p) {
				return "differs from upstream after the last patch"
			}
			continue
		}
		j := strings.Index(rest, p)
		if j < 0 {
			return "differs from upstream between patches"
		}
		rest = rest[j+len(p):]
	}
	return ""
}

// replacedUpstream is replacedDigest of client_auth.go at the version the
// fork was made from (v0.59.0).
const replacedUpstream = "ac4b7cdf49ad40d81c1c8e89e2fba10deb28f8c1699bc57d0d37db87c2ab653c"

// replacedDigest is a SHA-256 of the upstream text that fork's patch
// regions replace (fork must pass equalOutsidePatches).
func replacedDigest(fork, upstream string) string {
	pieces, _ := outsidePatches(fork)
	if len(pieces) < 2 || !strings.HasPrefix(upstream, pieces[0]) {
		return ""
	}
	h := sha256.New()
	rest := upstream[len(pieces[0]):]
	for i, p := range pieces[1:] {
		j := strings.Index(rest, p)
		if i == len(pieces)-2 {
			j = len(rest) - len(p)
		}
		if j < 0 {
			return ""
		}
		h.Write([]byte(rest[:j]))
		h.Write([]byte{0})
		rest = rest[j+len(p):]
	}
	return hex.EncodeToString(h.Sum(nil))
}

// outsidePatches splits src at its patch regions.
func outsidePatches(src string) ([]string, string) {
	var pieces []string
	var cur strings.Builder
	in := false
	for _, line := range strings.SplitAfter(src, "\n") {
		switch strings.TrimSpace(line) {
		case beginMarker:
			if in {
				return nil, "nested patch markers"
			}
			in = true
			pieces = append(pieces, cur.String())
			cur.Reset()
			continue
		case endMarker:
			if !in {
				return nil, "an end marker without a begin"
			}
			in = false
			continue
		}
		if !in {
			cur.WriteString(line)
		}
	}
	if in {
		return nil, "an unterminated patch region"
	}
	return append(pieces, cur.String()), ""
}

func TestEqualOutsidePatches(t *testing.T) {
	up := "a\nb\nc\nd\ne\n"
	for _, tc := range []struct {
		fork string
		ok   bool
	}{
		{"a\n// xssh: begin patch\nX\n// xssh: end patch\nc\nd\ne\n", true},
		{"a\n// xssh: begin patch\nX\n// xssh: end patch\nc\n\t// xssh: begin patch\nY\n// xssh: end patch\ne\n", true},
		{"a\n// xssh: begin patch\nX\n// xssh: end patch\nc\nD\ne\n", false},
		{"A\n// xssh: begin patch\nX\n// xssh: end patch\nc\nd\ne\n", false},
		{"a\n// xssh: begin patch\nX\n// xssh: end patch\nc\nd\n", false},
		{"a\n// xssh: begin patch\nX\nc\nd\ne\n", false},
		{"a\nb\nc\nd\ne\n", false},
		{"a\n// xssh: begin patch\nX\n// xssh: end patch\nd\n// xssh: begin patch\n// xssh: end patch\nc\ne\n", false},
	} {
		if got := equalOutsidePatches(tc.fork, up) == ""; got != tc.ok {
			t.Errorf("equalOutsidePatches(%q) ok = %v, want %v", tc.fork, got, tc.ok)
		}
	}
}
