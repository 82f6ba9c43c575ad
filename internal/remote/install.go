package remote

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"regexp"

	"github.com/pkg/sftp"
)

// InstallError says which step of the install failed on which path. Err
// may carry the server's status message, which is outside our control:
// print it quoted.
type InstallError struct {
	Step string // e.g. "create the temporary file"
	Path string
	Err  error
}

func (e *InstallError) Error() string {
	return fmt.Sprintf("failed to %s %q: %v", e.Step, e.Path, e.Err)
}

func (e *InstallError) Unwrap() error { return e.Err }

// Spec is what to install.
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
	Backup   string // path of the kept previous version, if one was written
	Cleaned  int    // stale temporary files of earlier runs removed
}

// TempPrefix starts the name of every temporary file this action creates,
// so that leftovers of an interrupted run can be recognised.
const TempPrefix = ".sops-deploy-"

// Install puts s.Content at s.Path atomically: a temporary file with a
// random name in the same directory, created exclusively, given its mode
// and owner through its handle before the first byte, written, synced where
// the server supports it, closed, checked and renamed over the target with
// posix-rename. On any failure the temporary file is removed and the
// target is left as it was. When the target already has the same content,
// mode and owner nothing is written.
func (c *Conn) Install(s Spec) (*Installed, error) {
	if err := c.preflight(s.Path); err != nil {
		return nil, err
	}
	dir := path.Dir(s.Path)
	if err := c.ensureDir(dir, true); err != nil {
		return nil, err
	}
	cleaned := c.removeStaleTemps(s.Path)

	old, oldInfo, err := c.readExisting(s.Path)
	if err != nil {
		return nil, err
	}
	if oldInfo != nil && bytes.Equal(old, s.Content) && oldInfo.Mode().Perm() == s.Mode.Perm() && ownerMatches(oldInfo, s.UID, s.GID) {
		uid, gid := owner(oldInfo)
		return &Installed{Path: s.Path, Mode: oldInfo.Mode().Perm(), Size: oldInfo.Size(), UID: uid, GID: gid, Cleaned: cleaned}, nil
	}
	res := &Installed{Changed: true, Cleaned: cleaned}
	if s.Backup && oldInfo != nil {
		uid, gid := owner(oldInfo)
		backup := s.Path + BackupSuffix
		if err := c.writeAtomic(backup, old, 0o600, uid, gid); err != nil {
			return nil, err
		}
		res.Backup = backup
	}
	if err := c.writeAtomic(s.Path, s.Content, s.Mode, s.UID, s.GID); err != nil {
		return nil, err
	}
	return c.verify(s.Path, int64(len(s.Content)), s.Mode, s.UID, s.GID, res)
}

// Rollback swaps Path+BackupSuffix back into place atomically and keeps the
// version it replaces as the new previous version, so a second rollback
// undoes the first.
func (c *Conn) Rollback(p string) (*Installed, error) {
	if err := c.preflight(p); err != nil {
		return nil, err
	}
	backup := p + BackupSuffix
	var bi fs.FileInfo
	err := c.op(func() (err error) { bi, err = c.sftp.Lstat(backup); return err })
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &InstallError{Step: "roll back to", Path: backup, Err: errors.New("there is no previous version (was the last deploy made with backup: false, or is this the first deploy?)")}
	case err != nil:
		return nil, &InstallError{Step: "inspect", Path: backup, Err: err}
	case !bi.Mode().IsRegular():
		return nil, &InstallError{Step: "roll back to", Path: backup, Err: errors.New("it is not a regular file")}
	}
	cleaned := c.removeStaleTemps(p)
	current, curInfo, err := c.readExisting(p)
	if err != nil {
		return nil, err
	}
	if err := c.op(func() error { return c.sftp.PosixRename(backup, p) }); err != nil {
		return nil, &InstallError{Step: "rename the previous version onto", Path: p, Err: err}
	}
	res := &Installed{Changed: true, Cleaned: cleaned}
	if curInfo != nil {
		uid, gid := owner(curInfo)
		if err := c.writeAtomic(backup, current, 0o600, uid, gid); err != nil {
			return nil, err
		}
		res.Backup = backup
	}
	return c.verify(p, bi.Size(), bi.Mode().Perm(), -1, -1, res)
}

// preflight checks that the SFTP server can replace files atomically and
// that the target is not a symbolic link or a directory.
func (c *Conn) preflight(p string) error {
	if _, ok := c.sftp.HasExtension("posix-rename@openssh.com"); !ok {
		return &InstallError{Step: "replace atomically", Path: p, Err: errors.New("the SFTP server lacks posix-rename@openssh.com")}
	}
	var fi fs.FileInfo
	err := c.op(func() (err error) { fi, err = c.sftp.Lstat(p); return err })
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return &InstallError{Step: "inspect", Path: p, Err: err}
	case fi.Mode()&fs.ModeSymlink != 0:
		return &InstallError{Step: "replace", Path: p, Err: errors.New("it is a symbolic link; refusing to follow it")}
	case !fi.Mode().IsRegular():
		return &InstallError{Step: "replace", Path: p, Err: errors.New("it exists and is not a regular file")}
	}
	return nil
}

