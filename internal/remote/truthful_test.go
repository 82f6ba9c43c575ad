package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

// Tests of issue 12: every result is what the host holds, under cuts,
// cancellation, concurrency and hostile directories. All against real
// OpenSSH.

// dialSSHD connects to s as its user, with its client key, checking its
// host key, as one attempt of the run whose attempts share st (nil: a run
// of its own); the connection closes in t.Cleanup.
func dialSSHD(t *testing.T, s *sshtest.SSHD, ctx context.Context, st *RunState) *Conn {
	t.Helper()
	c, err := tryDialSSHD(t, s, ctx, st)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// tryDialSSHD is dialSSHD for a test that wants the error; the caller
// closes the connection.
func tryDialSSHD(t *testing.T, s *sshtest.SSHD, ctx context.Context, st *RunState) (*Conn, error) {
	t.Helper()
	hk, err := NewHostKeys(s.KnownHosts, nil)
	if err != nil {
		t.Fatal(err)
	}
	return Dial(ctx, Target{Host: s.Host, Port: s.Port, User: s.User}, signerFromPEM(t, s.ClientKeyPEM), hk, Options{Timeouts: fastTimeouts, State: st})
}

func write(t *testing.T, p, content string, mode fs.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func read(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return "<" + err.Error() + ">"
	}
	return string(b)
}

// versionsOnHost lists the content of every regular file the action may
// hold a version in: the target, its backup and the work directory.
func versionsOnHost(t *testing.T, target string) map[string]string {
	t.Helper()
	out := map[string]string{}
	dir := filepath.Dir(target)
	work := filepath.Join(dir, TempPrefix+filepath.Base(target)+".d")
	for _, p := range []string{target, target + BackupSuffix, filepath.Join(work, workNew), filepath.Join(work, workOld)} {
		if b, err := os.ReadFile(p); err == nil {
			out[p] = string(b)
		}
	}
	return out
}

func holds(versions map[string]string, content string) bool {
	for _, v := range versions {
		if v == content {
			return true
		}
	}
	return false
}

// TestRollbackCutAnywhere cuts a rollback's connection at points spread
// over its whole session. After every cut the host still holds both
// versions, the target one of them, complete; the run's retry completes
// the rollback and reports it, and leaves nothing behind.
func TestRollbackCutAnywhere(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	v1, v2 := "version: 1\n", strings.Repeat("version: 2\n", 1000)
	rollback := func(h *cutHost, path string, st *RunState) (*Installed, error) {
		c, err := h.dial(st)
		if err != nil {
			return nil, err
		}
		defer c.Close()
		return c.Rollback(Spec{Path: path, Mode: 0o600, UID: -1, GID: -1})
	}
	reset := func(t *testing.T, path string) {
		write(t, path, v2, 0o600)
		write(t, path+BackupSuffix, v1, 0o600)
	}
	h := viaCutProxy(t, s)
	path := filepath.Join(t.TempDir(), "galaxy.yaml")
	reset(t, path)
	if _, err := rollback(h, path, NewRunState()); err != nil {
		t.Fatalf("uncut rollback: %v", err)
	}
	total := h.proxy.Bytes()
	const points = 24
	eachCut(t, spread(total, points), func(t *testing.T, n int64) {
		h := viaCutProxy(t, s)
		dir := t.TempDir()
		path := filepath.Join(dir, "galaxy.yaml")
		reset(t, path)
		st := NewRunState()
		h.proxy.CutAfter(n)
		_, cutErr := rollback(h, path, st)
		h.proxy.CutAfter(-1)
		got := versionsOnHost(t, path)
		if cur := read(path); cur != v1 && cur != v2 {
			t.Fatalf("cut at %d bytes: the target holds neither version (%d bytes)", n, len(cur))
		}
		if !holds(got, v1) || !holds(got, v2) {
			t.Fatalf("cut at %d bytes (%v): a version was lost; the host holds %d file(s)", n, cutErr, len(got))
		}
		if cutErr == nil {
			// Cut after the work was done (while releasing the lock, say):
			// the run succeeded, and a rollback now would be a new one.
			if read(path) != v1 || read(path+BackupSuffix) != v2 {
				t.Fatalf("cut at %d bytes: reported success but the versions are not swapped", n)
			}
			return
		}
		res, err := rollback(h, path, st)
		if err != nil {
			t.Fatalf("retry after a cut at %d bytes: %v", n, err)
		}
		if read(path) != v1 || read(path+BackupSuffix) != v2 {
			t.Fatalf("retry after a cut at %d bytes: the target and backup are not swapped", n)
		}
		if !res.Changed || res.Backup != path+BackupSuffix {
			t.Errorf("retry after a cut at %d bytes: reported %+v", n, res)
		}
		assertClean(t, dir)
	})
}

// TestRollbackFullDisk: a rollback writes no data, so it completes on a
// full file system and keeps both versions.
func TestRollbackFullDisk(t *testing.T) {
	t.Parallel()
	testenv.MustHaveRoot(t, "mount a small tmpfs")
	s := sshtest.Start(t)
	mnt := t.TempDir()
	if out, err := runCmd("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mnt); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() { runCmd("umount", "-l", mnt) }) // lazy: see TestDiskFull
	path := filepath.Join(mnt, "galaxy.yaml")
	write(t, path, "version: 2\n", 0o600)
	write(t, path+BackupSuffix, "version: 1\n", 0o600)
	filler, _ := os.Create(filepath.Join(mnt, "filler"))
	filler.Write(make([]byte, 128<<10)) // fills it; the error is expected
	filler.Close()
	c := dialSSHD(t, s, context.Background(), nil)
	if _, err := c.Rollback(Spec{Path: path, Mode: 0o600, UID: -1, GID: -1}); err != nil {
		t.Fatalf("rollback on a full disk: %v", err)
	}
	if read(path) != "version: 1\n" || read(path+BackupSuffix) != "version: 2\n" {
		t.Errorf("versions not swapped: %q, %q", read(path), read(path+BackupSuffix))
	}
	assertClean(t, mnt)
}

func runCmd(name string, args ...string) ([]byte, error) {
	return exec.Command(name, args...).CombinedOutput()
}

// TestRollbackModeAndGroup: the restored version gets the mode, owner and
// group the run asks for, as a deploy would.
func TestRollbackModeAndGroup(t *testing.T) {
	t.Parallel()
	testenv.MustHaveRoot(t, "set a group")
	s := sshtest.Start(t)
	c := dialSSHD(t, s, context.Background(), nil)
	dir := t.TempDir()
	path := filepath.Join(dir, "galaxy.yaml")
	spec := Spec{Path: path, Mode: 0o640, UID: -1, GID: 4321, Backup: true}
	for _, v := range []string{"version: 1\n", "version: 2\n"} {
		spec.Content = []byte(v)
		if _, err := c.Install(spec); err != nil {
			t.Fatal(err)
		}
	}
	res, err := c.Rollback(Spec{Path: path, Mode: 0o640, UID: -1, GID: 4321})
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	gid := int(fi.Sys().(*syscall.Stat_t).Gid)
	if read(path) != "version: 1\n" || fi.Mode().Perm() != 0o640 || gid != 4321 {
		t.Errorf("after rollback: %q mode %04o gid %d, want version 1, 0640, gid 4321", read(path), fi.Mode().Perm(), gid)
	}
	if res.Mode != 0o640 || res.GID != 4321 {
		t.Errorf("reported mode %04o gid %d", res.Mode, res.GID)
	}
}

// TestCreatedDirectories: directories the action creates let the file's
// group reach it (0710) and nobody else; with an owner but no group it
// refuses and says what to create.
func TestCreatedDirectories(t *testing.T) {
	t.Parallel()
	testenv.MustHaveRoot(t, "set a group")
	s := sshtest.Start(t)
	c := dialSSHD(t, s, context.Background(), nil)
	base := t.TempDir()
	path := filepath.Join(base, "etc", "galaxy", "galaxy.yaml")
	if _, err := c.Install(Spec{Path: path, Content: []byte("a: b\n"), Mode: 0o640, UID: 4321, GID: 4321}); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"etc", "etc/galaxy"} {
		fi, err := os.Stat(filepath.Join(base, d))
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != 0o710 || st.Gid != 4321 || st.Uid != 0 {
			t.Errorf("%s: mode %04o owner %d:%d, want 0710 0:4321", d, fi.Mode().Perm(), st.Uid, st.Gid)
		}
	}
	other := filepath.Join(base, "srv", "galaxy.yaml")
	_, err := c.Install(Spec{Path: other, Content: []byte("a: b\n"), Mode: 0o600, UID: 4321, GID: -1})
	var ie *InstallError
	if !errors.As(err, &ie) || !strings.Contains(ie.Fix, "install -d") {
		t.Fatalf("owner without group: got %v, want a refusal that says what to create", err)
	}
	if _, err := os.Stat(filepath.Dir(other)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the refused run created %s", filepath.Dir(other))
	}
}

// TestConcurrentRuns: several runs deploy to, and roll back, one path at
// once, for several rounds. All succeed; the target is always one
// complete version; nothing is left.
func TestConcurrentRuns(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "galaxy.yaml")
	const runs, rounds = 5, 4
	content := func(i int) []byte { return []byte(strings.Repeat(fmt.Sprintf("run: %d\n", i), 2000*(i+1))) }
	versions := map[string]bool{}
	for i := range runs {
		versions[string(content(i))] = true
	}
	for round := range rounds {
		// Connect first, then start every run at once, so that their
		// installs overlap.
		conns := make([]*Conn, runs)
		for i := range runs {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			conns[i] = dialSSHD(t, s, ctx, nil)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		errs := make([]error, runs)
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				if i == runs-1 && round > 0 {
					_, errs[i] = c.Rollback(Spec{Path: path, Mode: 0o600, UID: -1, GID: -1})
					return
				}
				_, errs[i] = c.Install(Spec{Path: path, Content: content(i), Mode: 0o600, UID: -1, GID: -1, Backup: true})
			}()
		}
		close(start)
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Errorf("round %d, run %d: %v", round, i, err)
			}
		}
		if !versions[read(path)] || !versions[read(path+BackupSuffix)] {
			t.Fatalf("round %d: the target or backup is not one complete version", round)
		}
		assertClean(t, dir)
	}
}

