package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/localssh"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// cutHost is a real sshd reached through a cut proxy of its own, and
// what a client needs to dial it: the set-up every fault test repeats.
type cutHost struct {
	sshd   *sshtest.SSHD
	proxy  *sshtest.CutProxy
	target Target
	signer ssh.Signer
	hk     *HostKeys
}

// viaCutProxy reaches s through a new proxy, which cuts nothing until
// told to. Cut points running at once each take one: a proxy's limit
// applies to every connection it accepts.
func viaCutProxy(t *testing.T, s *sshtest.SSHD) *cutHost {
	t.Helper()
	p := sshtest.StartCutProxy(t, s.Addr)
	hk, err := NewHostKeys(s.KnownHostsVia(p), nil)
	if err != nil {
		t.Fatal(err)
	}
	return &cutHost{sshd: s, proxy: p, target: Target{Host: p.Host, Port: p.Port, User: s.User}, signer: signerFromPEM(t, s.ClientKeyPEM), hk: hk}
}

// dial connects as one attempt of a run whose attempts share st (nil: a
// run of its own).
func (h *cutHost) dial(st *RunState) (*Conn, error) {
	return Dial(context.Background(), h.target, h.signer, h.hk, Options{Timeouts: fastTimeouts, State: st})
}

// cutWorkers bounds the cut points that run at once: a point mostly
// waits for sshd to fork and answer, so more run than there are CPUs.
const cutWorkers = 8

// spread returns the offsets total*i/points for i in 1..points-1.
func spread(total int64, points int) []int64 {
	var ns []int64
	for i := 1; i < points; i++ {
		ns = append(ns, total*int64(i)/int64(points))
	}
	return ns
}

// eachCut runs check for every offset in ns as a subtest of its own,
// cutWorkers at a time; each must set up a host and a directory of its
// own.
func eachCut(t *testing.T, ns []int64, check func(t *testing.T, n int64)) {
	t.Helper()
	names := make([]string, len(ns))
	for i, n := range ns {
		names[i] = fmt.Sprintf("at %d bytes", n)
	}
	testenv.RunConcurrently(t, cutWorkers, names, func(t *testing.T, i int) { check(t, ns[i]) })
}

func signerFromPEM(t *testing.T, pemBytes []byte) ssh.Signer {
	t.Helper()
	s, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

var fastTimeouts = Timeouts{Connect: 5 * time.Second, Handshake: 5 * time.Second, Op: 5 * time.Second}

// TestCutAnywhere cuts the connection to a real sshd after N bytes, for N
// spread over a whole install session. After every cut the target holds
// the complete old or the complete new file, and the next install
// succeeds and leaves no temporary file.
func TestCutAnywhere(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	oldContent := []byte("old: version\n")
	newContent := bytes.Repeat([]byte("key: new-version-value\n"), 4000) // ~90 KB: several SFTP writes
	// install is one attempt of a run whose attempts share st; it
	// returns whether the run changed the host so far, as the action
	// reports it.
	install := func(h *cutHost, path string, st *RunState) (bool, error) {
		c, err := h.dial(st)
		if err != nil {
			return st.Changed, err
		}
		defer c.Close()
		res, err := c.Install(Spec{Path: path, Content: newContent, Mode: 0o600, UID: -1, GID: -1, Backup: true})
		return st.Changed || (res != nil && res.Changed), err
	}
	reset := func(t *testing.T, path string) {
		if err := os.WriteFile(path, oldContent, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	h := viaCutProxy(t, s)
	path := filepath.Join(t.TempDir(), "galaxy.yaml")
	reset(t, path)
	if _, err := install(h, path, NewRunState()); err != nil {
		t.Fatalf("uncut install: %v", err)
	}
	total := h.proxy.Bytes()
	t.Logf("a whole session is %d bytes", total)

	const points = 40
	eachCut(t, spread(total, points), func(t *testing.T, n int64) {
		h := viaCutProxy(t, s)
		dir := t.TempDir()
		path := filepath.Join(dir, "galaxy.yaml")
		reset(t, path)
		st := NewRunState()
		h.proxy.CutAfter(n)
		_, err := install(h, path, st)
		h.proxy.CutAfter(-1)
		got, rerr := os.ReadFile(path)
		if rerr != nil {
			t.Fatalf("cut at %d bytes: target missing: %v", n, rerr)
		}
		if !bytes.Equal(got, oldContent) && !bytes.Equal(got, newContent) {
			t.Fatalf("cut at %d bytes: target holds %d bytes, neither version", n, len(got))
		}
		if err != nil && !Transient(err) {
			t.Errorf("cut at %d bytes: %v is not classed transient", n, err)
		}
		changed, err := install(h, path, st)
		if err != nil {
			t.Fatalf("install after a cut at %d bytes: %v", n, err)
		}
		if got, _ := os.ReadFile(path); !bytes.Equal(got, newContent) {
			t.Fatalf("install after a cut at %d bytes did not complete", n)
		}
		// The run replaced the old version: it must say so, whichever
		// attempt did it.
		if !changed {
			t.Errorf("cut at %d bytes: the run reports the host unchanged", n)
		}
		if got, _ := os.ReadFile(path + BackupSuffix); !bytes.Equal(got, oldContent) {
			t.Errorf("cut at %d bytes: the backup holds %d bytes, not the old version", n, len(got))
		}
		assertClean(t, dir)
	})
}

func assertClean(t *testing.T, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), TempPrefix) {
			t.Errorf("temporary file left: %s", e.Name())
		}
	}
}

