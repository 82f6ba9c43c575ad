package main

// End-to-end tests: the action runs as its own process, the way the runner
// starts it (INPUT_* variables, GITHUB_WORKSPACE, file commands), against a
// real OpenSSH server started by the test on 127.0.0.1.

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/productgalaxy/sops-deploy-action/internal/canary"
	"github.com/productgalaxy/sops-deploy-action/internal/sopstest"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

const asActionEnv = "SOPS_DEPLOY_TEST_RUN_AS_ACTION"

func TestMain(m *testing.M) {
	if os.Getenv(asActionEnv) == "1" {
		main()
		os.Exit(0)
	}
	// Most tests here wait for sshd and the action's process.
	testenv.RaiseParallel(8)
	os.Exit(m.Run())
}

func readTestdata(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", rel))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// runner lays out a fake runner: workspace, HOME, file commands, TMPDIR.
type runner struct {
	t                                    *testing.T
	workspace, home, fileCmds, tmp, root string
	inputs                               map[string]string
	extraEnv                             []string
}

type result struct {
	code                                 int
	stdout, stderr, summary, output, env string
}

// all is every output the run produced that a person could see.
func (r result) all() string {
	return strings.Join([]string{r.stdout, r.stderr, r.summary, r.output, r.env}, "\n")
}

func newRunner(t *testing.T) *runner {
	t.Helper()
	root := t.TempDir()
	r := &runner{t: t, root: root, inputs: map[string]string{}}
	for _, d := range []*string{&r.workspace, &r.home, &r.fileCmds, &r.tmp} {
		dir, err := os.MkdirTemp(root, "runner-")
		if err != nil {
			t.Fatal(err)
		}
		*d = dir
	}
	return r
}

// forHost points the inputs at a real sshd with a fresh remote directory
// and returns the remote path.
func (r *runner) forHost(s *sshtest.SSHD) string {
	remote := filepath.Join(r.t.TempDir(), "etc", "galaxy", "secrets", "galaxy.yaml")
	r.inputs["env"] = "staging"
	r.inputs["age_key"] = string(readTestdata(r.t, "keys/a.agekey"))
	r.inputs["host"] = s.Addr
	r.inputs["user"] = s.User
	r.inputs["ssh_key"] = string(s.ClientKeyPEM)
	r.inputs["known_hosts"] = s.KnownHosts
	r.inputs["remote_path"] = remote
	return remote
}

func (r *runner) put(rel string, data []byte) {
	r.t.Helper()
	p := filepath.Join(r.workspace, rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		r.t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		r.t.Fatal(err)
	}
}

func (r *runner) run() result {
	r.t.Helper()
	summary := filepath.Join(r.fileCmds, "step_summary")
	output := filepath.Join(r.fileCmds, "output")
	envFile := filepath.Join(r.fileCmds, "env")
	for _, f := range []string{summary, output, envFile} {
		if err := os.WriteFile(f, nil, 0o644); err != nil {
			r.t.Fatal(err)
		}
	}
	cmd := exec.Command(os.Args[0])
	cmd.Dir = r.workspace
	cmd.Env = []string{
		asActionEnv + "=1",
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + r.home,
		"TMPDIR=" + r.tmp,
		"GITHUB_ACTIONS=true",
		"GITHUB_WORKSPACE=" + r.workspace,
		"GITHUB_STEP_SUMMARY=" + summary,
		"GITHUB_OUTPUT=" + output,
		"GITHUB_ENV=" + envFile,
	}
	for k, v := range r.inputs {
		cmd.Env = append(cmd.Env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	cmd.Env = append(cmd.Env, r.extraEnv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		res.code = ee.ExitCode()
	case err != nil:
		r.t.Fatalf("running the action: %v", err)
	}
	res.summary = string(must(os.ReadFile(summary)))
	res.output = string(must(os.ReadFile(output)))
	res.env = string(must(os.ReadFile(envFile)))
	return res
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
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

func assertNoTempFiles(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".sops-deploy-") {
			t.Errorf("temporary file left behind: %s", e.Name())
		}
	}
}

func TestDeployToRealSSHD(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	r := newRunner(t)
	remote := r.forHost(s)
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))

	res := r.run()
	if res.code != 0 {
		t.Fatalf("exit code %d\nstdout:\n%s\nstderr:\n%s", res.code, res.stdout, res.stderr)
	}
	got := must(os.ReadFile(remote))
	// The golden file is what `sops decrypt` printed for this fixture
	// (testdata/gen.sh); TestInstalledFileMatchesSopsCLI re-runs sops.
	if want := readTestdata(t, "staging/galaxy.plain.yaml"); !bytes.Equal(got, want) {
		t.Errorf("installed file differs from sops decrypt output")
	}
	fi := must(os.Stat(remote))
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("installed mode %04o, want 0600", fi.Mode().Perm())
	}
	di := must(os.Stat(filepath.Dir(remote)))
	if di.Mode().Perm() != 0o700 {
		t.Errorf("created directory mode %04o, want 0700", di.Mode().Perm())
	}
	assertNoTempFiles(t, filepath.Dir(remote))
	for _, want := range []string{"remote_path<<", remote, "key_count<<", "\n9\n", "sha256<<"} {
		if !strings.Contains(res.output, want) {
			t.Errorf("GITHUB_OUTPUT lacks %q:\n%s", want, res.output)
		}
	}
	for _, want := range []string{"database_url", "smoke_principal_jwt", "| Keys | 9 |", "`0600`", "age1", s.Fingerprint} {
		if !strings.Contains(res.summary, want) {
			t.Errorf("summary lacks %q:\n%s", want, res.summary)
		}
	}
	if len(errorLines(res.stdout)) != 0 {
		t.Errorf("success printed an error: %s", res.stdout)
	}

	// A second deploy replaces the file atomically and leaves nothing.
	if err := os.WriteFile(remote, []byte("old: version\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := r.run(); res.code != 0 {
		t.Fatalf("second deploy: exit %d\n%s", res.code, res.stdout)
	}
	if got := must(os.ReadFile(remote)); !bytes.Equal(got, readTestdata(t, "staging/galaxy.plain.yaml")) {
		t.Errorf("second deploy did not replace the file")
	}
	assertNoTempFiles(t, filepath.Dir(remote))
}

