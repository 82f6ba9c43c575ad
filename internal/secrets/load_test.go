package secrets

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/getsops/sops/v3/config"
	sopsyaml "github.com/getsops/sops/v3/stores/yaml"
	"go.yaml.in/yaml/v3"
)

// compareWithStore parses data as one YAML document and checks that
// loadBranch builds exactly the branch sops' own store builds. It returns
// false when the input is outside what both accept.
func compareWithStore(t *testing.T, data []byte) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if err == io.EOF {
			break
		}
		if err != nil {
			return // not YAML: both refuse
		}
		docs = append(docs, &n)
	}
	if len(docs) != 1 || hasAlias(docs[0]) {
		return // refused earlier by checkShape
	}
	want, storeErr := sopsyaml.NewStore(&config.YAMLStoreConfig{}).LoadPlainFile(data)
	got, err := loadBranch(docs[0])
	switch {
	case storeErr != nil:
		return // sops refuses it too; loadBranch may refuse it later
	case err != nil:
		t.Fatalf("sops' store loads the input but loadBranch refuses it: %v", err)
	case len(want) != 1:
		t.Fatalf("store built %d branches", len(want))
	case !reflect.DeepEqual(got, want[0]):
		t.Fatalf("loadBranch differs from sops' store:\n got %#v\nwant %#v", got, want[0])
	}
}

func hasAlias(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode || n.Anchor != "" {
		return true
	}
	for _, c := range n.Content {
		if hasAlias(c) {
			return true
		}
	}
	return false
}

func TestLoadMatchesSopsStore(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../../testdata/*/*.yaml")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("../../testdata/*/*/*.yaml")
	files = append(files, more...)
	if len(files) < 15 {
		t.Fatalf("found only %d fixture files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(f, func(t *testing.T) { compareWithStore(t, data) })
	}
	for name, doc := range map[string]string{
		"comments everywhere": "# head\na: 1 # inline\n# between\nb:\n  # nested head\n  c: x # c inline\n  # nested foot\nl:\n  # list head\n  - 1 # one\n  # mid\n  - two\n  # list foot\n# doc foot\n",
		"types":               "i: 1\nf: 1.5\nb: true\nn: null\nt: 2001-12-14\ns: 'quoted'\nbin: !!binary aGVsbG8=\nm: |\n  multi\n  line\n",
		"empty mapping":       "a: {}\nb: []\n",
		"duplicate keys":      "a: 1\na: 2\n",
		"int keys":            "1: a\n2: b\n",
		"flow":                "{a: [1, 2, {b: c}], d: e}\n",
		"empty document":      "",
		"only a comment":      "# nothing\n",
	} {
		t.Run(name, func(t *testing.T) { compareWithStore(t, []byte(doc)) })
	}
}

func FuzzLoadMatchesSopsStore(f *testing.F) {
	for _, p := range []string{"canary/canary.enc.yaml", "nested/galaxy.plain.yaml", "nested/galaxy.enc.yaml", "unencsuffix/galaxy.enc.yaml"} {
		f.Add(td(f, p))
	}
	f.Add([]byte("# head\na: 1 # inline\nl:\n  # c\n  - x # y\n# foot\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 64<<10 {
			return
		}
		compareWithStore(t, data)
	})
}
