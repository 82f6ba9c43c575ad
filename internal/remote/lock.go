package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"strconv"
	"strings"
	"time"
)

// The host-side lock serializes deploys and rollbacks to one path, from
// any number of runs, workflows, repositories or host names for one box.
// It is a symbolic link next to the target whose text names the holder's
// token and its lease: creating a symbolic link is atomic and fails when
// the name exists, and its text is read back in one request. The holder
// renews the lease (a fresh link renamed over the lock, so its time is
// new) while it works, so a run that crashed holds the lock for one lease
// at most: a waiter breaks a lock whose lease ran out by the server's
// clock.

const (
	lockPrefix = "sops-deploy-lock:"
	// lockLease is how long a lock lasts unless renewed; a waiter may
	// wait this long for a lock a crashed run left.
	lockLease = 30 * time.Second
	// cancelGrace is how long a cancelled operation may still use the
	// connection to clean up before it is closed.
	cancelGrace = 3 * time.Second
	lockPollMin = 20 * time.Millisecond
	lockPollMax = 500 * time.Millisecond
)

// lockRenewEvery is how often the holder renews its lease (Conn's
// renewEvery, which tests shorten).
const lockRenewEvery = lockLease / 3

// LockError says another deploy to the same path held the lock for the
// whole of this run's time.
type LockError struct {
	Path   string
	Holder string    // the holder's lock text, public
	Until  time.Time // when it expires by the server's clock, if known
}

func (e *LockError) Error() string {
	msg := fmt.Sprintf("another deploy to this path holds the lock %q", e.Path)
	if !e.Until.IsZero() {
		msg += fmt.Sprintf(" until %s at the latest", e.Until.UTC().Format(time.RFC3339))
	}
	return msg + " and did not release it before this run ran out of time or was cancelled; remote_path was not touched"
}

// Hint says how to fix it.
func (e *LockError) Hint() string {
	return "let the other deploy finish (a crashed run's lock expires by itself), or put deploys to one host in one concurrency group"
}

func lockText(token string, ttl time.Duration) string {
	return lockPrefix + token + ":" + strconv.Itoa(int(math.Ceil(ttl.Seconds())))
}

func parseLock(s string) (token string, ttl time.Duration, ok bool) {
	rest, ok := strings.CutPrefix(s, lockPrefix)
	if !ok {
		return "", 0, false
	}
	token, secs, ok := strings.Cut(rest, ":")
	n, err := strconv.Atoi(secs)
	if !ok || err != nil || n < 0 || token == "" {
		return "", 0, false
	}
	return token, time.Duration(n) * time.Second, true
}

// lock takes the lock, creating the target's missing directories first
// when there are any. A lock with this run's token is an earlier attempt's
// and is taken over.
func (tx *txn) lock(s Spec) error {
	c := tx.c
	mine := lockText(c.state.token, lockLease)
	dirsMade := false
	w := &lockWait{poll: lockPollMin}
	for first := true; ; first = false {
		var err error
		if first {
			err = tx.lockAndInspect(mine)
			if tx.refusal != nil {
				if err == nil {
					tx.hold(mine) // finish releases it, if the server still answers
				}
				return tx.refusal
			}
		} else {
			err = c.op(func() error { return c.sftp.Symlink(mine, tx.lockPath()) })
		}
		if err == nil {
			tx.hold(mine)
			return nil
		}
		if c.ctx.Err() != nil {
			if w.held != "" {
				return &LockError{Path: tx.lockPath(), Holder: w.held, Until: w.until}
			}
			return err
		}
		if errors.Is(err, fs.ErrNotExist) && !dirsMade {
			if err := tx.ensureDirs(s); err != nil {
				return err
			}
			dirsMade = true
			continue
		}
		var held string
		herr := c.op(func() (err error) { held, err = c.sftp.ReadLink(tx.lockPath()); return err })
		switch {
		case c.ctx.Err() != nil && w.held != "":
			return &LockError{Path: tx.lockPath(), Holder: w.held, Until: w.until}
		case errors.Is(herr, fs.ErrNotExist):
			continue // released in between
		case herr != nil:
			return &InstallError{Step: "read the lock", Path: tx.lockPath(), Err: herr}
		}
		token, ttl, ok := parseLock(held)
		if !ok {
			return &InstallError{Step: "take the lock", Path: tx.lockPath(), Err: errors.New("it exists and is not a lock of this action"),
				Fix: "remove it on the host if no deploy is running"}
		}
		if token == c.state.token {
			tx.hold(mine)
			return nil
		}
		if err := w.wait(tx, held, ttl); err != nil {
			return err
		}
	}
}

