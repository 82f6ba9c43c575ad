// Package dockertest gives tests a Docker engine and the local images they
// need: stand-ins for the Dockerfile's FROM images (no registry is
// reachable on the machines the tests run on), the action's image built
// from the Dockerfile, and a small job image for nektos/act.
//
// Tests that use it run when CI is "true" or SOPS_DEPLOY_DOCKER_TESTS is
// "1". Under CI they fail, not skip, when the engine is missing; elsewhere
// they skip unless asked for, so that `go test ./...` stays fast. .ci/start-dockerd
// starts an engine and prints the DOCKER_HOST to use.
//
// The package is meant to be imported from _test.go files only.
package dockertest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"debug/elf"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

// OptInEnv, set to 1, runs the Docker tests outside CI.
const OptInEnv = "SOPS_DEPLOY_DOCKER_TESTS"

// GoImage is the Dockerfile's builder image, BusyboxImage the job image
// the act tests run their jobs in.
const (
	GoImage      = "golang:1.26-bookworm"
	BusyboxImage = "sops-deploy-test/busybox:local"
)

// Engine is a Docker engine reached through the docker CLI.
type Engine struct {
	// CLI is the docker client. Debian's /usr/bin/docker is preferred: it
	// drives the engine's built-in BuildKit with DOCKER_BUILDKIT=1, where
	// newer clients want the buildx plugin.
	CLI string
	// Host is DOCKER_HOST, e.g. unix:///run/sops-deploy-docker.sock.
	Host string
}

// Require returns the engine, skipping the test unless Docker tests are
// wanted and failing it when they are wanted but no engine answers.
func Require(t testing.TB) *Engine {
	t.Helper()
	if !testenv.CI() && os.Getenv(OptInEnv) != "1" {
		t.Skipf("Docker test: set %s=1 (and DOCKER_HOST, see .ci/start-dockerd) to run it", OptInEnv)
	}
	e := &Engine{CLI: findCLI(), Host: os.Getenv("DOCKER_HOST")}
	if e.CLI == "" {
		t.Fatal("docker CLI not found; install Debian's docker.io (.ci/run does)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if out, err := e.Command(ctx, "version", "--format", "{{.Server.Version}}").CombinedOutput(); err != nil {
		t.Fatalf("no Docker engine answers at DOCKER_HOST=%q: %v\n%s\nstart one with: eval \"$(.ci/start-dockerd)\"", e.Host, err, out)
	}
	return e
}

func findCLI() string {
	if p := os.Getenv("SOPS_DEPLOY_DOCKER_CLI"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/docker"); err == nil {
		return "/usr/bin/docker"
	}
	p, _ := exec.LookPath("docker")
	return p
}

// Socket is the engine's Unix socket path on this machine.
func (e *Engine) Socket() string {
	if p, ok := strings.CutPrefix(e.Host, "unix://"); ok {
		return p
	}
	return "/var/run/docker.sock"
}

// Command returns a docker command with the engine's environment.
func (e *Engine) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, e.CLI, args...)
	cmd.Env = os.Environ()
	if e.Host != "" {
		cmd.Env = append(cmd.Env, "DOCKER_HOST="+e.Host)
	}
	return cmd
}

// Run runs docker with args and returns its standard output, failing the
// test with everything it printed when it fails.
func (e *Engine) Run(t testing.TB, args ...string) string {
	t.Helper()
	return e.RunEnv(t, nil, args...)
}

// RunEnv is Run with extra environment variables for the CLI.
func (e *Engine) RunEnv(t testing.TB, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	cmd := e.Command(ctx, args...)
	cmd.Env = append(cmd.Env, env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("docker %s: %v\n%s%s", strings.Join(args, " "), err, stdout.String(), tail(stderr.String(), 60))
	}
	return stdout.String()
}

// HasImage reports whether the engine has ref locally.
func (e *Engine) HasImage(ref string) bool {
	return e.Command(context.Background(), "image", "inspect", ref).Run() == nil
}

