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
	cur, err := c.inspect(s.Path)
	if err != nil {
		return nil, err
	}
	cleaned := c.removeStaleTemps(s.Path)
	old, err := c.readIfSameSize(s.Path, cur, len(s.Content))
	if err != nil {
		return nil, err
	}
	if cur != nil && old != nil && bytes.Equal(old, s.Content) && cur.Mode().Perm() == s.Mode.Perm() && ownerMatches(cur, s.UID, s.GID) {
		uid, gid := owner(cur)
		return &Installed{Path: s.Path, Mode: cur.Mode().Perm(), Size: cur.Size(), UID: uid, GID: gid, Cleaned: cleaned}, nil
	}
	res := &Installed{Changed: true, Cleaned: cleaned}
	w := write{target: s.Path, content: s.Content, mode: s.Mode, uid: s.UID, gid: s.GID}
	if s.Backup && cur != nil {
		w.keepAs, w.keepMode = s.Path+BackupSuffix, cur.Mode().Perm()
		res.Backup = w.keepAs
	}
	fi, err := c.writeAtomic(w)
	if err != nil {
		return nil, err
	}
	return verified(s.Path, fi, int64(len(s.Content)), s.Mode, s.UID, s.GID, res)
}

// inspect checks, in one round trip, that the SFTP server can replace
// files atomically, that the target is not a symbolic link or a directory,
// and that its directory is safe; it creates the directory when missing.
// It returns the target's info, or nil when there is none.
func (c *Conn) inspect(p string) (fs.FileInfo, error) {
	if _, ok := c.sftp.HasExtension("posix-rename@openssh.com"); !ok {
		return nil, &InstallError{Step: "replace atomically", Path: p, Err: errors.New("the SFTP server lacks posix-rename@openssh.com")}
	}
	dir := path.Dir(p)
	var fi, di fs.FileInfo
	errs := c.flight(
		func() (err error) { fi, err = c.sftp.Lstat(p); return err },
		func() (err error) { di, err = c.sftp.Stat(dir); return err },
	)
	if err := c.checkDir(dir, di, errs[1]); err != nil {
		return nil, err
	}
	if errors.Is(errs[0], fs.ErrNotExist) {
		return nil, nil
	}
	return fi, checkTarget(p, fi, errs[0])
}

// checkTarget refuses a target that is a link or not a regular file.
func checkTarget(p string, fi fs.FileInfo, err error) error {
	switch {
	case err != nil:
		return &InstallError{Step: "inspect", Path: p, Err: err}
	case fi.Mode()&fs.ModeSymlink != 0:
		return &InstallError{Step: "replace", Path: p, Err: errors.New("it is a symbolic link; refusing to follow it")}
	case !fi.Mode().IsRegular():
		return &InstallError{Step: "replace", Path: p, Err: errors.New("it exists and is not a regular file")}
	}
	return nil
}

// readIfSameSize returns the current content of p when it may equal a new
// content of size bytes: a file of another size differs, and is not read.
// The content stays in memory only.
func (c *Conn) readIfSameSize(p string, cur fs.FileInfo, size int) ([]byte, error) {
	if cur == nil || cur.Size() != int64(size) {
		return nil, nil
	}
	var f *sftp.File
	if err := c.op(func() (err error) { f, err = c.sftp.Open(p); return err }); err != nil {
		return nil, &InstallError{Step: "read the current version of", Path: p, Err: err}
	}
	// The handle is not closed: a CLOSE would cost a round trip (pkg/sftp
	// sends it only once the read is answered) and tells nothing;
	// sftp-server closes every handle when the session ends, right after.
	// One byte more than expected tells a file that grew meanwhile.
	b := make([]byte, size+1)
	var n int
	err := c.op(func() (err error) { n, err = f.ReadAt(b, 0); return err })
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, &InstallError{Step: "read the current version of", Path: p, Err: err}
	}
	return b[:n], nil
}