// readExisting returns the current content and info of p, or nil, nil if
// it does not exist. The content stays in memory only.
func (c *Conn) readExisting(p string) ([]byte, fs.FileInfo, error) {
	var fi fs.FileInfo
	err := c.op(func() (err error) { fi, err = c.sftp.Lstat(p); return err })
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, &InstallError{Step: "inspect", Path: p, Err: err}
	}
	var b []byte
	err = c.op(func() error {
		f, err := c.sftp.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		b, err = io.ReadAll(io.LimitReader(f, 64<<20))
		return err
	})
	if err != nil {
		return nil, nil, &InstallError{Step: "read the current version of", Path: p, Err: err}
	}
	return b, fi, nil
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

// writeAtomic is the temp-write-rename sequence shared by install, backup
// and rollback. SFTP's open carries no mode, so a new file starts with the
// server's default (often 0644) until the chmod one round trip later, and
// whoever opens it in that gap could read all that is written after. The
// temporary file is therefore created inside a fresh directory of its own
// that is made 0700 before the file exists; nobody else can reach it, and
// posix-rename moves it into place.
func (c *Conn) writeAtomic(target string, content []byte, mode fs.FileMode, uid, gid int) error {
	fail := func(step, p string, err error) error { return &InstallError{Step: step, Path: p, Err: err} }
	dir := path.Dir(target)
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return fmt.Errorf("failed to make a temporary name: %w", err)
	}
	tmpDir := path.Join(dir, TempPrefix+path.Base(target)+"-"+hex.EncodeToString(rnd[:])+tempDirSuffix)
	if err := c.op(func() error { return c.sftp.Mkdir(tmpDir) }); err != nil {
		return fail("create the temporary directory", tmpDir, err)
	}
	defer func() { _ = c.op(func() error { return c.sftp.RemoveDirectory(tmpDir) }) }()
	if err := c.op(func() error { return c.sftp.Chmod(tmpDir, 0o700) }); err != nil {
		return fail("set the mode of", tmpDir, err)
	}
	var di fs.FileInfo
	if err := c.op(func() (err error) { di, err = c.sftp.Lstat(tmpDir); return err }); err != nil {
		return fail("inspect", tmpDir, err)
	}
	if !di.IsDir() || di.Mode().Perm() != 0o700 {
		return fail("set the mode of", tmpDir, fmt.Errorf("it is %v after chmod 0700", di.Mode()))
	}
	tmp := path.Join(tmpDir, path.Base(target))
	var f *sftp.File
	if err := c.op(func() (err error) {
		f, err = c.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		return err
	}); err != nil {
		return fail("create the temporary file", tmp, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = c.op(func() error { f.Close(); return c.sftp.Remove(tmp) })
		}
	}()
	if err := c.op(func() error { return f.Chmod(mode) }); err != nil {
		return fail("set the mode of", tmp, err)
	}
	if uid >= 0 || gid >= 0 {
		var fi fs.FileInfo
		if err := c.op(func() (err error) { fi, err = f.Stat(); return err }); err != nil {
			return fail("inspect", tmp, err)
		}
		u, g := owner(fi)
		if uid >= 0 {
			u = uid
		}
		if gid >= 0 {
			g = gid
		}
		if err := c.op(func() error { return f.Chown(u, g) }); err != nil {
			return fail(fmt.Sprintf("set owner %d:%d of", u, g), tmp, err)
		}
	}
	// Check the mode took before writing a byte: some servers or file
	// systems ignore chmod.
	var fi fs.FileInfo
	if err := c.op(func() (err error) { fi, err = f.Stat(); return err }); err != nil {
		return fail("inspect", tmp, err)
	}
	if fi.Mode().Perm() != mode.Perm() {
		return fail("set the mode of", tmp, fmt.Errorf("mode is %04o after chmod %04o", fi.Mode().Perm(), mode.Perm()))
	}
	if err := c.op(func() error {
		n, err := f.Write(content)
		if err == nil && n != len(content) {
			err = fmt.Errorf("short write: %d of %d bytes", n, len(content))
		}
		return err
	}); err != nil {
		return fail("write", tmp, err)
	}
	if _, ok := c.sftp.HasExtension("fsync@openssh.com"); ok {
		if err := c.op(f.Sync); err != nil {
			return fail("sync", tmp, err)
		}
	}
	if err := c.op(f.Close); err != nil {
		return fail("close", tmp, err)
	}
	if err := c.op(func() (err error) { fi, err = c.sftp.Lstat(tmp); return err }); err != nil {
		return fail("inspect", tmp, err)
	}
	if fi.Size() != int64(len(content)) || fi.Mode().Perm() != mode.Perm() {
		return fail("verify", tmp, fmt.Errorf("it has %d bytes and mode %04o, want %d bytes and mode %04o", fi.Size(), fi.Mode().Perm(), len(content), mode.Perm()))
	}
	if err := c.op(func() error { return c.sftp.PosixRename(tmp, target) }); err != nil {
		return fail("rename the temporary file onto", target, err)
	}
	renamed = true
	return nil
}

