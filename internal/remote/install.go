package remote

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/pkg/sftp"
)

// InstallError says which step of the install failed on which path. Err
// may carry the server's status message, which is outside our control:
// print it quoted.
type InstallError struct {
	Step string // e.g. "create the temporary file"
	Path string
	Err  error
	// Hint, when set, says how to fix a refusal (a link or directory at
	// the target, an unsafe directory); otherwise the edge supplies one.
	Hint string
}

func (e *InstallError) Error() string {
	return fmt.Sprintf("failed to %s %q: %v", e.Step, e.Path, e.Err)
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
	tx, err := c.begin(s, s.Backup)
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
			res := &Installed{Path: s.Path, Mode: fi.Mode().Perm(), Size: fi.Size(), UID: uid, GID: gid}
			if tx.backup != nil {
				res.Backup = tx.backupPath()
			}
			return res, nil
		}
		return nil, err
	}
	if err := tx.makeWorkDir(); err != nil {
		return nil, err
	}
	if err := tx.writeNew(s); err != nil {
		return nil, err
	}
	if s.Backup && tx.cur != nil {
		if err := c.op(func() error { return c.sftp.Link(s.Path, tx.oldPath()) }); err != nil {
			return nil, &InstallError{Step: "keep the current version (hard link) of", Path: s.Path, Err: err}
		}
		tx.oldLinked = true
	}
	if err := tx.switchIn(tx.newPath()); err != nil {
		return nil, err
	}
	if err := tx.keepOld(); err != nil {
		return nil, err
	}
	return c.verify(s.Path, int64(len(s.Content)), s.Mode, s.UID, s.GID, &Installed{Changed: true, Backup: tx.backupPath()})
}

// Rollback swaps Path+BackupSuffix back into place atomically and keeps the
// version it replaces as the new previous version, so a second rollback
// undoes the first. It moves hard links only: no content crosses the
// network, and at every point the host holds both versions under names a
// later run recognises (see txn.repair). The restored version gets
// s.Mode, and s.UID and s.GID when they are set.
func (c *Conn) Rollback(s Spec) (*Installed, error) {
	tx, err := c.begin(s, true)
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
	if err := tx.makeWorkDir(); err != nil {
		return nil, err
	}
	if err := c.op(func() error { return c.sftp.Link(tx.backupPath(), tx.newPath()) }); err != nil {
		return nil, &InstallError{Step: "link the previous version", Path: tx.backupPath(), Err: err}
	}
	tx.newMade = true
	if err := tx.restoreAttrs(tx.newPath(), s); err != nil {
		return nil, err
	}
	if err := c.op(func() error { return c.sftp.Link(s.Path, tx.oldPath()) }); err != nil {
		return nil, &InstallError{Step: "keep the current version (hard link) of", Path: s.Path, Err: err}
	}
	tx.oldLinked = true
	if err := tx.switchIn(tx.newPath()); err != nil {
		return nil, err
	}
	if err := tx.keepOld(); err != nil {
		return nil, err
	}
	done.Backup = tx.backupPath()
	return c.verify(s.Path, tx.backup.Size(), s.Mode, s.UID, s.GID, done)
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
	var b []byte
	err := c.op(func() error {
		f, err := c.sftp.Open(s.Path)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err = io.ReadAll(io.LimitReader(f, int64(len(s.Content))+1))
		return err
	})
	if err != nil {
		return false, &InstallError{Step: "read the current version of", Path: s.Path, Err: err}
	}
	return bytes.Equal(b, s.Content), nil
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

// makeWorkDir creates the work directory. SFTP's open carries no mode, so
// a new file starts with the server's default (often 0644) until the chmod
// one round trip later, and whoever opens it in that gap could read all
// that is written after. The new version is therefore written inside a
// directory of its own that is made 0700 before the file exists; nobody
// else can reach it, and posix-rename moves it into place.
func (tx *txn) makeWorkDir() error {
	c, dir := tx.c, tx.workDir()
	fail := func(step string, err error) error { return &InstallError{Step: step, Path: dir, Err: err} }
	if err := c.op(func() error { return c.sftp.Mkdir(dir) }); err != nil {
		return fail("create the temporary directory", err)
	}
	tx.workMade = true
	if err := c.op(func() error { return c.sftp.Chmod(dir, 0o700) }); err != nil {
		return fail("set the mode of", err)
	}
	var di fs.FileInfo
	if err := c.op(func() (err error) { di, err = c.sftp.Lstat(dir); return err }); err != nil {
		return fail("inspect", err)
	}
	if !di.IsDir() || di.Mode().Perm() != 0o700 {
		return fail("set the mode of", fmt.Errorf("it is %v after chmod 0700", di.Mode()))
	}
	return nil
}

// writeNew writes s.Content to the work directory's new file: exclusive
// create, mode and owner through the handle before the first byte, write,
// sync where offered, close, check.
func (tx *txn) writeNew(s Spec) error {
	c, tmp := tx.c, tx.newPath()
	fail := func(step string, err error) error { return &InstallError{Step: step, Path: tmp, Err: err} }
	var f *sftp.File
	if err := c.op(func() (err error) {
		f, err = c.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		return err
	}); err != nil {
		return fail("create the temporary file", err)
	}
	tx.newMade = true
	closed := false
	defer func() {
		if !closed {
			_ = c.cleanupOp(func() error { return f.Close() })
		}
	}()
	if err := c.op(func() error { return f.Chmod(s.Mode) }); err != nil {
		return fail("set the mode of", err)
	}
	if s.UID >= 0 || s.GID >= 0 {
		var fi fs.FileInfo
		if err := c.op(func() (err error) { fi, err = f.Stat(); return err }); err != nil {
			return fail("inspect", err)
		}
		u, g := owner(fi)
		if s.UID >= 0 {
			u = s.UID
		}
		if s.GID >= 0 {
			g = s.GID
		}
		if err := c.op(func() error { return f.Chown(u, g) }); err != nil {
			return fail(fmt.Sprintf("set owner %d:%d of", u, g), err)
		}
	}
	// Check the mode took before writing a byte: some servers or file
	// systems ignore chmod.
	var fi fs.FileInfo
	if err := c.op(func() (err error) { fi, err = f.Stat(); return err }); err != nil {
		return fail("inspect", err)
	}
	if fi.Mode().Perm() != s.Mode.Perm() {
		return fail("set the mode of", fmt.Errorf("mode is %04o after chmod %04o", fi.Mode().Perm(), s.Mode.Perm()))
	}
	if err := c.op(func() error {
		n, err := f.Write(s.Content)
		if err == nil && n != len(s.Content) {
			err = fmt.Errorf("short write: %d of %d bytes", n, len(s.Content))
		}
		return err
	}); err != nil {
		return fail("write", err)
	}
	if _, ok := c.sftp.HasExtension("fsync@openssh.com"); ok {
		if err := c.op(f.Sync); err != nil {
			return fail("sync", err)
		}
	}
	closed = true
	if err := c.op(f.Close); err != nil {
		return fail("close", err)
	}
	if err := c.op(func() (err error) { fi, err = c.sftp.Lstat(tmp); return err }); err != nil {
		return fail("inspect", err)
	}
	if fi.Size() != int64(len(s.Content)) || fi.Mode().Perm() != s.Mode.Perm() {
		return fail("verify", fmt.Errorf("it has %d bytes and mode %04o, want %d bytes and mode %04o", fi.Size(), fi.Mode().Perm(), len(s.Content), s.Mode.Perm()))
	}
	return nil
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
