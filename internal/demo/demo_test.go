package demo

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

func TestDemo(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := Run(context.Background(), &out, Fixtures, false); err != nil {
		t.Fatalf("Run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{"── workflow log ──", "masks registered", "installed", "── step summary ──", "| Keys | 9 |", "── on the host ──", "mode 0600"} {
		if !strings.Contains(got, want) {
			t.Errorf("demo output lacks %q:\n%s", want, got)
		}
	}
	plain, err := os.ReadFile("../../testdata/staging/galaxy.plain.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]string
	if err := yaml.Unmarshal(plain, &values); err != nil {
		t.Fatal(err)
	}
	for k, v := range values {
		if strings.Contains(got, v) {
			t.Errorf("demo output shows the value of %s", k)
		}
	}
}

// TestFixturesMatchTestdata holds the demo's embedded copies equal to the
// fixtures testdata/gen.sh makes.
func TestFixturesMatchTestdata(t *testing.T) {
	t.Parallel()
	for _, name := range []string{encryptedFile, ageKeyFile} {
		got, err := Fixtures.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile("../../" + name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("internal/demo/%s differs from %s; run testdata/gen.sh", name, name)
		}
	}
}
