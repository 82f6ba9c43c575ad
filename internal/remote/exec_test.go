package remote_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/secret"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

func TestRunCommand(t *testing.T) {
	t.Parallel()
	c, s := dialOpenSSH(t)
	target := remote.Target{Host: s.Host, Port: s.Port, User: s.User}
	ctx := context.Background()
	if err := c.CheckExec(ctx, target); err != nil {
		t.Fatalf("CheckExec on a host with a shell: %v", err)
	}
	out, err := c.Run(ctx, target, "echo out; echo err >&2")
	if err != nil || out.Stdout != "out\n" || out.Stderr != "err\n" {
		t.Errorf("Run = %+v, %v; want out/err", out, err)
	}
	_, err = c.Run(ctx, target, "echo one >&2; echo two >&2; echo three >&2; echo four >&2; exit 3")
	var ce *remote.CommandError
	if !errors.As(err, &ce) || ce.Status != 3 || strings.Join(ce.Stderr, ",") != "two,three,four" {
		t.Fatalf("Run of a failing command = %#v; want exit 3 and the last 3 stderr lines", err)
	}
	if msg := ce.Error(); !strings.Contains(msg, "exit status 3") || !strings.Contains(msg, s.Addr) {
		t.Errorf("error %q does not name the status and host", msg)
	}
	if remote.Transient(err) {
		t.Errorf("a failed command is classed transient; it must not be retried")
	}
	out, _ = c.Run(ctx, target, "head -c 200000 /dev/zero | tr '\\0' x")
	if len(out.Stdout) > 64<<10 || !out.Truncated {
		t.Errorf("output not bounded: %d bytes, truncated=%v", len(out.Stdout), out.Truncated)
	}
	// A cancelled (or timed out) run does not wait for the command to
	// end: sshd keeps the session open until its child exits, so Run asks
	// the command to stop and gives up after the grace period. (Before,
	// this case waited out the whole sleep.)
	cctx, cancel := context.WithCancel(ctx)
	time.AfterFunc(200*time.Millisecond, cancel)
	returned := make(chan error, 1)
	go func() { _, err := c.Run(cctx, target, "sleep 60"); returned <- err }()
	select {
	case err := <-returned:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Run with a cancelled context = %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run still waits for the command after its context was cancelled")
	}
}

// TestCheckExecSFTPOnly: an account with ForceCommand internal-sftp runs
// the SFTP server for any command; the probe must see that.
func TestCheckExecSFTPOnly(t *testing.T) {
	t.Parallel()
	root := sshtest.ChrootDir(t)
	s := sshtest.Start(t, sshtest.WithChroot(root))
	signer, err := remote.ParseSigner(secret.NewString(string(s.ClientKeyPEM)), secret.NewString(""))
	if err != nil {
		t.Fatal(err)
	}
	target := remote.Target{Host: s.Host, Port: s.Port, User: s.User}
	c, err := remote.Dial(context.Background(), target, signer, newHostKeys(t, s.KnownHosts, nil), testOptions)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	err = c.CheckExec(context.Background(), target)
	var ne *remote.NoExecError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "SFTP-only") {
		t.Fatalf("CheckExec on an SFTP-only account = %v; want a NoExecError", err)
	}
}