// TestLocks: a lock whose holder's time is up is broken at once; one
// still held makes the run wait and fail with a LockError at its
// deadline, without touching the target or the holder's work.
func TestLocks(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "galaxy.yaml")
	lock := filepath.Join(dir, TempPrefix+"galaxy.yaml.lock")
	work := filepath.Join(dir, TempPrefix+"galaxy.yaml.d")
	write(t, path, "old\n", 0o600)

	// Crashed: its time (0 s from when it was taken) is up.
	if err := os.Symlink(lockText("0123456789abcdef01234567", 0), lock); err != nil {
		t.Fatal(err)
	}
	must(t, os.Mkdir(work, 0o700))
	write(t, filepath.Join(work, workNew), "partial", 0o600)
	c := dialSSHD(t, s, context.Background(), nil)
	res, err := c.Install(Spec{Path: path, Content: []byte("new\n"), Mode: 0o600, UID: -1, GID: -1})
	if err != nil {
		t.Fatalf("install after a crashed run: %v", err)
	}
	if read(path) != "new\n" || res.Cleaned == 0 {
		t.Errorf("install after a crashed run: %q, cleaned %d", read(path), res.Cleaned)
	}
	assertClean(t, dir)

	// Held by a live run: wait, then give up at the deadline.
	if err := os.Symlink(lockText("fedcba9876543210fedcba98", time.Hour), lock); err != nil {
		t.Fatal(err)
	}
	must(t, os.Mkdir(work, 0o700))
	write(t, filepath.Join(work, workNew), "in progress", 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c2 := dialSSHD(t, s, ctx, nil)
	// The lock is never released: the run waits until it is cancelled.
	time.AfterFunc(500*time.Millisecond, cancel)
	_, err = c2.Install(Spec{Path: path, Content: []byte("newer\n"), Mode: 0o600, UID: -1, GID: -1})
	var le *LockError
	if !errors.As(err, &le) || Transient(err) {
		t.Fatalf("install while another run holds the lock: got %v, want a LockError, not retried", err)
	}
	if read(path) != "new\n" || read(filepath.Join(work, workNew)) != "in progress" {
		t.Errorf("the waiting run touched the target or the holder's work")
	}
}

