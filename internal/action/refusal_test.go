package action

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sethvargo/go-githubactions"

	"github.com/productgalaxy/sops-deploy-action/internal/sopstest"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// fakeRunner is the runner's side of one in-process run: inputs, a
// workspace on disk (read through os.Root, as the action reads
// GITHUB_WORKSPACE) and the file commands, as temporary files.
type fakeRunner struct {
	t         *testing.T
	inputs    map[string]string
	workspace string
}

func newFakeRunner(t *testing.T) *fakeRunner {
	return &fakeRunner{t: t, inputs: map[string]string{}, workspace: t.TempDir()}
}

func (r *fakeRunner) put(rel string, data []byte) {
	r.t.Helper()
	p := filepath.Join(r.workspace, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

// run runs the action as Run is run by main, and returns what it printed,
// the step summary and Run's error (non-nil: exit status 1).
func (r *fakeRunner) run() (stdout, summary string, err error) {
	r.t.Helper()
	files := map[string]string{}
	for _, v := range []string{"GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV"} {
		files[v] = filepath.Join(r.t.TempDir(), strings.ToLower(v))
		if err := os.WriteFile(files[v], nil, 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	getenv := func(k string) string {
		if p, ok := files[k]; ok {
			return p
		}
		switch k {
		case "GITHUB_WORKSPACE":
			return r.workspace
		case "GITHUB_ACTIONS":
			return "true"
		}
		if name, ok := strings.CutPrefix(k, "INPUT_"); ok {
			return r.inputs[strings.ToLower(name)]
		}
		return ""
	}
	var buf bytes.Buffer
	gha := githubactions.New(githubactions.WithWriter(LogWriter(&buf)), githubactions.WithGetenv(getenv))
	err = Run(context.Background(), gha, Options{})
	b, rerr := os.ReadFile(files["GITHUB_STEP_SUMMARY"])
	if rerr != nil {
		r.t.Fatal(rerr)
	}
	return buf.String(), string(b), err
}

// testdata reads a TEST-ONLY fixture of the repository's testdata.
func testdata(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// errorLines returns the ::error:: lines of stdout.
func errorLines(stdout string) []string {
	var out []string
	for _, l := range strings.Split(stdout, "\n") {
		if strings.HasPrefix(l, "::error") {
			out = append(out, l)
		}
	}
	return out
}

// TestRefusedBeforeContact checks that a bad file or bad inputs fail with
// one clear line, before any connection, leaving the remote file as it
// was. The root package's test of the same name runs a few of these cases
// as a process, for the runner's side of the contract (exit status, file
// commands).
func TestRefusedBeforeContact(t *testing.T) {
	t.Parallel()
	good := testdata(t, "staging/galaxy.enc.yaml")
	cases := []struct {
		name   string
		mutate func(r *fakeRunner)
		want   []string
	}{
		{"seed runbook regex", func(r *fakeRunner) { r.put("secrets/staging/galaxy.enc.yaml", testdata(t, "seedbug/galaxy.enc.yaml")) },
			[]string{"plaintext", "database_url", "encrypted_regex", "rotate", "unencrypted_regex: ^sops_"}},
		{"not a sops file", func(r *fakeRunner) { r.put("secrets/staging/galaxy.enc.yaml", testdata(t, "notsops/plain.yaml")) },
			[]string{"no sops metadata", "rotate"}},
		{"not yaml", func(r *fakeRunner) { r.put("secrets/staging/galaxy.enc.yaml", testdata(t, "notsops/garbage.yaml")) },
			[]string{"not UTF-8"}},
		{"invalid yaml", func(r *fakeRunner) { r.put("secrets/staging/galaxy.enc.yaml", []byte("a: b\n  c: [d\n")) },
			[]string{"not valid YAML", "line "}},
		{"top-level list", func(r *fakeRunner) { r.put("secrets/staging/galaxy.enc.yaml", []byte("- a\n- b\n")) },
			[]string{"a list at the top level"}},
		{"wrong age key", func(r *fakeRunner) { r.inputs["age_key"] = string(testdata(t, "keys/c.agekey")) },
			[]string{"matches none", sopstest.Recipient(t, testdata(t, "keys/a.agekey")), sopstest.Recipient(t, testdata(t, "keys/c.agekey")), "sops updatekeys"}},
		{"tampered value", func(r *fakeRunner) { r.put("secrets/staging/galaxy.enc.yaml", sopstest.FlipFirstValue(good)) },
			[]string{"integrity", `"database_url"`}},
		{"values swapped between keys", func(r *fakeRunner) { r.put("secrets/staging/galaxy.enc.yaml", sopstest.SwapFirstTwoValues(t, good)) },
			[]string{"integrity", "does not decrypt"}},
		{"edited lastmodified", func(r *fakeRunner) {
			r.put("secrets/staging/galaxy.enc.yaml", regexp.MustCompile(`lastmodified: "\d{4}`).ReplaceAll(good, []byte(`lastmodified: "2001`)))
		}, []string{"integrity", "lastmodified"}},
		{"missing MAC", func(r *fakeRunner) {
			r.put("secrets/staging/galaxy.enc.yaml", regexp.MustCompile(`(?m)^    mac: .*\n`).ReplaceAll(good, nil))
		}, []string{"integrity", "no MAC"}},
		{"alias bomb", func(r *fakeRunner) {
			r.put("secrets/staging/galaxy.enc.yaml", []byte("a: &a [x, x, x, x]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n"))
		}, []string{"anchors or aliases"}},
		{"deep nesting", func(r *fakeRunner) {
			r.put("secrets/staging/galaxy.enc.yaml", []byte(strings.Repeat("{a: ", 40)+"1"+strings.Repeat("}", 40)+"\n"))
		}, []string{"deeper than 32 levels"}},
		{"known_hosts lacks the host", func(r *fakeRunner) {
			r.inputs["known_hosts"] = "[127.0.0.9]:2222 ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdXLaMJmAkkKsuBaq2FkbhEiWJ55gsuiAWQr52e24Xd"
		}, []string{"known_hosts has no entry for", "ssh-keyscan"}},
		{"oversized file", func(r *fakeRunner) {
			r.put("secrets/staging/galaxy.enc.yaml", bytes.Repeat([]byte("# padding\n"), 2<<20))
		}, []string{"limit"}},
		{"missing file", func(r *fakeRunner) { r.inputs["file"] = "secrets/prod/galaxy.enc.yaml" },
			[]string{`"secrets/prod/galaxy.enc.yaml" does not exist`, "actions/checkout"}},
		{"file outside workspace", func(r *fakeRunner) { r.inputs["file"] = "../etc/passwd" },
			[]string{"input file", "not a path inside the workspace"}},
		{"malformed age key line", func(r *fakeRunner) { r.inputs["age_key"] = "# comment\n\nAGE-SECRET-KEY-1NOTAREALKEY\n" },
			[]string{"age_key: line 3", "malformed"}},
		{"age key with CRLF and BOM still fails only on recipient", func(r *fakeRunner) {
			r.inputs["age_key"] = "\uFEFF" + strings.ReplaceAll(string(testdata(t, "keys/c.agekey")), "\n", "\r\n")
		}, []string{"matches none", sopstest.Recipient(t, testdata(t, "keys/c.agekey"))}},
		{"public key as ssh_key", func(r *fakeRunner) { r.inputs["ssh_key"] = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB deploy@example" },
			[]string{"ssh_key: is a public key"}},
		{"ssh_key newlines lost", func(r *fakeRunner) { r.inputs["ssh_key"] = strings.ReplaceAll(r.inputs["ssh_key"], "\n", " ") },
			[]string{"single line"}},
		{"both host key inputs", func(r *fakeRunner) { r.inputs["host_fingerprint"] = "SHA256:" + strings.Repeat("A", 43) },
			[]string{"not both"}},
		{"no host key input", func(r *fakeRunner) { delete(r.inputs, "known_hosts") },
			[]string{"input known_hosts: is empty, and so is host_fingerprint", "ssh-keyscan"}},
		{"md5 fingerprint", func(r *fakeRunner) {
			delete(r.inputs, "known_hosts")
			r.inputs["host_fingerprint"] = "16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"
		}, []string{"MD5", "SHA256:"}},
		{"required key missing", func(r *fakeRunner) { r.inputs["required_keys"] = "database_url, smtp_password,\nb2_key_id\nredis_url" },
			[]string{"lacks 2 required key(s): smtp_password, redis_url", "sops edit"}},
		{"bad env", func(r *fakeRunner) { r.inputs["env"] = "Prod!" }, []string{"input env"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			addr, contacts := sshtest.NeverContacted(t)
			_, keyPEM := sshtest.NewKey(t)
			r := newFakeRunner(t)
			remote := filepath.Join(t.TempDir(), "galaxy.yaml")
			r.inputs = map[string]string{
				"env":         "staging",
				"age_key":     string(testdata(t, "keys/a.agekey")),
				"host":        addr,
				"user":        "deploy",
				"ssh_key":     string(keyPEM),
				"known_hosts": "[127.0.0.1]:" + addr[strings.LastIndex(addr, ":")+1:] + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdXLaMJmAkkKsuBaq2FkbhEiWJ55gsuiAWQr52e24Xd",
				"remote_path": remote,
			}
			if err := os.WriteFile(remote, []byte("old: version\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			r.put("secrets/staging/galaxy.enc.yaml", good)
			tc.mutate(r)
			stdout, summary, err := r.run()
			if err == nil {
				t.Fatalf("Run succeeded, want a failure\n%s", stdout)
			}
			errs := errorLines(stdout)
			if len(errs) != 1 {
				t.Fatalf("got %d ::error:: lines, want 1:\n%s", len(errs), stdout)
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
			if got, err := os.ReadFile(remote); err != nil || string(got) != "old: version\n" {
				t.Errorf("remote file changed")
			}
			if !strings.Contains(summary, "not deployed") {
				t.Errorf("summary does not report the failure:\n%s", summary)
			}
		})
	}
}
