package remote

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"sync"

	"github.com/pkg/sftp"
)

// RunState is what one run knows about one host across its attempts, so
// that a retry continues the earlier attempt instead of starting over:
// the lock token (the retry recognises its own lock) and whether the
// switch into place was sent (a retry that finds the new version already
// in place still reports the host changed, and a rollback is not undone by
// its own retry). Share one RunState between the attempts of one host, and
// never between hosts.
type RunState struct {
	token string
	// Changed is true once any attempt sent the request that replaces
	// remote_path.
	Changed    bool
	switchSent bool
	switched   bool
}

// NewRunState returns the state of a run that has not contacted the host.
func NewRunState() *RunState {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on Linux
	}
	return &RunState{token: hex.EncodeToString(b[:])}
}

// txn is one attempt of an install or rollback on one path, under the
// host-side lock.
type txn struct {
	c    *Conn
	path string
	dir  string
	base string
	uid  int // the login user's (SFTP server's) uid, learnt from the lock

	// seen is what inspect's LSTATs returned when they went out in one
	// flight with the lock's creation (see lock), nil otherwise.
	seen *inspection

	cur    fs.FileInfo // the target before the operation, nil if absent
	backup fs.FileInfo // the backup before the operation, nil if absent

	// readCur says the operation reads the target (an install: to tell
	// an unchanged file, and to compare keys). curOpen is the OPEN of the
	// target sent with the lock, answered under it; curFile its handle
	// once collected (see current).
	readCur bool
	curOpen *pending[*sftp.File]
	// openSent is that OPEN whether or not the lock was taken, and
	// refusal the target's refusal that lockAndInspect found before
	// anything else was sent (see refuseUnopenable).
	openSent *pending[*sftp.File]
	refusal  error
	// previous is the target's content before the operation, when read.
	previous []byte

	locked    bool
	release   func() // stops renewing the lock
	workMade  bool
	newMade   bool // workDir/new exists
	oldLinked bool // workDir/old exists
	cleaned   int
}

// Work directory entries. new is the version to rename into place, old
// a hard link to the version it replaces, to become the backup.
const (
	workNew = "new"
	workOld = "old"
)

func (tx *txn) workDir() string    { return path.Join(tx.dir, TempPrefix+tx.base+".d") }
func (tx *txn) newPath() string    { return path.Join(tx.workDir(), workNew) }
func (tx *txn) oldPath() string    { return path.Join(tx.workDir(), workOld) }
func (tx *txn) backupPath() string { return tx.path + BackupSuffix }
func (tx *txn) lockPath() string   { return path.Join(tx.dir, TempPrefix+tx.base+".lock") }

// begin checks the server, takes the lock, inspects the target, its
// backup and every directory above it in one round trip, and completes
// or removes what an interrupted run left. needLink says the operation
// makes hard links; readCur that it reads the target.
func (c *Conn) begin(s Spec, needLink, readCur bool) (*txn, error) {
	tx := &txn{c: c, path: s.Path, dir: path.Dir(s.Path), base: path.Base(s.Path), readCur: readCur}
	if err := tx.lock(s); err != nil {
		if serr := c.startFailed(); serr != nil {
			c.closeTransport() // nothing more can be said on this session
			return nil, serr
		}
		return nil, tx.abort(err)
	}
	// Checked once the first flight is answered: the server's VERSION
	// came before its answers (see version.go).
	for _, ext := range []string{"posix-rename@openssh.com", "hardlink@openssh.com"} {
		if ext == "hardlink@openssh.com" && !needLink {
			continue
		}
		ok, err := c.hasExtension(ext)
		if err == nil && !ok {
			err = &InstallError{Step: "replace atomically", Path: s.Path, Err: fmt.Errorf("the SFTP server lacks %s", ext),
				Fix: "use OpenSSH's sftp-server or internal-sftp as the host's SFTP server (Subsystem sftp in sshd_config)"}
		}
		if err != nil {
			return nil, tx.abort(err)
		}
	}
	if err := tx.inspect(); err != nil {
		return nil, tx.abort(err)
	}
	if err := tx.repair(); err != nil {
		return nil, tx.abort(err)
	}
	return tx, nil
}