// tempDirSuffix ends the name of each temporary directory; with
// TempPrefix, the target's name and 24 hex digits it makes the exact
// pattern removeStaleTemps deletes.
const tempDirSuffix = ".d"

// verify checks the installed file after the rename.
func (c *Conn) verify(p string, size int64, mode fs.FileMode, uid, gid int, res *Installed) (*Installed, error) {
	var fi fs.FileInfo
	if err := c.op(func() (err error) { fi, err = c.sftp.Lstat(p); return err }); err != nil {
		return nil, &InstallError{Step: "inspect the installed file", Path: p, Err: err}
	}
	if !fi.Mode().IsRegular() || fi.Size() != size || fi.Mode().Perm() != mode.Perm() || !ownerMatches(fi, uid, gid) {
		return nil, &InstallError{Step: "verify the installed file", Path: p, Err: fmt.Errorf("it is %v with %d bytes, want a regular file with mode %04o and %d bytes", fi.Mode(), fi.Size(), mode.Perm(), size)}
	}
	res.Path, res.Mode, res.Size = p, fi.Mode().Perm(), fi.Size()
	res.UID, res.GID = owner(fi)
	return res, nil
}

// removeStaleTemps deletes the temporary directories an interrupted run
// left next to target (for target itself and for its backup), and their
// content, and returns how many it removed.
// Only names of the exact form this package makes are touched. Deploys to
// one path are serialized by the workflow's concurrency group, so any such
// directory is stale. Failures are ignored: the install does not depend on
// them.
func (c *Conn) removeStaleTemps(target string) int {
	dir := path.Dir(target)
	re := regexp.MustCompile(`^` + regexp.QuoteMeta(TempPrefix+path.Base(target)) + `(` + regexp.QuoteMeta(BackupSuffix) + `)?-[0-9a-f]{24}` + regexp.QuoteMeta(tempDirSuffix) + `$`)
	var entries []fs.FileInfo
	if err := c.op(func() (err error) { entries, err = c.sftp.ReadDir(dir); return err }); err != nil {
		return 0
	}
	n := 0
	for _, e := range entries {
		if !re.MatchString(e.Name()) || !e.IsDir() {
			continue
		}
		stale := path.Join(dir, e.Name())
		var inner []fs.FileInfo
		_ = c.op(func() (err error) { inner, err = c.sftp.ReadDir(stale); return err })
		for _, f := range inner {
			_ = c.op(func() error { return c.sftp.Remove(path.Join(stale, f.Name())) })
		}
		if c.op(func() error { return c.sftp.RemoveDirectory(stale) }) == nil {
			n++
		}
	}
	return n
}

// ensureDir creates dir and its missing parents with mode 0700. With
// strict, it refuses an existing dir that its group or others can write
// to: they could swap the file, or a symlink, under our feet.
func (c *Conn) ensureDir(dir string, strict bool) error {
	var fi fs.FileInfo
	err := c.op(func() (err error) { fi, err = c.sftp.Stat(dir); return err })
	if err == nil {
		if !fi.IsDir() {
			return &InstallError{Step: "use the parent directory", Path: dir, Err: errors.New("it is not a directory")}
		}
		if strict && fi.Mode().Perm()&0o022 != 0 {
			return &InstallError{Step: "use the parent directory", Path: dir, Err: fmt.Errorf("it is writable by its group or others (mode %04o)", fi.Mode().Perm())}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return &InstallError{Step: "inspect the parent directory", Path: dir, Err: err}
	}
	if parent := path.Dir(dir); parent != dir {
		if err := c.ensureDir(parent, false); err != nil {
			return err
		}
	}
	if err := c.op(func() error { return c.sftp.Mkdir(dir) }); err != nil {
		return &InstallError{Step: "create the directory", Path: dir, Err: err}
	}
	if err := c.op(func() error { return c.sftp.Chmod(dir, 0o700) }); err != nil {
		return &InstallError{Step: "set the mode of the directory", Path: dir, Err: err}
	}
	return nil
}
