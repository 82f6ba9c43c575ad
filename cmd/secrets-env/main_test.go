package main

// Process-level tests: the binary is built once, and each test runs it as
// a container would, with a real file, environment and command. The
// command is this test binary in helper mode (see helperMain), so the
// tests need nothing but Go and /bin/sh.

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/dockerfile"
	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

var (
	binDir     string // 0755, holds secretsEnv and helper
	secretsEnv string // the built secrets-env
	helper     string // a copy of this test binary, runnable by any user
)

const helperVar = "SECRETS_ENV_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperVar) != "" {
		os.Exit(helperMain(os.Args[1:]))
	}
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "secrets-env-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	// Readable by the -user test's uid.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	binDir = dir
	secretsEnv = filepath.Join(dir, "secrets-env")
	helper = filepath.Join(dir, "helper")
	self, err := os.Executable()
	if err == nil {
		err = copyFile(self, helper)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "failed to copy the test binary:", err)
		return 1
	}
	// With the Dockerfile's own go build line (TestDockerfile checks it).
	build, err := dockerfileBuild(secretsEnv)
	if err != nil {
		fmt.Fprintln(os.Stderr, "Dockerfile:", err)
		return 1
	}
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "go build: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

// dockerfileBuild is the Dockerfile's go build, writing to out; the build
// context is the repository root.
func dockerfileBuild(out string) (*exec.Cmd, error) {
	stages, err := dockerfile.Parse("Dockerfile")
	if err != nil {
		return nil, err
	}
	gb, err := dockerfile.FindGoBuild(stages)
	if err != nil {
		return nil, err
	}
	return gb.Command(out, filepath.Join("..", ".."))
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o755)
}

// helperMain is the command secrets-env execs in these tests.
func helperMain(args []string) int {
	switch args[0] {
	case "env": // the environment as JSON
		_ = json.NewEncoder(os.Stdout).Encode(os.Environ())
	case "pid":
		fmt.Println(os.Getpid())
	case "exit":
		n, _ := strconv.Atoi(args[1])
		return n
	case "sigterm": // exit 42 on SIGTERM
		c := make(chan os.Signal, 1)
		signal.Notify(c, syscall.SIGTERM)
		fmt.Println("ready")
		select {
		case <-c:
			return 42
		case <-time.After(30 * time.Second):
			return 1
		}
	case "wait": // default dispositions: SIGTERM kills
		fmt.Println("ready")
		time.Sleep(30 * time.Second)
		return 1
	case "fds": // the targets of the open file descriptors
		ents, _ := os.ReadDir("/proc/self/fd")
		var targets []string
		for _, e := range ents {
			if l, err := os.Readlink("/proc/self/fd/" + e.Name()); err == nil {
				targets = append(targets, l)
			}
		}
		_ = json.NewEncoder(os.Stdout).Encode(targets)
	case "id": // ids, groups, and whether args[1] can be read
		groups, _ := syscall.Getgroups()
		_, err := os.ReadFile(args[1])
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
			"uid": syscall.Getuid(), "euid": syscall.Geteuid(),
			"gid": syscall.Getgid(), "egid": syscall.Getegid(),
			"groups": groups, "readDenied": errors.Is(err, os.ErrPermission),
			"setuid0": syscall.Setuid(0) == nil,
			"env":     os.Getenv("DB_PASSWORD"),
		})
	default:
		fmt.Fprintln(os.Stderr, "unknown helper mode", args[0])
		return 2
	}
	return 0
}

const testYAML = `# TEST-ONLY values.
db:
  password: pw-0123
  hosts:
    - h0
    - h1
port: 0123
enabled: true
motd: |
  line one
  line two
quoted: "a\tb"
`

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "galaxy.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type result struct {
	code           int
	stdout, stderr string
}

// run runs secrets-env with args and exactly env (plus the helper switch).
func run(t *testing.T, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(secretsEnv, args...)
	cmd.Env = append([]string{helperVar + "=1"}, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("running secrets-env: %v", err)
	}
	return r
}

