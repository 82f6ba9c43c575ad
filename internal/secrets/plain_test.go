package secrets

import (
	"os"
	"testing"
)

// TestPlainLeavesMatchDecrypt: the host's copy of a file (what sops
// decrypt prints) gives the same leaves as decrypting the sops file.
func TestPlainLeavesMatchDecrypt(t *testing.T) {
	t.Parallel()
	key, err := os.ReadFile("../../testdata/keys/a.agekey")
	if err != nil {
		t.Fatal(err)
	}
	ids, err := ParseIdentities(string(key))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{"staging", "nested", "canary", "multi"} {
		name := map[string]string{"canary": "canary"}[dir]
		if name == "" {
			name = "galaxy"
		}
		enc, err := os.ReadFile("../../testdata/" + dir + "/" + name + ".enc.yaml")
		if err != nil {
			t.Fatal(err)
		}
		plain, err := os.ReadFile("../../testdata/" + dir + "/" + name + ".plain.yaml")
		if err != nil {
			t.Fatal(err)
		}
		res, err := Decrypt(enc, ids)
		if err != nil {
			t.Fatalf("%s: %v", dir, err)
		}
		got, err := PlainLeaves(plain)
		if err != nil {
			t.Fatalf("%s: PlainLeaves: %v", dir, err)
		}
		if len(got) != len(res.Leaves) {
			t.Fatalf("%s: %d leaves, want %d", dir, len(got), len(res.Leaves))
		}
		for i, l := range res.Leaves {
			if got[i].Path != l.Path || got[i].Type != l.Type || got[i].Value.Reveal() != l.Value.Reveal() {
				t.Errorf("%s: leaf %d is %s (%s), want %s (%s), or its value differs", dir, i, got[i].Path, got[i].Type, l.Path, l.Type)
			}
		}
	}
	if _, err := PlainLeaves([]byte("- a list\n")); err == nil {
		t.Errorf("a top-level list was accepted")
	}
}