func portOf(addr string) string { return addr[strings.LastIndex(addr, ":")+1:] }

func atoi(s string) int {
	n := 0
	for _, r := range s {
		n = n*10 + int(r-'0')
	}
	return n
}

// TestSilentServer: a server that accepts TCP and says nothing fails the
// handshake within its bound.
func TestSilentServer(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	})
	hk, _ := NewHostKeys("", []string{"SHA256:" + strings.Repeat("A", 43)})
	_, pemBytes := sshtest.NewKey(t)
	signer := signerFromPEM(t, pemBytes)
	start := time.Now()
	_, err = Dial(context.Background(), Target{Host: "127.0.0.1", Port: atoi(portOf(ln.Addr().String())), User: "x"}, signer, hk,
		Options{Timeouts: Timeouts{Connect: time.Second, Handshake: 300 * time.Millisecond, Op: time.Second}})
	var ce *ConnectError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "no SSH handshake within") {
		t.Fatalf("got %v, want a handshake timeout", err)
	}
	if !Transient(err) {
		t.Errorf("a silent server should be retried")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestStallMidUpload: the server stops reading during the upload; the
// operation timeout cuts it, the error is transient, the target is intact.
func TestStallMidUpload(t *testing.T) {
	t.Parallel()
	// The test server runs upstream x/crypto/ssh, the client the fork.
	up, pemBytes := sshtest.NewKey(t)
	signer, authorized := signerFromPEM(t, pemBytes), up.PublicKey()
	var stalls sync.WaitGroup
	srv, err := localssh.Start(localssh.Config{
		AuthorizedKey: authorized,
		WrapConn: func(c net.Conn) net.Conn {
			return &unblockingStall{Conn: c, after: 40 << 10, wg: &stalls}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	hk, err := NewHostKeys(srv.KnownHosts, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "galaxy.yaml")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), Target{Host: srv.Host, Port: srv.Port, User: "u"}, signer, hk,
		Options{Timeouts: Timeouts{Connect: time.Second, Handshake: 2 * time.Second, Op: 500 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Install(Spec{Path: path, Content: bytes.Repeat([]byte("x"), 256<<10), Mode: 0o600, UID: -1, GID: -1})
	var ote *OpTimeoutError
	if !errors.As(err, &ote) {
		t.Fatalf("got %v, want an operation timeout", err)
	}
	if !Transient(err) {
		t.Errorf("a stalled upload should be retried")
	}
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("target changed after a stalled upload")
	}
}

// unblockingStall stops reading from the client after `after` bytes until
// the connection is closed.
type unblockingStall struct {
	net.Conn
	after  int64
	read   int64
	wg     *sync.WaitGroup
	closed chan struct{}
	once   sync.Once
}

func (c *unblockingStall) init() {
	c.once.Do(func() { c.closed = make(chan struct{}) })
}

func (c *unblockingStall) Read(p []byte) (int, error) {
	c.init()
	if c.read > c.after {
		<-c.closed
		return 0, io.EOF
	}
	n, err := c.Conn.Read(p)
	c.read += int64(n)
	return n, err
}

func (c *unblockingStall) Close() error {
	c.init()
	select {
	case <-c.closed:
	default:
		close(c.closed)
	}
	return c.Conn.Close()
}

// TestDiskFull installs onto a tiny tmpfs: the failure is not retried,
// the old file stays, and no temporary file is left.
func TestDiskFull(t *testing.T) {
	t.Parallel()
	testenv.MustHaveRoot(t, "mount a small tmpfs")
	s := sshtest.Start(t)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	// Lazy: sftp-server may still hold a handle for a moment after the
	// session ends (Close does not wait for it to exit).
	t.Cleanup(func() { exec.Command("umount", "-l", mnt).Run() })
	path := filepath.Join(mnt, "galaxy.yaml")
	if err := os.WriteFile(path, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c := dialSSHD(t, s, context.Background(), nil)
	_, err := c.Install(Spec{Path: path, Content: bytes.Repeat([]byte("y"), 256<<10), Mode: 0o600, UID: -1, GID: -1, Backup: true})
	var ie *InstallError
	if !errors.As(err, &ie) {
		t.Fatalf("got %v, want an InstallError", err)
	}
	if Transient(err) {
		t.Errorf("a full disk must not be retried: %v", err)
	}
	if got, _ := os.ReadFile(path); string(got) != "old\n" {
		t.Errorf("target changed")
	}
	assertClean(t, mnt)
}
