package remote

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// TestCutInTheLastFlights cuts the connection to a real sshd at every
// few bytes of the end of an install session with backup: the flights
// that sync, link the replaced version, rename and check. TestCutAnywhere
// spreads its cuts over the whole session, which the upload dominates.
// After every cut the target holds the old or the new version whole, and
// the next install completes with the old version kept as the backup.
func TestCutInTheLastFlights(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, old string }{
		{"other size", "old: version\n"},
		{"same size", "key: old-version-value\n"}, // read and compared first
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cutInTheLastFlights(t, []byte(tc.old), []byte("key: new-version-value\n"))
		})
	}
}

func cutInTheLastFlights(t *testing.T, oldContent, newContent []byte) {
	s := sshtest.Start(t)
	// install is one attempt of a run whose attempts share st, as the
	// action's retries do (a retry takes over its own lock).
	install := func(h *cutHost, path string, st *RunState) error {
		c, err := h.dial(st)
		if err != nil {
			return err
		}
		defer c.Close()
		_, err = c.Install(Spec{Path: path, Content: newContent, Mode: 0o600, UID: -1, GID: -1, Backup: true})
		return err
	}
	reset := func(t *testing.T, path string) {
		if err := os.WriteFile(path, oldContent, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h := viaCutProxy(t, s)
	path := filepath.Join(t.TempDir(), "galaxy.yaml")
	reset(t, path)
	if err := install(h, path, NewRunState()); err != nil {
		t.Fatalf("uncut install: %v", err)
	}
	total := h.proxy.Bytes()
	const tail, step = 1200, 100 // bytes: the last flights are a few hundred
	var ns []int64
	for n := max(total-tail, 1); n < total; n += step {
		ns = append(ns, n)
	}
	eachCut(t, ns, func(t *testing.T, n int64) {
		h := viaCutProxy(t, s)
		dir := t.TempDir()
		path := filepath.Join(dir, "galaxy.yaml")
		reset(t, path)
		h.proxy.CutAfter(n)
		st := NewRunState()
		err := install(h, path, st)
		h.proxy.CutAfter(-1)
		got, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatalf("cut at %d of %d bytes: target missing: %v", n, total, rerr)
		}
		if !bytes.Equal(got, oldContent) && !bytes.Equal(got, newContent) {
			t.Fatalf("cut at %d of %d bytes: target holds %d bytes, neither version", n, total, len(got))
		}
		if err != nil && !Transient(err) {
			t.Errorf("cut at %d of %d bytes: %v is not classed transient", n, total, err)
		}
		if err := install(h, path, st); err != nil {
			t.Fatalf("install after a cut at %d of %d bytes: %v", n, total, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, newContent) {
			t.Fatalf("install after a cut at %d of %d bytes did not complete", n, total)
		}
		if got, _ := os.ReadFile(path + BackupSuffix); !bytes.Equal(got, oldContent) {
			t.Fatalf("cut at %d of %d bytes: the backup is not the old version after the retry", n, total)
		}
		// The cut session's sftp-server may still act on requests it had
		// read after the retry's clean-up: the next run removes what it
		// left.
		if err := install(h, path, st); err != nil {
			t.Fatalf("second install after a cut at %d of %d bytes: %v", n, total, err)
		}
		assertClean(t, dir)
	})
}
