package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/pkg/sftp"

	"github.com/productgalaxy/sops-deploy-action/internal/secret"
)

// OldOrNew is what is always true of remote_path after a failure.
const OldOrNew = "remote_path holds the previous or the new version, complete, never a partial one"

// InstallError says which step of the install failed on which path. Err
// may carry the server's status message, which is outside our control:
// print it quoted.
type InstallError struct {
	Step string // e.g. "create the temporary file"
	Path string
	Err  error
	// Fix, when set, says how to fix a refusal (a link or directory at
	// the target, an unsafe directory): nothing was replaced.
	Fix string
}

// Error says what failed and, unless it was a refusal, what remote_path
// holds.
func (e *InstallError) Error() string {
	msg := fmt.Sprintf("failed to %s %q: %v", e.Step, e.Path, e.Err)
	var ote *OpTimeoutError
	if e.Fix == "" && !errors.As(e.Err, &ote) { // OpTimeoutError says it
		msg += "; " + OldOrNew
	}
	return msg
}

// Hint says how to fix it: the refusal's own fix, else the cause's hint
// when it has one (empty here, so that the cause's is used), else what a
// server's refusal usually means.
func (e *InstallError) Hint() string {
	var h interface{ Hint() string }
	switch {
	case e.Fix != "":
		return e.Fix
	case errors.As(e.Err, &h):
		return ""
	case errors.Is(e.Err, fs.ErrPermission):
		return "the login user cannot write there (or set that owner): set sudo: true with a sudoers rule for sftp-server, or use a directory the user owns"
	}
	return "check free space and permissions on the host"
}

func (e *InstallError) Unwrap() error { return e.Err }

// Spec is what to install. A rollback uses only Path, Mode, UID and GID:
// the version it restores gets them.
type Spec struct {
	Path    string // absolute path on the host
	Content []byte
	Mode    fs.FileMode
	UID     int  // owner to set, or -1 to keep the login user's
	GID     int  // group to set, or -1
	Backup  bool // keep the replaced version as Path + BackupSuffix
	// ReadPrevious, when > 0, asks for the version an install replaces,
	// if it is no larger, in Installed.Previous: it is read in the
	// install's own round trips.
	ReadPrevious int64
}

// Format implements fmt.Formatter: a Spec prints its path, mode and size,
// never its content.
func (s Spec) Format(f fmt.State, _ rune) {
	fmt.Fprintf(f, "{%s %04o %d bytes}", s.Path, s.Mode.Perm(), len(s.Content))
}

// BackupSuffix names the previous version kept next to the installed file.
const BackupSuffix = ".previous"

// Installed describes the file as it is on the host after the operation.
type Installed struct {
	Path     string
	Mode     fs.FileMode
	Size     int64
	UID, GID int
	Changed  bool   // false when the host already had identical content, mode and owner
	Backup   string // path of the kept previous version, if there is one
	Cleaned  int    // files an interrupted earlier run left, removed or completed
	// Replaced is the size of the version this call replaced (now the
	// backup, when one is kept); -1 when there was none or it is not known.
	Replaced int64
	// Previous is the content of the version this call replaced, when
	// Spec.ReadPrevious asked for it and HasPrevious says it was read.
	Previous    secret.Bytes
	HasPrevious bool
}

// TempPrefix starts the name of everything this action creates next to
// the target besides the backup: the lock and the work directory.
const TempPrefix = ".sops-deploy-"

// Install puts s.Content at s.Path atomically, under the host-side lock
// (see lock.go): the new version is written into a fresh 0700 work
// directory next to the target (exclusive create, mode and owner set
// through the handle before the first byte, synced where the server
// supports it, closed and checked), the version it replaces is kept as the
// backup with a hard link made on the server, and the new file is renamed
// over the target with posix-rename. Every step before that rename leaves
// the target as it was; a cut after it leaves work a later run completes.
// When the target already has the same content, mode and owner nothing is
// written.
func (c *Conn) Install(s Spec) (*Installed, error) {
	tx, err := c.begin(s, s.Backup, true)
	if err != nil {
		return nil, err
	}
	res, err := tx.install(s)
	return tx.finish(res, err)
}

