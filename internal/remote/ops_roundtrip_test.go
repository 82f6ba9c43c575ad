package remote

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestOperationRoundTrips counts, on the wire through a delay line in
// front of a real sshd, the round trips each kind of operation takes
// after the session is up (issue 10's budgets; see BENCHMARKS.md). A
// count, not a time. It errs high, never low, only when the client stalls
// for longer than the line's RTT in the middle of writing a flight: hence
// an RTT far above any stall this machine shows under load.
func TestOperationRoundTrips(t *testing.T) {
	t.Parallel()
	newVersion := []byte("database_url: postgres://new\napi_key: k-new\n")
	sameSize := append(bytes.Repeat([]byte("#"), len(newVersion)-1), '\n')
	old := []byte("database_url: postgres://old\n")
	cases := []struct {
		name             string
		file, previous   []byte // on the host before (nil: absent)
		rollback         bool
		budget           int
		wantFile, wantPr []byte
	}{
		// Lock and inspect (and OPEN the target); MKDIR, chmod, OPEN
		// the new file and a second handle, READ the replaced version;
		// mode, WRITE, FSYNC, LINK the old version; CLOSE, rename, LSTAT;
		// keep the old version, RMDIR, release.
		{name: "changed + backup", file: old, budget: 5, wantFile: newVersion, wantPr: old},
		// One more: the READ that tells the same-sized file differs.
		{name: "changed, same size + backup", file: sameSize, budget: 6, wantFile: newVersion, wantPr: sameSize},
		// Nothing to keep: the release goes with the rename.
		{name: "first deploy", budget: 4, wantFile: newVersion},
		// Lock, inspect and OPEN; READ; release.
		{name: "unchanged", file: newVersion, previous: old, budget: 3, wantFile: newVersion, wantPr: old},
		// Lock and inspect; MKDIR, chmod, both links; switch; keep, release.
		{name: "rollback", file: newVersion, previous: old, rollback: true, budget: 4, wantFile: old, wantPr: newVersion},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, line := dialThroughLine(t, 150*time.Millisecond)
			p := filepath.Join(t.TempDir(), "galaxy.yaml")
			put(t, p, tc.file)
			put(t, p+BackupSuffix, tc.previous)
			before := line.Conns()[0].RoundTrips()
			s := Spec{Path: p, Mode: 0o600, UID: -1, GID: -1, Backup: true}
			var err error
			var res *Installed
			if tc.rollback {
				res, err = c.Rollback(s)
			} else {
				s.Content, s.ReadPrevious = newVersion, 1<<20
				res, err = c.Install(s)
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := line.Conns()[0].RoundTrips() - before; got > tc.budget {
				t.Errorf("%d round trips after the session was up, want at most %d", got, tc.budget)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, tc.wantFile) {
				t.Errorf("the host holds %q, want %q", got, tc.wantFile)
			}
			if got, _ := os.ReadFile(p + BackupSuffix); !bytes.Equal(got, tc.wantPr) {
				t.Errorf("the backup holds %q, want %q", got, tc.wantPr)
			}
			if !tc.rollback && res.Changed != (tc.file == nil || !bytes.Equal(tc.file, newVersion)) {
				t.Errorf("Changed = %v", res.Changed)
			}
			if !tc.rollback && res.Changed && tc.file != nil && (!res.HasPrevious || !bytes.Equal(res.Previous.Reveal(), tc.file)) {
				t.Errorf("the replaced version was not read back in the install (HasPrevious = %v)", res.HasPrevious)
			}
		})
	}
}

func put(t *testing.T, p string, b []byte) {
	t.Helper()
	if b == nil {
		return
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestNamedPipeTarget: the OPEN that goes with the lock is not waited
// for, so a named pipe at the target (which blocks sftp-server's open, and
// every request behind it) is refused on its LSTAT before anything else
// is sent: at once, with the target's error, also when the directory is
// reached through a symbolic link or another run holds the lock, and
// without leaving the lock's renewal running. (A review found the last
// three.)
func TestNamedPipeTarget(t *testing.T) {
	t.Parallel()
	for _, tc := range []string{"plain", "symlinked directory", "lock held"} {
		t.Run(tc, func(t *testing.T) {
			t.Parallel()
			c, _ := dialThroughLine(t, 0)
			c.renewEvery = 50 * time.Millisecond
			base := t.TempDir()
			dir := base
			if tc == "symlinked directory" {
				dir = filepath.Join(base, "link")
				if err := os.Mkdir(filepath.Join(base, "real"), 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.Symlink(filepath.Join(base, "real"), dir); err != nil {
					t.Fatal(err)
				}
			}
			p := filepath.Join(dir, "galaxy.yaml")
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				t.Fatal(err)
			}
			lock := filepath.Join(dir, TempPrefix+"galaxy.yaml.lock")
			if tc == "lock held" {
				if err := os.Symlink(lockText("another-run", lockLease), lock); err != nil {
					t.Fatal(err)
				}
			}
			done := make(chan error, 1)
			go func() {
				_, err := c.Install(Spec{Path: p, Content: []byte("k: v\n"), Mode: 0o600, UID: -1, GID: -1, ReadPrevious: 1 << 20})
				done <- err
			}()
			select {
			case err := <-done:
				var ie *InstallError
				if !errors.As(err, &ie) || !strings.Contains(err.Error(), "not a regular file") || ie.Hint() == "" {
					t.Errorf("Install = %v, want the refusal of a target that is not a regular file, with a hint", err)
				}
			case <-time.After(DefaultTimeouts.Op / 2):
				t.Fatal("Install still runs: it waits for the OPEN of the named pipe")
			}
			c.Close()
			if n := c.renewing.Load(); n > 0 {
				t.Errorf("%d lock renewals still run after Install returned", n)
			}
			if held, err := os.Readlink(lock); err == nil {
				if tok, ttl, ok := parseLock(held); !ok || ttl > lockLease || (tc == "lock held") != (tok == "another-run") {
					t.Errorf("the lock left holds %q", held)
				}
			}
			// Unblock the sftp-server that opened the pipe, so it can exit.
			if f, err := os.OpenFile(p, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				f.Close()
			}
		})
	}
}
