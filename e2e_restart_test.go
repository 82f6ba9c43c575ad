package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/canary"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// TestRestartCommand runs restart_command on a real sshd: only when the
// file changed, over the deploy's connection, its output printed behind
// the host's label (a line from the host can never be a workflow
// command), a failure reported as "installed, restart failed".
func TestRestartCommand(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	marks := filepath.Join(t.TempDir(), "restarts")
	r := newRunner(t)
	remote := r.forHost(s)
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	r.inputs["restart_command"] = "echo restarted >> " + marks + "; echo '::error::from the host'; echo 'warn ##[warning]x' >&2"

	res := r.run()
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if got := countLines(t, marks); got != 1 {
		t.Errorf("restart_command ran %d times on a changed file, want 1", got)
	}
	for _, l := range strings.Split(res.stdout, "\n") {
		if strings.HasPrefix(l, "::error::from the host") || strings.Contains(l, "##[warning]") {
			t.Errorf("the host's output reached the log as a workflow command: %q", l)
		}
	}
	if !strings.Contains(res.stdout, s.User+"@"+s.Addr+": restart stdout | ::error::from the host") {
		t.Errorf("the host's output is not in the log behind its label:\n%s", res.stdout)
	}
	label := s.User + "@" + s.Addr
	if got := outputValue(res.output, "hosts_restarted"); got != label {
		t.Errorf("hosts_restarted = %q, want %q", got, label)
	}
	if got := outputValue(res.output, "hosts_changed"); got != label {
		t.Errorf("hosts_changed = %q, want %q", got, label)
	}
	if !strings.Contains(res.summary, "services restarted") {
		t.Errorf("the summary does not say the services were restarted:\n%s", res.summary)
	}

	t.Run("unchanged: not run", func(t *testing.T) {
		res := r.run()
		if res.code != 0 || countLines(t, marks) != 1 {
			t.Errorf("exit %d, %d restarts; want 0 and still 1\n%s", res.code, countLines(t, marks), res.stdout)
		}
		if got := outputValue(res.output, "hosts_restarted"); got != "" {
			t.Errorf("hosts_restarted = %q on an unchanged file", got)
		}
	})

	t.Run("failing command", func(t *testing.T) {
		r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "multi/galaxy.enc.yaml"))
		r.inputs["restart_command"] = "echo 'compose: no such service: api' >&2; exit 7"
		res := r.run()
		if res.code != 1 {
			t.Fatalf("exit %d, want 1\n%s", res.code, res.stdout)
		}
		errs := errorLines(res.stdout)
		if len(errs) != 1 {
			t.Fatalf("%d ::error:: lines, want 1:\n%s", len(errs), res.stdout)
		}
		for _, want := range []string{"installed and verified", "exit status 7", "no such service: api", "fix:"} {
			if !strings.Contains(errs[0], want) {
				t.Errorf("the error does not say %q: %s", want, errs[0])
			}
		}
		if got := string(must(os.ReadFile(remote))); got != string(readTestdata(t, "multi/galaxy.plain.yaml")) {
			t.Errorf("the host does not hold the new file")
		}
		if got := outputValue(res.output, "changed"); got != "true" {
			t.Errorf("changed = %q, want true: the file did change", got)
		}
		if strings.Count(res.stdout, "restart_command failed") != 1 {
			t.Errorf("a failed restart was retried:\n%s", res.stdout)
		}
	})

	t.Run("rollback hides the output", func(t *testing.T) {
		r.inputs["operation"] = "rollback"
		r.inputs["restart_command"] = "echo rolled >> " + marks + "; echo printed-by-the-host-on-rollback"
		before := countLines(t, marks)
		res := r.run()
		if res.code != 0 {
			t.Fatalf("exit %d\n%s", res.code, res.stdout)
		}
		if countLines(t, marks) != before+1 {
			t.Errorf("restart_command did not run once on the rollback")
		}
		if strings.Contains(res.all(), "printed-by-the-host-on-rollback") {
			t.Errorf("a rollback printed the host's output, which no mask covers")
		}
		if !strings.Contains(res.stdout, "not shown on a rollback") {
			t.Errorf("the log does not say the output is hidden:\n%s", res.stdout)
		}
	})
}