func (tx *txn) install(s Spec) (*Installed, error) {
	c := tx.c
	same, err := tx.unchanged(s)
	if err != nil || same {
		if same {
			fi := tx.cur
			uid, gid := owner(fi)
			res := &Installed{Path: s.Path, Mode: fi.Mode().Perm(), Size: fi.Size(), UID: uid, GID: gid, Replaced: -1}
			if tx.backup != nil {
				res.Backup = tx.backupPath()
			}
			return res, nil
		}
		return nil, err
	}
	f, syncFile, owner, err := tx.createNew(s)
	if err != nil {
		return nil, err
	}
	if err := tx.fillNew(f, syncFile, s, owner); err != nil {
		_ = c.cleanupOp(f.Close)
		return nil, err
	}
	if syncFile == nil {
		if err := tx.syncNew(f, s); err != nil {
			_ = c.cleanupOp(f.Close)
			return nil, err
		}
	}
	fi, err := tx.closeAndSwitch(f, s)
	if err != nil {
		return nil, err
	}
	done := &Installed{Changed: true, Backup: tx.backupPath(), Replaced: -1}
	if tx.cur != nil {
		done.Replaced = tx.cur.Size()
	}
	if tx.previous != nil {
		done.Previous, done.HasPrevious = secret.NewBytes(tx.previous), true
	}
	return verified(s.Path, fi, int64(len(s.Content)), s.Mode, s.UID, s.GID, done)
}

// Rollback swaps Path+BackupSuffix back into place atomically and keeps the
// version it replaces as the new previous version, so a second rollback
// undoes the first. It moves hard links only: no content crosses the
// network, and at every point the host holds both versions under names a
// later run recognises (see txn.repair). The restored version gets
// s.Mode, and s.UID and s.GID when they are set.
func (c *Conn) Rollback(s Spec) (*Installed, error) {
	tx, err := c.begin(s, true, false)
	if err != nil {
		return nil, err
	}
	res, err := tx.rollback(s)
	return tx.finish(res, err)
}

func (tx *txn) rollback(s Spec) (*Installed, error) {
	c, st := tx.c, tx.c.state
	done := &Installed{Changed: true}
	if st.switched || (st.switchSent && tx.backup == nil) {
		// An earlier attempt of this run already swapped the versions.
		if tx.backup != nil {
			done.Backup = tx.backupPath()
		}
		return c.verify(s.Path, -1, s.Mode, s.UID, s.GID, done)
	}
	if tx.backup == nil {
		return nil, &InstallError{Step: "roll back to", Path: tx.backupPath(), Err: errNoPrevious}
	}
	if tx.cur == nil {
		// Nothing to keep: the previous version simply takes the name.
		if err := tx.restoreAttrs(tx.backupPath(), s); err != nil {
			return nil, err
		}
		if err := tx.switchIn(tx.backupPath()); err != nil {
			return nil, err
		}
		return c.verify(s.Path, tx.backup.Size(), s.Mode, s.UID, s.GID, done)
	}
	if err := tx.linkBoth(); err != nil {
		return nil, err
	}
	if err := tx.restoreAttrs(tx.newPath(), s); err != nil {
		return nil, err
	}
	if err := tx.beforeSwitch(); err != nil {
		return nil, err
	}
	var fi fs.FileInfo
	errs := c.flight(
		func() error { return c.sftp.PosixRename(tx.newPath(), tx.path) },
		func() (err error) { fi, err = c.sftp.Lstat(tx.path); return err },
	)
	if errs[0] != nil {
		return nil, &InstallError{Step: "rename the new version onto", Path: tx.path, Err: errs[0]}
	}
	c.state.switched, tx.newMade = true, false
	if err := tx.keepOldAndRelease(); err != nil {
		return nil, err
	}
	if errs[1] != nil {
		return nil, &InstallError{Step: "inspect the installed file", Path: tx.path, Err: errs[1]}
	}
	done.Backup = tx.backupPath()
	return verified(s.Path, fi, tx.backup.Size(), s.Mode, s.UID, s.GID, done)
}

