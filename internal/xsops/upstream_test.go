package sops

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const forkPath = "github.com/productgalaxy/sops-deploy-action/internal/xsops"

// importRewrites undo the fork's import rewrites, whole lines, in order.
// The first keeps aes/cipher.go's imports in gofmt's order: the fork's
// path sorts after upstream's logging package.
var importRewrites = []struct{ fork, upstream string }{
	{"\t\"github.com/getsops/sops/v3/logging\"\n\tsops \"" + forkPath + "\"\n", "\t\"github.com/getsops/sops/v3\"\n\t\"github.com/getsops/sops/v3/logging\"\n"},
	{"\tsops \"" + forkPath + "\"\n", "\t\"github.com/getsops/sops/v3\"\n"},
	{"\t\"" + forkPath + "/stores\"\n", "\t\"github.com/getsops/sops/v3/stores\"\n"},
	{"\t\"" + forkPath + "/config\"\n", "\t\"github.com/getsops/sops/v3/config\"\n"},
}

// forked are the files copied from upstream, at the same paths.
var forked = []string{
	"sops.go",
	"aes/cipher.go",
	"stores/stores.go",
	"stores/flatten.go",
	"stores/metadata.go",
	"stores/yaml/store.go",
	"stores/json/store.go",
	"stores/dotenv/store.go",
}

// replacedUpstream is, for each file patched beyond its imports (and only
// between patch markers), replacedDigest of it at the version the fork was
// made from (v3.13.3).
var replacedUpstream = map[string]string{
	"sops.go":          "8bc7bd4dcdc389db675d07265390d433a4c5bd654b4456b5a7a4ef30297450ee",
	"stores/stores.go": "3bc9accc74844ba0bb478c9ebe60b3ac16e85ee98956df60404528b2f8d334d8",
}

// verbatim are the fork's own files, each with the upstream file whose
// declarations it copies: the named ones, or all of them when none are
// named.
var verbatim = []struct {
	file, upstream string
	decls          []string
}{
	{"config/config.go", "config/config.go", nil},
	{"stores/foreign.go", "hckms/keysource.go", []string{"parseKeyID"}},
}

const (
	beginMarker = "// xsops: begin patch"
	endMarker   = "// xsops: end patch"
)

// upstreamDir returns the module cache's github.com/getsops/sops/v3 at the
// go.mod version, or skips (fails under CI=true) when it is absent.
func upstreamDir(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/getsops/sops/v3").Output()
	dir := strings.TrimSpace(string(out))
	if err == nil && dir != "" {
		if _, statErr := os.Stat(filepath.Join(dir, "sops.go")); statErr == nil {
			return dir
		}
	}
	msg := "github.com/getsops/sops/v3's source is not in the module cache (go mod download github.com/getsops/sops/v3)"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s: %v", msg, err)
	}
	t.Skip(msg)
	return ""
}

func normalise(src []byte) []byte {
	for _, r := range importRewrites {
		src = bytes.ReplaceAll(src, []byte(r.fork), []byte(r.upstream))
	}
	return src
}

