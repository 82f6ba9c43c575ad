package action

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/report"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// hostDeployer installs (or rolls back) on one host, with retries.
type hostDeployer struct {
	cfg      *inputs.Config
	signer   ssh.Signer
	hostKeys *remote.HostKeys
	content  secrets.Bytes
	leaves   []secrets.Leaf // the new version's values, to name the keys a deploy changes
	opts     Options
}

// hostEvent is one host's outcome, reported to the printing goroutine.
type hostEvent struct {
	index   int
	result  report.Host
	err     error
	restart remote.CommandOutput // what restart_command printed, if it ran
}

// fanOut runs every host with bounded parallelism. One failing host does
// not stop the others. Log lines are printed from this goroutine only, one
// per host as each finishes.
func (s *step) fanOut(ctx context.Context, d *hostDeployer) []report.Host {
	hosts := d.cfg.Hosts
	results := make([]report.Host, len(hosts))
	events := make(chan hostEvent)
	sem := make(chan struct{}, d.cfg.Parallel)
	var wg sync.WaitGroup
	for i, h := range hosts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				events <- hostEvent{index: i, result: report.Host{Label: d.label(h)}, err: ctx.Err()}
				return
			}
			defer func() { <-sem }()
			res, out, err := d.deploy(ctx, h)
			events <- hostEvent{index: i, result: res, err: err, restart: out}
		}()
	}
	go func() { wg.Wait(); close(events) }()
	for ev := range events {
		res := ev.result
		s.printRestartOutput(res.Label, ev.restart)
		if ev.err != nil {
			res.OK = false
			res.Error = s.fail(&hostError{Label: res.Label, Err: ev.err})
		} else {
			res.OK = true
			what := "installed"
			switch {
			case d.cfg.Operation == inputs.Rollback:
				what = "rolled back"
			case !res.Changed:
				what = "unchanged (identical content, mode and owner already in place)"
			}
			if res.Restarted {
				what += " and restarted the services"
			}
			s.plainf("%s: %s %q, mode %04o, %d bytes, host key %s, in %s", res.Label, what, d.cfg.RemotePath, res.Mode.Perm(), res.Bytes, res.HostKey, res.Duration.Round(time.Millisecond))
		}
		results[ev.index] = res
	}
	return results
}

// hostError ties an error to the host it happened on.
type hostError struct {
	Label string
	Err   error
}

func (e *hostError) Error() string { return fmt.Sprintf("%s: %v", e.Label, e.Err) }
func (e *hostError) Unwrap() error { return e.Err }

func (d *hostDeployer) label(h inputs.Host) string { return d.cfg.User + "@" + h.Addr() }

// deploy is one host: the whole connect-install sequence (attempt),
// retried up to the retries input with exponential backoff while
// remote.Transient says the failure is worth another try, bounded by the
// timeout input.
func (d *hostDeployer) deploy(ctx context.Context, h inputs.Host) (report.Host, remote.CommandOutput, error) {
	start := d.opts.Now()
	res := report.Host{Label: d.label(h)}
	var out remote.CommandOutput
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	backoff := d.opts.Backoff
	// One state for all attempts: a retry continues the attempt before,
	// and the host counts as changed if any attempt changed it.
	st := remote.NewRunState()
	var err error
	for attempt := 0; ; attempt++ {
		res.Attempts = attempt + 1
		err = d.attempt(ctx, h, st, &res, &out)
		res.Changed = res.Changed || st.Changed
		if err == nil || !remote.Transient(err) || attempt >= d.cfg.Retries || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff *= 2
	}
	res.Duration = d.opts.Now().Sub(start)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		err = &timeoutError{After: d.cfg.Timeout, Attempts: res.Attempts, Last: err}
	}
	return res, out, err
}

