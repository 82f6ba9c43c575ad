package remote

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
)

// errSymlinkDir marks a directory check that met a symbolic link: the
// check is repeated on the resolved path.
var errSymlinkDir = errors.New("a directory on the way is a symbolic link")

const dirHint = "make every directory from / to remote_path owned by root or the login user and not writable by its group or others (chown, chmod go-w), as sshd's StrictModes requires; a world-writable directory above it is accepted only with the sticky bit (like /tmp)"

// checkDirs applies sshd's StrictModes rule to every directory from / to
// the target's: each must be owned by root or the login user (uid), or
// its owner could move the installed file away, and none may be writable
// by its group or others, or they could. A sticky directory above the
// target's (like /tmp) is accepted: there only an entry's owner can move
// it, and the next directory's owner is checked in turn.
func checkDirs(dirs []string, infos []fs.FileInfo, uid int) error {
	last := len(dirs) - 1
	for i, fi := range infos {
		d := dirs[i]
		fail := func(err error) error {
			return &InstallError{Step: "use the directory", Path: d, Err: err, Fix: dirHint}
		}
		switch {
		case fi == nil:
			return &InstallError{Step: "use the parent directory", Path: d, Err: fs.ErrNotExist}
		case fi.Mode()&fs.ModeSymlink != 0:
			return fail(errSymlinkDir)
		case !fi.IsDir():
			return &InstallError{Step: "use the parent directory", Path: d, Err: errors.New("it is not a directory")}
		}
		if u, _ := owner(fi); u != 0 && u != uid {
			return fail(fmt.Errorf("it is owned by uid %d, neither root nor the login user (uid %d), so that user could move the installed file away", u, uid))
		}
		if fi.Mode().Perm()&0o022 != 0 && (i == last || fi.Mode()&fs.ModeSticky == 0) {
			return fail(fmt.Errorf("it is writable by its group or others (mode %04o)", fi.Mode().Perm()))
		}
	}
	return nil
}

// ensureDirs creates the target's missing directories. They let the
// installed file's owner and group reach it and nobody else: mode 0700
// owned by the login user, or 0710 with the file's group when group is
// set. Without group, a file owned by another user could not be reached
// through them, so the run refuses and says what to create.
func (tx *txn) ensureDirs(s Spec) error {
	c := tx.c
	dirs := ancestors(tx.dir)
	infos, errs := c.lstatAll(dirs)
	missing := -1
	for i, err := range errs {
		if errors.Is(err, fs.ErrNotExist) {
			missing = i
			break
		}
		if err != nil {
			return &InstallError{Step: "inspect the parent directory", Path: dirs[i], Err: err}
		}
		if !infos[i].IsDir() {
			return &InstallError{Step: "use the parent directory", Path: dirs[i], Err: errors.New("it is not a directory")}
		}
	}
	if missing < 0 {
		return nil
	}
	if s.UID > 0 && s.GID < 0 {
		return &InstallError{Step: "create the directory", Path: dirs[missing],
			Err: fmt.Errorf("owner is set but group is not, so a directory the action creates would not let uid %d reach the file", s.UID),
			Fix: fmt.Sprintf("create %s on the host so that uid %d can reach it (e.g. install -d -o root -g <its group> -m 0710), or set the group input", tx.dir, s.UID)}
	}
	mode := fs.FileMode(0o700)
	if s.GID >= 0 {
		mode = 0o710
	}
	for _, d := range dirs[missing:] {
		if err := tx.makeDir(d, mode, s.GID); err != nil {
			return err
		}
	}
	return nil
}

func (tx *txn) makeDir(d string, mode fs.FileMode, gid int) error {
	c := tx.c
	if err := c.op(func() error { return c.sftp.Mkdir(d) }); err != nil {
		return &InstallError{Step: "create the directory", Path: d, Err: err}
	}
	if err := c.op(func() error { return c.sftp.Chmod(d, mode) }); err != nil {
		return &InstallError{Step: "set the mode of the directory", Path: d, Err: err}
	}
	if gid < 0 {
		return nil
	}
	fi, err := c.lstat(d)
	if err == nil {
		uid, _ := owner(fi)
		err = c.op(func() error { return c.sftp.Chown(d, uid, gid) })
	}
	if err != nil {
		_ = c.cleanupOp(func() error { return c.sftp.RemoveDirectory(d) })
		return &InstallError{Step: fmt.Sprintf("give group %d to the directory", gid), Path: d, Err: err,
			Fix: fmt.Sprintf("create %s on the host with group %d and mode 0710 (install -d -g %d -m 0710 %s), or set sudo: true", d, gid, gid, d)}
	}
	return nil
}

// CancelledError says the run was cancelled, or ran out of time, while it
// worked on Path, and what it left.
type CancelledError struct {
	Path     string
	Cause    error // context.Canceled or context.DeadlineExceeded
	Switched bool  // the new version was already in place
	Cleaned  bool  // the temporary files were removed
	Left     string
}

func (e *CancelledError) Error() string {
	what := "cancelled"
	if errors.Is(e.Cause, context.DeadlineExceeded) {
		what = "out of time"
	}
	holds := "it still holds the version it had"
	if e.Switched {
		holds = "it already holds the new version"
	}
	cleaned := "the temporary files were removed"
	if !e.Cleaned {
		cleaned = fmt.Sprintf("the temporary directory %q may be left (the next run to this path removes it)", e.Left)
	}
	return fmt.Sprintf("%s while working on %q: %s; %s", what, e.Path, holds, cleaned)
}

func (e *CancelledError) Unwrap() error { return e.Cause }

// Hint says what to do.
func (e *CancelledError) Hint() string { return "run the deploy again" }