// TestForkEqualsUpstream holds the fork to upstream: LICENSE, and every
// forked file equal after undoing the import rewrites, the patched ones
// outside their patches, with the upstream code the patches replace
// unchanged.
func TestForkEqualsUpstream(t *testing.T) {
	up := upstreamDir(t)
	lic, err := os.ReadFile(filepath.Join(up, "LICENSE"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile("LICENSE"); err != nil || !bytes.Equal(got, lic) {
		t.Errorf("LICENSE differs from upstream's (err %v)", err)
	}
	for _, path := range forked {
		upSrc, err := os.ReadFile(filepath.Join(up, path))
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(path)
		if err != nil {
			t.Error(err)
			continue
		}
		src = normalise(src)
		want, ok := replacedUpstream[path]
		if !ok {
			if bytes.Contains(src, []byte(beginMarker)) {
				t.Errorf("%s: has a patch marker, but is not in replacedUpstream", path)
			}
			if !bytes.Equal(src, upSrc) {
				t.Errorf("%s differs from upstream beyond the import rewrites", path)
			}
			continue
		}
		if err := equalOutsidePatches(string(src), string(upSrc)); err != "" {
			t.Errorf("%s: %s", path, err)
		}
		// An upgrade that changes what a patch replaces (a fix in a
		// removed function, a new key service call) must be looked at.
		if got := replacedDigest(string(src), string(upSrc)); got != want {
			t.Errorf("%s: the upstream code the patches replace changed (digest %s, was %s): port the change into the patch, then update replacedUpstream", path, got, want)
		}
	}
}

// TestNoOtherFiles: every non-test Go file of the fork is a forked file or
// one of its own (verbatim), so none escapes TestForkEqualsUpstream.
func TestNoOtherFiles(t *testing.T) {
	var got []string
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			got = append(got, filepath.ToSlash(p))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(forked)
	for _, v := range verbatim {
		want = append(want, v.file)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("the fork's Go files are %v; forked and verbatim list %v", got, want)
	}
}

// TestVerbatimDeclarations holds the declarations the fork's own files copy
// from upstream to upstream's text.
func TestVerbatimDeclarations(t *testing.T) {
	up := upstreamDir(t)
	for _, v := range verbatim {
		upSrc, err := os.ReadFile(filepath.Join(up, v.upstream))
		if err != nil {
			t.Fatal(err)
		}
		decls, err := declarations(v.file)
		if err != nil {
			t.Fatal(err)
		}
		names := v.decls
		if names == nil {
			for name := range decls {
				names = append(names, name)
			}
		}
		for _, name := range names {
			text, ok := decls[name]
			if !ok {
				t.Errorf("%s: declares no %s", v.file, name)
			} else if !bytes.Contains(upSrc, []byte("\n"+text+"\n")) {
				t.Errorf("%s: %s is not upstream's (%s) as is", v.file, name, v.upstream)
			}
		}
	}
}

// declarations returns the source text of each top-level declaration in
// file, by name (imports by "import").
func declarations(file string) (map[string]string, error) {
	src, err := os.ReadFile(file)
	if err != nil {
		return nil, err
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, file, src, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for _, d := range f.Decls {
		name := "import"
		switch d := d.(type) {
		case *ast.FuncDecl:
			name = d.Name.Name
		case *ast.GenDecl:
			switch s := d.Specs[0].(type) {
			case *ast.TypeSpec:
				name = s.Name.Name
			case *ast.ValueSpec:
				name = s.Names[0].Name
			}
		}
		out[name] = string(src[fset.Position(d.Pos()).Offset:fset.Position(d.End()).Offset])
	}
	return out, nil
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
		{"a\n// xsops: begin patch\nX\n// xsops: end patch\nc\nd\ne\n", true},
		{"a\n// xsops: begin patch\nX\n// xsops: end patch\nc\n\t// xsops: begin patch\nY\n// xsops: end patch\ne\n", true},
		{"a\n// xsops: begin patch\nX\n// xsops: end patch\nc\nD\ne\n", false},
		{"A\n// xsops: begin patch\nX\n// xsops: end patch\nc\nd\ne\n", false},
		{"a\n// xsops: begin patch\nX\n// xsops: end patch\nc\nd\n", false},
		{"a\n// xsops: begin patch\nX\nc\nd\ne\n", false},
		{"a\nb\nc\nd\ne\n", false},
		{"a\n// xsops: begin patch\nX\n// xsops: end patch\nd\n// xsops: begin patch\n// xsops: end patch\nc\ne\n", false},
	} {
		if got := equalOutsidePatches(tc.fork, up) == ""; got != tc.ok {
			t.Errorf("equalOutsidePatches(%q) ok = %v, want %v", tc.fork, got, tc.ok)
		}
	}
}
