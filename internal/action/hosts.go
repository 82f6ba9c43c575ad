package action

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/report"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

// hostDeployer installs (or rolls back) on one host, with retries.
type hostDeployer struct {
	cfg      *inputs.Config
	signer   ssh.Signer
	hostKeys *remote.HostKeys
	content  secrets.Bytes
	opts     Options
}

// hostEvent is one host's outcome, reported to the printing goroutine.
type hostEvent struct {
	index  int
	result report.Host
	err    error
}

// fanOut runs every host with bounded parallelism. One failing host does
// not stop the others. Log lines are printed from this goroutine only, one
// per host as each finishes.
func (r *run) fanOut(ctx context.Context, d *hostDeployer) []report.Host {
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
			res, err := d.run(ctx, h)
			events <- hostEvent{index: i, result: res, err: err}
		}()
	}
	go func() { wg.Wait(); close(events) }()
	for ev := range events {
		res := ev.result
		if ev.err != nil {
			res.OK = false
			res.Error = r.fail(&HostError{Label: res.Label, Err: ev.err})
		} else {
			res.OK = true
			what := "installed"
			switch {
			case d.cfg.Operation == "rollback":
				what = "rolled back"
			case !res.Changed:
				what = "unchanged (identical content, mode and owner already in place)"
			}
			r.plainf("%s: %s %q, mode %04o, %d bytes, host key %s, in %s", res.Label, what, d.cfg.RemotePath, res.Mode.Perm(), res.Bytes, res.HostKey, res.Duration.Round(time.Millisecond))
		}
		results[ev.index] = res
	}
	return results
}

// HostError ties an error to the host it happened on.
type HostError struct {
	Label string
	Err   error
}

func (e *HostError) Error() string { return fmt.Sprintf("%s: %v", e.Label, e.Err) }
func (e *HostError) Unwrap() error { return e.Err }

func (d *hostDeployer) label(h inputs.Host) string { return d.cfg.User + "@" + h.Label() }

// run is one host: the whole connect-install sequence, retried on
// transient failures with exponential backoff, bounded by the timeout
// input.
func (d *hostDeployer) run(ctx context.Context, h inputs.Host) (report.Host, error) {
	start := d.opts.Now()
	res := report.Host{Label: d.label(h)}
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	backoff := d.opts.Backoff
	// One state for all attempts: a retry continues the attempt before,
	// and the host counts as changed if any attempt changed it.
	st := remote.NewRunState()
	var err error
	for attempt := 0; ; attempt++ {
		res.Attempts = attempt + 1
		err = d.once(ctx, h, st, &res)
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
		err = &TimeoutError{After: d.cfg.Timeout, Attempts: res.Attempts, Last: err}
	}
	return res, err
}

func (d *hostDeployer) once(ctx context.Context, h inputs.Host, st *remote.RunState, res *report.Host) error {
	opts := remote.Options{Timeouts: d.opts.Timeouts, Sudo: d.cfg.Sudo, State: st}
	if d.cfg.Jump != nil {
		opts.Jump = &remote.Target{Host: d.cfg.Jump.Name, Port: d.cfg.Jump.Port, User: d.cfg.JumpUser}
	}
	conn, err := remote.Dial(ctx, remote.Target{Host: h.Name, Port: h.Port, User: d.cfg.User}, d.signer, d.hostKeys, opts)
	if err != nil {
		return err
	}
	defer conn.Close()
	res.HostKey = conn.HostKeyType + " " + conn.HostKey
	spec := remote.Spec{Path: d.cfg.RemotePath, Mode: d.cfg.FileMode, UID: d.cfg.Owner, GID: d.cfg.Group}
	var inst *remote.Installed
	if d.cfg.Operation == "rollback" {
		inst, err = conn.Rollback(spec)
	} else {
		spec.Content, spec.Backup = d.content.Reveal(), d.cfg.Backup
		inst, err = conn.Install(spec)
	}
	if err != nil {
		return err
	}
	res.Changed = res.Changed || inst.Changed
	res.Mode, res.Bytes, res.Backup = inst.Mode, inst.Size, inst.Backup
	return nil
}

// TimeoutError says a host did not finish within the timeout input.
type TimeoutError struct {
	After    time.Duration
	Attempts int
	Last     error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("did not finish within %s (%d attempt(s)); last error: %v", e.After, e.Attempts, e.Last)
}
func (e *TimeoutError) Unwrap() error { return e.Last }
