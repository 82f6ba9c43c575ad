package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies: secrets-env ships alone in a scratch image and holds no
// part of the action: no sops, age, SSH or SFTP, no package of the action.
func TestDependencies(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const self = "github.com/productgalaxy/sops-deploy-action/cmd/secrets-env"
	for _, p := range strings.Fields(string(out)) {
		switch {
		case p == self, strings.HasPrefix(p, self+"/"), p == "go.yaml.in/yaml/v3":
		default:
			t.Errorf("secrets-env depends on %s", p)
		}
	}
}
