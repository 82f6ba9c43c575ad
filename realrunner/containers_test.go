package realrunner

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/canary"
	"github.com/productgalaxy/sops-deploy-action/internal/dockertest"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// appImage is a busybox app image that starts through secrets-env, as
// .github/examples/docker-compose.prod.yml shows.
func appImage(t *testing.T, e *dockertest.Engine) string {
	t.Helper()
	se := e.SecretsEnvImage(t)
	base := e.EnsureBusybox(t)
	tag := "sops-deploy-test/app:" + strings.TrimPrefix(se, "sops-deploy-test/secrets-env:")
	if e.HasImage(tag) {
		return tag
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "Dockerfile"), []byte("FROM "+se+" AS secrets-env\nFROM "+base+"\n"+
		"COPY --from=secrets-env /secrets-env /usr/local/bin/secrets-env\n"+
		"ENTRYPOINT [\"/usr/local/bin/secrets-env\"]\n"), 0o644)
	e.Build(t, dir, tag, true)
	return tag
}

// appLoop is the app's command: it writes what it sees, the variable and
// the secret file's line, to /out/seen, again and again. Nothing is
// printed.
const appLoop = `while :; do { printf '%s\n' "$DATABASE_URL"; grep '^database_url:' /run/secrets/galaxy_yaml; } > /out/seen.tmp 2>/dev/null && mv /out/seen.tmp /out/seen; sleep 0.1; done`

