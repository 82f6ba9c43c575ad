package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/sopstest"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// TestCanaryNoLeak runs the canary fixture through the success path and
// the failure paths, with debug off and on, and searches every output.
func TestCanaryNoLeak(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	other := sshtest.Start(t)
	forms := leakForms(t)
	canary := readTestdata(t, "canary/canary.enc.yaml")
	cases := []struct {
		name      string
		mutate    func(r *runner)
		ok        bool
		decrypted bool // the values were decrypted, so they must all be masked
	}{
		{"success", func(*runner) {}, true, true},
		{"wrong age key", func(r *runner) { r.inputs["age_key"] = string(readTestdata(t, "keys/c.agekey")) }, false, false},
		{"tampered file", func(r *runner) { r.put("secrets/staging/galaxy.enc.yaml", sopstest.FlipFirstValue(canary)) }, false, false},
		{"host key mismatch", func(r *runner) {
			r.inputs["known_hosts"] = strings.Replace(other.KnownHosts, other.Addr[strings.LastIndex(other.Addr, ":"):], s.Addr[strings.LastIndex(s.Addr, ":"):], 1)
		}, false, true},
		{"auth refused", func(r *runner) { r.inputs["ssh_key"] = string(other.ClientKeyPEM) }, false, true},
		{"host unreachable", func(r *runner) {
			r.inputs["host"] = closedPort(t)
			r.inputs["host_fingerprint"], r.inputs["known_hosts"] = s.Fingerprint, ""
			r.inputs["retries"] = "0"
		}, false, true},
		{"remote not writable", func(r *runner) { r.inputs["remote_path"] = "/proc/sops-deploy-test/galaxy.yaml" }, false, true},
		{"missing input", func(r *runner) { delete(r.inputs, "user") }, false, false},
	}
	for _, tc := range cases {
		for _, debug := range []bool{false, true} {
			name := tc.name
			if debug {
				name += "/debug"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				r := newRunner(t)
				r.forHost(s)
				r.put("secrets/staging/galaxy.enc.yaml", canary)
				if debug {
					r.extraEnv = append(r.extraEnv, "RUNNER_DEBUG=1", "ACTIONS_STEP_DEBUG=true")
				}
				tc.mutate(r)
				res := r.run()
				if tc.ok != (res.code == 0) {
					t.Fatalf("exit code %d, want success=%v\n%s", res.code, tc.ok, res.stdout)
				}
				if !tc.ok {
					if n := len(errorLines(res.stdout)); n != 1 {
						t.Errorf("got %d ::error:: lines, want 1:\n%s", n, res.stdout)
					}
					if res.code != 1 {
						t.Errorf("exit code %d, want 1", res.code)
					}
				}
				if debug && tc.ok && !strings.Contains(res.stdout, "::debug::") {
					t.Errorf("debug run printed no debug line")
				}
				assertNoLeak(t, r, res, forms, tc.decrypted)
			})
		}
	}
}

func closedPort(t *testing.T) string {
	addr, _ := sshtest.NeverContacted(t)
	// Taking the address of a listener and closing it leaves a port that
	// refuses connections.
	return addr
}

