package action

import (
	"bytes"
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// firstCut forwards TCP to upstream; the first connection is cut once
// `limit` bytes (both directions) have passed, later ones pass whole.
type firstCut struct {
	addr  string
	limit atomic.Int64 // < 0: never cut
	total atomic.Int64 // bytes of the last connection
	first atomic.Bool  // the next connection is the first of a run
}

func startFirstCut(t *testing.T, upstream string) *firstCut {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &firstCut{addr: ln.Addr().String()}
	p.limit.Store(-1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			limit := int64(-1)
			if p.first.Swap(false) {
				limit = p.limit.Load()
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.serve(c, upstream, limit)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return p
}

func (p *firstCut) serve(c net.Conn, upstream string, limit int64) {
	defer c.Close()
	u, err := net.Dial("tcp", upstream)
	if err != nil {
		return
	}
	defer u.Close()
	p.total.Store(0)
	var used atomic.Int64
	var once sync.Once
	cut := func() { once.Do(func() { c.Close(); u.Close() }) }
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 512)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				if limit >= 0 && used.Load()+int64(n) > limit {
					n = int(max(limit-used.Load(), 0))
				}
				dst.Write(buf[:n])
				p.total.Add(int64(n))
				if used.Add(int64(n)) >= limit && limit >= 0 {
					cut()
					return
				}
			}
			if err != nil {
				cut()
				return
			}
		}
	}
	done := make(chan struct{})
	go func() { pipe(u, c); close(done) }()
	pipe(c, u)
	<-done
}

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
	p := startFirstCut(t, s.Addr)
	signer, err := ssh.ParsePrivateKey(s.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(p.addr[strings.LastIndex(p.addr, ":")+1:])
	hk, err := remote.NewHostKeys(strings.Replace(s.KnownHosts, s.Addr[strings.LastIndex(s.Addr, ":"):], p.addr[strings.LastIndex(p.addr, ":"):], 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "galaxy.yaml")
	newContent := []byte(strings.Repeat("key: new-value\n", 100))
	cfg := &inputs.Config{
		Operation: "deploy", Hosts: []inputs.Host{{Name: "127.0.0.1", Port: port}}, User: s.User,
		RemotePath: path, FileMode: 0o600, Owner: -1, Group: -1, Backup: true,
		Timeout: time.Minute, Retries: 2, Parallel: 1,
	}
	marks := filepath.Join(t.TempDir(), "restarts")
	if restart {
		cfg.RestartCommand = "echo restarted >> " + marks
	}
	d := &hostDeployer{cfg: cfg, signer: signer, hostKeys: hk, content: secrets.NewBytes(newContent),
		opts: Options{Timeouts: remote.Timeouts{Connect: 5 * time.Second, Handshake: 5 * time.Second, Op: 5 * time.Second}, Backoff: time.Millisecond, Now: time.Now}}
	deploy := func(limit int64) (bool, int, error) {
		if err := os.WriteFile(path, []byte("old: version\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		// A cut after the work was done may leave the last run's lock,
		// which would hold this one up for its 30 s lease.
		os.Remove(filepath.Join(filepath.Dir(path), remote.TempPrefix+"galaxy.yaml.lock"))
		p.limit.Store(limit)
		p.first.Store(true)
		before := countRestarts(marks)
		res, _, err := d.deploy(context.Background(), cfg.Hosts[0])
		if restart && err == nil && (!res.Restarted || countRestarts(marks) == before) {
			t.Errorf("cut at %d bytes (%d attempts): the services were not restarted", limit, res.Attempts)
		}
		return res.Changed, res.Attempts, err
	}
	if _, _, err := deploy(-1); err != nil {
		t.Fatalf("uncut deploy: %v", err)
	}
	total := p.total.Load()
	const points = 16
	retried := 0
	for i := range points {
		n := total*3/4 + total/4*int64(i)/points
		changed, attempts, err := deploy(n)
		if err != nil {
			t.Fatalf("cut at %d of %d bytes: %v", n, total, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, newContent) {
			t.Fatalf("cut at %d bytes: the new version is not in place", n)
		}
		if !changed {
			t.Errorf("cut at %d bytes (%d attempts): the run reports the host unchanged", n, attempts)
		}
		if attempts > 1 {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("no cut point made the run retry")
	}
}

func countRestarts(p string) int {
	b, _ := os.ReadFile(p)
	return bytes.Count(b, []byte("\n"))
}