// linkBoth is a rollback's first flight: MKDIR the work directory, SETSTAT
// 0700, LSTAT it, then hard links of the previous version (new) and of the
// current one (old) in it. Links carry no content and keep their files'
// modes, so they may go before the answers show the directory is private;
// nothing is renamed before they do.
func (tx *txn) linkBoth() error {
	c, dir := tx.c, tx.workDir()
	var di fs.FileInfo
	errs := c.flight(
		func() error { return c.sftp.Mkdir(dir) },
		func() error { return c.sftp.Chmod(dir, 0o700) },
		func() (err error) { di, err = c.sftp.Lstat(dir); return err },
		func() error { return c.sftp.Link(tx.backupPath(), tx.newPath()) },
		func() error { return c.sftp.Link(tx.path, tx.oldPath()) },
	)
	tx.workMade, tx.newMade, tx.oldLinked = errs[0] == nil, errs[3] == nil, errs[4] == nil
	switch {
	case errs[0] != nil:
		return &InstallError{Step: "create the temporary directory", Path: dir, Err: errs[0]}
	case errs[1] != nil:
		return &InstallError{Step: "set the mode of", Path: dir, Err: errs[1]}
	case errs[2] != nil:
		return &InstallError{Step: "inspect", Path: dir, Err: errs[2]}
	case !di.IsDir() || di.Mode().Perm() != 0o700:
		return &InstallError{Step: "set the mode of", Path: dir, Err: fmt.Errorf("it is %v after chmod 0700", di.Mode())}
	case errs[3] != nil:
		return &InstallError{Step: "link the previous version", Path: tx.backupPath(), Err: errs[3]}
	case errs[4] != nil:
		return &InstallError{Step: "keep the current version (hard link) of", Path: tx.path, Err: errs[4]}
	}
	return nil
}

var errNoPrevious = errors.New("there is no previous version (was the last deploy made with backup: false, or is this the first deploy?)")

// restoreAttrs gives the version at p (not yet in place) the mode and
// owner the run asks for.
func (tx *txn) restoreAttrs(p string, s Spec) error {
	c := tx.c
	b := tx.backup
	if b.Mode().Perm() != s.Mode.Perm() {
		if err := c.op(func() error { return c.sftp.Chmod(p, s.Mode) }); err != nil {
			return &InstallError{Step: "set the mode of", Path: p, Err: err}
		}
	}
	if ownerMatches(b, s.UID, s.GID) {
		return nil
	}
	u, g := owner(b)
	if s.UID >= 0 {
		u = s.UID
	}
	if s.GID >= 0 {
		g = s.GID
	}
	if err := c.op(func() error { return c.sftp.Chown(p, u, g) }); err != nil {
		return &InstallError{Step: fmt.Sprintf("set owner %d:%d of", u, g), Path: p, Err: err}
	}
	return nil
}

// beforeSwitch is said just before the flight that renames a new version
// over the target. A cancelled run sends nothing more (finish removes the
// work directory under the lock); otherwise the switch goes out and what
// follows it (keeping the old version, the release) is finished even if
// the run is cancelled meanwhile. The run counts as having changed the
// host from here, whatever becomes of the reply.
func (tx *txn) beforeSwitch() error {
	c := tx.c
	if err := c.ctx.Err(); err != nil {
		return err
	}
	c.cleaning.Store(true)
	c.state.Changed, c.state.switchSent = true, true
	return nil
}

// switchIn renames from over the target: the one step that changes what
// remote_path holds. The run counts as having changed the host once the
// request is sent, whatever becomes of the reply.
func (tx *txn) switchIn(from string) error {
	c := tx.c
	c.state.Changed = true
	c.state.switchSent = true
	if err := c.op(func() error { return c.sftp.PosixRename(from, tx.path) }); err != nil {
		return &InstallError{Step: "rename the new version onto", Path: tx.path, Err: err}
	}
	c.state.switched = true
	if from == tx.newPath() {
		tx.newMade = false
	}
	// The new version is in place: what is left (keeping the old one as
	// the backup, checking) is finished even if the run is cancelled now.
	c.cleaning.Store(true)
	return nil
}

// keepOld moves the hard link to the replaced version to the backup name.
// A replaced version others could read keeps no such bits as the backup.
func (tx *txn) keepOld() error {
	if !tx.oldLinked {
		return nil
	}
	c := tx.c
	if err := c.op(func() error { return c.sftp.PosixRename(tx.oldPath(), tx.backupPath()) }); err != nil {
		return &InstallError{Step: "keep the previous version as", Path: tx.backupPath(), Err: err}
	}
	tx.oldLinked = false
	if m := tx.cur.Mode().Perm(); m&0o007 != 0 {
		if err := c.op(func() error { return c.sftp.Chmod(tx.backupPath(), m&^0o007) }); err != nil {
			return &InstallError{Step: "set the mode of", Path: tx.backupPath(), Err: err}
		}
	}
	return nil
}

