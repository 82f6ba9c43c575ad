package localssh_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/productgalaxy/sops-deploy-action/internal/localssh"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	s, _ := sshtest.NewKey(t)
	return s
}

func start(t *testing.T, cfg localssh.Config) *localssh.Server {
	t.Helper()
	srv, err := localssh.Start(cfg)
	if err != nil {
		t.Fatalf("failed to start server: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return srv
}

func clientConfig(srv *localssh.Server, user string, signer ssh.Signer) *ssh.ClientConfig {
	return &ssh.ClientConfig{
		User:            user,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: ssh.FixedHostKey(srv.HostKey),
		Timeout:         5 * time.Second,
	}
}

func dialSFTP(t *testing.T, srv *localssh.Server, cfg *ssh.ClientConfig, opts ...sftp.ClientOption) *sftp.Client {
	t.Helper()
	conn, err := ssh.Dial("tcp", srv.Addr, cfg)
	if err != nil {
		t.Fatalf("failed to dial: %v", err)
	}
	t.Cleanup(func() { conn.Close() })
	c, err := sftp.NewClient(conn, opts...)
	if err != nil {
		t.Fatalf("failed to start sftp: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func writeFile(t *testing.T, c *sftp.Client, path string, data []byte) {
	t.Helper()
	f, err := c.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC)
	if err != nil {
		t.Fatalf("failed to open %s: %v", path, err)
	}
	if _, err := f.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatalf("failed to write %s: %v", path, err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("failed to close %s: %v", path, err)
	}
}

func readFile(t *testing.T, c *sftp.Client, path string) []byte {
	t.Helper()
	f, err := c.Open(path)
	if err != nil {
		t.Fatalf("failed to open %s: %v", path, err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		t.Fatalf("failed to read %s: %v", path, err)
	}
	return b
}

func TestServerFields(t *testing.T) {
	srv := start(t, localssh.Config{AuthorizedKey: newSigner(t).PublicKey()})
	if srv.Host != "127.0.0.1" || srv.Port == 0 || srv.Addr != net.JoinHostPort("127.0.0.1", strconv.Itoa(srv.Port)) {
		t.Errorf("unexpected address fields: Host=%q Port=%d Addr=%q", srv.Host, srv.Port, srv.Addr)
	}
	if srv.Fingerprint != ssh.FingerprintSHA256(srv.HostKey) {
		t.Errorf("Fingerprint = %q, want %q", srv.Fingerprint, ssh.FingerprintSHA256(srv.HostKey))
	}
	want := "[127.0.0.1]:" + strconv.Itoa(srv.Port) + " ssh-ed25519 "
	if !strings.HasPrefix(srv.KnownHosts, want) {
		t.Errorf("KnownHosts = %q, want prefix %q", srv.KnownHosts, want)
	}
}

func TestStartRequiresKey(t *testing.T) {
	if _, err := localssh.Start(localssh.Config{}); err == nil {
		t.Fatal("Start without AuthorizedKey succeeded")
	}
}

func TestSFTPWriteRenameRead(t *testing.T) {
	signer := newSigner(t)
	srv := start(t, localssh.Config{AuthorizedKey: signer.PublicKey(), User: "deploy"})

	// Connect through a known_hosts file built from srv.KnownHosts.
	khPath := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(khPath, []byte(srv.KnownHosts+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cb, err := knownhosts.New(khPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg := clientConfig(srv, "deploy", signer)
	cfg.HostKeyCallback = cb
	c := dialSFTP(t, srv, cfg, sftp.UseConcurrentWrites(true))

	if v, ok := c.HasExtension("posix-rename@openssh.com"); !ok || v != "1" {
		t.Errorf("HasExtension(posix-rename@openssh.com) = %q, %v; want \"1\", true", v, ok)
	}
	// As documented: no fsync, so clients exercise the path of servers
	// without it.
	if _, ok := c.HasExtension("fsync@openssh.com"); ok {
		t.Errorf("fsync@openssh.com is advertised")
	}

	dir := t.TempDir()
	target := filepath.Join(dir, "secrets.env")
	if err := os.WriteFile(target, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Large enough for concurrent writes.
	want := bytes.Repeat([]byte("0123456789abcdef"), 64*1024)
	tmp := target + ".tmp"
	writeFile(t, c, tmp, want)
	if err := c.PosixRename(tmp, target); err != nil {
		t.Fatalf("PosixRename: %v", err)
	}
	if got := readFile(t, c, target); !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes over sftp, want %d", len(got), len(want))
	}
	if got, err := os.ReadFile(target); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("file on disk: %d bytes, err %v; want %d bytes", len(got), err, len(want))
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("temp file still exists after rename: %v", err)
	}
}

func TestAuthRejected(t *testing.T) {
	signer := newSigner(t)
	srv := start(t, localssh.Config{AuthorizedKey: signer.PublicKey(), User: "deploy"})

	tests := []struct {
		name   string
		user   string
		signer ssh.Signer
	}{
		{"wrong key", "deploy", newSigner(t)},
		{"wrong user", "root", signer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := ssh.Dial("tcp", srv.Addr, clientConfig(srv, tt.user, tt.signer))
			if err == nil {
				conn.Close()
				t.Fatal("dial succeeded; want authentication failure")
			}
			if !strings.Contains(err.Error(), "unable to authenticate") {
				t.Errorf("dial error = %v; want an authentication failure", err)
			}
		})
	}
}

func TestWrongHostKeyRejected(t *testing.T) {
	signer := newSigner(t)
	a := start(t, localssh.Config{AuthorizedKey: signer.PublicKey()})
	b := start(t, localssh.Config{AuthorizedKey: signer.PublicKey()})
	cfg := clientConfig(b, "any", signer) // b's host key, a's address
	if conn, err := ssh.Dial("tcp", a.Addr, cfg); err == nil {
		conn.Close()
		t.Fatal("dial succeeded with the wrong host key")
	}
}

func TestOnlySFTPAllowed(t *testing.T) {
	signer := newSigner(t)
	srv := start(t, localssh.Config{AuthorizedKey: signer.PublicKey()})
	conn, err := ssh.Dial("tcp", srv.Addr, clientConfig(srv, "any", signer))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	sess, err := conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Run("id"); err == nil {
		t.Error("exec succeeded; want it refused")
	}
	sess.Close()

	sess, err = conn.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if err := sess.Shell(); err == nil {
		t.Error("shell succeeded; want it refused")
	}
	if err := sess.RequestSubsystem("sftp-not"); err == nil {
		t.Error("unknown subsystem accepted")
	}
	sess.Close()

	if _, _, err := conn.OpenChannel("direct-tcpip", nil); err == nil {
		t.Error("direct-tcpip channel accepted")
	} else {
		var oce *ssh.OpenChannelError
		if !errors.As(err, &oce) || oce.Reason != ssh.UnknownChannelType {
			t.Errorf("OpenChannel error = %v; want UnknownChannelType", err)
		}
	}
}

// cutConn fails the connection after limit bytes have been written by the
// server.
type cutConn struct {
	net.Conn
	mu    sync.Mutex
	limit int
}

func (c *cutConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(p) > c.limit {
		n, _ := c.Conn.Write(p[:c.limit])
		c.limit = 0
		c.Conn.Close()
		return n, errors.New("injected cut")
	}
	c.limit -= len(p)
	return c.Conn.Write(p)
}

func TestWrapConnCut(t *testing.T) {
	signer := newSigner(t)
	srv := start(t, localssh.Config{
		AuthorizedKey: signer.PublicKey(),
		// Enough for the handshake and SFTP init, not for a 1 MiB read.
		WrapConn: func(c net.Conn) net.Conn { return &cutConn{Conn: c, limit: 64 * 1024} },
	})
	c := dialSFTP(t, srv, clientConfig(srv, "any", signer))
	path := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(path, bytes.Repeat([]byte("x"), 1<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := c.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.ReadAll(f); err == nil {
		t.Fatal("reading 1 MiB through a cut connection succeeded")
	}
}

// stallConn never delivers client bytes to the server until closed.
type stallConn struct {
	net.Conn
	once sync.Once
	stop chan struct{}
}

func (c *stallConn) Read([]byte) (int, error) {
	<-c.stop
	return 0, net.ErrClosed
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.stop) })
	return c.Conn.Close()
}

func TestCloseWithStalledConn(t *testing.T) {
	signer := newSigner(t)
	srv, err := localssh.Start(localssh.Config{
		AuthorizedKey: signer.PublicKey(),
		WrapConn:      func(c net.Conn) net.Conn { return &stallConn{Conn: c, stop: make(chan struct{})} },
	})
	if err != nil {
		t.Fatal(err)
	}
	dialErr := make(chan error, 1)
	go func() {
		conn, err := ssh.Dial("tcp", srv.Addr, clientConfig(srv, "any", signer))
		if err == nil {
			conn.Close()
		}
		dialErr <- err
	}()
	time.Sleep(50 * time.Millisecond) // let the server accept and stall

	closed := make(chan error, 1)
	go func() { closed <- srv.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Errorf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with a stalled connection")
	}
	select {
	case err := <-dialErr:
		if err == nil {
			t.Error("dial through a stalled connection succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("client dial did not fail after Close")
	}
}

// TestCloseLeavesNoGoroutines must not run in parallel with other tests.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()

	signer := newSigner(t)
	srv, err := localssh.Start(localssh.Config{AuthorizedKey: signer.PublicKey()})
	if err != nil {
		t.Fatal(err)
	}
	conn, err := ssh.Dial("tcp", srv.Addr, clientConfig(srv, "any", signer))
	if err != nil {
		t.Fatal(err)
	}
	c, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "f")
	writeFile(t, c, path, []byte("hello"))
	// A second connection that never starts the SSH handshake.
	idle, err := net.Dial("tcp", srv.Addr)
	if err != nil {
		t.Fatal(err)
	}

	done := make(chan error, 1)
	go func() { done <- srv.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Close did not return with live connections")
	}
	// Close must have joined every server goroutine, without settling.
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	for _, frame := range []string{"internal/localssh.(*Server)", "pkg/sftp.(*Server)"} {
		if strings.Contains(stacks, frame) {
			t.Fatalf("goroutine in %s still running after Close:\n%s", frame, stacks)
		}
	}
	if err := srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}

	// Client side: closing is allowed to fail, the server is gone.
	c.Close()
	conn.Close()
	idle.Close()

	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		buf := make([]byte, 1<<20)
		buf = buf[:runtime.Stack(buf, true)]
		t.Fatalf("%d goroutines before Start, %d after Close:\n%s", before, n, buf)
	}
}