// Rollback swaps Path+BackupSuffix back into place atomically and keeps the
// version it replaces as the new previous version, so a second rollback
// undoes the first. The swap is made on the server with a hard link: no
// content crosses the network.
func (c *Conn) Rollback(p string) (*Installed, error) {
	backup := p + BackupSuffix
	cur, bi, err := c.inspectRollback(p, backup)
	if err != nil {
		return nil, err
	}
	cleaned := c.removeStaleTemps(p)
	res := &Installed{Changed: true, Cleaned: cleaned}
	if cur == nil {
		var fi fs.FileInfo
		errs := c.flight(
			func() error { return c.sftp.PosixRename(backup, p) },
			func() (err error) { fi, err = c.sftp.Lstat(p); return err },
		)
		if errs[0] != nil {
			return nil, &InstallError{Step: "rename the previous version onto", Path: p, Err: errs[0]}
		}
		if errs[1] != nil {
			return nil, &InstallError{Step: "inspect the installed file", Path: p, Err: errs[1]}
		}
		return verified(p, fi, bi.Size(), bi.Mode().Perm(), -1, -1, res)
	}
	fi, err := c.swap(p, backup, cur)
	if err != nil {
		return nil, err
	}
	res.Backup = backup
	return verified(p, fi, bi.Size(), bi.Mode().Perm(), -1, -1, res)
}

// inspectRollback looks at the target and its previous version in one
// round trip.
func (c *Conn) inspectRollback(p, backup string) (cur, bi fs.FileInfo, err error) {
	if _, ok := c.sftp.HasExtension("posix-rename@openssh.com"); !ok {
		return nil, nil, &InstallError{Step: "replace atomically", Path: p, Err: errors.New("the SFTP server lacks posix-rename@openssh.com")}
	}
	errs := c.flight(
		func() (err error) { cur, err = c.sftp.Lstat(p); return err },
		func() (err error) { bi, err = c.sftp.Lstat(backup); return err },
	)
	if errors.Is(errs[0], fs.ErrNotExist) {
		cur = nil
	} else if err := checkTarget(p, cur, errs[0]); err != nil {
		return nil, nil, err
	}
	switch {
	case errors.Is(errs[1], fs.ErrNotExist):
		return nil, nil, &InstallError{Step: "roll back to", Path: backup, Err: errors.New("there is no previous version (was the last deploy made with backup: false, or is this the first deploy?)")}
	case errs[1] != nil:
		return nil, nil, &InstallError{Step: "inspect", Path: backup, Err: errs[1]}
	case !bi.Mode().IsRegular():
		return nil, nil, &InstallError{Step: "roll back to", Path: backup, Err: errors.New("it is not a regular file")}
	}
	return cur, bi, nil
}