// unchanged reports whether the target already has s's content, mode and
// owner. It reads the target only when its size is that of the new
// content, so memory stays bounded by the new content whatever the host
// holds.
func (tx *txn) unchanged(s Spec) (bool, error) {
	fi := tx.cur
	if fi == nil || fi.Size() != int64(len(s.Content)) || fi.Mode().Perm() != s.Mode.Perm() || !ownerMatches(fi, s.UID, s.GID) {
		return false, nil
	}
	c := tx.c
	f, err := tx.current()
	if err != nil {
		return false, &InstallError{Step: "read the current version of", Path: s.Path, Err: err}
	}
	// One read of exactly the size the LSTAT gave under the lock (asking
	// for more makes pkg/sftp send a second READ, to learn of the end of
	// the file, one round trip more). The handle is left open: pkg/sftp
	// would send the CLOSE only once the read is answered, a round trip
	// that tells nothing, and sftp-server closes every handle when the
	// session ends.
	b := make([]byte, len(s.Content))
	var n int
	err = c.op(func() (err error) { n, err = f.ReadAt(b, 0); return err })
	if err != nil && !errors.Is(err, io.EOF) {
		return false, &InstallError{Step: "read the current version of", Path: s.Path, Err: err}
	}
	if int64(n) == fi.Size() && s.ReadPrevious >= fi.Size() {
		tx.previous = b[:n]
	}
	return bytes.Equal(b[:n], s.Content), nil
}

// readPreviousStep returns a flight step that reads the target's current
// version into tx.previous, if s asks for it and it is not read yet; nil
// otherwise. Its READs may be several requests: it goes last.
func (tx *txn) readPreviousStep(s Spec) func() error {
	fi := tx.cur
	if s.ReadPrevious <= 0 || fi == nil || tx.previous != nil || fi.Size() > s.ReadPrevious {
		return nil
	}
	if fi.Size() == 0 {
		tx.previous = []byte{}
		return nil
	}
	f, err := tx.current()
	if err != nil {
		return nil // not known: the caller says so
	}
	return func() error {
		b := make([]byte, fi.Size())
		n, err := f.ReadAt(b, 0)
		if int64(n) == fi.Size() && (err == nil || errors.Is(err, io.EOF)) {
			tx.previous = b
		}
		return nil
	}
}

func owner(fi fs.FileInfo) (int, int) {
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		return int(st.UID), int(st.GID)
	}
	return -1, -1
}

func ownerMatches(fi fs.FileInfo, uid, gid int) bool {
	u, g := owner(fi)
	return (uid < 0 || uid == u) && (gid < 0 || gid == g)
}

// verify checks the installed file after the rename. size < 0 accepts any
// size.
func (c *Conn) verify(p string, size int64, mode fs.FileMode, uid, gid int, res *Installed) (*Installed, error) {
	var fi fs.FileInfo
	if err := c.op(func() (err error) { fi, err = c.sftp.Lstat(p); return err }); err != nil {
		return nil, &InstallError{Step: "inspect the installed file", Path: p, Err: err}
	}
	if !fi.Mode().IsRegular() || (size >= 0 && fi.Size() != size) || fi.Mode().Perm() != mode.Perm() || !ownerMatches(fi, uid, gid) {
		return nil, &InstallError{Step: "verify the installed file", Path: p, Err: fmt.Errorf("it is %v with %d bytes, want a regular file with mode %04o and %d bytes", fi.Mode(), fi.Size(), mode.Perm(), size)}
	}
	res.Path, res.Mode, res.Size = p, fi.Mode().Perm(), fi.Size()
	res.UID, res.GID = owner(fi)
	return res, nil
}

