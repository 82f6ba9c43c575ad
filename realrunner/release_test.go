package realrunner

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/canary"
	"github.com/productgalaxy/sops-deploy-action/internal/dockertest"
)

const registryVersion = "github.com/google/go-containerregistry/cmd/registry@v0.22.1"

// TestReleasePath runs what users run after a release: the image pushed to
// a registry, action.yml rewritten by the very script release.yml runs to
// pin that image by digest, and deploy-staging run by act against the
// pinned docker://127.0.0.1:PORT/…@sha256:… image, which act must pull.
func TestReleasePath(t *testing.T) {
	e := dockertest.Require(t)
	img := e.ActionImage(t)
	reg := startRegistry(t)

	ref := reg + "/productgalaxy/sops-deploy-action"
	e.Run(t, "tag", img, ref+":v0.0.0-test")
	e.Run(t, "push", ref+":v0.0.0-test")
	repoDigest := strings.TrimSpace(e.Run(t, "image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", ref+":v0.0.0-test"))
	_, digest, ok := strings.Cut(strings.Fields(repoDigest)[0], "@")
	if !ok {
		t.Fatalf("no repo digest after the push: %q", repoDigest)
	}
	e.Run(t, "rmi", ref+":v0.0.0-test")
	pinned := ref + "@" + digest
	if e.HasImage(pinned) {
		t.Fatalf("%s is still local; act would not pull it", pinned)
	}

	// The released action: action.yml alone, pinned by release.yml's script.
	actionDir := t.TempDir()
	actionYML := filepath.Join(actionDir, "action.yml")
	writeFile(t, actionYML, repoFile(t, "action.yml"), 0o644)
	pin := exec.Command(filepath.Join(dockertest.RepoRoot(t), ".github/scripts/pin-image"), ref, digest, actionYML)
	if out, err := pin.CombinedOutput(); err != nil {
		t.Fatalf("pin-image: %v\n%s", err, out)
	}
	if got := string(repoFile(t, "action.yml")); !strings.Contains(got, "  image: Dockerfile\n") {
		t.Fatalf("the repository's action.yml changed")
	}
	if b := readFile(t, actionYML); !strings.Contains(b, "  image: docker://"+pinned+"\n") {
		t.Fatalf("pin-image did not pin the image:\n%s", b)
	}

	h := chrootHost(t, "deploy")
	sec := secretsFile(t)
	a := newActRepo(t, "deploy-staging.yml")
	a.commit("staging", sec.Enc)
	log, code := a.run(e, actRun{
		event: "push", env: "staging", actionDir: actionDir,
		eventJSON: `{"ref":"refs/heads/main"}`,
		secrets:   map[string]string{"SOPS_AGE_KEY_STAGING": string(repoFile(t, "testdata/keys/a.agekey")), "DEPLOY_SSH_KEY": string(h.ClientKeyPEM)},
		vars:      map[string]string{"STAGING_HOST": h.Addr, "STAGING_KNOWN_HOSTS": h.KnownHosts},
	})
	if code != 0 {
		t.Fatalf("act exit code %d:\n%s", code, log)
	}
	if !e.HasImage(pinned) {
		t.Errorf("act did not pull %s", pinned)
	}
	assertInstalled(t, h, sec.Plain)
	assertActOutput(t, log, "changed", "true")
	canary.AssertNone(t, "act's log", []byte(log), sec.Forms())
}

// startRegistry serves an in-memory registry on 127.0.0.1 for the test.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin := lookTool(t, "registry", registryVersion)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-port", strconv.Itoa(port))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	addr := "127.0.0.1:" + strconv.Itoa(port)
	for range 100 {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return addr
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the registry did not listen on %s", addr)
	return ""
}
