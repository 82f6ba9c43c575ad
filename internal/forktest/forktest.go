// Package forktest holds a fork of upstream Go code to the module cache's
// copy of the version in go.mod: every forked file equal to upstream's
// once the fork's import rewrites are undone, and a patched file equal
// outside its patch regions, with what those regions replace pinned by a
// digest. internal/xssh's and internal/xsops' upstream tests use it.
//
// The package is meant to be imported from _test.go files only.
package forktest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

// ModuleDir returns the module cache's directory of module at the go.mod
// version, checked by the presence of probe (a path in it). When the
// source is absent the test ends by testenv.Missing: a skip, or a failure
// under CI=true.
func ModuleDir(t testing.TB, module, probe string) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", module).Output()
	dir := strings.TrimSpace(string(out))
	if err == nil && dir != "" {
		if _, err := os.Stat(filepath.Join(dir, probe)); err == nil {
			return dir
		}
	}
	testenv.Missing(t, module+"'s source is not in the module cache (go mod download "+module+")")
	return ""
}

// Rewrite is one import rewrite of a fork: Fork is its text in the fork,
// Upstream in upstream's file.
type Rewrite struct{ Fork, Upstream string }

// Undo replaces each rewrite's Fork text with its Upstream text, in order.
func Undo(src []byte, rewrites []Rewrite) []byte {
	for _, r := range rewrites {
		src = bytes.ReplaceAll(src, []byte(r.Fork), []byte(r.Upstream))
	}
	return src
}

// SameLicense fails the test unless the fork's LICENSE (in the working
// directory) is upstream's.
func SameLicense(t testing.TB, upstreamDir string) {
	t.Helper()
	want, err := os.ReadFile(filepath.Join(upstreamDir, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("LICENSE"); err != nil || !bytes.Equal(got, want) {
		t.Errorf("LICENSE differs from upstream's (err %v)", err)
	}
}

// Markers are the comment lines that open and close a patch region.
type Markers struct{ Begin, End string }

// NewMarkers returns "// <fork>: begin patch" and "// <fork>: end patch".
func NewMarkers(fork string) Markers {
	return Markers{Begin: "// " + fork + ": begin patch", End: "// " + fork + ": end patch"}
}

// Check compares one forked file (its rewrites undone) with upstream's.
// With digest "" the file must be upstream's and hold no marker;
// otherwise it must be upstream's outside its patch regions, and what the
// regions replace must still have that ReplacedDigest: an upgrade that
// changes the replaced code fails until the change is looked at.
func (m Markers) Check(t testing.TB, path string, fork, upstream []byte, digest string) {
	t.Helper()
	if digest == "" {
		if bytes.Contains(fork, []byte(m.Begin)) {
			t.Errorf("%s: has a patch marker, but no digest is pinned for it", path)
		}
		if !bytes.Equal(fork, upstream) {
			t.Errorf("%s differs from upstream beyond the import rewrites", path)
		}
		return
	}
	if err := m.EqualOutside(string(fork), string(upstream)); err != "" {
		t.Errorf("%s: %s", path, err)
	}
	if got := m.ReplacedDigest(string(fork), string(upstream)); got != digest {
		t.Errorf("%s: the upstream code the patches replace changed (digest %s, was %s): port the change into the patch, then update the pinned digest", path, got, digest)
	}
}

// EqualOutside reports, if it is not so, that the text of fork outside
// its patch regions (marker lines included in the regions) is upstream's,
// in order, with only the patched regions replaced: the first piece starts
// upstream, the last ends it, and each is found after the one before.
func (m Markers) EqualOutside(fork, upstream string) string {
	pieces, err := m.split(fork)
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
		if i == len(pieces)-2 {
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

// ReplacedDigest is a SHA-256 of the upstream text that fork's patch
// regions replace (fork must pass EqualOutside).
func (m Markers) ReplacedDigest(fork, upstream string) string {
	pieces, _ := m.split(fork)
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

// split cuts src at its patch regions.
func (m Markers) split(src string) ([]string, string) {
	var pieces []string
	var cur strings.Builder
	in := false
	for _, line := range strings.SplitAfter(src, "\n") {
		switch strings.TrimSpace(line) {
		case m.Begin:
			if in {
				return nil, "nested patch markers"
			}
			in = true
			pieces = append(pieces, cur.String())
			cur.Reset()
			continue
		case m.End:
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
