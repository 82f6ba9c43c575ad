package realrunner

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/canary"
	"github.com/productgalaxy/sops-deploy-action/internal/dockertest"
)

// runnerRun is one container action step as GitHub's runner starts it
// (actions/runner ContainerActionHandler and DockerCommandManager): the
// inputs as INPUT_* variables passed by name (their values never appear
// on the docker command line), every input of action.yml present with its
// default where the step gives none, HOME and the file commands under
// /github, RUNNER_TEMP a host path that does not exist in the container,
// the workspace as the working directory, and the Docker socket mounted.
type runnerRun struct {
	temp, workspace, home, workflow, fileCmds string
	inputs                                    map[string]string
}

type runnerResult struct {
	code                                   int
	stdout, stderr, summary, output, envFC string
}

func newRunnerRun(t *testing.T) *runnerRun {
	t.Helper()
	temp := t.TempDir()
	dirs := mustDirs(t, temp, "work/repo/repo", "_temp/_github_home", "_temp/_github_workflow", "_temp/_runner_file_commands")
	return &runnerRun{temp: temp, workspace: dirs[0], home: dirs[1], workflow: dirs[2], fileCmds: dirs[3], inputs: actionInputs(t)}
}

func (r *runnerRun) run(t *testing.T, e *dockertest.Engine, image string) runnerResult {
	t.Helper()
	const id = "0c1d2e3f"
	files := map[string]string{"GITHUB_OUTPUT": "set_output_" + id, "GITHUB_ENV": "set_env_" + id,
		"GITHUB_PATH": "add_path_" + id, "GITHUB_STATE": "save_state_" + id, "GITHUB_STEP_SUMMARY": "step_summary_" + id}
	env := map[string]string{
		"HOME": "/github/home", "GITHUB_WORKSPACE": "/github/workspace", "GITHUB_ACTIONS": "true", "CI": "true",
		"GITHUB_EVENT_PATH": "/github/workflow/event.json", "GITHUB_REPOSITORY": "productgalaxy/galaxy",
		"GITHUB_RUN_ID": "1", "GITHUB_ACTION": "__productgalaxy_sops-deploy-action", "RUNNER_OS": "Linux",
		"RUNNER_ARCH": "X64", "RUNNER_TEMP": filepath.Join(r.temp, "_temp"), "RUNNER_TOOL_CACHE": "/opt/hostedtoolcache",
	}
	for k, name := range files {
		writeFile(t, filepath.Join(r.fileCmds, name), nil, 0o644)
		env[k] = "/github/file_commands/" + name
	}
	writeFile(t, filepath.Join(r.workflow, "event.json"), []byte(`{"ref":"refs/heads/main"}`), 0o644)
	for k, v := range r.inputs {
		env["INPUT_"+strings.ToUpper(k)] = v
	}
	names := make([]string, 0, len(env))
	for k := range env {
		names = append(names, k)
	}
	sort.Strings(names)
	args := []string{"run", "--rm", "--network", "host", "--workdir", "/github/workspace"}
	for _, k := range names {
		args = append(args, "-e", k) // by name: the value comes from the CLI's environment
	}
	args = append(args,
		"-v", e.Socket()+":/var/run/docker.sock",
		"-v", r.home+":/github/home",
		"-v", r.workflow+":/github/workflow",
		"-v", r.fileCmds+":/github/file_commands",
		"-v", r.workspace+":/github/workspace",
		image)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := e.Command(ctx, args...)
	for _, k := range names {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := runnerResult{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("docker run: %v\n%s", err, stderr.String())
	}
	read := func(name string) string { b, _ := os.ReadFile(filepath.Join(r.fileCmds, name)); return string(b) }
	res.summary, res.output, res.envFC = read(files["GITHUB_STEP_SUMMARY"]), read(files["GITHUB_OUTPUT"]), read(files["GITHUB_ENV"])
	return res
}

// TestImageRunsAsRunner runs the image built from the Dockerfile as the
// runner runs it, against a real sshd, with the default remote_path: the
// host holds exactly what `sops decrypt` prints, mode 0600, and nothing
// the container printed or wrote holds a canary.
func TestImageRunsAsRunner(t *testing.T) {
	e := dockertest.Require(t)
	img := e.ActionImage(t)
	h := chrootHost(t, "root")
	sec := secretsFile(t)

	r := newRunnerRun(t)
	writeFile(t, filepath.Join(r.workspace, "secrets/staging/galaxy.enc.yaml"), sec.Enc, 0o644)
	for k, v := range map[string]string{
		"env": "staging", "age_key": string(repoFile(t, "testdata/keys/a.agekey")), "host": h.Addr,
		"user": h.User, "ssh_key": string(h.ClientKeyPEM), "known_hosts": h.KnownHosts,
		"required_keys": strings.Join(runbookKeys, "\n"),
	} {
		r.inputs[k] = v
	}
	res := r.run(t, e, img)
	if res.code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	assertInstalled(t, h, sec.Plain)
	for _, want := range []string{"installed \"" + defaultRemotePath + "\"", "mode 0600"} {
		if !strings.Contains(res.stdout, want) {
			t.Errorf("the log lacks %q:\n%s", want, res.stdout)
		}
	}
	if !strings.Contains(res.output, "changed<<") || !strings.Contains(res.summary, "✅") {
		t.Errorf("outputs or summary missing:\n%s\n%s", res.output, res.summary)
	}
	forms := sec.Forms()
	canary.AssertNone(t, "the container's log", []byte(canary.VisibleLog(res.stdout)+res.stderr), forms)
	for _, dir := range []string{r.home, r.workflow, r.fileCmds, r.workspace} {
		canary.AssertNoneInDir(t, dir, forms, func(p string) bool { return strings.HasSuffix(p, ".enc.yaml") })
	}
	for _, v := range sec.Values {
		if !strings.Contains(res.stdout, "::add-mask::"+v) {
			t.Errorf("a value was not registered as a mask")
		}
	}
}
