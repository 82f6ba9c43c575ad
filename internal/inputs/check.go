package inputs

import (
	"fmt"

	"github.com/productgalaxy/sops-deploy-action/internal/lint"
)

// Operation is what a run does.
type Operation string

// The operations. Lint and Verify contact no host.
const (
	Deploy   Operation = "deploy"   // decrypt and install on the hosts
	Rollback Operation = "rollback" // swap the hosts' previous version back
	Lint     Operation = "lint"     // check .sops.yaml and the sops files, without a key
	Verify   Operation = "verify"   // decrypt in memory with age_key and check the file
)

func parseOperation(s string) (Operation, error) {
	switch o := Operation(s); o {
	case "":
		return Deploy, nil
	case Deploy, Rollback, Lint, Verify:
		return o, nil
	}
	return "", &Error{"operation", fmt.Sprintf("%q is not an operation", s), "use deploy (the default), rollback, lint or verify"}
}

// loadLint reads the inputs of operation lint: it needs no key, host or
// environment.
func (c *Config) loadLint(get func(string) string) (*Config, error) {
	d, err := lint.ParseMaxAge(get("max_age"))
	if err != nil {
		return nil, &Error{"max_age", err.Error(), "give days (90d), weeks (12w) or hours (2160h), or 0 to turn the check off"}
	}
	c.MaxAge = d
	return c, nil
}

// loadVerify reads the inputs of operation verify, after env: the file, the
// key that decrypts it, required_keys and compare_file. It needs no host.
func (c *Config) loadVerify(get func(string) string) (*Config, error) {
	if c.AgeKey.Len() == 0 {
		return nil, &Error{"age_key", "is required for operation verify", "set age_key from the environment's secret (secrets.SOPS_AGE_KEY_STAGING); check that the job names that environment"}
	}
	var err error
	if c.File, err = workspacePath(get, "file", defaultFile(c.Env)); err != nil {
		return nil, err
	}
	if get("compare_file") != "" {
		if c.CompareFile, err = workspacePath(get, "compare_file", ""); err != nil {
			return nil, err
		}
	}
	if c.RequiredKeys, err = requiredKeys(get("required_keys")); err != nil {
		return nil, err
	}
	return c, nil
}
