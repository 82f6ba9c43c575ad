package remote

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// TestCancelAroundTheSwitch cancels the run while the write flight is out
// (the FSYNC on the wire: the rename must not leave) and while the rename
// is (what follows it must be finished): either way the host ends with no
// temporary file, and the error says what is true. (From a review: the
// first left the lock and the work directory and said they were removed.)
func TestCancelAroundTheSwitch(t *testing.T) {
	t.Parallel()
	for _, trigger := range []string{"sftp: EXTENDED fsync@openssh.com", "sftp: EXTENDED posix-rename@openssh.com"} {
		t.Run(trigger, func(t *testing.T) {
			t.Parallel()
			s := sshtest.Start(t)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var once sync.Once
			hk, err := NewHostKeys(s.KnownHosts, nil)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Dial(ctx, Target{Host: s.Host, Port: s.Port, User: s.User}, signerFromPEM(t, s.ClientKeyPEM), hk, Options{Timeouts: fastTimeouts,
				Trace: func(ev string) {
					if ev == trigger {
						once.Do(cancel)
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			dir := t.TempDir()
			p := filepath.Join(dir, "galaxy.yaml")
			backup := strings.Contains(trigger, "rename")
			if backup {
				write(t, p, "old: 1\n", 0o600)
			}
			_, err = c.Install(Spec{Path: p, Content: []byte("new: secret\n"), Mode: 0o600, UID: -1, GID: -1, Backup: backup})
			var ce *CancelledError
			switch {
			case err == nil && backup:
				// The rename was out: the install was finished, and says
				// so.
				ce = &CancelledError{Switched: true, Cleaned: true}
			case !errors.As(err, &ce):
				t.Fatalf("want a CancelledError, got %v", err)
			}
			entries, _ := os.ReadDir(dir)
			var left []string
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), TempPrefix) {
					left = append(left, e.Name())
					if e.IsDir() {
						sub, _ := os.ReadDir(filepath.Join(dir, e.Name()))
						for _, f := range sub {
							left = append(left, e.Name()+"/"+f.Name())
						}
					}
				}
			}
			if len(left) > 0 {
				t.Errorf("the host holds %v after the cancelled run (CancelledError.Cleaned = %v)", left, ce.Cleaned)
			}
			got, _ := os.ReadFile(p)
			if switched := string(got) == "new: secret\n"; switched != ce.Switched {
				t.Errorf("the host holds %q, and the error says switched = %v", got, ce.Switched)
			}
		})
	}
}
