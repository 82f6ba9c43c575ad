// Package demo runs the action's deploy path end to end against an SSH/SFTP
// server embedded in the process, with a sample encrypted file and a
// test-only age key, so a newcomer sees the whole product without a VPS.
package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sethvargo/go-githubactions"
	"golang.org/x/crypto/ssh"

	"github.com/productgalaxy/sops-deploy-action/internal/action"
	"github.com/productgalaxy/sops-deploy-action/internal/localssh"
)

// Files are the demo's inputs, relative to the fixtures FS.
const (
	encryptedFile = "testdata/staging/galaxy.enc.yaml"
	ageKeyFile    = "testdata/keys/a.agekey"
)

// Run deploys the fixture in fixtures to a temporary directory through the
// embedded server and writes what the workflow log would show, the step
// summary and the installed file's path and mode to w. It removes its
// temporary directory unless keep is set.
func Run(ctx context.Context, w io.Writer, fixtures fs.FS, keep bool) error {
	ageKey, err := fs.ReadFile(fixtures, ageKeyFile)
	if err != nil {
		return fmt.Errorf("failed to read the demo age key: %w", err)
	}
	dir, err := os.MkdirTemp("", "sops-deploy-demo-")
	if err != nil {
		return fmt.Errorf("failed to create a temporary directory: %w", err)
	}
	if !keep {
		defer os.RemoveAll(dir)
	}

	sshPub, sshKey, err := clientKey()
	if err != nil {
		return err
	}
	srv, err := localssh.Start(localssh.Config{AuthorizedKey: sshPub, User: "deploy"})
	if err != nil {
		return fmt.Errorf("failed to start the embedded SSH server: %w", err)
	}
	defer srv.Close()

	remotePath := filepath.Join(dir, "host", "etc", "galaxy", "secrets", "galaxy.yaml")
	summary := filepath.Join(dir, "step_summary.md")
	output := filepath.Join(dir, "output.txt")
	for _, f := range []string{summary, output} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			return fmt.Errorf("failed to create %s: %w", f, err)
		}
	}
	env := map[string]string{
		"INPUT_ENV":           "staging",
		"INPUT_AGE_KEY":       string(ageKey),
		"INPUT_HOST":          srv.Addr,
		"INPUT_USER":          "deploy",
		"INPUT_SSH_KEY":       string(sshKey),
		"INPUT_KNOWN_HOSTS":   srv.KnownHosts,
		"INPUT_FILE":          encryptedFile,
		"INPUT_REMOTE_PATH":   remotePath,
		"GITHUB_STEP_SUMMARY": summary,
		"GITHUB_OUTPUT":       output,
	}
	getenv := func(k string) string { return env[k] }

	fmt.Fprintf(w, "sops-deploy demo: deploying %s to an embedded SSH server at %s\n", encryptedFile, srv.Addr)
	fmt.Fprintf(w, "(the remote root is %s; the age key is the test-only %s)\n\n", dir, ageKeyFile)
	fmt.Fprintln(w, "── workflow log ──")
	lw := &logWriter{w: w}
	gha := githubactions.New(githubactions.WithWriter(lw), githubactions.WithGetenv(getenv))
	runErr := action.Run(ctx, gha, action.Options{Workspace: fixtures})
	lw.flush()

	printFile(w, "step summary", summary)
	printFile(w, "outputs", output)
	if runErr != nil {
		return runErr
	}
	return printInstalled(w, remotePath, dir, keep)
}

// clientKey makes the demo's SSH client key: the public key the embedded
// server authorizes, and the private key in OpenSSH PEM form.
func clientKey() (ssh.PublicKey, []byte, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to generate the demo SSH key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to encode the demo SSH key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "sops-deploy demo key")
	if err != nil {
		return nil, nil, fmt.Errorf("failed to encode the demo SSH key: %w", err)
	}
	return sshPub, pem.EncodeToMemory(block), nil
}

// printFile shows a file command's file under a heading.
func printFile(w io.Writer, heading, name string) {
	fmt.Fprintf(w, "\n── %s ──\n", heading)
	if b, err := os.ReadFile(name); err == nil {
		w.Write(b)
	}
}

// printInstalled shows the installed file's path, mode and size.
func printInstalled(w io.Writer, remotePath, dir string, keep bool) error {
	fi, err := os.Stat(remotePath)
	if err != nil {
		return fmt.Errorf("failed to inspect the installed file: %w", err)
	}
	fmt.Fprintln(w, "\n── on the host ──")
	fmt.Fprintf(w, "%s  mode %04o  %d bytes\n", remotePath, fi.Mode().Perm(), fi.Size())
	if keep {
		fmt.Fprintf(w, "kept %s (it holds the demo's fake plaintext)\n", dir)
	}
	return nil
}

// logWriter shows the log as the runner would: ::add-mask:: lines are
// consumed by the runner and never displayed, so their payload is hidden.
type logWriter struct {
	w     io.Writer
	buf   []byte
	masks int
}

func (l *logWriter) Write(p []byte) (int, error) {
	l.buf = append(l.buf, p...)
	for {
		i := strings.IndexByte(string(l.buf), '\n')
		if i < 0 {
			return len(p), nil
		}
		l.line(string(l.buf[:i]))
		l.buf = l.buf[i+1:]
	}
}

func (l *logWriter) line(s string) {
	if strings.HasPrefix(s, "::add-mask::") {
		l.masks++
		return
	}
	l.flushMasks()
	fmt.Fprintln(l.w, s)
}

func (l *logWriter) flushMasks() {
	if l.masks > 0 {
		fmt.Fprintf(l.w, "::add-mask::***  (%d masks registered with the runner; it never displays these lines)\n", l.masks)
		l.masks = 0
	}
}

func (l *logWriter) flush() {
	if len(l.buf) > 0 {
		l.line(string(l.buf))
		l.buf = nil
	}
	l.flushMasks()
}