// waitSeen waits until the app has seen the value of database_url in sec,
// in its environment and in the mounted file.
func waitSeen(t *testing.T, out string, sec secrets, what string) {
	t.Helper()
	want := sec.Values[0] // database_url
	deadline := time.Now().Add(30 * time.Second)
	var got string
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(filepath.Join(out, "seen"))
		got = string(b)
		lines := strings.Split(strings.TrimSpace(got), "\n")
		if len(lines) == 2 && lines[0] == want && strings.Contains(lines[1], want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("the app does not see %s (it sees %d bytes)", what, len(got))
}

// TestContainersSeeNewSecrets: a container that mounts the installed file
// and starts through secrets-env sees v1; after a deploy of v2 without
// restart_command it still sees v1 (the bind mount keeps the old inode);
// after a deploy of v3 with restart_command it sees v3.
func TestContainersSeeNewSecrets(t *testing.T) {
	e := dockertest.Require(t)
	action := e.ActionImage(t)
	app := appImage(t, e)
	s := sshtest.Start(t)
	hostDir := t.TempDir()
	remote := filepath.Join(hostDir, "etc", "galaxy", "secrets", "galaxy.yaml")
	name := "sops-deploy-test-app-" + strconv.Itoa(os.Getpid())
	v1, v2, v3 := secretsFile(t), secretsFile(t), secretsFile(t)
	forms := append(append(v1.Forms(), v2.Forms()...), v3.Forms()...)
	var printed []string

	deploy := func(sec secrets, restart string) {
		t.Helper()
		r := newRunnerRun(t)
		writeFile(t, filepath.Join(r.workspace, "secrets/prod/galaxy.enc.yaml"), sec.Enc, 0o644)
		for k, v := range map[string]string{"env": "prod", "age_key": string(repoFile(t, "testdata/keys/a.agekey")),
			"host": s.Addr, "user": s.User, "ssh_key": string(s.ClientKeyPEM), "known_hosts": s.KnownHosts,
			"remote_path": remote, "restart_command": restart} {
			r.inputs[k] = v
		}
		res := r.run(t, e, action)
		printed = append(printed, res.stdout, res.stderr, res.summary)
		if res.code != 0 {
			t.Fatalf("deploy: exit %d\n%s%s", res.code, res.stdout, res.stderr)
		}
		if restart != "" && !strings.Contains(res.output, "hosts_restarted<<") || (restart != "") != strings.Contains(res.summary, "services restarted") {
			t.Errorf("restart not reported as it happened:\n%s", res.summary)
		}
	}

	deploy(v1, "")
	out := t.TempDir()
	os.Chmod(out, 0o777)
	e.Run(t, "run", "-d", "--name", name, "--network", "none",
		"-v", remote+":/run/secrets/galaxy_yaml:ro", "-v", out+":/out",
		app, "DATABASE_URL=database_url", "--", "sh", "-c", appLoop)
	// Not t.Context(): it is cancelled before Cleanup runs, and the
	// container would be left running.
	t.Cleanup(func() { e.Command(context.Background(), "rm", "-f", name).Run() })
	waitSeen(t, out, v1, "v1 at start")

	deploy(v2, "")
	time.Sleep(time.Second)
	waitSeen(t, out, v1, "v1 after a deploy without restart_command (the bind-mount trap)")

	deploy(v3, e.CLI+" -H "+e.Host+" restart -t 2 "+name)
	waitSeen(t, out, v3, "v3 after a deploy with restart_command")

	printed = append(printed, e.Run(t, "logs", name))
	canary.AssertNone(t, "the action's, the host command's and the app's output", []byte(canary.VisibleLog(strings.Join(printed, "\n"))), forms)
}

// TestSecretsEnvInContainer: SIGTERM reaches the command and its exit code
// is the container's; the refusals exit 125 with a message naming the key,
// file and variable; -user reads a 0600 root-owned file and then runs the
// command as that user.
func TestSecretsEnvInContainer(t *testing.T) {
	e := dockertest.Require(t)
	app := appImage(t, e)
	sec := secretsFile(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "galaxy.yaml")
	writeFile(t, file, sec.Plain, 0o600) // owned by root: the tests run as root
	mount := file + ":/run/secrets/galaxy_yaml:ro"
	// Two keys that -all maps to one variable name.
	clash := filepath.Join(dir, "clash.yaml")
	writeFile(t, clash, []byte("db_password: "+canary.Marker()+"-a\ndb:\n  password: "+canary.Marker()+"-b\n"), 0o600)
	var printed []string

	run := func(args ...string) (string, int) {
		t.Helper()
		cmd := e.Command(t.Context(), append([]string{"run", "--rm", "--network", "none", "-v", mount}, args...)...)
		b, err := cmd.CombinedOutput()
		printed = append(printed, string(b))
		if err != nil && cmd.ProcessState == nil {
			t.Fatal(err)
		}
		return string(b), cmd.ProcessState.ExitCode()
	}

	t.Run("SIGTERM reaches the command", func(t *testing.T) {
		name := "sops-deploy-test-term-" + strconv.Itoa(os.Getpid())
		e.Run(t, "run", "-d", "--name", name, "--network", "none", "-v", mount, app, "-all", "--",
			"sh", "-c", `trap 'exit 42' TERM; while :; do sleep 0.1; done`)
		defer e.Command(t.Context(), "rm", "-f", name).Run()
		time.Sleep(time.Second)
		e.Run(t, "stop", "-t", "10", name)
		if code := strings.TrimSpace(e.Run(t, "inspect", "--format", "{{.State.ExitCode}}", name)); code != "42" {
			t.Errorf("container exit code %s, want the command's 42", code)
		}
	})
	for _, tc := range []struct {
		name  string
		args  []string
		code  int
		words []string
	}{
		{"missing key", []string{app, "X=no_such_key", "--", "true"}, 125, []string{"no_such_key", "/run/secrets/galaxy_yaml"}},
		{"existing variable", []string{"-e", "DATABASE_URL=already", app, "DATABASE_URL=database_url", "--", "true"}, 125, []string{"DATABASE_URL"}},
		{"command not found", []string{app, "-all", "--", "no-such-command"}, 127, []string{"no-such-command"}},
		{"name clash", []string{"-v", clash + ":/run/secrets/clash.yaml:ro", app, "-file", "/run/secrets/clash.yaml", "-all", "--", "true"}, 125, []string{"DB_PASSWORD", "db_password", "db.password"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, code := run(tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d:\n%s", code, tc.code, out)
			}
			for _, w := range tc.words {
				if !strings.Contains(out, w) {
					t.Errorf("the message does not name %q:\n%s", w, out)
				}
			}
		})
	}
	t.Run("-user with a 0600 root-owned file", func(t *testing.T) {
		out, code := run(app, "-user", "10001:10001", "DB=database_url", "--", "sh", "-c",
			`id -u; id -g; test -n "$DB" && echo has-value; cat /run/secrets/galaxy_yaml >/dev/null 2>&1 || echo cannot-read`)
		if code != 0 || strings.Join(strings.Fields(out), " ") != "10001 10001 has-value cannot-read" {
			t.Errorf("exit %d, output %q; want uid and gid 10001, the value, and the file unreadable", code, out)
		}
	})
	canary.AssertNone(t, "the entrypoint's output", []byte(strings.Join(printed, "\n")), sec.Forms())
}