// lockWait is one run waiting for a lock held by another.
type lockWait struct {
	poll  time.Duration
	held  string    // the lock text last seen
	until time.Time // when it expires, by the server's clock
	// server time: serverAt (the server's clock) was local time localAt.
	serverAt, localAt time.Time
}

// wait breaks the held lock if its time is up, else sleeps a little.
func (w *lockWait) wait(tx *txn, held string, ttl time.Duration) error {
	c := tx.c
	w.held = held
	fi, err := c.lstat(tx.lockPath())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case c.ctx.Err() != nil:
		return &LockError{Path: tx.lockPath(), Holder: held, Until: w.until}
	case err != nil:
		return &InstallError{Step: "inspect", Path: tx.lockPath(), Err: err}
	}
	until := fi.ModTime().Add(ttl)
	w.until = until
	if w.serverAt.IsZero() {
		if err := w.learnServerTime(tx); err != nil {
			if c.ctx.Err() != nil {
				return &LockError{Path: tx.lockPath(), Holder: held, Until: until}
			}
			return err
		}
	}
	if now := w.serverAt.Add(time.Since(w.localAt)); now.After(until) {
		return tx.breakLock(held, fi.ModTime())
	}
	t := time.NewTimer(w.poll)
	defer t.Stop()
	select {
	case <-c.ctx.Done():
		return &LockError{Path: tx.lockPath(), Holder: held, Until: until}
	case <-t.C:
	}
	w.poll = min(2*w.poll, lockPollMax)
	return nil
}

// learnServerTime reads the server's clock from the time of a symbolic
// link made for the purpose.
func (w *lockWait) learnServerTime(tx *txn) error {
	c := tx.c
	probe := tx.lockPath() + "." + c.state.token
	if err := c.op(func() error { return c.sftp.Symlink("sops-deploy-clock", probe) }); err != nil {
		return &InstallError{Step: "create", Path: probe, Err: err}
	}
	w.localAt = time.Now()
	fi, err := c.lstat(probe)
	_ = c.cleanupOp(func() error { return c.sftp.Remove(probe) })
	if err != nil {
		return &InstallError{Step: "inspect", Path: probe, Err: err}
	}
	w.serverAt = fi.ModTime()
	return nil
}

// breakLock removes a lock whose time is up. It moves the lock to a name
// of its own first and checks it moved the lock it judged: if another run
// took the lock in between, that lock is put back.
func (tx *txn) breakLock(held string, judged time.Time) error {
	c := tx.c
	moved := tx.lockPath() + ".stale." + c.state.token
	if err := c.op(func() error { return c.sftp.PosixRename(tx.lockPath(), moved) }); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return &InstallError{Step: "break the expired lock", Path: tx.lockPath(), Err: err}
	}
	var got string
	_ = c.op(func() (err error) { got, err = c.sftp.ReadLink(moved); return err })
	fi, ferr := c.lstat(moved)
	if got != held || ferr != nil || !fi.ModTime().Equal(judged) {
		// Not the lock judged expired: renewed, or taken anew, since.
		_ = c.cleanupOp(func() error { return c.sftp.Link(moved, tx.lockPath()) })
	}
	if err := c.cleanupOp(func() error { return c.sftp.Remove(moved) }); err != nil {
		return &InstallError{Step: "remove the expired lock", Path: moved, Err: err}
	}
	tx.cleaned++
	return nil
}

// hold marks the lock taken and renews its lease until release.
func (tx *txn) hold(text string) {
	tx.locked = true
	stop, done := make(chan struct{}), make(chan struct{})
	tx.release = func() { close(stop); <-done }
	tx.c.renewing.Add(1)
	go func() {
		defer close(done)
		defer tx.c.renewing.Add(-1)
		t := time.NewTicker(tx.c.renewEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				tx.renew(text)
			}
		}
	}()
}

// renew replaces the lock by a fresh link with the same text, if it is
// still ours. Failures are ignored: the next tick tries again, and the
// operations themselves report a lost connection.
func (tx *txn) renew(text string) {
	c := tx.c
	// No flight may be sending meanwhile: flight tells its requests from
	// others only by their order on the wire.
	c.sending.Lock()
	defer c.sending.Unlock()
	var cur string
	if c.cleanupOp(func() (err error) { cur, err = c.sftp.ReadLink(tx.lockPath()); return err }) != nil || cur != text {
		return
	}
	fresh := tx.lockPath() + ".renew." + c.state.token
	_ = c.cleanupOp(func() error { return c.sftp.Remove(fresh) })
	if c.cleanupOp(func() error { return c.sftp.Symlink(text, fresh) }) == nil {
		_ = c.cleanupOp(func() error { return c.sftp.PosixRename(fresh, tx.lockPath()) })
	}
}