// swap puts backup in place of p and keeps p as backup, with a hard link
// of p in a private directory: three flights, and the previous version is
// renamed onto p before the link takes the backup's name, so a failure
// never overwrites a version that exists nowhere else.
func (c *Conn) swap(p, backup string, cur fs.FileInfo) (fs.FileInfo, error) {
	d, err := newTempDir(p)
	if err != nil {
		return nil, err
	}
	var di fs.FileInfo
	errs := c.flight(
		func() error { return c.sftp.Mkdir(d.dir) },
		func() error { return c.sftp.Chmod(d.dir, 0o700) },
		func() (err error) { di, err = c.sftp.Lstat(d.dir); return err },
		func() error { return c.sftp.Link(p, d.old) },
	)
	d.made, d.oldLinked = errs[0] == nil, errs[3] == nil
	switch {
	case errs[0] != nil:
		err = &InstallError{Step: "create the temporary directory", Path: d.dir, Err: errs[0]}
	case errs[1] != nil || errs[2] != nil || !di.IsDir() || di.Mode().Perm() != 0o700:
		err = &InstallError{Step: "set the mode of", Path: d.dir, Err: errors.Join(errs[1], errs[2], errors.New("it is not a private directory"))}
	case errs[3] != nil:
		err = &InstallError{Step: "keep the current version (hard link) of", Path: p, Err: errs[3]}
	}
	if err != nil {
		c.abandon(d, nil)
		return nil, err
	}
	if err := c.op(func() error { return c.sftp.PosixRename(backup, p) }); err != nil {
		c.abandon(d, nil)
		return nil, &InstallError{Step: "rename the previous version onto", Path: p, Err: err}
	}
	steps := []func() error{func() error { return c.sftp.PosixRename(d.old, backup) }}
	if cur.Mode().Perm() != 0o600 {
		// The kept version is private, as an uploaded backup was.
		steps = append(steps, func() error { return c.sftp.Chmod(backup, 0o600) })
	}
	var fi fs.FileInfo
	steps = append(steps,
		func() (err error) { fi, err = c.sftp.Lstat(p); return err },
		func() error { return c.sftp.RemoveDirectory(d.dir) },
	)
	errs = c.flight(steps...)
	if errs[0] != nil {
		return nil, &InstallError{Step: "keep the replaced version as", Path: backup, Err: errs[0]}
	}
	if err := errs[len(errs)-2]; err != nil {
		return nil, &InstallError{Step: "inspect the installed file", Path: p, Err: err}
	}
	return fi, nil
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

// write is one atomic replacement of target.
type write struct {
	target   string
	content  []byte
	mode     fs.FileMode
	uid, gid int // -1 keeps the login user's
	// keepAs, when set, is where the version being replaced is kept: a
	// hard link made on the server, moved to keepAs just before the new
	// version takes the target's name.
	keepAs   string
	keepMode fs.FileMode // the replaced version's mode
}

// writeAtomic is the temp-write-rename sequence shared by install and
// rollback, in four flights (one round trip each), and returns what the
// target is after the rename. SFTP's open carries no mode, so a new file
// starts with the server's default (often 0644) until the chmod, and
// whoever opened it in that gap could read all that is written after.
// The temporary file is therefore created inside a fresh directory of its
// own that is made 0700 before the file exists; nobody else can reach it,
// and posix-rename moves it into place.
//
//  1. MKDIR the directory, SETSTAT 0700, LSTAT it, OPEN the file in it
//     (exclusive create). The server runs them in order: the file exists
//     only once the directory is 0700. Nothing is written before the
//     answers show the directory is ours and private.
//  2. FSETSTAT the mode (and owner), FSTAT, WRITE. The mode is in place
//     before the first byte lands; its check (the FSTAT) is answered with
//     the write, which the private directory makes safe.
//  3. FSYNC (where offered) and LSTAT the file, and the hard link of the
//     version being replaced, if kept. pkg/sftp sends FSYNC only once the
//     writes are answered.
//  4. Only when every answer so far is right: CLOSE, the renames, LSTAT
//     the target (the check after the rename) and RMDIR the empty
//     directory.
func (c *Conn) writeAtomic(w write) (fs.FileInfo, error) {
	d, err := newTempDir(w.target)
	if err != nil {
		return nil, err
	}
	f, err := c.createInPrivateDir(d)
	if err != nil {
		return nil, err
	}
	if err := c.fill(d, f, w); err != nil {
		c.abandon(d, f)
		return nil, err
	}
	if err := c.syncAndCheck(d, f, w); err != nil {
		c.abandon(d, f)
		return nil, err
	}
	return c.moveIntoPlace(d, f, w)
}

// tempDir names the private directory of one write and what goes in it.
type tempDir struct {
	dir, file, old string
	made           bool // the MKDIR succeeded: it is ours to remove
	oldLinked      bool
	uid, gid       int // the directory's owner
}

func newTempDir(target string) (*tempDir, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("failed to make a temporary name: %w", err)
	}
	dir := path.Join(path.Dir(target), TempPrefix+path.Base(target)+"-"+hex.EncodeToString(rnd[:])+tempDirSuffix)
	return &tempDir{dir: dir, file: path.Join(dir, path.Base(target)), old: path.Join(dir, "replaced")}, nil
}