// The install goes out in flights (see flight.go), one round trip each,
// with the same order of effects on the server and the same checks as one
// request at a time. Before them, begin's flight takes the lock, LSTATs
// everything inspect needs and OPENs the target for reading (see
// lockAndInspect); an unchanged check then costs one READ and the release.
//
//  1. createNew: MKDIR the work directory, SETSTAT 0700, LSTAT it, OPEN
//     the new file in it (exclusive create) and a second, read-only
//     handle to it, and READ the version being replaced when the caller
//     asked for it. The server runs them in order, so the file exists only
//     once the directory is 0700, and no byte is sent before the answers
//     show the directory is ours and private.
//  2. fillNew: FSETSTAT the mode (and owner), FSTAT, WRITE, and, when the
//     write is one request, syncNew's requests after it: FSYNC on the
//     second handle, LSTAT the new file, the hard link of the version
//     being replaced. The mode is in place before the first byte lands;
//     its check (the FSTAT) is answered with the write, which the private
//     directory makes safe. The rename waits for every one of these
//     answers.
//  3. syncNew, for a larger write: the same FSYNC, LSTAT and link, on the
//     writing handle, once the writes are answered.
//  4. closeAndSwitch: CLOSE, the rename into place, LSTAT the target (the
//     check after the rename); with no replaced version to keep, RMDIR
//     the work directory and release the lock too.
//  5. Only once the switch is known to have happened: keep the replaced
//     version as the backup (a rename and maybe a chmod: the backup is
//     never replaced by a version that is still in place), RMDIR the
//     work directory, release the lock.

