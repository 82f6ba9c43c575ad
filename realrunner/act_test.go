package realrunner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/productgalaxy/sops-deploy-action/internal/canary"
	"github.com/productgalaxy/sops-deploy-action/internal/dockertest"
)

// actVersion is the nektos/act release .ci/run installs.
const actVersion = "github.com/nektos/act@v0.2.89"

// actRepo is a user's repository with one example workflow, unchanged
// from .github/examples, as act runs it.
type actRepo struct {
	t        *testing.T
	dir      string
	workflow string            // file name under .github/workflows
	uses     map[string]string // owner/repo -> ref, as the workflow pins them
}

func newActRepo(t *testing.T, workflow string) *actRepo {
	t.Helper()
	wf := repoFile(t, filepath.Join(".github/examples", workflow))
	a := &actRepo{t: t, dir: t.TempDir(), workflow: workflow, uses: map[string]string{}}
	writeFile(t, filepath.Join(a.dir, ".github/workflows", workflow), wf, 0o644)
	for _, m := range usesRE.FindAllStringSubmatch(string(wf), -1) {
		a.uses[m[1]] = m[2]
	}
	for _, want := range []string{"actions/checkout", "productgalaxy/sops-deploy-action"} {
		if a.uses[want] == "" {
			t.Fatalf("%s uses no %s", workflow, want)
		}
	}
	a.git("init", "-q", "-b", "main")
	a.git("remote", "add", "origin", "https://github.com/productgalaxy/galaxy.git")
	return a
}

var usesRE = regexp.MustCompile(`(?m)^\s*-?\s*uses:\s*([\w.-]+/[\w.-]+)@([0-9a-f]{40})`)

func (a *actRepo) git(args ...string) {
	a.t.Helper()
	cmd := exec.Command("git", append([]string{"-c", "user.name=test", "-c", "user.email=test@example.test"}, args...)...)
	cmd.Dir = a.dir
	if out, err := cmd.CombinedOutput(); err != nil {
		a.t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// commit puts the encrypted file for env into the repository and commits.
func (a *actRepo) commit(env string, enc []byte) {
	a.t.Helper()
	writeFile(a.t, filepath.Join(a.dir, "secrets", env, "galaxy.enc.yaml"), enc, 0o644)
	a.git("add", "-A")
	a.git("commit", "-q", "-m", "secrets")
}

// actRun is one `act` invocation.
type actRun struct {
	event     string
	eventJSON string
	inputs    map[string]string // workflow_dispatch inputs
	secrets   map[string]string
	vars      map[string]string
	// checkoutRefs are what the actions/checkout stand-in installs for a
	// `ref:`: ref -> encrypted file for secrets/<env>/galaxy.enc.yaml.
	checkoutRefs map[string][]byte
	env          string
	// actionDir is the action's repository; empty means this checkout.
	actionDir string
}

// run runs act and returns its whole log and exit code. The action's
// image must already carry act's tag for it (see tagForAct), unless the
// action is pinned to a docker:// image.
func (a *actRepo) run(e *dockertest.Engine, r actRun) (string, int) {
	t := a.t
	t.Helper()
	act := lookTool(t, "act", actVersion)
	job := e.EnsureBusybox(t)
	tmp := t.TempDir()
	standin := checkoutStandin(t, tmp, r.env, r.checkoutRefs)
	actionDir := r.actionDir
	if actionDir == "" {
		actionDir = dockertest.RepoRoot(t)
	}
	writeFile(t, filepath.Join(tmp, "event.json"), []byte(r.eventJSON), 0o644)
	writeFile(t, filepath.Join(tmp, "secrets.env"), dotenv(r.secrets), 0o600)
	writeFile(t, filepath.Join(tmp, "vars.env"), dotenv(r.vars), 0o600)
	args := []string{r.event,
		"-W", filepath.Join(".github/workflows", a.workflow),
		"-e", filepath.Join(tmp, "event.json"),
		"-P", "ubuntu-24.04=" + job,
		"--pull=false", "--rebuild=false", "--action-offline-mode",
		// Without it act leaves a failed run's job containers running.
		"--rm",
		"--container-daemon-socket", "unix://" + e.Socket(),
		"--secret-file", filepath.Join(tmp, "secrets.env"),
		"--var-file", filepath.Join(tmp, "vars.env"),
		"--local-repository", "actions/checkout@" + a.uses["actions/checkout"] + "=" + standin,
		"--local-repository", "productgalaxy/sops-deploy-action@" + a.uses["productgalaxy/sops-deploy-action"] + "=" + actionDir,
	}
	for k, v := range r.inputs {
		args = append(args, "--input", k+"="+v)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, act, args...)
	cmd.Dir = a.dir
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+e.Host)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		return out.String(), ee.ExitCode()
	case err != nil:
		t.Fatalf("act: %v\n%s", err, out.String())
	}
	return out.String(), 0
}

