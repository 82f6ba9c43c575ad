package remote_test

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pkg/sftp"
	gossh "golang.org/x/crypto/ssh"

	"github.com/productgalaxy/sops-deploy-action/internal/localssh"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

var testOptions = remote.Options{Timeouts: remote.Timeouts{Connect: 10 * time.Second, Handshake: 10 * time.Second, Op: 30 * time.Second}}

// startLocal starts an in-process SSH/SFTP server that authorizes a fresh
// key, and returns it with that key's signer.
func startLocal(t *testing.T, cfg localssh.Config) (*localssh.Server, ssh.Signer) {
	t.Helper()
	signer := newEd25519Signer(t)
	cfg.AuthorizedKey = upstreamKey(t, signer.PublicKey())
	srv, err := localssh.Start(cfg)
	if err != nil {
		t.Fatalf("localssh.Start: %v", err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("localssh Close: %v", err)
		}
	})
	return srv, signer
}

func localTarget(srv *localssh.Server) remote.Target {
	return remote.Target{Host: srv.Host, Port: srv.Port, User: "deploy"}
}

// dialLocal connects to srv with its known_hosts line.
func dialLocal(t *testing.T, srv *localssh.Server, signer ssh.Signer) *remote.Conn {
	t.Helper()
	c, err := remote.Dial(context.Background(), localTarget(srv), signer, newHostKeys(t, srv.KnownHosts, nil), testOptions)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestDial(t *testing.T) {
	t.Parallel()
	srv, signer := startLocal(t, localssh.Config{})
	for _, tc := range []struct {
		name string
		hk   *remote.HostKeys
	}{
		{"known_hosts", newHostKeys(t, srv.KnownHosts, nil)},
		{"fingerprint", newHostKeys(t, "", []string{srv.Fingerprint})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := remote.Dial(context.Background(), localTarget(srv), signer, tc.hk, testOptions)
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			if got, want := c.HostKeyFingerprint, srv.Fingerprint; got != want {
				t.Errorf("HostKey: got %q, want %q", got, want)
			}
			if got, want := c.HostKeyType, ssh.KeyAlgoED25519; got != want {
				t.Errorf("HostKeyType: got %q, want %q", got, want)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestDialAuthError(t *testing.T) {
	t.Parallel()
	srv, signer := startLocal(t, localssh.Config{User: "deploy"})
	other := newEd25519Signer(t)
	for _, tc := range []struct {
		name   string
		user   string
		signer ssh.Signer
	}{
		{"unauthorized key", "deploy", other},
		{"other user", "root", signer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tg := localTarget(srv)
			tg.User = tc.user
			c, err := remote.Dial(context.Background(), tg, tc.signer, newHostKeys(t, srv.KnownHosts, nil), testOptions)
			if c != nil {
				c.Close()
				t.Fatal("Dial returned a connection")
			}
			var ae *remote.AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Dial = %v (%T), want *remote.AuthError", err, err)
			}
			if !ae.Offered {
				t.Errorf("Offered: got false, want true")
			}
			if got, want := ae.Key, remote.ClientKeyDescription(tc.signer); got != want {
				t.Errorf("Key: got %q, want %q", got, want)
			}
			if got, want := ae.User, tc.user; got != want {
				t.Errorf("User: got %q, want %q", got, want)
			}
			if got, want := ae.Addr, srv.Addr; got != want {
				t.Errorf("Addr: got %q, want %q", got, want)
			}
			if got, want := err.Error(), "refused the ssh_key"; !strings.Contains(got, want) {
				t.Errorf("got %q, want it to contain %q", got, want)
			}
		})
	}
}

func TestDialHostKeyError(t *testing.T) {
	t.Parallel()
	srv, signer := startLocal(t, localssh.Config{})
	wrong := newEd25519Signer(t).PublicKey()
	for _, tc := range []struct {
		name        string
		hk          *remote.HostKeys
		wantUnknown bool
	}{
		{name: "pinned fingerprint", hk: newHostKeys(t, "", []string{ssh.FingerprintSHA256(wrong)})},
		{name: "known_hosts mismatch", hk: newHostKeys(t, entry("[127.0.0.1]:"+portString(srv.Port), wrong), nil)},
		{name: "known_hosts other port", hk: newHostKeys(t, entry("127.0.0.1", forkKey(t, srv.HostKey)), nil), wantUnknown: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := remote.Dial(context.Background(), localTarget(srv), signer, tc.hk, testOptions)
			if c != nil {
				c.Close()
				t.Fatal("Dial returned a connection")
			}
			var he *remote.HostKeyError
			if !errors.As(err, &he) {
				t.Fatalf("Dial = %v (%T), want *remote.HostKeyError", err, err)
			}
			// Not an AuthError or ConnectError: the key was refused before
			// authentication.
			var ae *remote.AuthError
			var ce *remote.ConnectError
			if errors.As(err, &ae) || errors.As(err, &ce) {
				t.Errorf("Dial error %v is also an auth or connect error", err)
			}
			if got, want := he.Presented, srv.Fingerprint; got != want {
				t.Errorf("Presented: got %q, want %q", got, want)
			}
			if got, want := he.Host, srv.Addr; got != want {
				t.Errorf("Host: got %q, want %q", got, want)
			}
			if got, want := he.Unknown, tc.wantUnknown; got != want {
				t.Errorf("Unknown: got %v, want %v", got, want)
			}
			if !tc.wantUnknown {
				if got, want := strings.Join(he.Expected, " "), ssh.FingerprintSHA256(wrong); !strings.Contains(got, want) {
					t.Errorf("Expected: got %q, want it to name %q", got, want)
				}
			}
		})
	}
}

func TestDialCancelled(t *testing.T) {
	t.Parallel()
	srv, signer := startLocal(t, localssh.Config{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	c, err := remote.Dial(ctx, localTarget(srv), signer, newHostKeys(t, srv.KnownHosts, nil), testOptions)
	if c != nil {
		c.Close()
		t.Fatal("Dial returned a connection")
	}
	var ce *remote.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("Dial = %v (%T), want *remote.ConnectError", err, err)
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Dial = %v, want it to wrap context.Canceled", err)
	}
	if got, want := ce.Addr, srv.Addr; got != want {
		t.Errorf("Addr: got %q, want %q", got, want)
	}
}

func TestDialConnectError(t *testing.T) {
	t.Parallel()
	// A port nobody listens on: listen, note the port, close.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	k := newEd25519Signer(t)
	hk := newHostKeys(t, "", []string{ssh.FingerprintSHA256(k.PublicKey())})
	c, err := remote.Dial(context.Background(), remote.Target{Host: "127.0.0.1", Port: port, User: "deploy"}, k, hk, testOptions)
	if c != nil {
		c.Close()
		t.Fatal("Dial returned a connection")
	}
	var ce *remote.ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("Dial = %v (%T), want *remote.ConnectError", err, err)
	}
	if got, want := ce.Addr, "127.0.0.1:"+portString(port); got != want {
		t.Errorf("Addr: got %q, want %q", got, want)
	}
}

// TestDialCertAuthority connects to a server that has a plain host key and
// a certificate for it: trusted through @cert-authority alone, the client
// must ask for and accept the certificate.
func TestDialCertAuthority(t *testing.T) {
	t.Parallel()
	ca := newEd25519Signer(t)
	hostSigner := newEd25519Signer(t)
	cert := hostCert(t, hostSigner.PublicKey(), ca, []string{"127.0.0.1"}, ssh.CertTimeInfinity)
	certSigner, err := ssh.NewCertSigner(cert, hostSigner)
	if err != nil {
		t.Fatal(err)
	}
	client := newEd25519Signer(t)
	addr := startCertServer(t, client.PublicKey(), hostSigner, certSigner)
	host, port, _ := net.SplitHostPort(addr)
	tg := remote.Target{Host: host, Port: atoiT(t, port), User: "deploy"}
	caPub := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))

	for _, tc := range []struct {
		name     string
		kh       string
		wantType string // "" means a *HostKeyError
	}{
		{name: "ca", kh: "@cert-authority [127.0.0.1]:" + port + " " + caPub, wantType: ssh.CertAlgoED25519v01},
		{name: "ca wildcard", kh: "@cert-authority [*]:" + port + " " + caPub, wantType: ssh.CertAlgoED25519v01},
		{name: "plain key", kh: entry("[127.0.0.1]:"+port, hostSigner.PublicKey()), wantType: ssh.KeyAlgoED25519},
		{name: "other ca", kh: "@cert-authority * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(newEd25519Signer(t).PublicKey())))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := remote.Dial(context.Background(), tg, client, newHostKeys(t, tc.kh, nil), testOptions)
			if tc.wantType == "" {
				if c != nil {
					c.Close()
					t.Fatal("Dial returned a connection")
				}
				var he *remote.HostKeyError
				if !errors.As(err, &he) {
					t.Fatalf("Dial = %v (%T), want *remote.HostKeyError", err, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Dial: %v", err)
			}
			defer c.Close()
			if got, want := c.HostKeyType, tc.wantType; got != want {
				t.Errorf("HostKeyType: got %q, want %q", got, want)
			}
		})
	}
}

// startCertServer runs a minimal SSH server with the given host keys that
// authorizes client and serves SFTP (on the real filesystem) until the
// test ends. It returns its address.
func startCertServer(t *testing.T, client ssh.PublicKey, hostKeys ...ssh.Signer) string {
	t.Helper()
	cfg := &gossh.ServerConfig{
		PublicKeyCallback: func(_ gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			if string(key.Marshal()) != string(client.Marshal()) {
				return nil, errors.New("not authorized")
			}
			return &gossh.Permissions{}, nil
		},
	}
	for _, k := range hostKeys {
		cfg.AddHostKey(upstreamSigner(t, k))
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		conns []net.Conn
	)
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
		wg.Wait()
	})
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, nc)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer nc.Close()
				_, chans, reqs, err := gossh.NewServerConn(nc, cfg)
				if err != nil {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					gossh.DiscardRequests(reqs)
				}()
				for newCh := range chans {
					if newCh.ChannelType() != "session" {
						newCh.Reject(gossh.UnknownChannelType, "session only")
						continue
					}
					ch, chReqs, err := newCh.Accept()
					if err != nil {
						continue
					}
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer ch.Close()
						started := false
						for req := range chReqs {
							ok := !started && req.Type == "subsystem" && len(req.Payload) > 4 && string(req.Payload[4:]) == "sftp"
							req.Reply(ok, nil)
							if ok {
								started = true
								wg.Add(1)
								go func() {
									defer wg.Done()
									if s, err := sftp.NewServer(ch); err == nil {
										s.Serve()
									}
									ch.Close()
								}()
							}
						}
					}()
				}
			}()
		}
	}()
	return ln.Addr().String()
}

func portString(port int) string { return strconv.Itoa(port) }

func atoiT(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