// Lock serialises work on the engine across test processes (go test runs
// packages in parallel): building images, making stand-ins.
func Lock(t testing.TB) func() {
	t.Helper()
	f, err := os.OpenFile(filepath.Join(os.TempDir(), "sops-deploy-dockertest.lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatal(err)
	}
	return func() { syscall.Flock(int(f.Fd()), syscall.LOCK_UN); f.Close() }
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = append([]string{"…"}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// RepoRoot returns the module's root directory, found from the working
// directory upwards.
func RepoRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// ContextHash is a digest of what the action's binary is built from: the
// Dockerfile, .dockerignore, go.mod, go.sum and the Go files of every
// package of this module that the main package imports (go list -deps).
// An image tagged with it is the image of this tree; a change elsewhere
// (tests, other commands) does not force a rebuild.
func ContextHash(t testing.TB, root string) string {
	t.Helper()
	return contextHash(t, root, ".", "Dockerfile")
}

// contextHash digests dockerfile, .dockerignore, go.mod, go.sum and the
// Go files of this module's packages that pkg imports.
func contextHash(t testing.TB, root, pkg, dockerfile string) string {
	t.Helper()
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if and .Module .Module.Main}}{{range .GoFiles}}{{$.Dir}}/{{.}}
{{end}}{{end}}`, pkg)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	files := []string{dockerfile, ".dockerignore", "go.mod", "go.sum"}
	for _, f := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, f)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, rel)
	}
	h := sha256.New()
	for _, rel := range files {
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%s %d\n", rel, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// Build builds the Dockerfile in dir as tag, with BuildKit or with the
// classic builder, and returns how long it took. --network=host lets `go
// mod download` reach the module proxy from a network-less engine.
func (e *Engine) Build(t testing.TB, dir, tag string, buildkit bool, extra ...string) time.Duration {
	t.Helper()
	env := []string{"DOCKER_BUILDKIT=0"}
	if buildkit {
		env = []string{"DOCKER_BUILDKIT=1", "BUILDKIT_PROGRESS=plain"}
	}
	args := append([]string{"build", "--network=host", "-t", tag}, extra...)
	start := time.Now()
	e.RunEnv(t, env, append(args, dir)...)
	return time.Since(start)
}

// ActionImage returns the action's image for this tree, built with
// BuildKit from the repository's Dockerfile unless an image of the same
// tree already exists.
func (e *Engine) ActionImage(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	tag := "sops-deploy-action:test-" + ContextHash(t, root)
	unlock := Lock(t)
	defer unlock()
	if e.HasImage(tag) {
		return tag
	}
	e.ensureGoImageLocked(t)
	d := e.Build(t, root, tag, true)
	t.Logf("built %s with BuildKit in %s", tag, d.Round(time.Second))
	return tag
}

// SecretsEnvImage returns the image of cmd/secrets-env for this tree,
// built with BuildKit from cmd/secrets-env/Dockerfile unless it exists.
func (e *Engine) SecretsEnvImage(t testing.TB) string {
	t.Helper()
	root := RepoRoot(t)
	const dockerfile = "cmd/secrets-env/Dockerfile"
	tag := "sops-deploy-test/secrets-env:" + contextHash(t, root, "./cmd/secrets-env", dockerfile)
	unlock := Lock(t)
	defer unlock()
	if !e.HasImage(tag) {
		e.ensureGoImageLocked(t)
		e.Build(t, root, tag, true, "-f", filepath.Join(root, dockerfile))
	}
	return tag
}

// EnsureGoImage makes GoImage available: pulled if a registry answers,
// else a local stand-in (docker import) of this machine's Go toolchain,
// busybox for RUN's /bin/sh, and the CA certificates for the module proxy.
func (e *Engine) EnsureGoImage(t testing.TB) {
	t.Helper()
	unlock := Lock(t)
	defer unlock()
	e.ensureGoImageLocked(t)
}

func (e *Engine) ensureGoImageLocked(t testing.TB) {
	t.Helper()
	if e.HasImage(GoImage) || e.tryPull(GoImage) {
		return
	}
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	e.importRootFS(t, GoImage, map[string]string{"/usr/local/go": goroot}, []string{
		"ENV PATH=/go/bin:/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"ENV GOPATH=/go",
		"ENV GOTOOLCHAIN=local",
		"WORKDIR /go",
	})
}

// EnsureBusybox makes BusyboxImage, a busybox root file system: enough for
// act's job container and `shell: sh` steps.
func (e *Engine) EnsureBusybox(t testing.TB) string {
	t.Helper()
	unlock := Lock(t)
	defer unlock()
	if !e.HasImage(BusyboxImage) {
		e.importRootFS(t, BusyboxImage, nil, []string{"ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"})
	}
	return BusyboxImage
}

// tryPull reports whether ref could be pulled, within a short bound: here
// no registry answers, and the stand-in is made instead.
func (e *Engine) tryPull(ref string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return e.Command(ctx, "pull", ref).Run() == nil
}

// importRootFS imports a root file system made of busybox (with a link for
// each applet), /tmp, the CA bundle, and the host directories in trees
// (image path → host path), as ref.
func (e *Engine) importRootFS(t testing.TB, ref string, trees map[string]string, changes []string) {
	t.Helper()
	busybox, err := exec.LookPath("busybox")
	if err != nil || !isStatic(busybox) {
		t.Fatalf("no static busybox (found %q); install Debian's busybox-static (.ci/run does): the stand-in images have no libc", busybox)
	}
	dir := t.TempDir()
	for _, d := range []string{"bin", "tmp", "etc/ssl/certs", "usr/local", "root"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(filepath.Join(dir, "tmp"), 0o1777)
	copyFile(t, busybox, filepath.Join(dir, "bin", "busybox"), 0o755)
	list, err := exec.Command(busybox, "--list").Output()
	if err != nil {
		t.Fatalf("busybox --list: %v", err)
	}
	for _, applet := range strings.Fields(string(list)) {
		os.Symlink("busybox", filepath.Join(dir, "bin", applet))
	}
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		copyFile(t, "/etc/ssl/certs/ca-certificates.crt", filepath.Join(dir, "etc/ssl/certs/ca-certificates.crt"), 0o644)
	}
	os.WriteFile(filepath.Join(dir, "etc/passwd"), []byte("root:x:0:0:root:/root:/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "etc/group"), []byte("root:x:0:\n"), 0o644)
	tarArgs := []string{"-c", "-C", dir, "."}
	for dst, src := range trees {
		// GNU tar: add src under the name dst (without its leading /).
		tarArgs = append(tarArgs, "-C", filepath.Dir(src), "--transform", "s,"+"^"+filepath.Base(src)+","+strings.TrimPrefix(dst, "/")+",", filepath.Base(src))
	}
	tarCmd := exec.Command("tar", tarArgs...)
	pr, pw := io.Pipe()
	tarCmd.Stdout = pw
	var tarErr bytes.Buffer
	tarCmd.Stderr = &tarErr
	if err := tarCmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { pw.CloseWithError(tarCmd.Wait()) }()
	args := []string{"import"}
	for _, c := range changes {
		args = append(args, "--change", c)
	}
	imp := e.Command(context.Background(), append(args, "-", ref)...)
	imp.Stdin = pr
	if out, err := imp.CombinedOutput(); err != nil {
		t.Fatalf("docker import %s: %v\n%s\n%s", ref, err, out, tarErr.String())
	}
	t.Logf("made a local stand-in for %s (no registry reachable)", ref)
}

func copyFile(t testing.TB, src, dst string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, mode); err != nil {
		t.Fatal(err)
	}
}

// isStatic reports whether the ELF file at p has no program interpreter.
func isStatic(p string) bool {
	f, err := elf.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return false
		}
	}
	return true
}