// attempt is one try on a host: connect, check that restart_command can
// run, install (or roll back), name the changed keys, restart.
func (d *hostDeployer) attempt(ctx context.Context, h inputs.Host, st *remote.RunState, res *report.Host, out *remote.CommandOutput) error {
	opts := remote.Options{Timeouts: d.opts.Timeouts, Sudo: d.cfg.Sudo, State: st}
	if d.cfg.Jump != nil {
		opts.Jump = &remote.Target{Host: d.cfg.Jump.Name, Port: d.cfg.Jump.Port, User: d.cfg.JumpUser}
	}
	target := remote.Target{Host: h.Name, Port: h.Port, User: d.cfg.User}
	conn, err := remote.Dial(ctx, target, d.signer, d.hostKeys, opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	res.HostKey = conn.HostKeyType + " " + conn.HostKeyFingerprint
	if d.cfg.RestartCommand != "" {
		// Refuse an account that runs no commands before writing anything.
		if err := conn.CheckExec(ctx, target); err != nil {
			return err
		}
	}
	inst, err := d.install(conn)
	if err != nil {
		return err
	}
	// An earlier attempt may have changed the file before its connection
	// dropped: attempts share st, and combine.
	res.Changed = res.Changed || st.Changed || inst.Changed
	res.Mode, res.Bytes, res.Backup = inst.Mode, inst.Size, inst.Backup
	if d.cfg.Operation == inputs.Deploy {
		res.Keys = d.changedKeys(conn, inst, res.Changed)
	}
	if d.cfg.RestartCommand == "" || !res.Changed {
		return nil
	}
	if err := d.restart(ctx, conn, target, out); err != nil {
		return err
	}
	res.Restarted = true
	return nil
}

// install installs the new version, or for a rollback swaps the previous
// one back.
func (d *hostDeployer) install(conn *remote.Conn) (*remote.Installed, error) {
	spec := remote.Spec{Path: d.cfg.RemotePath, Mode: d.cfg.FileMode, UID: d.cfg.Owner, GID: d.cfg.Group}
	if d.cfg.Operation == inputs.Rollback {
		return conn.Rollback(spec)
	}
	spec.Content, spec.Backup = d.content.Reveal(), d.cfg.Backup
	spec.ReadPrevious = secrets.MaxFileSize // for changed_keys
	return conn.Install(spec)
}

// restart runs restart_command on a host whose file this run changed, and
// keeps what it printed in out.
func (d *hostDeployer) restart(ctx context.Context, conn *remote.Conn, target remote.Target, out *remote.CommandOutput) error {
	var err error
	*out, err = conn.Run(ctx, target, d.cfg.RestartCommand)
	rollback := d.cfg.Operation == inputs.Rollback
	if rollback {
		// A rollback decrypts nothing, so no value is masked: what the
		// command prints could hold one. Show none of it.
		*out = remote.CommandOutput{Hidden: true}
	}
	var ce *remote.CommandError
	if errors.As(err, &ce) {
		if rollback {
			ce.Stderr = nil
		}
		return &restartError{Err: ce, Rollback: rollback}
	}
	if err != nil {
		// The connection broke under the command: retried, and a retry
		// restarts again since this run changed the file (a rollback's
		// retry does not swap back: the run state remembers the swap).
		return &remote.ConnectError{Addr: target.Addr(), Phase: "run restart_command on", Err: err}
	}
	return nil
}

// restartError says restart_command failed after the new file (or, for a
// rollback, the previous one) was installed and verified.
type restartError struct {
	Err      error
	Rollback bool
}

func (e *restartError) Error() string {
	if e.Rollback {
		return "the previous secrets are back in place and verified, but " + e.Err.Error() + "; the services still use the ones rolled back from"
	}
	return "the new secrets are installed and verified, but " + e.Err.Error() + "; the services still use the old ones"
}

func (e *restartError) Unwrap() error { return e.Err }

// Hint says how to fix it.
func (e *restartError) Hint() string {
	return "fix the command (run it by hand on the host to see why it fails), then restart the services by hand: a re-run finds the file unchanged and does not restart"
}

// printRestartOutput prints what restart_command printed on a host, line
// by line behind the host's label: text from the host can then never
// start a workflow command. On a deploy every value was masked before;
// a rollback masks none, so its output is hidden.
func (s *step) printRestartOutput(label string, out remote.CommandOutput) {
	if out.Hidden {
		s.plainf("%s: restart_command's output is not shown on a rollback (nothing was decrypted, so no value in it could be masked)", label)
		return
	}
	if out.Truncated {
		s.plainf("%s: restart_command printed more than the log keeps; its last part:", label)
	}
	for _, stream := range []struct{ name, text string }{{"stdout", out.Stdout}, {"stderr", out.Stderr}} {
		for _, line := range strings.Split(strings.TrimRight(stream.text, "\n"), "\n") {
			if line != "" {
				s.plainf("%s: restart %s | %s", label, stream.name, printable(line))
			}
		}
	}
}

// printable replaces control characters (a carriage return could hide
// what comes before it) with U+FFFD.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\t' || (r >= 0x20 && r != 0x7f && !(r >= 0x80 && r < 0xa0)) {
			return r
		}
		return '\uFFFD'
	}, s)
}

// timeoutError says a host did not finish within the timeout input.
type timeoutError struct {
	After    time.Duration
	Attempts int
	Last     error
}

func (e *timeoutError) Error() string {
	msg := fmt.Sprintf("did not finish within %s (%d attempt(s)); last error: %v", e.After, e.Attempts, e.Last)
	if !strings.Contains(msg, "remote_path ") { // the remote errors say what it holds
		msg += "; " + remote.OldOrNew
	}
	return msg
}

func (e *timeoutError) Unwrap() error { return e.Last }

// Hint says what to check, then how to fix the last error.
func (e *timeoutError) Hint() string {
	hint := "check that the host is reachable and responsive, or raise the timeout input"
	if _, last := describe(e.Last); last != "" {
		hint += "; " + last
	}
	return hint
}