// TestLockRenewal renews the lease every millisecond during installs and
// rollbacks: they succeed, and no renewal outlives the release (it would
// take the lock again).
func TestLockRenewal(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	c := dialSSHD(t, s, context.Background(), nil)
	c.renewEvery = time.Millisecond
	dir := t.TempDir()
	path := filepath.Join(dir, "galaxy.yaml")
	for i := range 3 {
		content := bytes.Repeat([]byte(fmt.Sprintf("v: %d\n", i)), 64<<10)
		if _, err := c.Install(Spec{Path: path, Content: content, Mode: 0o600, UID: -1, GID: -1, Backup: true}); err != nil {
			t.Fatal(err)
		}
		assertClean(t, dir)
	}
	if _, err := c.Rollback(Spec{Path: path, Mode: 0o600, UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	assertClean(t, dir)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestBackupOfLargeFile: the backup of a file larger than anything the
// action would read is the whole file, made on the server.
func TestBackupOfLargeFile(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	c := dialSSHD(t, s, context.Background(), nil)
	path := filepath.Join(t.TempDir(), "galaxy.yaml")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	const size = 1 << 30 // sparse
	if _, err := f.WriteAt([]byte("tail marker\n"), size-12); err != nil {
		t.Fatal(err)
	}
	f.Close()
	if _, err := c.Install(Spec{Path: path, Content: []byte("new: version\n"), Mode: 0o600, UID: -1, GID: -1, Backup: true}); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path + BackupSuffix)
	if err != nil || fi.Size() != size {
		t.Fatalf("backup: %v, size %v, want %d bytes", err, fi, size)
	}
	b, _ := os.Open(path + BackupSuffix)
	defer b.Close()
	tail := make([]byte, 12)
	b.ReadAt(tail, size-12)
	if string(tail) != "tail marker\n" {
		t.Errorf("the backup's tail is %q", tail)
	}
	if read(path) != "new: version\n" {
		t.Errorf("target: %q", read(path))
	}
}

// TestDirectoryChecks: like sshd's StrictModes, every directory from / to
// the target must be owned by root or the login user and not writable by
// group or others, except a sticky one above the target's (/tmp).
func TestDirectoryChecks(t *testing.T) {
	t.Parallel()
	testenv.MustHaveRoot(t, "give a directory to another user")
	s := sshtest.Start(t)
	c := dialSSHD(t, s, context.Background(), nil)
	for _, tc := range []struct {
		name  string
		setup func(base string)
		want  string // "" = accepted
	}{
		{"parent owned by another user", func(base string) { must(t, os.Chown(filepath.Join(base, "a", "b"), 4321, 0)) }, "owned by uid 4321"},
		{"world-writable grandparent", func(base string) { must(t, os.Chmod(filepath.Join(base, "a"), 0o777)) }, "writable by its group or others"},
		{"sticky world-writable grandparent", func(base string) { must(t, os.Chmod(filepath.Join(base, "a"), 0o777|fs.ModeSticky)) }, ""},
		{"sticky world-writable parent", func(base string) { must(t, os.Chmod(filepath.Join(base, "a", "b"), 0o777|fs.ModeSticky)) }, "writable by its group or others"},
		{"grandparent owned by another user", func(base string) { must(t, os.Chown(filepath.Join(base, "a"), 4321, 0)) }, "owned by uid 4321"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			must(t, os.MkdirAll(filepath.Join(base, "a", "b"), 0o755))
			tc.setup(base)
			path := filepath.Join(base, "a", "b", "galaxy.yaml")
			_, err := c.Install(Spec{Path: path, Content: []byte("x: y\n"), Mode: 0o600, UID: -1, GID: -1})
			if tc.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var ie *InstallError
			if !errors.As(err, &ie) || !strings.Contains(err.Error(), tc.want) || ie.Fix == "" || Transient(err) {
				t.Fatalf("got %v, want a refusal with a hint containing %q", err, tc.want)
			}
			if _, err := os.Stat(path); err == nil {
				t.Errorf("installed anyway")
			}
			assertClean(t, filepath.Dir(path))
		})
	}
}

// TestSFTPStartFailures: a host whose SFTP subsystem is missing or
// refused, whose ForceCommand exits, or whose login prints text into the
// SFTP stream, fails with its own error, at once (not at the operation
// timeout), and is not retried. The subsystem request's reply is not
// awaited before INIT, so a refusal must end the wait for VERSION.
func TestSFTPStartFailures(t *testing.T) {
	t.Parallel()
	sftpServer := sshtest.SFTPServerPath()
	for _, tc := range []struct {
		name string
		opts []sshtest.Option
	}{
		{"missing sftp-server", []sshtest.Option{sshtest.WithSubsystem("/nonexistent/sftp-server")}},
		{"banner on stdout", []sshtest.Option{sshtest.WithSubsystem("echo 'Welcome to galaxy'; exec " + sftpServer)}},
		{"no sftp subsystem", []sshtest.Option{sshtest.WithoutSFTP()}},
		{"ForceCommand exits", []sshtest.Option{sshtest.WithForceCommand("exit 1")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := sshtest.Start(t, tc.opts...)
			hk, _ := NewHostKeys(s.KnownHosts, nil)
			// An operation timeout no test run reaches: a hang fails the
			// test as an OpTimeoutError, never as a slow pass.
			to := fastTimeouts
			to.Op = time.Hour
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			c, err := Dial(ctx, Target{Host: s.Host, Port: s.Port, User: s.User}, signerFromPEM(t, s.ClientKeyPEM), hk, Options{Timeouts: to})
			if err == nil {
				// Dial does not wait for the server's VERSION (version.go):
				// a server that sends none fails the first operation.
				defer c.Close()
				p := filepath.Join(t.TempDir(), "galaxy.yaml")
				_, err = c.Install(Spec{Path: p, Content: []byte("k: v\n"), Mode: 0o600, UID: -1, GID: -1})
				if _, serr := os.Stat(p); serr == nil {
					t.Errorf("a file was installed")
				}
			}
			var se *SFTPError
			if !errors.As(err, &se) || Transient(err) {
				t.Fatalf("got %v (%T), want an SFTPError, not retried", err, err)
			}
			t.Log(err)
		})
	}
}

// gateProxy forwards TCP to upstream and stops forwarding client bytes
// after `after` of them until released.
type gateProxy struct {
	addr    string
	paused  chan struct{} // closed when the gate holds data back
	release chan struct{}
}

func startGate(t *testing.T, upstream string, after int) *gateProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := &gateProxy{addr: ln.Addr().String(), paused: make(chan struct{}), release: make(chan struct{})}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		u, err := net.Dial("tcp", upstream)
		if err != nil {
			return
		}
		defer u.Close()
		done := make(chan struct{})
		go func() {
			defer close(done)
			buf := make([]byte, 512)
			sent, once := 0, sync.Once{}
			for {
				n, err := c.Read(buf)
				if sent+n > after {
					once.Do(func() { close(g.paused); <-g.release })
				}
				sent += n
				if n > 0 {
					if _, werr := u.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					u.Close()
					return
				}
			}
		}()
		buf := make([]byte, 512)
		for {
			n, err := u.Read(buf)
			if n > 0 {
				c.Write(buf[:n])
			}
			if err != nil {
				c.Close()
				break
			}
		}
		<-done
	}()
	t.Cleanup(func() {
		ln.Close()
		select {
		case <-g.release:
		default:
			close(g.release)
		}
		wg.Wait()
	})
	return g
}

