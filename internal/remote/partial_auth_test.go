package remote

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// TestPartialSuccessAuth: a host that accepts the key but then requires a
// password too (sshd's AuthenticationMethods publickey,password) is told
// apart from one that refuses the key or takes no keys. (From a review:
// it said the host did not accept public key authentication.)
func TestPartialSuccessAuth(t *testing.T) {
	t.Parallel()
	host, _ := sshtest.NewKey(t)
	_, clientPEM := sshtest.NewKey(t)
	cfg := &gossh.ServerConfig{
		PublicKeyCallback: func(gossh.ConnMetadata, gossh.PublicKey) (*gossh.Permissions, error) {
			return nil, &gossh.PartialSuccessError{Next: gossh.ServerAuthCallbacks{
				PasswordCallback: func(gossh.ConnMetadata, []byte) (*gossh.Permissions, error) { return nil, errors.New("no") },
			}}
		},
	}
	cfg.AddHostKey(host)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer nc.Close(); gossh.NewServerConn(nc, cfg) }()
		}
	}()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	p, _ := strconv.Atoi(port)
	hk, err := NewHostKeys("", []string{gossh.FingerprintSHA256(host.PublicKey())})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Dial(context.Background(), Target{Host: "127.0.0.1", Port: p, User: "deploy"}, signerFromPEM(t, clientPEM), hk, Options{Timeouts: fastTimeouts})
	var ae *AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("Dial = %v, want an AuthError", err)
	}
	if msg := ae.Error(); !strings.Contains(msg, "accepted the ssh_key") || !strings.Contains(msg, "password") {
		t.Errorf("message %q does not say the key was accepted and a password is required too", msg)
	}
	if h := ae.Hint(); !strings.Contains(h, "AuthenticationMethods publickey") {
		t.Errorf("hint %q", h)
	}
	if Transient(err) {
		t.Error("an AuthError is retried")
	}
}
