//go:build linux

package main

// Tests of the container image without a Docker engine: the Dockerfile's
// shape, and the binary built with the Dockerfile's own build command, run
// the way the runner starts the image: no environment but the runner's
// variables, from /github/workspace, and (when the test may chroot) in an
// empty root laid out like the image, with no /etc, no PATH and no TMPDIR.

import (
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/productgalaxy/sops-deploy-action/internal/dockerfile"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

// imageLayout is what the final stage puts in the image.
type imageLayout struct {
	entrypoint string            // the absolute path the image runs
	copies     map[string]string // destination -> source in the build stage
}

// TestDockerfile checks the image's shape: a multi-stage build whose final
// stage is scratch (or distroless) with no USER and no WORKDIR (the runner
// needs root and sets /github/workspace itself), an exec-form ENTRYPOINT
// with an absolute path, and a static, trimmed build.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	checkDockerfile(t)
}

func checkDockerfile(t *testing.T) (imageLayout, dockerfile.GoBuild) {
	t.Helper()
	if b, err := os.ReadFile("Dockerfile"); err != nil || dockerfile.SyntaxDirective.Match(b) {
		t.Errorf("Dockerfile: a # syntax= line (the classic builder cannot honour it), or unreadable (%v)", err)
	}
	stages, err := dockerfile.Parse("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("Dockerfile has %d stage(s); want a build stage and a final stage", len(stages))
	}
	final := stages[len(stages)-1]
	if final.From != "scratch" && !strings.HasPrefix(final.From, "gcr.io/distroless/") {
		t.Errorf("Dockerfile: final stage is FROM %s; want scratch or gcr.io/distroless/…", final.From)
	}
	layout := imageLayout{copies: map[string]string{}}
	var entrypoints int
	for _, in := range final.Instrs {
		switch in.Cmd {
		case "USER":
			t.Errorf("Dockerfile line %d: USER in the final stage; the runner mounts the workspace for root", in.Line)
		case "WORKDIR":
			t.Errorf("Dockerfile line %d: WORKDIR in the final stage; the runner sets /github/workspace itself", in.Line)
		case "ENTRYPOINT":
			entrypoints++
			var argv []string
			if err := json.Unmarshal([]byte(in.Args), &argv); err != nil || len(argv) == 0 {
				t.Errorf("Dockerfile line %d: ENTRYPOINT %s is not exec form ([\"/path\"])", in.Line, in.Args)
				continue
			}
			if !filepath.IsAbs(argv[0]) {
				t.Errorf("Dockerfile line %d: ENTRYPOINT %q is not an absolute path", in.Line, argv[0])
			}
			layout.entrypoint = argv[0]
		case "COPY":
			f := strings.Fields(in.Args)
			var plain []string
			for _, w := range f {
				if !strings.HasPrefix(w, "--") {
					plain = append(plain, w)
				}
			}
			if len(plain) == 2 {
				layout.copies[plain[1]] = plain[0]
			}
		case "CMD":
			if !strings.HasPrefix(in.Args, "[") {
				t.Errorf("Dockerfile line %d: CMD in shell form; scratch has no shell", in.Line)
			}
		}
	}
	if entrypoints != 1 {
		t.Fatalf("Dockerfile: final stage has %d ENTRYPOINT lines, want 1", entrypoints)
	}

	gb, err := dockerfile.FindGoBuild(stages)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	if len(gb.Target) > 0 {
		t.Logf("Dockerfile line %d: the tests build for this machine instead of %s", gb.Line, strings.Join(gb.Target, " "))
	}
	if !slices.Contains(gb.Env, "CGO_ENABLED=0") {
		t.Errorf("Dockerfile line %d: go build runs without CGO_ENABLED=0 (env %v); the binary must be static", gb.Line, gb.Env)
	}
	if !slices.Contains(gb.Args, "-trimpath") {
		t.Errorf("Dockerfile line %d: go build runs without -trimpath", gb.Line)
	}
	if src := layout.copies[layout.entrypoint]; layout.entrypoint != "" && src != gb.Out {
		t.Errorf("Dockerfile: the ENTRYPOINT %s is copied from %q, but go build writes %q", layout.entrypoint, src, gb.Out)
	}
	return layout, gb
}

