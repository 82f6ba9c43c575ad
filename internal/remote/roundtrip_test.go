package remote

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gossh "golang.org/x/crypto/ssh"

	"github.com/productgalaxy/sops-deploy-action/bench/delayline"
	"github.com/productgalaxy/sops-deploy-action/internal/localssh"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// sessionRTT is the delay line's round trip in these tests. The counts do
// not depend on it, except that they err high when the client stalls for
// longer than it between packets it sends back to back (a loaded
// machine): hence one far above such stalls.
const sessionRTT = 150 * time.Millisecond

// lineTo puts a delay line in front of s and returns it with host keys
// for s under the line's address.
func lineTo(t *testing.T, s *sshtest.SSHD) (*delayline.Line, Target, *HostKeys) {
	t.Helper()
	line, err := delayline.Listen(s.Host+":0", s.Addr, sessionRTT)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { line.Close() })
	port := atoi(portOf(line.Addr()))
	kh := fmt.Sprintf("[%s]:%d %s", s.Host, port, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(s.HostKey))))
	hk, err := NewHostKeys(kh, nil)
	if err != nil {
		t.Fatal(err)
	}
	return line, Target{Host: s.Host, Port: port, User: s.User}, hk
}

// sessionCounts dials tg through line and returns the round trips up to
// the channel open (TCP, key exchange and auth) and up to Dial's return:
// the subsystem's reply. INIT is then on the wire, and its VERSION comes
// with the answers to the first requests (version.go).
func sessionCounts(t *testing.T, line *delayline.Line, tg Target, signer ssh.Signer, hk *HostKeys) (toAuth, toSFTP int, c *Conn) {
	t.Helper()
	toAuth = -1
	trace := func(event string) {
		if event == "ssh: open session channel" && toAuth < 0 {
			toAuth = line.Conns()[0].RoundTrips()
		}
	}
	c, err := Dial(context.Background(), tg, signer, hk, Options{Timeouts: DefaultTimeouts, Trace: trace})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	conns := line.Conns()
	if len(conns) != 1 {
		t.Fatalf("%d connections, want 1", len(conns))
	}
	return toAuth, conns[0].RoundTrips(), c
}

// TestSessionRoundTrips counts, through a delay line in front of real
// OpenSSH, the round trips of the SSH session: TCP 1 and key exchange 2,
// then auth 1 (the service request and the signed request pipelined) for
// an ed25519 or ecdsa key, 2 for an RSA key (it waits for server-sig-algs
// before it signs); channel open 1, subsystem request 1: OpenSSH opens a
// session channel with a window of 0 until its subsystem runs, so INIT
// cannot follow the subsystem request before the reply (with its window
// adjust); then INIT goes with the first requests, which cost 1 in all.
func TestSessionRoundTrips(t *testing.T) {
	t.Parallel()
	ecKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey := sshtest.RSAKey(t)
	for _, tc := range []struct {
		name         string
		key          any // nil: sshtest's ed25519 client key
		toAuth, full int
	}{
		{"ed25519", nil, 4, 6},
		{"ecdsa", ecKey, 4, 6},
		// OpenSSH 8.8 and later refuse ssh-rsa (SHA-1) signatures: a
		// login shows that rsa-sha2-256/512 was picked.
		{"rsa", rsaKey, 5, 7},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var opts []sshtest.Option
			var signer ssh.Signer
			if tc.key != nil {
				var err error
				if signer, err = ssh.NewSignerFromKey(tc.key); err != nil {
					t.Fatal(err)
				}
				up, err := gossh.ParsePublicKey(signer.PublicKey().Marshal())
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, sshtest.WithAuthorizedKey(up))
			}
			s := sshtest.Start(t, opts...)
			if tc.key == nil {
				signer = signerFromPEM(t, s.ClientKeyPEM)
			}
			line, tg, hk := lineTo(t, s)
			toAuth, full, c := sessionCounts(t, line, tg, signer, hk)
			t.Logf("%d round trips to auth's end, %d to the subsystem's reply", toAuth, full)
			if toAuth < 0 {
				t.Fatal("no trace event marked the end of auth")
			}
			if toAuth > tc.toAuth {
				t.Errorf("TCP, key exchange and auth took %d round trips, want at most %d", toAuth, tc.toAuth)
			}
			if full > tc.full {
				t.Errorf("the session took %d round trips up to the subsystem's reply, want at most %d", full, tc.full)
			}
			// The session works: the first request (behind INIT) costs
			// one round trip.
			before := line.Conns()[0].RoundTrips()
			if _, err := c.sftp.Lstat("/"); err != nil {
				t.Fatalf("Lstat: %v", err)
			}
			if got := line.Conns()[0].RoundTrips() - before; got != 1 {
				t.Errorf("an SFTP request took %d round trips, want 1", got)
			}
		})
	}
}

