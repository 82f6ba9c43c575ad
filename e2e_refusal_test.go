package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

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
		{"tampered file", func(r *runner) { r.put("secrets/staging/galaxy.enc.yaml", flipFirstValue(canary)) }, false, false},
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

var firstEncRE = regexp.MustCompile(`(?m)^(\w+: ENC\[AES256_GCM,data:)(.)`)

// flipFirstValue changes one byte of the first encrypted value.
func flipFirstValue(file []byte) []byte {
	done := false
	return firstEncRE.ReplaceAllFunc(file, func(m []byte) []byte {
		if done {
			return m
		}
		done = true
		out := bytes.Clone(m)
		if out[len(out)-1] == 'A' {
			out[len(out)-1] = 'B'
		} else {
			out[len(out)-1] = 'A'
		}
		return out
	})
}

// swapFirstTwoValues exchanges the ENC values of the first two keys.
func swapFirstTwoValues(t *testing.T, file []byte) []byte {
	t.Helper()
	re := regexp.MustCompile(`(?m)^(\w+): (ENC\[.*\])$`)
	m := re.FindAllSubmatch(file, 2)
	if len(m) < 2 {
		t.Fatal("fixture has fewer than two encrypted values")
	}
	out := bytes.Replace(file, m[0][0], []byte(string(m[0][1])+": "+string(m[1][2])), 1)
	return bytes.Replace(out, m[1][0], []byte(string(m[1][1])+": "+string(m[0][2])), 1)
}

func closedPort(t *testing.T) string {
	addr, _ := countingListener(t)
	// Taking the address of a listener and closing it leaves a port that
	// refuses connections.
	return addr
}

// TestRefusedBeforeContact checks that a bad file or bad inputs fail with
// one clear line, before any connection, leaving the remote file as it was.
func TestRefusedBeforeContact(t *testing.T) {
	t.Parallel()
	good := readTestdata(t, "staging/galaxy.enc.yaml")
	cases := []struct {
		name   string
		mutate func(r *runner)
		want   []string
	}{
		{"seed runbook regex", func(r *runner) { r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "seedbug/galaxy.enc.yaml")) },
			[]string{"plaintext", "database_url", "encrypted_regex", "rotate", "unencrypted_regex: ^sops_"}},
		{"not a sops file", func(r *runner) { r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "notsops/plain.yaml")) },
			[]string{"no sops metadata", "rotate"}},
		{"not yaml", func(r *runner) { r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "notsops/garbage.yaml")) },
			[]string{"not UTF-8"}},
		{"invalid yaml", func(r *runner) { r.put("secrets/staging/galaxy.enc.yaml", []byte("a: b\n  c: [d\n")) },
			[]string{"not valid YAML", "line "}},
		{"top-level list", func(r *runner) { r.put("secrets/staging/galaxy.enc.yaml", []byte("- a\n- b\n")) },
			[]string{"a list at the top level"}},
		{"wrong age key", func(r *runner) { r.inputs["age_key"] = string(readTestdata(t, "keys/c.agekey")) },
			[]string{"matches none", recipient(t, "a"), recipient(t, "c"), "sops updatekeys"}},
		{"tampered value", func(r *runner) { r.put("secrets/staging/galaxy.enc.yaml", flipFirstValue(good)) },
			[]string{"integrity", `"database_url"`}},
		{"values swapped between keys", func(r *runner) { r.put("secrets/staging/galaxy.enc.yaml", swapFirstTwoValues(t, good)) },
			[]string{"integrity", "does not decrypt"}},
		{"edited lastmodified", func(r *runner) {
			r.put("secrets/staging/galaxy.enc.yaml", regexp.MustCompile(`lastmodified: "\d{4}`).ReplaceAll(good, []byte(`lastmodified: "2001`)))
		}, []string{"integrity", "lastmodified"}},
		{"missing MAC", func(r *runner) {
			r.put("secrets/staging/galaxy.enc.yaml", regexp.MustCompile(`(?m)^    mac: .*\n`).ReplaceAll(good, nil))
		}, []string{"integrity", "no MAC"}},
		{"alias bomb", func(r *runner) {
			r.put("secrets/staging/galaxy.enc.yaml", []byte("a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n"))
		}, []string{"anchors or aliases"}},
		{"deep nesting", func(r *runner) {
			r.put("secrets/staging/galaxy.enc.yaml", []byte(strings.Repeat("{a: ", 40)+"1"+strings.Repeat("}", 40)+"\n"))
		}, []string{"deeper than 32 levels"}},
		{"known_hosts lacks the host", func(r *runner) {
			r.inputs["known_hosts"] = "[127.0.0.9]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdXLaMJmAkkKsuBaq2FkbhEiWJ55gsuiAWQr52e24Xd"
		}, []string{"known_hosts has no entry for", "ssh-keyscan"}},
		{"oversized file", func(r *runner) {
			r.put("secrets/staging/galaxy.enc.yaml", bytes.Repeat([]byte("# padding\n"), 2<<20))
		}, []string{"limit"}},
		{"missing file", func(r *runner) { r.inputs["file"] = "secrets/prod/galaxy.enc.yaml" },
			[]string{`"secrets/prod/galaxy.enc.yaml" does not exist`, "actions/checkout"}},
		{"file outside workspace", func(r *runner) { r.inputs["file"] = "../etc/passwd" },
			[]string{"input file", "not a path inside the workspace"}},
		{"malformed age key line", func(r *runner) { r.inputs["age_key"] = "# comment\n\nAGE-SECRET-KEY-1NOTAREALKEY\n" },
			[]string{"age_key: line 3", "malformed"}},
		{"age key with CRLF and BOM still fails only on recipient", func(r *runner) {
			r.inputs["age_key"] = "\uFEFF" + strings.ReplaceAll(string(readTestdata(t, "keys/c.agekey")), "\n", "\r\n")
		}, []string{"matches none", recipient(t, "c")}},
		{"public key as ssh_key", func(r *runner) { r.inputs["ssh_key"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB deploy@example" },
			[]string{"ssh_key: is a public key"}},
		{"ssh_key newlines lost", func(r *runner) { r.inputs["ssh_key"] = strings.ReplaceAll(r.inputs["ssh_key"], "\n", " ") },
			[]string{"single line"}},
		{"both host key inputs", func(r *runner) { r.inputs["host_fingerprint"] = "SHA256:" + strings.Repeat("A", 43) },
			[]string{"not both"}},
		{"no host key input", func(r *runner) { delete(r.inputs, "known_hosts") },
			[]string{"input known_hosts: is empty, and so is host_fingerprint", "ssh-keyscan"}},
		{"md5 fingerprint", func(r *runner) {
			delete(r.inputs, "known_hosts")
			r.inputs["host_fingerprint"] = "16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"
		}, []string{"MD5", "SHA256:"}},
		{"required key missing", func(r *runner) { r.inputs["required_keys"] = "database_url, smtp_password,\nb2_key_id\nredis_url" },
			[]string{"lacks 2 required key(s): smtp_password, redis_url", "sops edit"}},
		{"bad env", func(r *runner) { r.inputs["env"] = "Prod!" }, []string{"input env"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, contacts := countingListener(t)
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

func recipient(t *testing.T, name string) string {
	t.Helper()
	m := regexp.MustCompile(`public key: (age1\w+)`).FindSubmatch(readTestdata(t, "keys/"+name+".agekey"))
	if m == nil {
		t.Fatalf("no public key in %s", name)
	}
	return string(m[1])
}

// testClientKey is an SSH key that no server authorizes.
func testClientKey(t *testing.T) []byte {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(block)
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