// TestStaticBinaryRunsLikeTheImage builds the binary with the Dockerfile's
// build command, checks that it is static, and runs it as the runner runs
// the image.
func TestStaticBinaryRunsLikeTheImage(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the release binary; skipped with -short")
	}
	t.Parallel()
	layout, gb := checkDockerfile(t)
	if _, err := exec.LookPath("go"); err != nil {
		testenv.Missing(t, "go not found in PATH")
	}
	bin := filepath.Join(t.TempDir(), filepath.Base(gb.Out))
	build, err := gb.Command(bin, ".")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("Dockerfile line %d: %s %s", gb.Line, strings.Join(gb.Env, " "), strings.Join(build.Args, " "))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build as in the Dockerfile: %v\n%s", err, out)
	}
	checkStatic(t, bin)
	checkNoTestMaterial(t, bin)

	for _, tc := range []struct {
		name string
		run  func(t *testing.T, img *fakeImage)
	}{
		{"missing required input", func(t *testing.T, img *fakeImage) {
			img.inputs = validInputs(t, "127.0.0.1:22")
			delete(img.inputs, "env")
			res := img.run(t)
			if len(errorLines(res.stdout)) == 1 && !strings.Contains(errorLines(res.stdout)[0], "env") {
				t.Errorf("the error does not name the missing input env: %s", errorLines(res.stdout)[0])
			}
		}},
		{"host closes the connection", func(t *testing.T, img *fakeImage) {
			addr, count := sshtest.NeverContacted(t) // closes each connection at once
			img.inputs = validInputs(t, addr)
			img.run(t)
			if count.Load() == 0 {
				t.Errorf("the action never connected: it failed before decrypting and dialling")
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			img := newImage(t, bin, layout)
			tc.run(t, img)
		})
	}

	t.Run("deploy", func(t *testing.T) {
		t.Parallel()
		img := newImage(t, bin, layout)
		if !img.chroot {
			testenv.Missing(t, "no chroot here (needs root or user namespaces); the end-to-end tests already deploy with the test binary")
		}
		s := sshtest.Start(t)
		remote := filepath.Join(t.TempDir(), "galaxy.yaml")
		img.inputs = map[string]string{
			"env":         "staging",
			"age_key":     string(readTestdata(t, "keys/a.agekey")),
			"host":        s.Addr,
			"user":        s.User,
			"ssh_key":     string(s.ClientKeyPEM),
			"known_hosts": s.KnownHosts,
			"remote_path": remote,
		}
		img.wantCode = 0
		img.run(t)
		if got, want := must(os.ReadFile(remote)), readTestdata(t, "staging/galaxy.plain.yaml"); !bytes.Equal(got, want) {
			t.Errorf("installed file differs from sops decrypt output")
		}
		if fi := must(os.Stat(remote)); fi.Mode().Perm() != 0o600 {
			t.Errorf("installed mode %04o, want 0600", fi.Mode().Perm())
		}
	})
}

// checkStatic fails unless bin is a static ELF executable: no interpreter,
// no shared libraries, no symbol table (-s).
func checkStatic(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the binary has a PT_INTERP program header: it is dynamically linked")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil && !errors.Is(err, elf.ErrNoSymbols) {
		t.Errorf("reading DT_NEEDED: %v", err)
	} else if len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	if needed, _ := f.DynString(elf.DT_NEEDED); len(needed) > 0 {
		t.Errorf("the binary has DT_NEEDED entries %v", needed)
	}
	if f.Section(".symtab") != nil {
		t.Errorf("the binary has a symbol table; the Dockerfile strips it with -ldflags=-s")
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte(wd+"/")) {
		t.Errorf("the binary contains the build directory %s; the Dockerfile builds with -trimpath", wd)
	}
}

// fakeImage is the image's file system plus the runner's mounts, in a
// temporary directory. When chroot is set, the binary runs with that
// directory as its root, as in the container.
type fakeImage struct {
	root       string
	entrypoint string // absolute, inside root
	chroot     bool
	sysProc    *syscall.SysProcAttr
	emptyDirs  []string // must stay empty, inside root
	inputs     map[string]string
	wantCode   int
}