// TestSessionRoundTripsOpenWindow: against a server that opens a session
// channel's window at once (x/crypto's, in internal/localssh), INIT rides
// with the subsystem request; the session costs 6 up to the reply, as
// against OpenSSH, where INIT rides with the first requests instead.
func TestSessionRoundTripsOpenWindow(t *testing.T) {
	t.Parallel()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	authorized, err := gossh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := localssh.Start(localssh.Config{AuthorizedKey: authorized})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	line, err := delayline.Listen(srv.Host+":0", srv.Addr, sessionRTT)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { line.Close() })
	port := atoi(portOf(line.Addr()))
	hk, err := NewHostKeys(fmt.Sprintf("[%s]:%d %s", srv.Host, port, strings.TrimSpace(string(gossh.MarshalAuthorizedKey(srv.HostKey)))), nil)
	if err != nil {
		t.Fatal(err)
	}
	toAuth, full, _ := sessionCounts(t, line, Target{Host: srv.Host, Port: port, User: "deploy"}, signer, hk)
	t.Logf("%d round trips to auth's end, %d to the subsystem's reply", toAuth, full)
	if toAuth < 0 {
		t.Fatal("no trace event marked the end of auth")
	}
	if toAuth > 4 {
		t.Errorf("TCP, key exchange and auth took %d round trips, want at most 4", toAuth)
	}
	if full > 6 {
		t.Errorf("the session took %d round trips up to the subsystem's reply, want at most 6", full)
	}
}

// TestSessionAuthErrors: without the "none" probe and the publickey query,
// a refused key is still an AuthError that names the key, and a host that
// takes no public keys is still told apart (from its failure's method
// list).
func TestSessionAuthErrors(t *testing.T) {
	t.Parallel()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	other, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		opts    []sshtest.Option
		user    string // "" is the test user
		signer  ssh.Signer
		offered bool
		want    string
	}{
		{name: "key not in authorized_keys", signer: other, offered: true, want: "refused the ssh_key (" + ClientKeyDescription(other) + ")"},
		{name: "other user", user: "sopsdeploy-nosuchuser", offered: true, want: "refused the ssh_key"},
		{name: "no public key auth", opts: []sshtest.Option{sshtest.WithoutPublicKeyAuth()}, offered: false, want: "does not accept public key authentication"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := sshtest.Start(t, tc.opts...)
			signer := tc.signer
			if signer == nil {
				signer = signerFromPEM(t, s.ClientKeyPEM)
			}
			line, tg, hk := lineTo(t, s)
			if tc.user != "" {
				tg.User = tc.user
			}
			c, err := Dial(context.Background(), tg, signer, hk, Options{Timeouts: DefaultTimeouts})
			if c != nil {
				c.Close()
				t.Fatal("Dial returned a connection")
			}
			var ae *AuthError
			if !errors.As(err, &ae) {
				t.Fatalf("Dial = %v (%T), want *AuthError", err, err)
			}
			if Transient(err) {
				t.Errorf("an AuthError must not be retried")
			}
			if got, want := ae.Offered, tc.offered; got != want {
				t.Errorf("Offered: got %v, want %v", got, want)
			}
			if got, want := ae.Key, ClientKeyDescription(signer); got != want {
				t.Errorf("Key: got %q, want %q", got, want)
			}
			if got, want := ae.User, tg.User; got != want {
				t.Errorf("User: got %q, want %q", got, want)
			}
			if got := err.Error(); !strings.Contains(got, tc.want) {
				t.Errorf("got %q, want it to contain %q", got, tc.want)
			}
			if n := len(line.Conns()); n != 1 {
				t.Errorf("%d connections, want 1", n)
			}
		})
	}
}