func (tx *txn) abort(err error) error {
	_, err = tx.finish(nil, err)
	return err
}

// inspect stats the target, the backup, the work directory and every
// directory from / to the target's at once: pkg/sftp keeps the requests in
// flight together, so they cost one round trip.
func (tx *txn) inspect() error {
	dirs := ancestors(tx.dir)
	own := tx.ownPaths()
	var infos []fs.FileInfo
	var errs []error
	if tx.seen != nil {
		infos, errs = tx.seen.infos, tx.seen.errs
	} else {
		infos, errs = tx.c.lstatAll(append(own, dirs...))
	}
	for i, err := range errs {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			p := append(own, dirs...)[i]
			return &InstallError{Step: "inspect", Path: p, Err: err}
		}
	}
	if infos[2] == nil {
		return &InstallError{Step: "inspect", Path: tx.lockPath(), Err: errors.New("the lock vanished")}
	}
	tx.uid, _ = owner(infos[2])
	if err := checkDirs(dirs, infos[len(own):], tx.uid); err != nil {
		if !errors.Is(err, errSymlinkDir) {
			return err
		}
		if err := tx.checkRealDir(); err != nil {
			return err
		}
	}
	if err := checkTarget(tx.path, infos[0], "replace"); err != nil {
		return err
	}
	if err := checkTarget(tx.backupPath(), infos[1], "keep the previous version as"); err != nil {
		return err
	}
	tx.cur, tx.backup = infos[0], infos[1]
	tx.workMade = infos[3] != nil
	tx.newMade = infos[4] != nil
	tx.oldLinked = infos[5] != nil
	return nil
}

// ownPaths are the names inspect looks at besides the directories.
func (tx *txn) ownPaths() []string {
	return []string{tx.path, tx.backupPath(), tx.lockPath(), tx.workDir(), tx.newPath(), tx.oldPath()}
}

// inspection is the answer to inspect's LSTATs, in the order of
// ownPaths, then ancestors.
type inspection struct {
	infos []fs.FileInfo
	errs  []error
}

// lockAndInspect sends the lock's creation and inspect's LSTATs in one
// flight: the server makes the link before it answers the LSTATs, so when
// the lock was taken the answers were given under it. It reports the
// error of the lock's creation.
//
// An install also opens the target for reading, last: so that the check
// for an unchanged file (and the comparison of keys) can read it in the
// next round trip. The OPEN goes out before its LSTAT's answer says what
// the target is; an OPEN of something that blocks (a named pipe) is not
// waited for, since the target is refused on that answer and the handle
// is then never used (see current).
func (tx *txn) lockAndInspect(mine string) error {
	c := tx.c
	paths := append(tx.ownPaths(), ancestors(tx.dir)...)
	infos := make([]fs.FileInfo, len(paths))
	steps := []func() error{func() error { return c.sftp.Symlink(mine, tx.lockPath()) }}
	for i := range paths {
		steps = append(steps, func() (err error) { infos[i], err = c.sftp.Lstat(paths[i]); return err })
	}
	var open *pending[*sftp.File]
	if tx.readCur {
		var step func() error
		step, open = sendOnly(c, func() (*sftp.File, error) { return c.sftp.Open(tx.path) })
		steps = append(steps, step)
	}
	errs := c.flight(steps...)
	if open != nil {
		tx.openSent = open
		tx.refusal = refuseUnopenable(tx.path, infos[0])
	}
	if errs[0] == nil {
		// Answered under the lock. Without the lock the OPEN is ignored
		// (the handle stays to the end of the session): what it opened
		// may be replaced before the lock is taken.
		tx.seen = &inspection{infos: infos, errs: errs[1 : 1+len(paths)]}
		tx.curOpen = open
	}
	return errs[0]
}