// TestRefusedBeforeContact checks, with the action as its own process,
// that refusals fail with exit status 1, one clear line and the summary,
// before any connection, leaving the remote file as it was. Every
// refusal case runs in process in internal/action's test of the same
// name; these few hold the runner's side: inputs from the environment,
// the workspace from GITHUB_WORKSPACE, the file commands.
func TestRefusedBeforeContact(t *testing.T) {
	t.Parallel()
	good := readTestdata(t, "staging/galaxy.enc.yaml")
	cases := []struct {
		name   string
		mutate func(r *runner)
		want   []string
	}{
		{"wrong age key", func(r *runner) { r.inputs["age_key"] = string(readTestdata(t, "keys/c.agekey")) },
			[]string{"matches none", sopstest.Recipient(t, readTestdata(t, "keys/a.agekey")), sopstest.Recipient(t, readTestdata(t, "keys/c.agekey")), "sops updatekeys"}},
		{"missing file", func(r *runner) { r.inputs["file"] = "secrets/prod/galaxy.enc.yaml" },
			[]string{`"secrets/prod/galaxy.enc.yaml" does not exist`, "actions/checkout"}},
		{"file outside workspace", func(r *runner) { r.inputs["file"] = "../etc/passwd" },
			[]string{"input file", "not a path inside the workspace"}},
		{"ssh_key newlines lost", func(r *runner) { r.inputs["ssh_key"] = strings.ReplaceAll(r.inputs["ssh_key"], "\n", " ") },
			[]string{"single line"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, contacts := sshtest.NeverContacted(t)
			r := newRunner(t)
			remote := filepath.Join(t.TempDir(), "galaxy.yaml")
			r.inputs = map[string]string{
				"env":         "staging",
				"age_key":     string(readTestdata(t, "keys/a.agekey")),
				"host":        addr,
				"user":        "deploy",
				"ssh_key":     string(testClientKey(t)),
				"known_hosts": "[127.0.0.1]:" + addr[strings.LastIndex(addr, ":")+1:] + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdXLaMJmAkkKsuBaq2FkbhEiWJ55gsuiAWQr52e24Xd",
				"remote_path": remote,
			}
			if err := os.WriteFile(remote, []byte("old: version\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			r.put("secrets/staging/galaxy.enc.yaml", good)
			tc.mutate(r)
			res := r.run()
			if res.code != 1 {
				t.Fatalf("exit code %d, want 1\n%s", res.code, res.stdout)
			}
			errs := errorLines(res.stdout)
			if len(errs) != 1 {
				t.Fatalf("got %d ::error:: lines, want 1:\n%s", len(errs), res.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0], w) {
					t.Errorf("error line lacks %q:\n%s", w, errs[0])
				}
			}
			if !strings.Contains(errs[0], "fix: ") {
				t.Errorf("error line gives no fix:\n%s", errs[0])
			}
			if n := contacts.Load(); n != 0 {
				t.Errorf("the host was contacted %d time(s) before the inputs and file were checked", n)
			}
			if got := must(os.ReadFile(remote)); string(got) != "old: version\n" {
				t.Errorf("remote file changed")
			}
			if !strings.Contains(res.summary, "not deployed") {
				t.Errorf("summary does not report the failure:\n%s", res.summary)
			}
		})
	}
}

// testClientKey is an SSH key that no server authorizes.
func testClientKey(t *testing.T) []byte {
	t.Helper()
	_, pemBytes := sshtest.NewKey(t)
	return pemBytes
}

// TestHostSideFailures covers host key and authentication failures against
// a real sshd: each fails with one line naming the host, and the remote
// file stays as it was.
func TestHostSideFailures(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	other := sshtest.Start(t)
	port := func(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }
	cases := []struct {
		name   string
		mutate func(r *runner)
		want   []string
		ok     bool
	}{
		{"pinned fingerprint", func(r *runner) {
			delete(r.inputs, "known_hosts")
			r.inputs["host_fingerprint"] = s.Fingerprint
		}, nil, true},
		{"wrong fingerprint", func(r *runner) {
			delete(r.inputs, "known_hosts")
			r.inputs["host_fingerprint"] = other.Fingerprint
		}, []string{"host key mismatch", s.Fingerprint, other.Fingerprint, "nothing was sent"}, false},
		{"known_hosts mismatch", func(r *runner) {
			r.inputs["known_hosts"] = strings.Replace(other.KnownHosts, port(other.Addr), port(s.Addr), 1)
		}, []string{"host key mismatch", s.Fingerprint, other.Fingerprint}, false},
		{"unknown host", func(r *runner) { r.inputs["known_hosts"] = other.KnownHosts },
			[]string{"no entry for", "ssh-keyscan"}, false},
		{"auth refused", func(r *runner) { r.inputs["ssh_key"] = string(other.ClientKeyPEM) },
			[]string{"refused the ssh_key", s.User + "@", "ssh-ed25519 SHA256:", "authorized_keys"}, false},
		{"wrong user", func(r *runner) { r.inputs["user"] = "nosuchuser" },
			[]string{"nosuchuser@", "refused"}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRunner(t)
			remote := r.forHost(s)
			if err := os.MkdirAll(filepath.Dir(remote), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(remote, []byte("old: version\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
			tc.mutate(r)
			res := r.run()
			if tc.ok {
				if res.code != 0 {
					t.Fatalf("exit %d\n%s", res.code, res.stdout)
				}
				return
			}
			if res.code != 1 {
				t.Fatalf("exit code %d, want 1\n%s", res.code, res.stdout)
			}
			errs := errorLines(res.stdout)
			if len(errs) != 1 {
				t.Fatalf("got %d ::error:: lines, want 1:\n%s", len(errs), res.stdout)
			}
			for _, w := range tc.want {
				if !strings.Contains(errs[0], w) {
					t.Errorf("error line lacks %q:\n%s", w, errs[0])
				}
			}
			if got := must(os.ReadFile(remote)); string(got) != "old: version\n" {
				t.Errorf("remote file changed")
			}
			assertNoTempFiles(t, filepath.Dir(remote))
		})
	}
}

// TestEnvironmentCannotChooseKeys plants every place sops looks for keys
// on its own, and a SOPS_AGE_KEY_CMD that would leave a marker file: only
// the age_key input is used, and nothing is executed.
func TestEnvironmentCannotChooseKeys(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	for _, name := range []string{"c", "a"} {
		t.Run("age_key="+name, func(t *testing.T) {
			t.Parallel()
			r := newRunner(t)
			r.forHost(s)
			r.inputs["age_key"] = string(readTestdata(t, "keys/"+name+".agekey"))
			r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
			goodKey := readTestdata(t, "keys/a.agekey")
			keysTxt := filepath.Join(r.home, ".config", "sops", "age", "keys.txt")
			if err := os.MkdirAll(filepath.Dir(keysTxt), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(keysTxt, goodKey, 0o600); err != nil {
				t.Fatal(err)
			}
			marker := filepath.Join(t.TempDir(), "marker")
			r.extraEnv = append(r.extraEnv,
				"SOPS_AGE_KEY="+string(goodKey),
				"SOPS_AGE_KEY_FILE="+keysTxt,
				"SOPS_AGE_KEY_CMD=touch "+marker,
				"SOPS_AGE_SSH_PRIVATE_KEY_CMD=touch "+marker,
				"XDG_CONFIG_HOME="+filepath.Join(r.home, ".config"),
			)
			res := r.run()
			if name == "c" {
				if res.code != 1 || !strings.Contains(res.stdout, "matches none") {
					t.Errorf("a planted key was used: exit %d\n%s", res.code, res.stdout)
				}
			} else if res.code != 0 {
				t.Errorf("exit %d\n%s", res.code, res.stdout)
			}
			if fileExists(marker) {
				t.Errorf("SOPS_AGE_KEY_CMD was executed")
			}
		})
	}
}
