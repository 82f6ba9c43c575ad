package remote

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// TestCutInTheReleasingFlight cuts, every 37 bytes over its last 1500,
// an install whose rename flight also releases the lock (backup: false,
// and a first deploy): old-or-new after each cut, and the retry completes
// and leaves nothing. The changed flights get such short content that the
// sync goes with the one-packet write. (From a review.)
func TestCutInTheReleasingFlight(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		old  []byte
	}{{"backup false", []byte("old: version\n")}, {"first deploy", nil}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := sshtest.Start(t)
			newContent := []byte("key: new-version-value\n")
			install := func(h *cutHost, path string, st *RunState) (bool, error) {
				c, err := h.dial(st)
				if err != nil {
					return st.Changed, err
				}
				defer c.Close()
				res, err := c.Install(Spec{Path: path, Content: newContent, Mode: 0o600, UID: -1, GID: -1, Backup: false, ReadPrevious: 1 << 20})
				return st.Changed || (res != nil && res.Changed), err
			}
			reset := func(path string) {
				os.Remove(path)
				if tc.old != nil {
					os.WriteFile(path, tc.old, 0o600)
				}
			}
			h := viaCutProxy(t, s)
			path := filepath.Join(t.TempDir(), "galaxy.yaml")
			reset(path)
			if _, err := install(h, path, NewRunState()); err != nil {
				t.Fatal(err)
			}
			total := h.proxy.Bytes()
			var ns []int64
			for n := max(total-1500, 1); n < total; n += 37 {
				ns = append(ns, n)
			}
			eachCut(t, ns, func(t *testing.T, n int64) {
				h := viaCutProxy(t, s)
				dir := t.TempDir()
				path := filepath.Join(dir, "galaxy.yaml")
				reset(path)
				st := NewRunState()
				h.proxy.CutAfter(n)
				_, err := install(h, path, st)
				h.proxy.CutAfter(-1)
				got, rerr := os.ReadFile(path)
				if tc.old == nil && rerr != nil {
					got = nil
				}
				if !bytes.Equal(got, tc.old) && !bytes.Equal(got, newContent) {
					t.Fatalf("cut at %d: neither version (%q)", n, got)
				}
				if err != nil && !Transient(err) {
					t.Errorf("cut at %d: %v not transient", n, err)
				}
				changed, err := install(h, path, st)
				if err != nil {
					t.Fatalf("retry after cut at %d: %v", n, err)
				}
				if !changed {
					t.Errorf("cut at %d: run reports unchanged", n)
				}
				if got, _ := os.ReadFile(path); !bytes.Equal(got, newContent) {
					t.Fatalf("cut at %d: retry did not complete", n)
				}
				if _, err := os.Lstat(path + BackupSuffix); err == nil {
					t.Errorf("cut at %d: a backup exists with backup: false", n)
				}
				if _, err := install(h, path, st); err != nil {
					t.Fatalf("second retry after cut at %d: %v", n, err)
				}
				assertClean(t, dir)
			})
		})
	}
}
