package inputs

import (
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/lint"
)

// TestLoadLint checks that lint needs no key, host or environment.
func TestLoadLint(t *testing.T) {
	t.Parallel()
	c, err := load(map[string]string{"operation": "lint"})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Operation != Lint || c.MaxAge != lint.DefaultMaxAge {
		t.Errorf("got operation %q, max age %v; want lint, %v", c.Operation, c.MaxAge, lint.DefaultMaxAge)
	}
	if c, err := load(map[string]string{"operation": "lint", "max_age": "30d"}); err != nil || c.MaxAge != 30*24*time.Hour {
		t.Errorf("max_age 30d: got %v, %v", c, err)
	}
	for _, bad := range []string{"soon", "-1d", "90"} {
		if got, want := loadErr(t, map[string]string{"operation": "lint", "max_age": bad}).Input, "max_age"; got != want {
			t.Errorf("max_age %q: Input %q, want %q", bad, got, want)
		}
	}
}

// TestLoadVerify checks that verify needs env and age_key, no host.
func TestLoadVerify(t *testing.T) {
	t.Parallel()
	in := map[string]string{"operation": "verify", "env": "staging", "age_key": testAgeKey, "required_keys": "a, b", "compare_file": "./base/secrets/staging/galaxy.enc.yaml"}
	c, err := load(in)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if c.Operation != Verify || c.File != "secrets/staging/galaxy.enc.yaml" || c.CompareFile != "base/secrets/staging/galaxy.enc.yaml" || len(c.RequiredKeys) != 2 {
		t.Errorf("got %+v", c)
	}
	for _, tc := range []struct {
		over      map[string]string
		wantInput string
	}{
		{map[string]string{"age_key": ""}, "age_key"},
		{map[string]string{"env": ""}, "env"},
		{map[string]string{"compare_file": "../base.yaml"}, "compare_file"},
		{map[string]string{"file": "/etc/x"}, "file"},
		{map[string]string{"required_keys": "a b"}, "required_keys"},
	} {
		m := map[string]string{}
		for k, v := range in {
			m[k] = v
		}
		for k, v := range tc.over {
			m[k] = v
		}
		if got := loadErr(t, m).Input; got != tc.wantInput {
			t.Errorf("%v: Input %q, want %q", tc.over, got, tc.wantInput)
		}
	}
}
