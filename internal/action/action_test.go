package action

import (
	"testing"

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