// tagForAct gives img the name act looks for when it runs the action's
// `image: Dockerfile` with --rebuild=false (act's execAsDocker). act would
// otherwise build the image itself, without network access for go mod
// download.
func (a *actRepo) tagForAct(e *dockertest.Engine, img string) {
	a.t.Helper()
	name := "productgalaxy/sops-deploy-action@" + a.uses["productgalaxy/sops-deploy-action"]
	name = regexp.MustCompile("[^a-zA-Z0-9]").ReplaceAllString(name, "-")
	e.Run(a.t, "tag", img, strings.ToLower("act-"+name+"-dockeraction:latest"))
}

// checkoutStandin writes a local action that stands in for
// actions/checkout, which cannot be fetched here. act skips a checkout of
// the workflow's own repository at its own ref (it copies the working
// tree); a checkout with another `ref:` runs this, which installs the
// file the test gave for that ref, and fails for any other ref.
func checkoutStandin(t *testing.T, dir, env string, refs map[string][]byte) string {
	t.Helper()
	standin := filepath.Join(dir, "checkout-standin")
	for ref, enc := range refs {
		writeFile(t, filepath.Join(standin, "refs", ref, "galaxy.enc.yaml"), enc, 0o644)
	}
	script := fmt.Sprintf(`set -eu
src="$GITHUB_ACTION_PATH/refs/$INPUT_REF/galaxy.enc.yaml"
[ -f "$src" ] || { echo "::error::checkout stand-in: no ref $INPUT_REF"; exit 1; }
dst="$GITHUB_WORKSPACE/${INPUT_PATH:-.}/secrets/%[1]s"
mkdir -p "$dst"
cp "$src" "$dst/galaxy.enc.yaml"
echo "checkout stand-in: ref $INPUT_REF into ${INPUT_PATH:-.}"`, env)
	yml := "name: checkout stand-in\ninputs:\n  ref: {required: false}\n  path: {required: false}\n  persist-credentials: {required: false}\n" +
		"runs:\n  using: composite\n  steps:\n    - shell: sh\n      env:\n        INPUT_REF: ${{ inputs.ref }}\n        INPUT_PATH: ${{ inputs.path }}\n      run: |\n"
	for _, l := range strings.Split(script, "\n") {
		yml += "        " + l + "\n"
	}
	writeFile(t, filepath.Join(standin, "action.yml"), []byte(yml), 0o644)
	return standin
}

// dotenv renders values for act's --secret-file and --var-file, with
// line breaks escaped inside double quotes.
func dotenv(m map[string]string) []byte {
	var b bytes.Buffer
	for k, v := range m {
		v = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(v)
		fmt.Fprintf(&b, "%s=\"%s\"\n", k, v)
	}
	return b.Bytes()
}