// Runner mounts, as the runner lays them out (actions/runner
// ContainerActionHandler).
const (
	ghWorkspace = "/github/workspace"
	ghHome      = "/github/home"
	ghFileCmds  = "/github/file_commands"
	ghTemp      = "/github/runner_temp"
)

func newImage(t *testing.T, bin string, layout imageLayout) *fakeImage {
	t.Helper()
	img := &fakeImage{root: t.TempDir(), entrypoint: layout.entrypoint, wantCode: 1, emptyDirs: []string{ghHome, ghTemp}}
	for _, d := range []string{ghWorkspace, ghHome, ghFileCmds, ghTemp, "/github/workflow"} {
		if err := os.MkdirAll(img.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// The final stage's other COPY lines (/tmp) are directories made in the
	// build stage; the binary is the entrypoint.
	for dst := range layout.copies {
		if dst != layout.entrypoint {
			if err := os.MkdirAll(img.path(dst), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(img.path(dst), 0o1777); err != nil {
				t.Fatal(err)
			}
			img.emptyDirs = append(img.emptyDirs, dst)
		}
	}
	if err := os.MkdirAll(filepath.Dir(img.path(img.entrypoint)), 0o755); err != nil {
		t.Fatal(err)
	}
	copyExecutable(t, bin, img.path(img.entrypoint), 0o755)
	img.put(t, "secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	img.chroot, img.sysProc = tryChroot(t, img.root, img.entrypoint)
	return img
}

// path returns where p, a path inside the image, is on the host.
func (img *fakeImage) path(p string) string { return filepath.Join(img.root, p) }

// in returns p as the binary sees it: as is in the chroot, else under root.
func (img *fakeImage) in(p string) string {
	if img.chroot {
		return p
	}
	return img.path(p)
}

func (img *fakeImage) put(t *testing.T, rel string, data []byte) {
	t.Helper()
	p := filepath.Join(img.path(ghWorkspace), rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyExecutable(t *testing.T, src, dst string, mode os.FileMode) {
	t.Helper()
	in, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, mode)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(out, in); err != nil {
		t.Fatal(err)
	}
	if err := out.Close(); err != nil {
		t.Fatal(err)
	}
}

// tryChroot returns the process attributes that run a child with root as
// its root directory: chroot as root, or in a new user namespace where
// unprivileged ones are allowed. It reports false where neither works (the
// child then runs on the host's file system, still with an empty
// environment).
func tryChroot(t *testing.T, root, entrypoint string) (bool, *syscall.SysProcAttr) {
	t.Helper()
	attr := &syscall.SysProcAttr{Chroot: root}
	if os.Geteuid() != 0 {
		attr.Cloneflags = syscall.CLONE_NEWUSER
		attr.UidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getuid(), Size: 1}}
		attr.GidMappings = []syscall.SysProcIDMap{{ContainerID: 0, HostID: os.Getgid(), Size: 1}}
	}
	// The probe runs the entrypoint with an unknown command: it starts and
	// exits 1 without touching anything.
	var err error
	for attempt := 0; ; attempt++ { // see the ETXTBSY note in run
		probe := &exec.Cmd{Path: entrypoint, Args: []string{entrypoint, "no-such-command"}, Dir: "/", Env: []string{}, SysProcAttr: attr}
		err = probe.Run()
		if !errors.Is(err, syscall.ETXTBSY) || attempt == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return true, attr
	}
	t.Logf("running without chroot (%v): the binary sees the host's file system, with an empty environment", err)
	return false, nil
}

type imageResult struct {
	stdout, stderr, summary string
}

// run starts the entrypoint the way the runner starts the container: the
// runner's variables and INPUT_* only, from the workspace. It checks the
// exit code, that a failure is exactly one ::error:: line, and that nothing
// was written outside the file commands.
func (img *fakeImage) run(t *testing.T) imageResult {
	t.Helper()
	summary := ghFileCmds + "/step_summary_1"
	files := map[string]string{
		"GITHUB_STEP_SUMMARY": summary,
		"GITHUB_OUTPUT":       ghFileCmds + "/set_output_1",
		"GITHUB_ENV":          ghFileCmds + "/set_env_1",
		"GITHUB_PATH":         ghFileCmds + "/add_path_1",
		"GITHUB_STATE":        ghFileCmds + "/save_state_1",
	}
	env := []string{
		"GITHUB_ACTIONS=true",
		"CI=true",
		"RUNNER_OS=Linux",
		"HOME=" + img.in(ghHome),
		"GITHUB_WORKSPACE=" + img.in(ghWorkspace),
		"RUNNER_TEMP=" + img.in(ghTemp),
	}
	for k, f := range files {
		if err := os.WriteFile(img.path(f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
		env = append(env, k+"="+img.in(f))
	}
	for k, v := range img.inputs {
		env = append(env, "INPUT_"+strings.ToUpper(k)+"="+v)
	}
	var stdout, stderr bytes.Buffer
	var err error
	// A binary written moments ago can be briefly "busy": a child forked
	// by a parallel test may still hold its write descriptor until it
	// execs (golang/go#22315). Retry that error only.
	for attempt := 0; ; attempt++ {
		stdout.Reset()
		stderr.Reset()
		cmd := &exec.Cmd{
			Path:        img.in(img.entrypoint),
			Args:        []string{img.entrypoint},
			Dir:         img.in(ghWorkspace),
			Env:         env,
			SysProcAttr: img.sysProc,
			Stdout:      &stdout,
			Stderr:      &stderr,
		}
		err = cmd.Run()
		if !errors.Is(err, syscall.ETXTBSY) || attempt == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		code = ee.ExitCode()
	case err != nil:
		t.Fatalf("starting the entrypoint: %v", err)
	}
	res := imageResult{stdout: stdout.String(), stderr: stderr.String(), summary: string(must(os.ReadFile(img.path(summary))))}
	if code != img.wantCode {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, img.wantCode, res.stdout, res.stderr)
	}
	if errs := errorLines(res.stdout); img.wantCode != 0 && len(errs) != 1 {
		t.Errorf("printed %d ::error:: lines, want 1:\n%s", len(errs), res.stdout)
	}
	if res.summary == "" {
		t.Errorf("wrote no step summary to %s", summary)
	}
	// Plaintext never touches the disk: HOME, /tmp and the runner's temp
	// stay empty.
	for _, d := range img.emptyDirs {
		if entries, _ := os.ReadDir(img.path(d)); len(entries) > 0 {
			t.Errorf("the action left %d file(s) in %s", len(entries), d)
		}
	}
	return res
}

// validInputs returns inputs for a deploy of the staging fixture to addr
// that passes validation; the host key is pinned to a key no server has.
func validInputs(t *testing.T, addr string) map[string]string {
	t.Helper()
	_, clientKey := sshtest.NewKey(t)
	hostKey, _ := sshtest.NewKey(t)
	return map[string]string{
		"env":              "staging",
		"age_key":          string(readTestdata(t, "keys/a.agekey")),
		"host":             addr,
		"user":             "deploy",
		"ssh_key":          string(clientKey),
		"host_fingerprint": ssh.FingerprintSHA256(hostKey.PublicKey()),
		"retries":          "0",
	}
}

// checkNoTestMaterial fails if the release binary carries an age secret key
// line (the demo's test-only key once did): secret scanners flag it in
// every image, and the image should hold the action only.
func checkNoTestMaterial(t *testing.T, bin string) {
	t.Helper()
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if ageSecretKeyRE.Match(b) {
		t.Errorf("the release binary contains an age secret key: test material is linked in")
	}
	for _, marker := range []string{"TEST-ONLY", "internal/localssh", "internal/demo"} {
		if bytes.Contains(b, []byte(marker)) {
			t.Errorf("the release binary contains %q: test material is linked in", marker)
		}
	}
}

// ageSecretKeyRE matches a whole age secret key, as secret scanners do.
var ageSecretKeyRE = regexp.MustCompile(`AGE-SECRET-KEY-1[QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L]{58}`)
