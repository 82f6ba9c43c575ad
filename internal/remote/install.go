package remote

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
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

// Installed describes the file as it is on the host after the install.
type Installed struct {
	Path string
	Mode fs.FileMode
	Size int64
}

// TempPrefix starts the name of every temporary file this action creates,
// so that leftovers of an interrupted run can be recognised.
const TempPrefix = ".sops-deploy-"

// Install writes content to remotePath atomically: a temporary file with a
// random name in the same directory, created exclusively and set to mode
// through its handle before the first byte, written, synced where the
// server supports it, closed, checked and renamed over remotePath with
// posix-rename. On any failure the temporary file is removed and
// remotePath is left as it was.
func (c *Conn) Install(remotePath string, content []byte, mode fs.FileMode) (_ *Installed, err error) {
	fail := func(step, p string, err error) (*Installed, error) {
		return nil, &InstallError{Step: step, Path: p, Err: err}
	}
	if _, ok := c.sftp.HasExtension("posix-rename@openssh.com"); !ok {
		return fail("replace atomically (the SFTP server lacks posix-rename@openssh.com)", remotePath, errors.New("unsupported"))
	}
	dir := path.Dir(remotePath)
	if err := c.ensureDir(dir); err != nil {
		return nil, err
	}
	if fi, err := c.sftp.Lstat(remotePath); err == nil {
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			return fail("replace", remotePath, errors.New("it is a symbolic link; refusing to follow it"))
		case !fi.Mode().IsRegular():
			return fail("replace", remotePath, errors.New("it exists and is not a regular file"))
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fail("inspect", remotePath, err)
	}

	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, fmt.Errorf("failed to make a temporary name: %w", err)
	}
	tmp := path.Join(dir, TempPrefix+path.Base(remotePath)+"-"+hex.EncodeToString(rnd[:])+".tmp")
	f, err := c.sftp.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fail("create the temporary file", tmp, err)
	}
	renamed := false
	defer func() {
		if !renamed {
			f.Close()
			_ = c.sftp.Remove(tmp)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return fail("set the mode of", tmp, err)
	}
	// Check the mode took before writing a byte: some servers or file
	// systems ignore chmod.
	fi, err := f.Stat()
	if err != nil {
		return fail("inspect", tmp, err)
	}
	if fi.Mode().Perm() != mode.Perm() {
		return fail("set the mode of", tmp, fmt.Errorf("mode is %04o after chmod %04o", fi.Mode().Perm(), mode.Perm()))
	}
	if n, err := f.Write(content); err != nil || n != len(content) {
		if err == nil {
			err = fmt.Errorf("short write: %d of %d bytes", n, len(content))
		}
		return fail("write", tmp, err)
	}
	if _, ok := c.sftp.HasExtension("fsync@openssh.com"); ok {
		if err := f.Sync(); err != nil {
			return fail("sync", tmp, err)
		}
	}
	if err := f.Close(); err != nil {
		return fail("close", tmp, err)
	}
	fi, err = c.sftp.Lstat(tmp)
	if err != nil {
		return fail("inspect", tmp, err)
	}
	if fi.Size() != int64(len(content)) || fi.Mode().Perm() != mode.Perm() {
		return fail("verify", tmp, fmt.Errorf("it has %d bytes and mode %04o, want %d bytes and mode %04o", fi.Size(), fi.Mode().Perm(), len(content), mode.Perm()))
	}
	if err := c.sftp.PosixRename(tmp, remotePath); err != nil {
		return fail("rename the temporary file onto", remotePath, err)
	}
	renamed = true
	fi, err = c.sftp.Lstat(remotePath)
	if err != nil {
		return fail("inspect the installed file", remotePath, err)
	}
	if !fi.Mode().IsRegular() || fi.Size() != int64(len(content)) || fi.Mode().Perm() != mode.Perm() {
		return fail("verify the installed file", remotePath, fmt.Errorf("it is %v with %d bytes, want a regular file with mode %04o and %d bytes", fi.Mode(), fi.Size(), mode.Perm(), len(content)))
	}
	return &Installed{Path: remotePath, Mode: fi.Mode().Perm(), Size: fi.Size()}, nil
}

// ensureDir creates dir and its missing parents with mode 0700.
func (c *Conn) ensureDir(dir string) error {
	fi, err := c.sftp.Stat(dir)
	if err == nil {
		if !fi.IsDir() {
			return &InstallError{Step: "use the parent directory", Path: dir, Err: errors.New("it is not a directory")}
		}
		return nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return &InstallError{Step: "inspect the parent directory", Path: dir, Err: err}
	}
	if parent := path.Dir(dir); parent != dir {
		if err := c.ensureDir(parent); err != nil {
			return err
		}
	}
	if err := c.sftp.Mkdir(dir); err != nil {
		return &InstallError{Step: "create the directory", Path: dir, Err: err}
	}
	if err := c.sftp.Chmod(dir, 0o700); err != nil {
		return &InstallError{Step: "set the mode of the directory", Path: dir, Err: err}
	}
	return nil
}