func TestInstalledFileMatchesSopsCLI(t *testing.T) {
	t.Parallel()
	sops := sopstest.CLI(t)
	s := sshtest.Start(t)
	for _, fixture := range []string{"staging/galaxy", "canary/canary", "nested/galaxy", "unencsuffix/galaxy"} {
		r := newRunner(t)
		remote := r.forHost(s)
		enc := readTestdata(t, fixture+".enc.yaml")
		r.put("secrets/staging/galaxy.enc.yaml", enc)
		if res := r.run(); res.code != 0 {
			t.Fatalf("%s: exit %d\n%s", fixture, res.code, res.stdout)
		}
		cmd := exec.Command(sops, "--config", "/dev/null", "decrypt", "--input-type", "yaml", "--output-type", "yaml", filepath.Join("testdata", fixture+".enc.yaml"))
		cmd.Env = []string{"HOME=" + t.TempDir(), "SOPS_AGE_KEY_FILE=" + filepath.Join("testdata", "keys", "a.agekey")}
		want, err := cmd.Output()
		if err != nil {
			t.Fatalf("sops decrypt %s: %v", fixture, err)
		}
		if got := must(os.ReadFile(remote)); !bytes.Equal(got, want) {
			t.Errorf("%s: installed file differs from `sops decrypt` output", fixture)
		}
	}
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// leakForms returns every form in which a canary must not appear: the
// marker tokens and their 8-character substrings, and each full value raw,
// base64, hex, JSON- and URL-escaped.
func leakForms(t *testing.T) []string {
	t.Helper()
	var markers []string
	for _, line := range strings.Split(string(readTestdata(t, "canary/markers.txt")), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			markers = append(markers, line)
		}
	}
	return canary.Forms(canaryValues(t), markers)
}