// createInPrivateDir is flight 1.
func (c *Conn) createInPrivateDir(d *tempDir) (*sftp.File, error) {
	var di fs.FileInfo
	var f *sftp.File
	errs := c.flight(
		func() error { return c.sftp.Mkdir(d.dir) },
		func() error { return c.sftp.Chmod(d.dir, 0o700) },
		func() (err error) { di, err = c.sftp.Lstat(d.dir); return err },
		func() (err error) {
			f, err = c.sftp.OpenFile(d.file, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
			return err
		},
	)
	d.made = errs[0] == nil
	var err error
	switch {
	case errs[0] != nil:
		err = &InstallError{Step: "create the temporary directory", Path: d.dir, Err: errs[0]}
	case errs[1] != nil:
		err = &InstallError{Step: "set the mode of", Path: d.dir, Err: errs[1]}
	case errs[2] != nil:
		err = &InstallError{Step: "inspect", Path: d.dir, Err: errs[2]}
	case !di.IsDir() || di.Mode().Perm() != 0o700:
		err = &InstallError{Step: "set the mode of", Path: d.dir, Err: fmt.Errorf("it is %v after chmod 0700", di.Mode())}
	case errs[3] != nil:
		err = &InstallError{Step: "create the temporary file", Path: d.file, Err: errs[3]}
	}
	if err != nil {
		c.abandon(d, f) // f is empty: nothing was written
		return nil, err
	}
	d.uid, d.gid = owner(di)
	return f, nil
}

// fill is flight 2. The file's owner defaults to its directory's: the
// same login user made both, and the file takes the group its directory
// has (or passes on, when setgid).
func (c *Conn) fill(d *tempDir, f *sftp.File, w write) error {
	steps := []func() error{func() error { return f.Chmod(w.mode) }}
	u, g := d.uid, d.gid
	if w.uid >= 0 || w.gid >= 0 {
		if w.uid >= 0 {
			u = w.uid
		}
		if w.gid >= 0 {
			g = w.gid
		}
		steps = append(steps, func() error { return f.Chown(u, g) })
	}
	var fi fs.FileInfo
	var n int
	steps = append(steps,
		func() (err error) { fi, err = f.Stat(); return err },
		// Last: a write longer than a packet is several requests.
		func() (err error) { n, err = f.WriteAt(w.content, 0); return err },
	)
	errs := c.flight(steps...)
	if errs[0] != nil {
		return &InstallError{Step: "set the mode of", Path: d.file, Err: errs[0]}
	}
	if len(steps) == 4 && errs[1] != nil {
		return &InstallError{Step: fmt.Sprintf("set owner %d:%d of", u, g), Path: d.file, Err: errs[1]}
	}
	if err := errs[len(errs)-2]; err != nil {
		return &InstallError{Step: "inspect", Path: d.file, Err: err}
	}
	// Some servers or file systems ignore chmod.
	if fi.Mode().Perm() != w.mode.Perm() {
		return &InstallError{Step: "set the mode of", Path: d.file, Err: fmt.Errorf("mode is %04o after chmod %04o", fi.Mode().Perm(), w.mode.Perm())}
	}
	err := errs[len(errs)-1]
	if err == nil && n != len(w.content) {
		err = fmt.Errorf("short write: %d of %d bytes", n, len(w.content))
	}
	if err != nil {
		return &InstallError{Step: "write", Path: d.file, Err: err}
	}
	return nil
}

// syncAndCheck is flight 3.
func (c *Conn) syncAndCheck(d *tempDir, f *sftp.File, w write) error {
	var steps []func() error
	_, canSync := c.sftp.HasExtension("fsync@openssh.com")
	if canSync {
		steps = append(steps, f.Sync)
	}
	var fi fs.FileInfo
	steps = append(steps, func() (err error) { fi, err = c.sftp.Lstat(d.file); return err })
	if w.keepAs != "" {
		steps = append(steps, func() error { return c.sftp.Link(w.target, d.old) })
	}
	errs := c.flight(steps...)
	if canSync && errs[0] != nil {
		return &InstallError{Step: "sync", Path: d.file, Err: errs[0]}
	}
	i := len(errs) - 1
	if w.keepAs != "" {
		if errs[i] != nil {
			return &InstallError{Step: "keep the current version (hard link) of", Path: w.target, Err: errs[i]}
		}
		d.oldLinked = true
		i--
	}
	if errs[i] != nil {
		return &InstallError{Step: "inspect", Path: d.file, Err: errs[i]}
	}
	if fi.Size() != int64(len(w.content)) || fi.Mode().Perm() != w.mode.Perm() {
		return &InstallError{Step: "verify", Path: d.file, Err: fmt.Errorf("it has %d bytes and mode %04o, want %d bytes and mode %04o", fi.Size(), fi.Mode().Perm(), len(w.content), w.mode.Perm())}
	}
	return nil
}

// moveIntoPlace is flight 4: CLOSE, keep the replaced version, rename the
// new one over the target, LSTAT it, RMDIR. The data is written (and
// synced) and checked before this flight leaves, so a CLOSE that fails
// here cannot make the renamed file wrong; the LSTAT after the rename is
// the check of what the target now is.
func (c *Conn) moveIntoPlace(d *tempDir, f *sftp.File, w write) (fs.FileInfo, error) {
	steps := []func() error{f.Close}
	if d.oldLinked {
		steps = append(steps, func() error { return c.sftp.PosixRename(d.old, w.keepAs) })
	}
	var fi fs.FileInfo
	steps = append(steps, func() error { return c.sftp.PosixRename(d.file, w.target) })
	if d.oldLinked && w.keepMode != 0o600 {
		// After the rename, so the version being read until then keeps its
		// mode: the kept version is private, as an uploaded backup was.
		steps = append(steps, func() error { return c.sftp.Chmod(w.keepAs, 0o600) })
	}
	renamed := len(steps) - 1
	if d.oldLinked && w.keepMode != 0o600 {
		renamed--
	}
	steps = append(steps,
		func() (err error) { fi, err = c.sftp.Lstat(w.target); return err },
		func() error { return c.sftp.RemoveDirectory(d.dir) },
	)
	errs := c.flight(steps...)
	n := len(errs)
	if err := errs[renamed]; err != nil {
		// The target is as it was; the new file and the link are in the
		// private directory.
		c.abandon(d, nil)
		return nil, &InstallError{Step: "rename the temporary file onto", Path: w.target, Err: err}
	}
	if d.oldLinked && errs[1] != nil {
		return nil, &InstallError{Step: "keep the previous version as", Path: w.keepAs, Err: errs[1]}
	}
	if err := errs[n-2]; err != nil {
		return nil, &InstallError{Step: "inspect the installed file", Path: w.target, Err: err}
	}
	return fi, nil
}

// abandon removes what a failed write left in its private directory, and
// the directory; failures are ignored (a later run's clean-up removes what
// is left).
func (c *Conn) abandon(d *tempDir, f *sftp.File) {
	steps := []func() error{}
	if f != nil {
		steps = append(steps, f.Close, func() error { return c.sftp.Remove(d.file) })
	} else {
		steps = append(steps, func() error { return c.sftp.Remove(d.file) })
	}
	if d.oldLinked {
		steps = append(steps, func() error { return c.sftp.Remove(d.old) })
	}
	if d.made {
		steps = append(steps, func() error { return c.sftp.RemoveDirectory(d.dir) })
	}
	c.flight(steps...)
}

// tempDirSuffix ends the name of each temporary directory; with
// TempPrefix, the target's name and 24 hex digits it makes the exact
// pattern removeStaleTemps deletes.
const tempDirSuffix = ".d"

// verified checks fi, what the target is after the rename (size -1:
// any size).
func verified(p string, fi fs.FileInfo, size int64, mode fs.FileMode, uid, gid int, res *Installed) (*Installed, error) {
	if !fi.Mode().IsRegular() || (size >= 0 && fi.Size() != size) || fi.Mode().Perm() != mode.Perm() || !ownerMatches(fi, uid, gid) {
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

// checkDir judges the target's directory from its STAT answer, and
// creates it (and missing parents) when it is missing.
func (c *Conn) checkDir(dir string, fi fs.FileInfo, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c.ensureDir(dir, true)
	case err != nil:
		return &InstallError{Step: "inspect the parent directory", Path: dir, Err: err}
	case !fi.IsDir():
		return &InstallError{Step: "use the parent directory", Path: dir, Err: errors.New("it is not a directory")}
	case fi.Mode().Perm()&0o022 != 0:
		return &InstallError{Step: "use the parent directory", Path: dir, Err: fmt.Errorf("it is writable by its group or others (mode %04o)", fi.Mode().Perm())}
	}
	return nil
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