// refuseUnopenable refuses, from its LSTAT, a target whose OPEN may block
// the server (a named pipe, a device, a link to one), before any other
// request is sent: a request behind a blocked OPEN is never answered.
// finish then tells whether the OPEN was answered after all.
func refuseUnopenable(p string, fi fs.FileInfo) error {
	if fi == nil || fi.Mode().IsRegular() || fi.IsDir() {
		return nil
	}
	return checkTarget(p, fi, "replace")
}

// current returns a handle to read the target (a regular file, as
// inspect found), from the OPEN sent with the lock when there was one.
func (tx *txn) current() (*sftp.File, error) {
	c := tx.c
	if p := tx.curOpen; p != nil {
		return wait(c, p)
	}
	var f *sftp.File
	err := c.op(func() (err error) { f, err = c.sftp.Open(tx.path); return err })
	if err == nil {
		tx.curOpen = &pending[*sftp.File]{done: closed, v: f}
	}
	return f, err
}

// closed is a channel that is closed.
var closed = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// checkRealDir repeats the directory check on the target directory's path
// with every symbolic link resolved, as sshd's StrictModes does.
func (tx *txn) checkRealDir() error {
	c := tx.c
	var real string
	if err := c.op(func() (err error) { real, err = c.sftp.RealPath(tx.dir); return err }); err != nil {
		return &InstallError{Step: "resolve", Path: tx.dir, Err: err}
	}
	dirs := ancestors(real)
	infos, errs := c.lstatAll(dirs)
	for i, err := range errs {
		if err != nil {
			return &InstallError{Step: "inspect", Path: dirs[i], Err: err}
		}
	}
	err := checkDirs(dirs, infos, tx.uid)
	if errors.Is(err, errSymlinkDir) {
		return &InstallError{Step: "resolve", Path: tx.dir, Err: errors.New("it still holds a symbolic link after resolving")}
	}
	return err
}

const targetHint = "move it away on the host, or choose another remote_path"

func checkTarget(p string, fi fs.FileInfo, step string) error {
	switch {
	case fi == nil:
		return nil
	case fi.Mode()&fs.ModeSymlink != 0:
		return &InstallError{Step: step, Path: p, Err: errors.New("it is a symbolic link; refusing to follow it"), Fix: targetHint}
	case !fi.Mode().IsRegular():
		return &InstallError{Step: step, Path: p, Err: errors.New("it exists and is not a regular file"), Fix: targetHint}
	}
	return nil
}

// repair completes or removes what an interrupted run (this one or
// another) left in the work directory. Under the lock nobody else is
// using it, so it is abandoned. If new is gone but old remains, the
// switch happened and old is the version it replaced: it becomes the
// backup. Otherwise new and old are extra links to versions still in place
// (or a partial upload) and are removed.
func (tx *txn) repair() error {
	if !tx.workMade {
		return nil
	}
	c := tx.c
	if !tx.newMade && tx.oldLinked {
		if err := c.op(func() error { return c.sftp.PosixRename(tx.oldPath(), tx.backupPath()) }); err != nil {
			return &InstallError{Step: "complete an interrupted deploy: keep the previous version as", Path: tx.backupPath(), Err: err}
		}
		tx.oldLinked = false
		tx.cleaned++
		if c.state.switchSent {
			c.state.switched = true
		}
		fi, err := c.lstat(tx.backupPath())
		if err != nil {
			return &InstallError{Step: "inspect", Path: tx.backupPath(), Err: err}
		}
		tx.backup = fi
	} else if c.state.switchSent && !tx.newMade {
		c.state.switched = true
	}
	if err := tx.removeWork(); err != nil {
		return err
	}
	tx.cleaned++
	return nil
}

// removeWork removes the work directory and what it holds.
func (tx *txn) removeWork() error {
	c := tx.c
	var rm []string
	if tx.newMade {
		rm = append(rm, tx.newPath())
	}
	if tx.oldLinked {
		rm = append(rm, tx.oldPath())
	}
	for _, err := range c.concurrently(len(rm), func(i int) error { return c.sftp.Remove(rm[i]) }) {
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return &InstallError{Step: "remove the temporary file", Path: tx.workDir(), Err: err}
		}
	}
	tx.newMade, tx.oldLinked = false, false
	err := c.cleanupOp(func() error { return c.sftp.RemoveDirectory(tx.workDir()) })
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return &InstallError{Step: "remove the temporary directory", Path: tx.workDir(), Err: err}
	}
	tx.workMade = false
	return nil
}