// TestExampleWorkflowsWithAct runs the three example workflows, unchanged,
// with nektos/act against real sshd: deploy-staging on push, deploy-prod
// on a published release twice with different contents, then
// deploy-prod-rollback with restore-previous and with redeploy-ref.
func TestExampleWorkflowsWithAct(t *testing.T) {
	e := dockertest.Require(t)
	img := e.ActionImage(t)

	t.Run("deploy-staging", func(t *testing.T) {
		h := chrootHost(t, "deploy")
		sec := secretsFile(t)
		a := newActRepo(t, "deploy-staging.yml")
		a.tagForAct(e, img)
		a.commit("staging", sec.Enc)
		log, code := a.run(e, actRun{
			event: "push", env: "staging",
			eventJSON: `{"ref":"refs/heads/main","repository":{"full_name":"productgalaxy/galaxy"}}`,
			secrets:   map[string]string{"SOPS_AGE_KEY_STAGING": string(repoFile(t, "testdata/keys/a.agekey")), "DEPLOY_SSH_KEY": string(h.ClientKeyPEM)},
			vars:      map[string]string{"STAGING_HOST": h.Addr, "STAGING_KNOWN_HOSTS": h.KnownHosts},
		})
		if code != 0 {
			t.Fatalf("act exit code %d:\n%s", code, log)
		}
		assertInstalled(t, h, sec.Plain)
		assertActOutput(t, log, "changed", "true")
		canary.AssertNone(t, "act's log", []byte(log), sec.Forms())
	})

	t.Run("deploy-prod and rollback", func(t *testing.T) {
		h := chrootHost(t, "deploy")
		v1, v2, v3 := secretsFile(t), secretsFile(t), secretsFile(t)
		creds := map[string]string{"SOPS_AGE_KEY_PROD": string(repoFile(t, "testdata/keys/a.agekey")), "DEPLOY_SSH_KEY": string(h.ClientKeyPEM)}
		vars := map[string]string{"PROD_HOST": h.Addr, "PROD_KNOWN_HOSTS": h.KnownHosts}
		forms := append(append(v1.Forms(), v2.Forms()...), v3.Forms()...)
		release := `{"action":"published","release":{"tag_name":"v1.0.0","name":"v1.0.0"}}`

		prod := newActRepo(t, "deploy-prod.yml")
		prod.tagForAct(e, img)
		for i, sec := range []secrets{v1, v2} {
			prod.commit("prod", sec.Enc)
			log, code := prod.run(e, actRun{event: "release", env: "prod", eventJSON: release, secrets: creds, vars: vars})
			if code != 0 {
				t.Fatalf("deploy-prod run %d: act exit code %d:\n%s", i+1, code, log)
			}
			assertInstalled(t, h, sec.Plain)
			assertActOutput(t, log, "changed", "true")
			canary.AssertNone(t, "act's log", []byte(log), forms)
		}
		if got, _ := os.ReadFile(h.File(defaultRemotePath + ".previous")); string(got) != string(v1.Plain) {
			t.Errorf("after the second release, .previous does not hold the first version")
		}

		rb := newActRepo(t, "deploy-prod-rollback.yml")
		rb.tagForAct(e, img)
		rb.commit("prod", v2.Enc)
		log, code := rb.run(e, actRun{event: "workflow_dispatch", env: "prod", secrets: creds, vars: vars,
			eventJSON: `{"inputs":{"method":"restore-previous"}}`, inputs: map[string]string{"method": "restore-previous"}})
		if code != 0 {
			t.Fatalf("restore-previous: act exit code %d:\n%s", code, log)
		}
		assertInstalled(t, h, v1.Plain)
		canary.AssertNone(t, "act's log", []byte(log), forms)

		log, code = rb.run(e, actRun{event: "workflow_dispatch", env: "prod", secrets: creds, vars: vars,
			eventJSON:    `{"inputs":{"method":"redeploy-ref","ref":"v0.9.0"}}`,
			inputs:       map[string]string{"method": "redeploy-ref", "ref": "v0.9.0"},
			checkoutRefs: map[string][]byte{"v0.9.0": v3.Enc}})
		if code != 0 {
			t.Fatalf("redeploy-ref: act exit code %d:\n%s", code, log)
		}
		if !strings.Contains(log, "checkout stand-in: ref v0.9.0 into .") {
			t.Errorf("the checkout stand-in did not run for the ref:\n%s", log)
		}
		assertInstalled(t, h, v3.Plain)
		canary.AssertNone(t, "act's log", []byte(log), forms)
	})
}

