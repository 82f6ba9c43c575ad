package action

import (
	"bytes"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"

	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

func TestSafeList(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{"age1abc", "age1def"}, "age1abc, age1def"},
		{[]string{"x\n::error::pwned"}, `"x\n::error::pwned"`},
		{[]string{"::stop-commands::t"}, `"::stop-commands::t"`},
		{[]string{"a b"}, `"a b"`},
	} {
		if got := safeList(tc.in); got != tc.want {
			t.Errorf("safeList(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestMissingKeys(t *testing.T) {
	t.Parallel()
	leaves := []secrets.Leaf{{Path: "database_url"}, {Path: "app.db.password"}, {Path: "hosts[0]"}}
	got := missingKeys(leaves, []string{"database_url", "app", "app.db", "app.db.password", "hosts", "app.d", "redis_url"})
	if len(got) != 2 || got[0] != "app.d" || got[1] != "redis_url" {
		t.Errorf("missingKeys = %q, want [app.d redis_url]", got)
	}
}

func TestPlainfBreaksLegacyCommands(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s := &step{gha: githubactions.New(githubactions.WithWriter(&buf), githubactions.WithGetenv(func(string) string { return "" }))}
	s.plainf("Decrypted %q in memory", "secrets/##[warning]x.yaml")
	if strings.Contains(buf.String(), "##[") {
		t.Errorf("a legacy workflow command survived: %q", buf.String())
	}
	if !strings.Contains(buf.String(), "warning]x.yaml") {
		t.Errorf("the text itself was lost: %q", buf.String())
	}
}
