package remote

import (
	"context"
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// TestPinnedStockHost: a host with ed25519, ecdsa and rsa keys and an
// ed25519 host certificate, as a stock sshd has, connects when pinned by
// the fingerprint of any one of its keys, and presents ed25519 when several
// are pinned. A pin that matches none of its keys fails, naming every key
// seen, without retry and before the client key is offered.
func TestPinnedStockHost(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t, sshtest.WithStockHostKeys(), sshtest.WithHostCertificate())
	p := sshtest.StartCutProxy(t, s.Addr) // counts connections, cuts none
	target := Target{Host: p.Host, Port: p.Port, User: s.User}
	signer := signerFromPEM(t, s.ClientKeyPEM)
	dial := func(pins ...string) (*Conn, error) {
		hk, err := NewHostKeys("", pins)
		if err != nil {
			t.Fatal(err)
		}
		return Dial(context.Background(), target, signer, hk, Options{Timeouts: fastTimeouts})
	}

	// First, while sshd has seen no login: a pin that matches nothing.
	wrong := "SHA256:" + strings.Repeat("A", 43)
	_, err := dial(wrong)
	var he *HostKeyError
	if !errors.As(err, &he) {
		t.Fatalf("wrong pin: got %v (%T), want a *HostKeyError", err, err)
	}
	if Transient(err) {
		t.Errorf("a host key mismatch is classed transient")
	}
	for _, k := range s.HostKeys {
		if want := k.Type() + " " + ssh.FingerprintSHA256(k); !strings.Contains(err.Error(), want) {
			t.Errorf("mismatch error %q does not name %s", err, want)
		}
	}
	if !strings.Contains(err.Error(), wrong) {
		t.Errorf("mismatch error %q does not name the pin", err)
	}
	if n := p.Conns(); n > 4 {
		t.Errorf("%d connections for one mismatch, want at most 4", n)
	}
	if log := s.Log(); strings.Contains(log, ssh.FingerprintSHA256(s.ClientPublicKey())) {
		t.Errorf("the client key was offered to a host whose key matched no pin:\n%s", log)
	}

	for _, k := range s.HostKeys {
		c, err := dial(ssh.FingerprintSHA256(k))
		if err != nil {
			t.Errorf("pinned by its %s key: %v", k.Type(), err)
			continue
		}
		if got, want := c.HostKeyFingerprint, ssh.FingerprintSHA256(k); got != want {
			t.Errorf("pinned by its %s key: verified %s %s", k.Type(), c.HostKeyType, got)
		}
		c.Close()
	}
	var all []string
	for i := len(s.HostKeys) - 1; i >= 0; i-- {
		all = append(all, ssh.FingerprintSHA256(s.HostKeys[i]))
	}
	before := p.Conns()
	c, err := dial(all...)
	if err != nil {
		t.Fatalf("pinned by all its keys: %v", err)
	}
	defer c.Close()
	if got, want := c.HostKeyType, ssh.KeyAlgoED25519; got != want {
		t.Errorf("pinned by all its keys: verified %s, want %s", got, want)
	}
	if n := p.Conns() - before; n != 1 {
		t.Errorf("pinned by all its keys: %d connections, want 1", n)
	}
}

// TestKnownHostsOtherKeyType: known_hosts pins an ecdsa key for a host that
// has only an ed25519 key (an impostor, say). That is a host key mismatch,
// not a failed handshake, and it is not retried.
func TestKnownHostsOtherKeyType(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	other := sshtest.Start(t, sshtest.WithStockHostKeys())
	line := strings.Replace(other.KnownHosts, portOf(other.Addr), portOf(s.Addr), 1)
	line = strings.Replace(line, strings.TrimSpace(strings.SplitN(line, " ", 2)[1]), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(other.HostKeys[1]))), 1)
	hk, err := NewHostKeys(line, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Dial(context.Background(), Target{Host: s.Host, Port: s.Port, User: s.User}, signerFromPEM(t, s.ClientKeyPEM), hk, Options{Timeouts: fastTimeouts})
	var he *HostKeyError
	if !errors.As(err, &he) {
		t.Fatalf("got %v (%T), want a *HostKeyError", err, err)
	}
	if Transient(err) {
		t.Errorf("a host without any known key type is retried: %v", err)
	}
	for _, want := range []string{"mismatch", ssh.KeyAlgoED25519, ssh.FingerprintSHA256(other.HostKeys[1])} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}
