package remote

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// TestNothingReadableWhileWritten watches the target directory with
// inotify during installs to a real sshd whose sftp-server has the usual
// umask 022: every file that appears must already be unreadable by others,
// or sit in a directory others cannot enter. SFTP's open sends no mode, so
// a file created in the target directory itself would be 0644 for a round
// trip.
func TestNothingReadableWhileWritten(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	dir := filepath.Join(t.TempDir(), "secrets")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(dir, "galaxy.yaml")
	if err := os.WriteFile(target, []byte("old: version\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC | syscall.IN_NONBLOCK)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(fd)
	watched := map[int]string{}
	add := func(p string) {
		wd, err := syscall.InotifyAddWatch(fd, p, syscall.IN_CREATE|syscall.IN_MOVED_TO)
		if err == nil {
			watched[wd] = p
		}
	}
	add(dir)
	var (
		mu       sync.Mutex
		problems []string
		seen     int
	)
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := syscall.Read(fd, buf)
			if err == syscall.EAGAIN || n <= 0 {
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Microsecond):
					continue
				}
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				name := string(bytes.TrimRight(buf[off+syscall.SizeofInotifyEvent:off+syscall.SizeofInotifyEvent+int(ev.Len)], "\x00"))
				off += syscall.SizeofInotifyEvent + int(ev.Len)
				if ev.Mask&syscall.IN_Q_OVERFLOW != 0 {
					mu.Lock()
					problems = append(problems, "the inotify queue overflowed: events were lost")
					mu.Unlock()
					continue
				}
				if ev.Len == 0 {
					// About a watched directory itself (IN_IGNORED once a work
					// directory is removed): no entry appeared. Its path may
					// already name the next install's directory, made 0755
					// and chmodded 0700 before anything is put in it.
					continue
				}
				parent := watched[int(ev.Wd)]
				p := filepath.Join(parent, name)
				if ev.Mask&syscall.IN_ISDIR != 0 {
					add(p)
					continue
				}
				fi, err := os.Lstat(p)
				if err != nil || fi.Mode()&os.ModeSymlink != 0 {
					// A symbolic link (the lock) holds no content.
					continue
				}
				pi, _ := os.Stat(parent)
				mu.Lock()
				seen++
				if fi.Mode().Perm()&0o077 != 0 && (parent == dir || pi == nil || pi.Mode().Perm()&0o077 != 0) {
					problems = append(problems, p+" was "+fi.Mode().String()+" in a reachable directory")
				}
				mu.Unlock()
			}
		}
	}()

	c := dialSSHD(t, s, context.Background(), nil)
	for i := 0; i < 5; i++ {
		content := bytes.Repeat([]byte{byte('a' + i)}, 64<<10)
		if _, err := c.Install(Spec{Path: target, Content: content, Mode: 0o600, UID: -1, GID: -1, Backup: true}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Rollback(Spec{Path: target, Mode: 0o600, UID: -1, GID: -1}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	<-done
	mu.Lock()
	defer mu.Unlock()
	if seen == 0 {
		t.Fatal("the watcher saw no file appear")
	}
	for _, p := range problems {
		t.Error(p)
	}
}
