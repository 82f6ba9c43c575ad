package remote

import (
	"os"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

// TestMain runs 8 parallel tests at once: most wait for a real sshd.
func TestMain(m *testing.M) {
	testenv.RaiseParallel(8)
	os.Exit(m.Run())
}
