package secrets

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/xsops/config"
	sopsyaml "github.com/productgalaxy/sops-deploy-action/internal/xsops/stores/yaml"
	"go.yaml.in/yaml/v3"
)

// outcome is what compareWithStore found.
type outcome int

const (
	compared     outcome = iota // both loaded it, and equally
	notYAML                     // not one YAML document: both refuse
	refusedEarly                // aliases: checkShape refuses it first
	bothRefuse                  // sops' store and loadBranch both refuse it
	storeRefuses                // sops' store refuses it; loadBranch leaves it to later checks
)

// compareWithStore parses data as one YAML document and checks that
// loadBranch builds exactly the branch sops' own store builds, and
// returns which outcome it found, for the caller to assert.
func compareWithStore(t *testing.T, data []byte) outcome {
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
			return notYAML
		}
		docs = append(docs, &n)
	}
	if len(docs) != 1 {
		return notYAML
	}
	if hasAlias(docs[0]) {
		return refusedEarly
	}
	want, storeErr := sopsyaml.NewStore(&config.YAMLStoreConfig{}).LoadPlainFile(data)
	got, err := loadBranch(docs[0])
	switch {
	case storeErr != nil && err != nil:
		return bothRefuse
	case storeErr != nil:
		return storeRefuses
	case err != nil:
		t.Fatalf("sops' store loads the input but loadBranch refuses it: %v", err)
	case len(want) != 1:
		t.Fatalf("store built %d branches", len(want))
	case !reflect.DeepEqual(got, want[0]):
		t.Fatalf("loadBranch differs from sops' store:\n got %#v\nwant %#v", got, want[0])
	}
	return compared
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
		t.Run(f, func(t *testing.T) {
			// Every fixture but the deliberately broken ones loads.
			got := compareWithStore(t, data)
			if got != compared && !strings.Contains(f, "notsops") {
				t.Errorf("outcome %d, want the branches compared", got)
			}
		})
	}
	for name, tc := range map[string]struct {
		doc  string
		want outcome
	}{
		"comments everywhere": {"# head\na: 1 # inline\n# between\nb:\n  # nested head\n  c: x # c inline\n  # nested foot\nl:\n  # list head\n  - 1 # one\n  # mid\n  - two\n  # list foot\n# doc foot\n", compared},
		"types":               {"i: 1\nf: 1.5\nb: true\nn: null\nt: 2001-12-14\ns: 'quoted'\nbin: !!binary aGVsbG8=\nm: |\n  multi\n  line\n", compared},
		"empty mapping":       {"a: {}\nb: []\n", compared},
		// The reason load.go exists: its linear check must refuse what
		// sops' quadratic one refuses.
		"duplicate keys":        {"a: 1\na: 2\n", bothRefuse},
		"duplicate keys nested": {"a:\n  b: 1\n  b: 2\n", bothRefuse},
		"int keys":              {"1: a\n2: b\n", compared},
		"flow":                  {"{a: [1, 2, {b: c}], d: e}\n", compared},
		"empty document":        {"", notYAML},
		"only a comment":        {"# nothing\n", notYAML},
		"an alias":              {"a: &x 1\nb: *x\n", refusedEarly},
	} {
		t.Run(name, func(t *testing.T) {
			if got := compareWithStore(t, []byte(tc.doc)); got != tc.want {
				t.Errorf("outcome %d, want %d", got, tc.want)
			}
		})
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
