package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/productgalaxy/sops-deploy-action/cmd/secrets-env/internal/secretsenv"
)

// TestComposeExample: every service of .github/examples/docker-compose.prod.yml
// mounts the installed file as a secret and starts through secrets-env
// with a command line it accepts, naming keys the production file has
// (testdata/staging has the same keys); one switches user with -user.
func TestComposeExample(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	b, err := os.ReadFile(filepath.Join(root, ".github", "examples", "docker-compose.prod.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Secrets map[string]struct {
			File string `yaml:"file"`
		} `yaml:"secrets"`
		Services map[string]struct {
			User        string            `yaml:"user"`
			Secrets     []string          `yaml:"secrets"`
			Entrypoint  []string          `yaml:"entrypoint"`
			Command     []string          `yaml:"command"`
			Environment map[string]string `yaml:"environment"`
		} `yaml:"services"`
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if got := c.Secrets["galaxy_yaml"].File; got != "/etc/galaxy/secrets/galaxy.yaml" {
		t.Errorf("secret galaxy_yaml is file %q, want the installed path", got)
	}
	keys, err := secretsenv.Load(filepath.Join(root, "testdata", "staging", "galaxy.plain.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var users int
	if len(c.Services) < 2 {
		t.Fatalf("%d services, want two", len(c.Services))
	}
	for name, s := range c.Services {
		if !slices.Contains(s.Secrets, "galaxy_yaml") {
			t.Errorf("%s: does not mount the galaxy_yaml secret", name)
		}
		if len(s.Entrypoint) == 0 || s.Entrypoint[0] != "/secrets-env" {
			t.Errorf("%s: entrypoint %q does not start with /secrets-env", name, s.Entrypoint)
			continue
		}
		cfg, err := secretsenv.ParseArgs(append(slices.Clone(s.Entrypoint[1:]), s.Command...))
		if err != nil {
			t.Errorf("%s: secrets-env refuses its command line: %v", name, err)
			continue
		}
		if cfg.File != secretsenv.DefaultFile {
			t.Errorf("%s: -file %q; the secret is mounted at %s", name, cfg.File, secretsenv.DefaultFile)
		}
		if _, err := secretsenv.Select(keys, cfg.Specs); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		for _, sp := range cfg.Specs {
			if _, ok := s.Environment[sp.Var]; ok && !cfg.Override {
				t.Errorf("%s: environment: sets %s, which secrets-env exports", name, sp.Var)
			}
		}
		if cfg.User != nil {
			users++
			if cfg.User.UID == 0 {
				t.Errorf("%s: -user %s is root", name, cfg.User)
			}
			if s.User != "" && s.User != "0:0" && s.User != "0" && s.User != "root" {
				t.Errorf("%s: user: %q, but -user needs the container to start as root", name, s.User)
			}
		}
	}
	if users == 0 {
		t.Error("no service switches user with -user")
	}
}