// assertNoLeak searches every output and every file left in the runner's
// directories for the canaries, ignoring ::add-mask:: lines.
func assertNoLeak(t *testing.T, r *runner, res result, forms []string, decrypted bool) {
	t.Helper()
	var visible []string
	for _, l := range strings.Split(res.all(), "\n") {
		if !strings.HasPrefix(l, "::add-mask::") {
			visible = append(visible, l)
		}
	}
	text := strings.Join(visible, "\n")
	for _, f := range forms {
		if strings.Contains(text, f) {
			t.Errorf("canary form %q found in the output", f)
		}
	}
	for _, dir := range []string{r.workspace, r.home, r.tmp} {
		_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if dir == r.workspace && strings.HasSuffix(p, ".enc.yaml") {
				return nil // the encrypted input itself
			}
			b, _ := os.ReadFile(p)
			for _, f := range forms {
				if bytes.Contains(b, []byte(f)) {
					t.Errorf("canary form %q found in runner file %s", f, p)
				}
			}
			return nil
		})
	}
	if entries, _ := os.ReadDir(r.tmp); len(entries) != 0 {
		t.Errorf("the action left %d file(s) in TMPDIR", len(entries))
	}
	assertMaskedFirst(t, res.stdout, decrypted)
}

// canaryValues returns the decrypted values of the canary fixture.
func canaryValues(t *testing.T) []string {
	t.Helper()
	var doc map[string]any
	if err := yaml.Unmarshal(readTestdata(t, "canary/canary.plain.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	var values []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			values = append(values, v)
		}
	}
	walk(doc)
	if len(values) < 10 {
		t.Fatalf("canary fixture has only %d values", len(values))
	}
	return values
}

// assertMaskedFirst checks that each canary value is registered whole and
// that no earlier line holds it, when the run decrypted the file; when it
// did not, that no value was registered (none was ever in memory).
func assertMaskedFirst(t *testing.T, stdout string, decrypted bool) {
	t.Helper()
	lines := strings.Split(stdout, "\n")
	unescape := strings.NewReplacer("%0D", "\r", "%0A", "\n", "%25", "%")
	maskAt := map[string]int{}
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, "::add-mask::"); ok {
			if _, seen := maskAt[unescape.Replace(v)]; !seen {
				maskAt[unescape.Replace(v)] = i
			}
		}
	}
	values := canaryValues(t)
	registered := 0
	for _, v := range values {
		if _, ok := maskAt[v]; ok {
			registered++
		}
	}
	if !decrypted {
		if registered != 0 {
			t.Errorf("%d canary values were registered although decryption failed", registered)
		}
		return
	}
	for _, v := range values {
		at, ok := maskAt[v]
		if !ok {
			t.Errorf("a canary value was not registered as a mask")
			continue
		}
		for _, l := range lines[:at] {
			if strings.Contains(l, v) || strings.Contains(l, v[:20]) {
				t.Errorf("a line before its mask holds a canary value")
			}
		}
	}
}

// TestDeployVariants covers files that must deploy: several recipients
// (rotation grace), values left plaintext by the file's own valid rules, and
// nested values.
func TestDeployVariants(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	cases := []struct {
		name, fixture, key string
		summary            []string
		stdout             []string
	}{
		{"second recipient", "multi/galaxy", "b", []string{"| Keys | 3 |", sopstest.Recipient(t, readTestdata(t, "keys/a.agekey")), sopstest.Recipient(t, readTestdata(t, "keys/b.agekey"))}, nil},
		{"both keys given", "multi/galaxy", "c+b", []string{"| Keys | 3 |"}, nil},
		{"unencrypted_suffix rule", "unencsuffix/galaxy", "a", []string{"Left unencrypted by the file's own sops rules** (1): `region_unencrypted`"}, []string{"::notice::1 key(s) are stored unencrypted"}},
		{"unencrypted_regex rule", "unencregex/galaxy", "a", []string{"`public_url`"}, nil},
		{"nested, short and empty values", "nested/galaxy", "a", []string{"`app.db.password`", "`app.features[1]`", "Empty values** (1): `empty`"},
			[]string{"::warning::1 key(s) have empty values: empty", "not masked in the log", "enabled"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRunner(t)
			remote := r.forHost(s)
			var keys []string
			for _, k := range strings.Split(tc.key, "+") {
				keys = append(keys, string(readTestdata(t, "keys/"+k+".agekey")))
			}
			r.inputs["age_key"] = strings.Join(keys, "\n")
			r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, tc.fixture+".enc.yaml"))
			res := r.run()
			if res.code != 0 {
				t.Fatalf("exit %d\n%s", res.code, res.stdout)
			}
			if got, want := must(os.ReadFile(remote)), readTestdata(t, tc.fixture+".plain.yaml"); !bytes.Equal(got, want) {
				t.Errorf("installed file differs from sops decrypt output")
			}
			for _, w := range tc.summary {
				if !strings.Contains(res.summary, w) {
					t.Errorf("summary lacks %q:\n%s", w, res.summary)
				}
			}
			for _, w := range tc.stdout {
				if !strings.Contains(res.stdout, w) {
					t.Errorf("log lacks %q:\n%s", w, res.stdout)
				}
			}
		})
	}
}