// assertActOutput checks that act's log shows the action set the output.
func assertActOutput(t *testing.T, log, name, want string) {
	t.Helper()
	if !strings.Contains(log, "::set-output:: "+name+"="+want) {
		t.Errorf("act's log does not show output %s=%s:\n%s", name, want, log)
	}
}

// TestSecretsCheckWithAct runs the pull-request check example with act: a
// good change passes lint and verify (the base version checked out beside
// it by the second checkout), and the seed runbook's plaintext file fails
// lint with an annotation on the file.
func TestSecretsCheckWithAct(t *testing.T) {
	e := dockertest.Require(t)
	img := e.ActionImage(t)
	base, head := secretsFile(t), secretsFile(t)
	const baseSHA = "1111111111111111111111111111111111111111"
	event := `{"pull_request":{"number":7,"head":{"repo":{"full_name":"productgalaxy/galaxy"}},"base":{"sha":"` + baseSHA + `"}},"repository":{"full_name":"productgalaxy/galaxy"}}`
	creds := map[string]string{"SOPS_AGE_KEY_STAGING": string(repoFile(t, "testdata/keys/a.agekey"))}
	sopsYAML := "creation_rules:\n  - path_regex: ^secrets/staging/.*\\.enc\\.yaml$\n    age: " + recipientA(t) + "\n"

	t.Run("good change", func(t *testing.T) {
		a := newActRepo(t, "secrets-check.yml")
		a.tagForAct(e, img)
		writeFile(t, filepath.Join(a.dir, ".sops.yaml"), []byte(sopsYAML), 0o644)
		a.commit("staging", head.Enc)
		log, code := a.run(e, actRun{event: "pull_request", env: "staging", eventJSON: event, secrets: creds,
			checkoutRefs: map[string][]byte{baseSHA: base.Enc}})
		if code != 0 {
			t.Fatalf("act exit code %d:\n%s", code, log)
		}
		for _, want := range []string{"file(s): 0 error(s)", "checkout stand-in: ref " + baseSHA + " into base", `Decrypted "secrets/staging/galaxy.enc.yaml" in memory: 9 keys`} {
			if !strings.Contains(log, want) {
				t.Errorf("act's log lacks %q:\n%s", want, log)
			}
		}
		canary.AssertNone(t, "act's log", []byte(log), append(base.Forms(), head.Forms()...))
	})
	t.Run("the seed's plaintext file", func(t *testing.T) {
		a := newActRepo(t, "secrets-check.yml")
		a.tagForAct(e, img)
		writeFile(t, filepath.Join(a.dir, ".sops.yaml"), []byte(sopsYAML), 0o644)
		a.commit("staging", repoFile(t, "testdata/seedbug/galaxy.enc.yaml"))
		log, code := a.run(e, actRun{event: "pull_request", env: "staging", eventJSON: event, secrets: creds,
			checkoutRefs: map[string][]byte{baseSHA: base.Enc}})
		if code == 0 {
			t.Fatalf("act passed a pull request that commits plaintext:\n%s", log)
		}
		if !strings.Contains(log, "::error file=secrets/staging/galaxy.enc.yaml") && !strings.Contains(log, "secrets/staging/galaxy.enc.yaml") {
			t.Errorf("no annotation on the file:\n%s", log)
		}
		var plain map[string]string
		if err := yaml.Unmarshal(repoFile(t, "testdata/seedbug/galaxy.plain.yaml"), &plain); err != nil || len(plain) == 0 {
			t.Fatalf("seedbug golden: %v", err)
		}
		var values []string
		for _, v := range plain {
			values = append(values, v)
		}
		canary.AssertNone(t, "act's log", []byte(log), append(base.Forms(), canary.Forms(values, nil)...))
	})
}