// createNew is flight 1, with the read of the version being replaced
// when s asks for it, and a second, read-only handle to the new file when
// the sync goes with the write (see syncInFill). It returns the new file,
// that handle (nil when not opened), and the owner its directory has,
// which the file has too (the same login user made both).
func (tx *txn) createNew(s Spec) (f, syncFile *sftp.File, own [2]int, err error) {
	c, dir := tx.c, tx.workDir()
	var di fs.FileInfo
	var syncErr error
	steps := []func() error{
		func() error { return c.sftp.Mkdir(dir) },
		func() error { return c.sftp.Chmod(dir, 0o700) },
		func() (err error) { di, err = c.sftp.Lstat(dir); return err },
		func() (err error) {
			f, err = c.sftp.OpenFile(tx.newPath(), os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			return err
		},
	}
	if tx.syncInFill(s) {
		steps = append(steps, func() error {
			syncFile, syncErr = c.sftp.OpenFile(tx.newPath(), os.O_RDONLY)
			return nil
		})
	}
	if read := tx.readPreviousStep(s); read != nil {
		steps = append(steps, read) // last: maybe several requests
	}
	errs := c.flight(steps...)
	tx.workMade = errs[0] == nil
	tx.newMade = errs[3] == nil
	if syncErr != nil {
		syncFile = nil // the sync goes in a flight of its own
	}
	fail := func(step, p string, err error) (*sftp.File, *sftp.File, [2]int, error) {
		for _, h := range []*sftp.File{f, syncFile} {
			if h != nil {
				_ = c.cleanupOp(h.Close) // empty: nothing was written
			}
		}
		return nil, nil, [2]int{}, &InstallError{Step: step, Path: p, Err: err}
	}
	switch {
	case errs[0] != nil:
		return fail("create the temporary directory", dir, errs[0])
	case errs[1] != nil:
		return fail("set the mode of", dir, errs[1])
	case errs[2] != nil:
		return fail("inspect", dir, errs[2])
	case !di.IsDir() || di.Mode().Perm() != 0o700:
		return fail("set the mode of", dir, fmt.Errorf("it is %v after chmod 0700", di.Mode()))
	case errs[3] != nil:
		return fail("create the temporary file", tx.newPath(), errs[3])
	}
	u, g := owner(di)
	return f, syncFile, [2]int{u, g}, nil
}

// maxOneWrite is the most content pkg/sftp writes in one WRITE request:
// the packet size sftpOptions sets (pkg/sftp's default).
const maxOneWrite = 1 << 15

// syncInFill says the sync can go in the same flight as the write: the
// server offers fsync, and the write is one request, so the FSYNC (sent
// on a second handle, as pkg/sftp sends one on the writing handle only
// once the write is answered) follows it on the wire. fsync flushes the
// file, whichever descriptor it is called on.
func (tx *txn) syncInFill(s Spec) bool {
	canSync, _ := tx.c.hasExtension("fsync@openssh.com")
	return canSync && len(s.Content) <= maxOneWrite
}

// fillNew is flight 2, and flight 3 (syncNew) when the sync can go with
// it (syncFile is the second handle createNew opened for it).
func (tx *txn) fillNew(f, syncFile *sftp.File, s Spec, own [2]int) error {
	fill := tx.fillSteps(f, s, own)
	steps := fill.steps
	var sync *syncSteps
	if syncFile != nil {
		sync = tx.syncSteps(syncFile, s)
		steps = append(steps, sync.steps...)
	}
	errs := tx.c.flight(steps...)
	syncErr := error(nil)
	if sync != nil {
		syncErr = sync.check(errs[len(fill.steps):])
	}
	if err := fill.check(errs[:len(fill.steps)]); err != nil {
		return err
	}
	return syncErr
}

// syncNew is flight 3, when the sync did not go with the write.
func (tx *txn) syncNew(f *sftp.File, s Spec) error {
	sync := tx.syncSteps(f, s)
	return sync.check(tx.c.flight(sync.steps...))
}

// fillSteps: FSETSTAT the mode (and owner), FSTAT, WRITE.
type fillSteps struct {
	steps []func() error
	check func([]error) error
}

func (tx *txn) fillSteps(f *sftp.File, s Spec, own [2]int) fillSteps {
	tmp := tx.newPath()
	steps := []func() error{func() error { return f.Chmod(s.Mode) }}
	u, g := own[0], own[1]
	if s.UID >= 0 || s.GID >= 0 {
		if s.UID >= 0 {
			u = s.UID
		}
		if s.GID >= 0 {
			g = s.GID
		}
		steps = append(steps, func() error { return f.Chown(u, g) })
	}
	var fi fs.FileInfo
	var n int
	steps = append(steps,
		func() (err error) { fi, err = f.Stat(); return err },
		// Last: a write longer than a packet is several requests.
		func() (err error) { n, err = f.WriteAt(s.Content, 0); return err },
	)
	check := func(errs []error) error {
		if errs[0] != nil {
			return &InstallError{Step: "set the mode of", Path: tmp, Err: errs[0]}
		}
		if len(steps) == 4 && errs[1] != nil {
			return &InstallError{Step: fmt.Sprintf("set owner %d:%d of", u, g), Path: tmp, Err: errs[1]}
		}
		if err := errs[len(errs)-2]; err != nil {
			return &InstallError{Step: "inspect", Path: tmp, Err: err}
		}
		// Some servers or file systems ignore chmod.
		if fi.Mode().Perm() != s.Mode.Perm() {
			return &InstallError{Step: "set the mode of", Path: tmp, Err: fmt.Errorf("mode is %04o after chmod %04o", fi.Mode().Perm(), s.Mode.Perm())}
		}
		err := errs[len(errs)-1]
		if err == nil && n != len(s.Content) {
			err = fmt.Errorf("short write: %d of %d bytes", n, len(s.Content))
		}
		if err != nil {
			return &InstallError{Step: "write", Path: tmp, Err: err}
		}
		return nil
	}
	return fillSteps{steps, check}
}

// syncSteps: FSYNC where offered, LSTAT the new file, and the hard link
// of the version being replaced.
type syncSteps = fillSteps

func (tx *txn) syncSteps(f *sftp.File, s Spec) *syncSteps {
	c, tmp := tx.c, tx.newPath()
	var steps []func() error
	canSync, _ := c.hasExtension("fsync@openssh.com")
	if canSync {
		steps = append(steps, f.Sync)
	}
	var fi fs.FileInfo
	steps = append(steps, func() (err error) { fi, err = c.sftp.Lstat(tmp); return err })
	keep := s.Backup && tx.cur != nil
	if keep {
		steps = append(steps, func() error { return c.sftp.Link(s.Path, tx.oldPath()) })
	}
	check := func(errs []error) error {
		i := len(errs) - 1
		if keep {
			// Noted first: whatever else failed, the link is there to
			// remove.
			tx.oldLinked = errs[i] == nil
			i--
		}
		if canSync && errs[0] != nil {
			return &InstallError{Step: "sync", Path: tmp, Err: errs[0]}
		}
		if keep && !tx.oldLinked {
			return &InstallError{Step: "keep the current version (hard link) of", Path: s.Path, Err: errs[i+1]}
		}
		if errs[i] != nil {
			return &InstallError{Step: "inspect", Path: tmp, Err: errs[i]}
		}
		if fi.Size() != int64(len(s.Content)) || fi.Mode().Perm() != s.Mode.Perm() {
			return &InstallError{Step: "verify", Path: tmp, Err: fmt.Errorf("it has %d bytes and mode %04o, want %d bytes and mode %04o", fi.Size(), fi.Mode().Perm(), len(s.Content), s.Mode.Perm())}
		}
		return nil
	}
	return &syncSteps{steps, check}
}

// closeAndSwitch is flight 4, and 5 when a replaced version is kept. It returns what the target is after
// the switch. The data is written, synced and checked before these
// flights leave, so a CLOSE that fails cannot make the renamed file wrong.
func (tx *txn) closeAndSwitch(f *sftp.File, s Spec) (fs.FileInfo, error) {
	c := tx.c
	if err := tx.beforeSwitch(); err != nil {
		return nil, err
	}
	var fi fs.FileInfo
	steps := []func() error{
		f.Close,
		func() error { return c.sftp.PosixRename(tx.newPath(), tx.path) },
		func() (err error) { fi, err = c.sftp.Lstat(tx.path); return err },
	}
	// With no replaced version to keep, nothing waits on the switch's
	// answer: the work directory's removal and the lock's release go
	// with it. If the switch fails, the RMDIR fails too (new is still in
	// it) and the lock is released over a work directory the next run
	// removes (see repair): this run touches it no more.
	releasing := !tx.oldLinked
	if releasing {
		steps = append(steps, tx.doneSteps()...)
	}
	errs := c.flight(steps...)
	if releasing {
		tx.released()
	}
	if errs[1] != nil {
		return nil, &InstallError{Step: "rename the new version onto", Path: tx.path, Err: errs[1]}
	}
	c.state.switched, tx.newMade = true, false
	if !releasing {
		if err := tx.keepOldAndRelease(); err != nil {
			return nil, err
		}
	}
	if errs[2] != nil {
		return nil, &InstallError{Step: "inspect the installed file", Path: tx.path, Err: errs[2]}
	}
	return fi, nil
}

// doneSteps remove the (then empty) work directory and release the lock,
// in that order: nobody sees this run's work directory unlocked. A failure
// leaves what a later run completes or removes under its own lock.
func (tx *txn) doneSteps() []func() error {
	c := tx.c
	tx.release() // stop renewing: a renewal after the removal would take the lock again
	return []func() error{
		func() error { return c.sftp.RemoveDirectory(tx.workDir()) },
		func() error { return c.sftp.Remove(tx.lockPath()) },
	}
}

// released notes that doneSteps went out: finish has nothing left to do,
// and must not touch the work directory without the lock.
func (tx *txn) released() {
	tx.locked, tx.workMade, tx.newMade, tx.oldLinked = false, false, false, false
}

// keepOldAndRelease is flight 5: the replaced version, if kept, becomes
// the backup (made private if others could read it), then doneSteps.
func (tx *txn) keepOldAndRelease() error {
	c := tx.c
	var steps []func() error
	kept := tx.oldLinked
	m := fs.FileMode(0)
	if kept {
		steps = append(steps, func() error { return c.sftp.PosixRename(tx.oldPath(), tx.backupPath()) })
		if m = tx.cur.Mode().Perm(); m&0o007 != 0 {
			steps = append(steps, func() error { return c.sftp.Chmod(tx.backupPath(), m&^0o007) })
		}
	}
	steps = append(steps, tx.doneSteps()...)
	errs := c.flight(steps...)
	tx.released()
	if kept && errs[0] != nil {
		return &InstallError{Step: "keep the previous version as", Path: tx.backupPath(), Err: fmt.Errorf("%w (a later deploy completes it)", errs[0])}
	}
	if kept && m&0o007 != 0 && errs[1] != nil {
		return &InstallError{Step: "set the mode of", Path: tx.backupPath(), Err: errs[1]}
	}
	return nil
}

// verified checks fi, the target after the switch (size < 0: any size),
// as verify does with its own LSTAT.
func verified(p string, fi fs.FileInfo, size int64, mode fs.FileMode, uid, gid int, res *Installed) (*Installed, error) {
	if !fi.Mode().IsRegular() || (size >= 0 && fi.Size() != size) || fi.Mode().Perm() != mode.Perm() || !ownerMatches(fi, uid, gid) {
		return nil, &InstallError{Step: "verify the installed file", Path: p, Err: fmt.Errorf("it is %v with %d bytes, want a regular file with mode %04o and %d bytes", fi.Mode(), fi.Size(), mode.Perm(), size)}
	}
	res.Path, res.Mode, res.Size = p, fi.Mode().Perm(), fi.Size()
	res.UID, res.GID = owner(fi)
	return res, nil
}
