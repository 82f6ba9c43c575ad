package ssh

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"

	gossh "golang.org/x/crypto/ssh"
)

// authAgainstUpstream runs upstream's server over a socket pair and the
// fork's client with auth, and returns the methods the server saw tried,
// in order, and the client's error.
func authAgainstUpstream(t *testing.T, authorized PublicKey, passwords bool, auth []AuthMethod) ([]string, error) {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	hostSigner, err := gossh.NewSignerFromKey(hostPriv)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var tried []string
	cfg := &gossh.ServerConfig{
		PublicKeyCallback: func(_ gossh.ConnMetadata, key gossh.PublicKey) (*gossh.Permissions, error) {
			if authorized != nil && bytes.Equal(key.Marshal(), authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("not authorized")
		},
		AuthLogCallback: func(_ gossh.ConnMetadata, method string, _ error) {
			mu.Lock()
			tried = append(tried, method)
			mu.Unlock()
		},
	}
	if passwords {
		cfg.PublicKeyCallback = nil
		cfg.PasswordCallback = func(gossh.ConnMetadata, []byte) (*gossh.Permissions, error) {
			return nil, errors.New("wrong password")
		}
	}
	cfg.AddHostKey(hostSigner)
	hostKey, err := ParsePublicKey(hostSigner.PublicKey().Marshal())
	if err != nil {
		t.Fatal(err)
	}
	// A loopback socket pair: net.Pipe has no buffer, and both sides
	// write their version first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c1, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	c2, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		defer c2.Close()
		sc, chans, reqs, err := gossh.NewServerConn(c2, cfg)
		if err != nil {
			return
		}
		go gossh.DiscardRequests(reqs)
		go func() {
			for ch := range chans {
				ch.Reject(gossh.Prohibited, "no channels")
			}
		}()
		sc.Close()
	})
	cc, _, _, err := NewClientConn(c1, "pipe", &ClientConfig{User: "deploy", Auth: auth, HostKeyCallback: FixedHostKey(hostKey)})
	if cc != nil {
		cc.Close()
	}
	c1.Close()
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	return tried, err
}

func newTestSigner(t *testing.T, key any) Signer {
	t.Helper()
	s, err := NewSignerFromKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestPatchedAuth: no "none" probe for any key type; a refused key still
// fails, a second key is still tried, and a host that takes no public
// keys still gets the next configured method. (Upstream's server does
// not log a query it answers with PK_OK; that there is none is shown by
// the round-trip counts in internal/remote's TestSessionRoundTrips.)
func TestPatchedAuth(t *testing.T) {
	_, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	ecPriv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rsaPriv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		key  any
	}{{"ed25519", edPriv}, {"ecdsa", ecPriv}, {"rsa", rsaPriv}} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSigner(t, tc.key)
			tried, err := authAgainstUpstream(t, s.PublicKey(), false, []AuthMethod{PublicKeys(s)})
			if err != nil {
				t.Fatalf("auth: %v", err)
			}
			if want := []string{"publickey"}; !slices.Equal(tried, want) {
				t.Errorf("server saw %q, want %q (no none, no query)", tried, want)
			}
		})
	}
	t.Run("refused key", func(t *testing.T) {
		s := newTestSigner(t, edPriv)
		tried, err := authAgainstUpstream(t, nil, false, []AuthMethod{PublicKeys(s)})
		if err == nil {
			t.Fatal("auth succeeded")
		}
		if want := []string{"publickey"}; !slices.Equal(tried, want) {
			t.Errorf("server saw %q, want %q", tried, want)
		}
	})
	t.Run("second key", func(t *testing.T) {
		refused, accepted := newTestSigner(t, edPriv), newTestSigner(t, ecPriv)
		tried, err := authAgainstUpstream(t, accepted.PublicKey(), false, []AuthMethod{PublicKeys(refused, accepted)})
		if err != nil {
			t.Fatalf("auth: %v", err)
		}
		if want := []string{"publickey", "publickey"}; !slices.Equal(tried, want) {
			t.Errorf("server saw %q, want %q", tried, want)
		}
	})
	t.Run("passwords only", func(t *testing.T) {
		s := newTestSigner(t, edPriv)
		tried, err := authAgainstUpstream(t, nil, true, []AuthMethod{PublicKeys(s), Password("x")})
		if err == nil {
			t.Fatal("auth succeeded")
		}
		if want := []string{"publickey", "password"}; !slices.Equal(tried, want) {
			t.Errorf("server saw %q, want %q", tried, want)
		}
	})
	t.Run("no method", func(t *testing.T) {
		tried, _ := authAgainstUpstream(t, nil, false, nil)
		if want := []string{"none"}; !slices.Equal(tried, want) {
			t.Errorf("server saw %q, want %q", tried, want)
		}
	})
}
