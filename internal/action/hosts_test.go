package action

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// TestChangedAcrossRetries cuts a deploy's first connection at points over
// the end of its session, where the new file is renamed into place and the
// reply may be lost. However the attempts split the work, the host ends
// with the new version and the run reports it changed the host.
func TestChangedAcrossRetries(t *testing.T) {
	t.Parallel()
	t.Run("without restart_command", func(t *testing.T) { t.Parallel(); changedAcrossRetries(t, false) })
	// With restart_command, a retry whose attempt finds the file already
	// in place still restarts: the run changed the host.
	t.Run("with restart_command", func(t *testing.T) { t.Parallel(); changedAcrossRetries(t, true) })
}

func changedAcrossRetries(t *testing.T, restart bool) {
	s := sshtest.Start(t)
	signer, err := ssh.ParsePrivateKey(s.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	newContent := []byte(strings.Repeat("key: new-value\n", 100))
	// deploy runs one deploy to a file of its own through a proxy of its
	// own, whose first connection is cut at limit bytes (< 0: not cut).
	deploy := func(t *testing.T, limit int64) (changed bool, attempts int, total int64, err error) {
		p := sshtest.StartCutProxy(t, s.Addr)
		hk, err := remote.NewHostKeys(s.KnownHostsVia(p), nil)
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(t.TempDir(), "galaxy.yaml")
		if err := os.WriteFile(path, []byte("old: version\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := &inputs.Config{
			Operation: "deploy", Hosts: []inputs.Host{{Name: p.Host, Port: p.Port}}, User: s.User,
			RemotePath: path, FileMode: 0o600, Owner: -1, Group: -1, Backup: true,
			Timeout: time.Minute, Retries: 2, Parallel: 1,
		}
		marks := filepath.Join(t.TempDir(), "restarts")
		if restart {
			cfg.RestartCommand = "echo restarted >> " + marks
		}
		d := &hostDeployer{cfg: cfg, signer: signer, hostKeys: hk, content: secrets.NewBytes(newContent),
			opts: Options{Timeouts: remote.Timeouts{Connect: 5 * time.Second, Handshake: 5 * time.Second, Op: 5 * time.Second}, Backoff: time.Millisecond, Now: time.Now}}
		p.CutNextAfter(limit)
		res, _, err := d.deploy(context.Background(), cfg.Hosts[0])
		if restart && err == nil && (!res.Restarted || countRestarts(marks) == 0) {
			t.Errorf("cut at %d bytes (%d attempts): the services were not restarted", limit, res.Attempts)
		}
		if got, _ := os.ReadFile(path); err == nil && !bytes.Equal(got, newContent) {
			t.Fatalf("cut at %d bytes: the new version is not in place", limit)
		}
		return res.Changed, res.Attempts, p.Bytes(), err
	}
	_, _, total, err := deploy(t, -1)
	if err != nil {
		t.Fatalf("uncut deploy: %v", err)
	}
	const points = 16
	var ns []int64
	var names []string
	for i := range points {
		n := total*3/4 + total/4*int64(i)/points
		ns = append(ns, n)
		names = append(names, fmt.Sprintf("at %d bytes", n))
	}
	var retried atomic.Int32
	testenv.RunConcurrently(t, 8, names, func(t *testing.T, i int) {
		n := ns[i]
		changed, attempts, _, err := deploy(t, n)
		if err != nil {
			t.Fatalf("cut at %d of %d bytes: %v", n, total, err)
		}
		if !changed {
			t.Errorf("cut at %d bytes (%d attempts): the run reports the host unchanged", n, attempts)
		}
		if attempts > 1 {
			retried.Add(1)
		}
	})
	if retried.Load() == 0 {
		t.Errorf("no cut point made the run retry")
	}
}

func countRestarts(p string) int {
	b, _ := os.ReadFile(p)
	return bytes.Count(b, []byte("\n"))
}
