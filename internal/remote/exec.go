package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// maxCommandOutput bounds what is kept of a remote command's stdout and
// stderr (each): the log shows the tail.
const maxCommandOutput = 64 << 10

// CommandOutput is what a remote command printed, each stream's tail.
// It comes from the host: untrusted text, to be printed line by line and
// never as a workflow command.
type CommandOutput struct {
	Stdout, Stderr string
	Truncated      bool // a stream was longer than its bound; the start was dropped
	Hidden         bool // the caller chose not to show it
}

// CommandError says a remote command ran and failed (a non-zero exit, a
// signal, or no exit status at all).
type CommandError struct {
	Addr   string
	Status int    // exit status
	Signal string // the signal that ended it, if any
	Stderr []string
}

func (e *CommandError) Error() string {
	how := fmt.Sprintf("exit status %d", e.Status)
	if e.Signal != "" {
		how = "signal " + e.Signal
	}
	msg := "restart_command failed on " + e.Addr + " with " + how
	if len(e.Stderr) > 0 {
		msg += "; its stderr ends: " + strings.Join(quoteAll(e.Stderr), " ")
	}
	return msg
}

// NoExecError says the host runs no commands for this user: an SFTP-only
// account (ForceCommand internal-sftp), a nologin shell, or a refused
// session.
type NoExecError struct {
	Addr, User string
	Reason     string
}

func (e *NoExecError) Error() string {
	return fmt.Sprintf("%s@%s runs no commands (%s), so restart_command cannot run there; nothing was written", e.User, e.Addr, e.Reason)
}

// Hint says how to fix it.
func (e *NoExecError) Hint() string {
	return "give the deploy user a login shell and no ForceCommand internal-sftp (Match block in sshd_config), or leave restart_command empty and restart the services another way"
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu        sync.Mutex
	buf       []byte
	max       int
	truncated bool
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
		b.truncated = true
	}
	return len(p), nil
}

func (b *tailBuffer) isTruncated() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.truncated
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}

// CheckExec fails unless the host runs commands for this user: it runs a
// probe that prints a random nonce. With ForceCommand internal-sftp, sshd
// runs the SFTP server instead, which prints nothing and exits when its
// input closes.
func (c *Conn) CheckExec(ctx context.Context, t Target) error {
	var n [8]byte
	if _, err := rand.Read(n[:]); err != nil {
		return err
	}
	nonce := "sops-deploy-probe-" + hex.EncodeToString(n[:])
	out, err := c.exec(ctx, "echo "+nonce)
	var oce *ssh.OpenChannelError
	var ce *CommandError
	switch {
	case err == nil && strings.Contains(out.Stdout, nonce):
		return nil
	case errors.As(err, &oce):
		return &NoExecError{Addr: t.Addr(), User: t.User, Reason: fmt.Sprintf("the server refused a session: %q", oce.Message)}
	case err != nil && !errors.As(err, &ce):
		return err
	}
	reason := "a probe command did not run: the account is SFTP-only (ForceCommand internal-sftp?) or has no login shell"
	if ce != nil {
		reason += fmt.Sprintf("; exit status %d", ce.Status)
	}
	return &NoExecError{Addr: t.Addr(), User: t.User, Reason: reason}
}

// Run runs command on the host through the login user's shell, over this
// connection, and returns what it printed. A non-zero exit is a
// *CommandError; cancelling ctx ends the session.
func (c *Conn) Run(ctx context.Context, t Target, command string) (CommandOutput, error) {
	out, err := c.exec(ctx, command)
	var ce *CommandError
	if errors.As(err, &ce) {
		ce.Addr = t.Addr()
	}
	return out, err
}

func (c *Conn) exec(ctx context.Context, command string) (CommandOutput, error) {
	sess, err := c.ssh.NewSession()
	if err != nil {
		return CommandOutput{}, err
	}
	defer sess.Close()
	stdout := &tailBuffer{max: maxCommandOutput}
	stderr := &tailBuffer{max: maxCommandOutput}
	sess.Stdout, sess.Stderr = stdout, stderr
	done := make(chan error, 1)
	go func() { done <- sess.Run(command) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// sshd keeps a session open until its command exits, so closing
		// the channel does not end the wait: ask the command to stop,
		// and give up waiting after the grace period (the connection's
		// close ends the session).
		_ = sess.Signal(ssh.SIGTERM)
		sess.Close()
		select {
		case <-done:
		case <-time.After(cancelGrace):
		}
	}
	out := CommandOutput{Stdout: stdout.String(), Stderr: stderr.String()}
	out.Truncated = stdout.isTruncated() || stderr.isTruncated()
	if ctx.Err() != nil {
		return out, ctx.Err()
	}
	var ee *ssh.ExitError
	var em *ssh.ExitMissingError
	switch {
	case errors.As(err, &ee):
		return out, &CommandError{Status: ee.ExitStatus(), Signal: ee.Signal(), Stderr: lastLines(out.Stderr, 3)}
	case errors.As(err, &em):
		// No exit status: the connection (or the session) was cut under
		// the command. The caller treats that as a network failure.
		return out, fmt.Errorf("the command ended without an exit status (connection cut?): %w", err)
	}
	return out, err
}

// lastLines returns up to n last non-empty lines of s.
func lastLines(s string, n int) []string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return lines
}