func helperEnv(t *testing.T, r result) map[string]string {
	t.Helper()
	if r.code != 0 {
		t.Fatalf("exit code %d, stderr:\n%s", r.code, r.stderr)
	}
	var kvs []string
	if err := json.Unmarshal([]byte(r.stdout), &kvs); err != nil {
		t.Fatalf("helper output: %v\n%s", err, r.stdout)
	}
	m := map[string]string{}
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

func TestExportsToCommand(t *testing.T) {
	t.Parallel()
	f := writeFile(t, testYAML)
	r := run(t, []string{"PATH=/usr/bin:/bin", "KEEP=me"},
		"-file", f, "DB=db.password", "HOST1=db.hosts[1]", "PORT=port", "ON=enabled", "MOTD=motd", "Q=quoted", "--", helper, "env")
	got := helperEnv(t, r)
	for k, want := range map[string]string{
		"DB": "pw-0123", "HOST1": "h1", "PORT": "0123", "ON": "true",
		"MOTD": "line one\nline two\n", "Q": "a\tb", "KEEP": "me", "PATH": "/usr/bin:/bin",
	} {
		if got[k] != want {
			t.Errorf("%s = %q, want %q", k, got[k], want)
		}
	}
	if r.stderr != "" {
		t.Errorf("secrets-env printed %q", r.stderr)
	}
}

func TestExportAll(t *testing.T) {
	t.Parallel()
	f := writeFile(t, testYAML)
	got := helperEnv(t, run(t, nil, "-file", f, "-all", "--", helper, "env"))
	var names []string
	for k := range got {
		names = append(names, k)
	}
	slices.Sort(names)
	want := []string{"DB_HOSTS_0", "DB_HOSTS_1", "DB_PASSWORD", "ENABLED", "MOTD", "PORT", "QUOTED", helperVar}
	if !slices.Equal(names, want) {
		t.Errorf("variables: got %q, want %q", names, want)
	}
	if got["DB_PASSWORD"] != "pw-0123" || got["DB_HOSTS_1"] != "h1" {
		t.Errorf("values: %q %q", got["DB_PASSWORD"], got["DB_HOSTS_1"])
	}
}

// TestCommandOnPath: the command is found on the PATH of its own
// environment.
func TestCommandOnPath(t *testing.T) {
	t.Parallel()
	f := writeFile(t, testYAML)
	got := helperEnv(t, run(t, []string{"PATH=/nonexistent:" + binDir}, "-file", f, "A=port", "--", "helper", "env"))
	if got["A"] != "0123" {
		t.Errorf("A = %q", got["A"])
	}
	r := run(t, []string{"PATH=/nonexistent"}, "-file", f, "A=port", "--", "helper", "env")
	if r.code != 127 || !strings.Contains(r.stderr, `secrets-env: error: "helper": not found in any directory of PATH`) {
		t.Errorf("got %d %q, want 127 and not found", r.code, r.stderr)
	}
}

// TestErrors: every failure exits before the command runs (it would create
// a marker file), with one error line naming file, key and variable.
func TestErrors(t *testing.T) {
	t.Parallel()
	f := writeFile(t, testYAML)
	clash := writeFile(t, "db:\n  password: a\ndb_password: b\n")
	enc := writeFile(t, "a: ENC[AES256_GCM,data:x]\nsops:\n  mac: ENC[y]\n  version: 3.13.3\n")
	noexec := filepath.Join(t.TempDir(), "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badInterp := filepath.Join(t.TempDir(), "badinterp")
	if err := os.WriteFile(badInterp, []byte("#!/nonexistent/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		env  []string
		args []string
		code int
		want string
	}{
		{"missing key", nil, []string{"-file", f, "X=db.pasword"}, 125,
			fmt.Sprintf(`secrets-env: error: key "db.pasword" is not in %q (for variable X)`, f)},
		{"mapping", nil, []string{"-file", f, "X=db"}, 125,
			fmt.Sprintf(`secrets-env: error: key "db" is a mapping, not a scalar, in %q (for variable X)`, f)},
		{"list", nil, []string{"-file", f, "X=db.hosts"}, 125,
			fmt.Sprintf(`secrets-env: error: key "db.hosts" is a list, not a scalar, in %q (for variable X)`, f)},
		{"clash", nil, []string{"-file", clash, "-all"}, 125,
			fmt.Sprintf(`secrets-env: error: keys "db.password" and "db_password" of %q both map to variable DB_PASSWORD`, clash)},
		{"already set", []string{"PORT=5432", "DB=x"}, []string{"-file", f, "DB=db.password", "PORT=port"}, 125,
			fmt.Sprintf("secrets-env: error: DB (key \"db.password\"), PORT (key \"port\") of %q are already set in the environment\nsecrets-env: hint: remove the variable from the service's environment:", f)},
		{"already set, -all", []string{"PORT="}, []string{"-file", f, "-all"}, 125,
			fmt.Sprintf(`secrets-env: error: PORT (key "port") of %q is already set in the environment`, f)},
		{"missing file", nil, []string{"-file", "/nonexistent/galaxy.yaml", "X=a"}, 125,
			`secrets-env: error: "/nonexistent/galaxy.yaml" cannot be opened: no such file or directory`},
		{"encrypted file", nil, []string{"-file", enc, "X=a"}, 125, "is still sops-encrypted"},
		{"usage", nil, []string{"-file", f, "X"}, 125, `secrets-env: error: argument "X" is not VAR=key`},
		{"bad user", nil, []string{"-file", f, "-user", "nobody", "X=port"}, 125, `-user "nobody": the uid is not a number`},
		{"not found", nil, []string{"-file", f, "X=port", "--", "no-such-command"}, 127,
			`secrets-env: error: "no-such-command": not found in any directory of PATH`},
		{"not found, path", nil, []string{"-file", f, "X=port", "--", "/nonexistent/cmd"}, 127,
			`secrets-env: error: "/nonexistent/cmd": no such file or directory`},
		{"bad interpreter", nil, []string{"-file", f, "X=port", "--", badInterp}, 127, "failed to execute: no such file or directory"},
		{"not executable", nil, []string{"-file", f, "X=port", "--", noexec}, 126, "permission denied"},
		{"directory", nil, []string{"-file", f, "X=port", "--", "/"}, 126, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			marker := filepath.Join(t.TempDir(), "ran")
			args := tc.args
			if !slices.Contains(args, "--") {
				args = append(slices.Clone(args), "--", "/bin/sh", "-c", `: > "$0"`, marker)
			}
			r := run(t, append([]string{"PATH=/usr/bin:/bin"}, tc.env...), args...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.want) {
				t.Errorf("got exit %d, stderr:\n%s\nwant exit %d, stderr with:\n%s", r.code, r.stderr, tc.code, tc.want)
			}
			if !strings.HasPrefix(r.stderr, "secrets-env: error: ") || strings.Count(r.stderr, "error:") != 1 {
				t.Errorf("want one error line, got:\n%s", r.stderr)
			}
			if r.stdout != "" {
				t.Errorf("stdout: %q", r.stdout)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Error("the command ran")
			}
		})
	}
}

func TestOverride(t *testing.T) {
	t.Parallel()
	f := writeFile(t, testYAML)
	got := helperEnv(t, run(t, []string{"PORT=5432", "OTHER=kept"}, "-file", f, "-override", "PORT=port", "--", helper, "env"))
	if got["PORT"] != "0123" || got["OTHER"] != "kept" {
		t.Errorf("PORT = %q, OTHER = %q; want the file's 0123 and kept", got["PORT"], got["OTHER"])
	}
}

func TestHelp(t *testing.T) {
	t.Parallel()
	r := run(t, nil, "-h")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "usage: secrets-env ") || r.stderr != "" {
		t.Errorf("got %d, stdout %q, stderr %q", r.code, r.stdout, r.stderr)
	}
}

func TestExitCodePassthrough(t *testing.T) {
	t.Parallel()
	f := writeFile(t, testYAML)
	for _, code := range []int{0, 1, 3, 125, 126, 127, 255} {
		r := run(t, nil, "-file", f, "A=port", "--", helper, "exit", strconv.Itoa(code))
		if r.code != code || r.stderr != "" {
			t.Errorf("exit %d: got %d, stderr %q", code, r.code, r.stderr)
		}
	}
}

// start starts secrets-env and returns it once the command printed its
// first line.
func start(t *testing.T, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cmd := exec.Command(secretsEnv, args...)
	cmd.Env = []string{helperVar + "=1", "PATH=/usr/bin:/bin"}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the command's first line: %v (stderr %q)", err, stderr.String())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }()
	return cmd, strings.TrimSpace(line), &stderr
}

// TestExecKeepsPID: the command runs as the process secrets-env was,
// nothing else stays running.
func TestExecKeepsPID(t *testing.T) {
	t.Parallel()
	f := writeFile(t, testYAML)
	for _, argv := range [][]string{{"/bin/sh", "-c", "echo $$"}, {helper, "pid"}} {
		cmd, line, _ := start(t, append([]string{"-file", f, "A=port", "--"}, argv...)...)
		if got, want := line, strconv.Itoa(cmd.Process.Pid); got != want {
			t.Errorf("%s: the command's PID is %s, secrets-env's was %s", argv[0], got, want)
		}
		if err := cmd.Wait(); err != nil {
			t.Errorf("%s: %v", argv[0], err)
		}
	}
}

// TestSignalReachesCommand: SIGTERM sent to the started process reaches
// the command, and its exit code (or its death by the signal) is the
// process's.
func TestSignalReachesCommand(t *testing.T) {
	t.Parallel()
	f := writeFile(t, testYAML)

	cmd, line, stderr := start(t, "-file", f, "A=port", "--", helper, "sigterm")
	if line != "ready" {
		t.Fatalf("got %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 42 {
		t.Errorf("got %v, want exit status 42 (the command's SIGTERM handler); stderr %q", err, stderr)
	}

	// A shell's trap, so the check does not rest on Go's runtime.
	cmd, line, stderr = start(t, "-file", f, "A=port", "--", "/bin/sh", "-c", `trap 'exit 43' TERM; echo ready; while :; do sleep 0.05; done`)
	if line != "ready" {
		t.Fatalf("got %q", line)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); !errors.As(err, &ee) || ee.ExitCode() != 43 {
		t.Errorf("sh: got %v, want exit status 43 (its trap); stderr %q", err, stderr)
	}

	cmd, _, _ = start(t, "-file", f, "A=port", "--", helper, "wait")
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	if !errors.As(err, &ee) {
		t.Fatalf("got %v, want death by SIGTERM", err)
	}
	if ws := ee.Sys().(syscall.WaitStatus); !ws.Signaled() || ws.Signal() != syscall.SIGTERM {
		t.Errorf("got %v, want death by SIGTERM", err)
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	testenv.MustHaveRoot(t, "run the tests as root (sudo -E go test ./cmd/...)")
}

// TestUser: the file stays 0600 root-only; secrets-env reads it as root,
// then the command runs as the -user ids, no supplementary groups, cannot
// read the file and cannot become root again.
func TestUser(t *testing.T) {
	t.Parallel()
	needRoot(t)
	dir := publicDir(t)
	f := filepath.Join(dir, "galaxy.yaml")
	if err := os.WriteFile(f, []byte(testYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(f, 0, 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		user     string
		uid, gid int
	}{
		{"65534:65534", 65534, 65534},
		{"1234", 1234, 1234},
		{"1234:5678", 1234, 5678},
	} {
		r := run(t, []string{"PATH=/usr/bin:/bin"}, "-file", f, "-user", tc.user, "DB_PASSWORD=db.password", "--", helper, "id", f)
		if r.code != 0 {
			t.Fatalf("-user %s: exit %d\n%s", tc.user, r.code, r.stderr)
		}
		var got struct {
			UID, EUID, GID, EGID int
			Groups               []int
			ReadDenied, Setuid0  bool
			Env                  string
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
			t.Fatal(err)
		}
		if got.UID != tc.uid || got.EUID != tc.uid || got.GID != tc.gid || got.EGID != tc.gid {
			t.Errorf("-user %s: ids %+v", tc.user, got)
		}
		if len(got.Groups) != 0 && !slices.Equal(got.Groups, []int{tc.gid}) {
			t.Errorf("-user %s: supplementary groups %v remain", tc.user, got.Groups)
		}
		if !got.ReadDenied || got.Setuid0 {
			t.Errorf("-user %s: the command can read the file (%v) or become root (%v)", tc.user, !got.ReadDenied, got.Setuid0)
		}
		if got.Env != "pw-0123" {
			t.Errorf("-user %s: DB_PASSWORD = %q", tc.user, got.Env)
		}
	}

	// Without -user, the same uid cannot read the file at all.
	cmd := exec.Command(secretsEnv, "-file", f, "A=port", "--", helper, "env")
	cmd.Env = []string{helperVar + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if code := exitCode(err); code != 125 || !strings.Contains(string(out), "cannot be opened: permission denied") ||
		!strings.Contains(string(out), "hint: outside swarm, Compose keeps the host file's owner and mode") {
		t.Errorf("as uid 65534: exit %d\n%s", code, out)
	}

	// Started as non-root, -user cannot switch.
	f2 := filepath.Join(publicDir(t), "galaxy.yaml")
	if err := os.WriteFile(f2, []byte(testYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd = exec.Command(secretsEnv, "-file", f2, "-user", "1000", "A=port", "--", helper, "env")
	cmd.Env = []string{helperVar + "=1"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err = cmd.CombinedOutput()
	if code := exitCode(err); code != 125 || !strings.Contains(string(out), "secrets-env: error: failed to switch to user 1000:1000: setgroups: operation not permitted") ||
		!strings.Contains(string(out), "must start as root") {
		t.Errorf("-user as non-root: exit %d\n%s", code, out)
	}
}

// publicDir is a temporary directory every user can enter (t.TempDir's
// parent is 0700), so a permission error comes from the file's own mode.
func publicDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "secrets-env-user-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestNothingLeaks: the command inherits no descriptor of the secrets
// file, and the signal mask and ignored signals it would have had without
// secrets-env.
func TestNothingLeaks(t *testing.T) {
	t.Parallel()
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		testenv.Missing(t, "no /proc")
	}
	f := writeFile(t, testYAML)
	r := run(t, nil, "-file", f, "A=port", "--", helper, "fds")
	var targets []string
	if err := json.Unmarshal([]byte(r.stdout), &targets); err != nil || r.code != 0 {
		t.Fatalf("exit %d, %v: %s %s", r.code, err, r.stdout, r.stderr)
	}
	for _, l := range targets {
		if l == f {
			t.Errorf("the command has the secrets file open")
		}
	}

	// grep reads its own status: the mask it started with. (Through
	// sh -c, a forking shell blocks every signal around fork and a child
	// can read that passing mask.)
	grep, err := exec.LookPath("grep")
	if err != nil {
		testenv.Missing(t, "no grep")
	}
	status := []string{grep, "-E", "^Sig(Blk|Ign):", "/proc/self/status"}
	direct, err := exec.Command(status[0], status[1:]...).Output()
	if err != nil {
		t.Fatal(err)
	}
	for range 20 {
		r = run(t, nil, append([]string{"-file", f, "A=port", "--"}, status...)...)
		if r.code != 0 || r.stdout != string(direct) {
			t.Fatalf("through secrets-env:\n%s\nwithout:\n%s", r.stdout, direct)
		}
	}
}
