package testenv_test

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

const childEnv = "SOPS_DEPLOY_TESTENV_CHILD"

// TestMissingPart is the child TestMissing runs: a test whose part is
// missing. Run directly, it passes.
func TestMissingPart(t *testing.T) {
	if os.Getenv(childEnv) != "1" {
		return
	}
	testenv.Missing(t, "the part is missing")
	t.Log("reached after Missing")
}

// TestMissing: a missing part skips the test locally and fails it under
// CI=true, and the test stops there either way.
func TestMissing(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ci, want string
		fails    bool
	}{
		{"", "--- SKIP: TestMissingPart", false},
		{"false", "--- SKIP: TestMissingPart", false},
		{"true", "--- FAIL: TestMissingPart", true},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestMissingPart$", "-test.v")
		cmd.Env = append(os.Environ(), childEnv+"=1", "CI="+tc.ci)
		out, err := cmd.CombinedOutput()
		if got := err != nil; got != tc.fails {
			t.Errorf("CI=%q: the child failed = %v, want %v\n%s", tc.ci, got, tc.fails, out)
		}
		if !strings.Contains(string(out), tc.want) {
			t.Errorf("CI=%q: output lacks %q:\n%s", tc.ci, tc.want, out)
		}
		if strings.Contains(string(out), "reached after Missing") {
			t.Errorf("CI=%q: the test went on after Missing:\n%s", tc.ci, out)
		}
	}
}
