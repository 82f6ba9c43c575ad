package sops

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/forktest"
)

const forkPath = "github.com/productgalaxy/sops-deploy-action/internal/xsops"

// importRewrites undo the fork's import rewrites, whole lines, in order.
// The first keeps aes/cipher.go's imports in gofmt's order: the fork's
// path sorts after upstream's logging package.
var importRewrites = []forktest.Rewrite{
	{Fork: "\t\"github.com/getsops/sops/v3/logging\"\n\tsops \"" + forkPath + "\"\n", Upstream: "\t\"github.com/getsops/sops/v3\"\n\t\"github.com/getsops/sops/v3/logging\"\n"},
	{Fork: "\tsops \"" + forkPath + "\"\n", Upstream: "\t\"github.com/getsops/sops/v3\"\n"},
	{Fork: "\t\"" + forkPath + "/stores\"\n", Upstream: "\t\"github.com/getsops/sops/v3/stores\"\n"},
	{Fork: "\t\"" + forkPath + "/config\"\n", Upstream: "\t\"github.com/getsops/sops/v3/config\"\n"},
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
// between "// xsops: begin patch" and "// xsops: end patch"), forktest's
// ReplacedDigest of it at the version the fork was
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

// upstreamDir is the module cache's github.com/getsops/sops/v3.
func upstreamDir(t *testing.T) string {
	t.Helper()
	return forktest.ModuleDir(t, "github.com/getsops/sops/v3", "sops.go")
}

// TestForkEqualsUpstream holds the fork to upstream: LICENSE, and every
// forked file equal after undoing the import rewrites, the patched ones
// outside their patches, with the upstream code the patches replace
// unchanged.
func TestForkEqualsUpstream(t *testing.T) {
	up := upstreamDir(t)
	forktest.SameLicense(t, up)
	markers := forktest.NewMarkers("xsops")
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
		// An upgrade that changes what a patch replaces (a fix in a
		// removed function, a new key service call) must be looked at.
		markers.Check(t, path, forktest.Undo(src, importRewrites), upSrc, replacedUpstream[path])
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