// TestRestartCommandSFTPOnly: an account that runs no commands is refused
// before anything is written.
func TestRestartCommandSFTPOnly(t *testing.T) {
	t.Parallel()
	root := sshtest.ChrootDir(t)
	s := sshtest.Start(t, sshtest.WithChroot(root))
	r := newRunner(t)
	r.forHost(s)
	r.inputs["remote_path"] = "/srv/galaxy.yaml"
	r.inputs["restart_command"] = "true"
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	res := r.run()
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.code, res.stdout)
	}
	if errs := errorLines(res.stdout); len(errs) != 1 || !strings.Contains(errs[0], "runs no commands") || !strings.Contains(errs[0], "nothing was written") {
		t.Errorf("want one error saying the account runs no commands:\n%s", res.stdout)
	}
	if fileExists(filepath.Join(root, "srv", "galaxy.yaml")) || fileExists(filepath.Join(root, "srv")) {
		t.Errorf("something was written on an SFTP-only host")
	}
}

func countLines(t *testing.T, p string) int {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		return 0
	}
	return strings.Count(string(b), "\n")
}

// TestChangedKeys: the summary and the changed_keys output name the keys a
// deploy added, removed and changed on each host, never a value.
func TestChangedKeys(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	r := newRunner(t)
	r.forHost(s)
	label := s.User + "@" + s.Addr
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	res := r.run()
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if got := outputValue(res.output, "changed_keys"); !strings.Contains(got, `"`+label+`":{"added":["database_url","mcp_db_url",`) || !strings.Contains(got, `"removed":[],"changed":[]`) {
		t.Errorf("first deploy: changed_keys = %s", got)
	}
	// multi holds 3 of staging's 9 keys, with other values.
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "multi/galaxy.enc.yaml"))
	res = r.run()
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	want := `{"` + label + `":{"added":[],"removed":["mcp_db_url","oauth_signing_key","b2_key_id","b2_application_key","pgbackrest_cipher_pass","smoke_principal_jwt"],"changed":["database_url","better_auth_secret","docs_api_token"]}}`
	if got := outputValue(res.output, "changed_keys"); got != want {
		t.Errorf("changed_keys = %s\nwant %s", got, want)
	}
	if !strings.Contains(res.summary, "**Keys changed on `"+label+"`**: added (0) ; removed (6)") {
		t.Errorf("the summary does not list the changes:\n%s", res.summary)
	}
	for _, golden := range []string{"staging/galaxy.plain.yaml", "multi/galaxy.plain.yaml"} {
		for _, line := range strings.Split(string(readTestdata(t, golden)), "\n") {
			if _, v, ok := strings.Cut(line, ": "); ok && len(v) > 8 && strings.Contains(canary.VisibleLog(res.all()), v) {
				t.Errorf("a value of %s was printed", golden)
			}
		}
	}
	res = r.run()
	if got := outputValue(res.output, "changed_keys"); got != `{"`+label+`":{"added":[],"removed":[],"changed":[]}}` {
		t.Errorf("unchanged rerun: changed_keys = %s", got)
	}
	// With backup off the replaced version is still compared: the install
	// reads it before replacing it.
	r.inputs["backup"] = "false"
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	res = r.run()
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	want = `{"` + label + `":{"added":["mcp_db_url","oauth_signing_key","b2_key_id","b2_application_key","pgbackrest_cipher_pass","smoke_principal_jwt"],"removed":[],"changed":["database_url","better_auth_secret","docs_api_token"]}}`
	if got := outputValue(res.output, "changed_keys"); got != want {
		t.Errorf("backup false: changed_keys = %s\nwant %s", got, want)
	}
}