// finish removes the work directory and releases the lock, also after a
// failure or a cancellation, within the cancellation grace period, then
// returns res and err, with err telling a cancelled run what was cleaned.
func (tx *txn) finish(res *Installed, err error) (*Installed, error) {
	c := tx.c
	if p := tx.openSent; p != nil && !p.answeredWithin(cancelGrace) {
		// The OPEN sent with the lock blocks the server (the target is
		// a named pipe or a device, refused on its LSTAT): it answers
		// nothing after it. Nothing can be cleaned on this session; the
		// lock expires after its lease.
		c.closeTransport() // first: a renewal in progress waits on the blocked server
		if tx.locked {
			tx.release()
			var ie *InstallError
			if errors.As(err, &ie) && ie.Fix != "" {
				ie.Fix += fmt.Sprintf("; the lock this run took expires within %s", lockLease)
			}
		}
		if err == nil {
			err = &InstallError{Step: "read the current version of", Path: tx.path, Err: errors.New("the server did not answer its OPEN"), Fix: targetHint}
		}
		return nil, err
	}
	c.cleaning.Store(true)
	defer c.cleaning.Store(false)
	var cleanErr error
	if tx.oldLinked && c.state.switched {
		// The replaced version is only in the work directory: keep it.
		cleanErr = tx.keepOld()
	}
	if tx.workMade && cleanErr == nil {
		cleanErr = tx.removeWork()
	}
	if tx.locked {
		// Stop renewing first: a renewal after the removal would take
		// the lock again.
		tx.release()
		if e := c.cleanupOp(func() error { return c.sftp.Remove(tx.lockPath()) }); e == nil {
			tx.locked = false
		}
	}
	if res != nil {
		res.Cleaned = tx.cleaned
	}
	if err == nil {
		// Done: the next operation with this state is not a retry of this
		// one.
		c.state.switchSent, c.state.switched = false, false
	}
	var le *LockError
	if err != nil && c.ctx.Err() != nil && !errors.As(err, &le) {
		ce := &CancelledError{Path: tx.path, Cause: c.ctx.Err(), Switched: c.state.switched, Cleaned: cleanErr == nil && !tx.workMade}
		if !ce.Cleaned {
			ce.Left = tx.workDir()
		}
		return nil, ce
	}
	return res, err
}

// ancestors lists every directory from / to dir, dir included.
func ancestors(dir string) []string {
	dir = path.Clean(dir)
	out := []string{"/"}
	p := ""
	for _, part := range strings.Split(strings.TrimPrefix(dir, "/"), "/") {
		if part == "" {
			continue
		}
		p += "/" + part
		out = append(out, p)
	}
	return out
}

// lstatAll stats every path at once.
func (c *Conn) lstatAll(paths []string) ([]fs.FileInfo, []error) {
	infos := make([]fs.FileInfo, len(paths))
	errs := c.concurrently(len(paths), func(i int) (err error) {
		infos[i], err = c.sftp.Lstat(paths[i])
		return err
	})
	return infos, errs
}

func (c *Conn) lstat(p string) (fs.FileInfo, error) {
	var fi fs.FileInfo
	err := c.op(func() (err error) { fi, err = c.sftp.Lstat(p); return err })
	return fi, err
}

// concurrently runs f(0) … f(n-1) at once, as one operation: pkg/sftp
// sends the requests together and OpenSSH answers them in order, so they
// cost one round trip.
func (c *Conn) concurrently(n int, f func(int) error) []error {
	errs := make([]error, n)
	if n == 0 {
		return errs
	}
	run := c.op
	if c.cleaning.Load() {
		run = c.cleanupOp
	}
	err := run(func() error {
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs[i] = f(i)
			}()
		}
		wg.Wait()
		return nil
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}