// TestCancelMidWrite: a run cancelled while its upload is under way
// removes its temporary files before it returns and says so; the target
// is untouched.
func TestCancelMidWrite(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	content := bytes.Repeat([]byte("k: canary-value\n"), 32<<10) // 512 KiB
	g := startGate(t, s.Addr, 128<<10)
	hk, _ := NewHostKeys(strings.Replace(s.KnownHosts, portOf(s.Addr), portOf(g.addr), 1), nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c, err := Dial(ctx, Target{Host: "127.0.0.1", Port: atoi(portOf(g.addr)), User: s.User}, signerFromPEM(t, s.ClientKeyPEM), hk, Options{Timeouts: fastTimeouts})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dir := t.TempDir()
	path := filepath.Join(dir, "galaxy.yaml")
	write(t, path, "old\n", 0o600)
	go func() {
		<-g.paused
		cancel()
		close(g.release)
	}()
	_, err = c.Install(Spec{Path: path, Content: content, Mode: 0o600, UID: -1, GID: -1, Backup: true})
	var ce *CancelledError
	if !errors.As(err, &ce) || !ce.Cleaned || ce.Switched || Transient(err) {
		t.Fatalf("got %v, want a CancelledError that cleaned up", err)
	}
	if !strings.Contains(err.Error(), "cancelled") || !strings.Contains(err.Error(), "removed") || strings.Contains(err.Error(), "canary") {
		t.Errorf("error %q does not say it was cancelled and cleaned up (or holds content)", err)
	}
	if read(path) != "old\n" {
		t.Errorf("target changed")
	}
	assertClean(t, dir)
}