// TestUnwritableFileCommands points GITHUB_OUTPUT or GITHUB_STEP_SUMMARY at
// a file that cannot be created: the action must not panic, must print one
// ::error:: line naming the variable and the file, exit 1, and still say
// what it did on the host (the install is done by then).
func TestUnwritableFileCommands(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	for _, variable := range []string{"GITHUB_OUTPUT", "GITHUB_STEP_SUMMARY"} {
		t.Run(variable, func(t *testing.T) {
			t.Parallel()
			r := newRunner(t)
			remote := r.forHost(s)
			r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
			bad := filepath.Join(t.TempDir(), "no-such-dir", "file")
			r.extraEnv = append(r.extraEnv, variable+"="+bad)
			res := r.run()
			if res.code != 1 {
				t.Errorf("exit code %d, want 1\n%s", res.code, res.all())
			}
			if strings.Contains(res.stderr, "panic") || strings.Contains(res.stderr, "goroutine ") {
				t.Errorf("the action panicked:\n%s", res.stderr)
			}
			errs := errorLines(res.stdout)
			if len(errs) != 1 {
				t.Fatalf("got %d ::error:: lines, want 1:\n%s", len(errs), res.stdout)
			}
			for _, want := range []string{variable, bad, "installed on 1 of 1 host(s)", "fix:"} {
				if !strings.Contains(errs[0], want) {
					t.Errorf("the error line does not say %q: %s", want, errs[0])
				}
			}
			if !strings.Contains(res.stdout, "installed \"") {
				t.Errorf("the log does not say the host was installed:\n%s", res.stdout)
			}
			if got, want := must(os.ReadFile(remote)), readTestdata(t, "staging/galaxy.plain.yaml"); !bytes.Equal(got, want) {
				t.Errorf("the host does not hold the new file")
			}
		})
	}
	t.Run("lint", func(t *testing.T) {
		t.Parallel()
		r := newRunner(t)
		r.inputs["operation"] = "lint"
		r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
		bad := filepath.Join(t.TempDir(), "no-such-dir", "summary")
		r.extraEnv = append(r.extraEnv, "GITHUB_STEP_SUMMARY="+bad)
		res := r.run()
		if res.code != 1 || strings.Contains(res.stderr, "panic") {
			t.Errorf("exit code %d, want 1 without a panic:\n%s", res.code, res.all())
		}
		if errs := errorLines(res.stdout); len(errs) != 1 || !strings.Contains(errs[0], "GITHUB_STEP_SUMMARY") || !strings.Contains(errs[0], bad) {
			t.Errorf("want one error naming GITHUB_STEP_SUMMARY and the file:\n%s", res.stdout)
		}
	})
	t.Run("before any host", func(t *testing.T) {
		t.Parallel()
		r := newRunner(t)
		r.forHost(s)
		delete(r.inputs, "env")
		bad := filepath.Join(t.TempDir(), "no-such-dir", "summary")
		r.extraEnv = append(r.extraEnv, "GITHUB_STEP_SUMMARY="+bad)
		res := r.run()
		if res.code != 1 || strings.Contains(res.stderr, "panic") {
			t.Errorf("exit code %d, want 1 without a panic:\n%s", res.code, res.all())
		}
		errs := errorLines(res.stdout)
		if len(errs) != 2 || !strings.Contains(errs[0], "env") || !strings.Contains(errs[1], "GITHUB_STEP_SUMMARY") {
			t.Errorf("want the input error, then the summary error:\n%s", res.stdout)
		}
	})
}
