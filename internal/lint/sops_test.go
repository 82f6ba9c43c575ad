package lint

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/sopstest"
)

// TestFixturesAgainstSopsCLI holds the fixtures' claims to the real sops
// CLI: the good files decrypt with test key a; the seed's file decrypts too
// (sops accepts its plaintext values with a valid MAC: the trap lint
// catches); the file whose lastmodified was set back by hand does not.
func TestFixturesAgainstSopsCLI(t *testing.T) {
	t.Parallel()
	sops := sopstest.CLI(t)
	key, err := filepath.Abs("../../testdata/keys/a.agekey")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	for name, wantOK := range map[string]bool{
		"good.enc.yaml": true, "good.enc.json": true, "good.enc.env": true, "multi.enc.yaml": true,
		"seedbug.enc.yaml": true, "old.enc.yaml": false,
	} {
		cmd := exec.Command(sops, "--config", os.DevNull, "decrypt", filepath.Join("testdata", "files", name))
		// Only the test key: no key from the environment or HOME.
		cmd.Env = []string{"HOME=" + home, "SOPS_AGE_KEY_FILE=" + key, "PATH=" + os.Getenv("PATH")}
		// Output discarded: it is plaintext, and sops' MAC errors quote
		// digests of it.
		if err := cmd.Run(); (err == nil) != wantOK {
			t.Errorf("sops decrypt %s: error %v, want success %v", name, err, wantOK)
		}
	}
}
