package remote_test

import (
	"io"
	"testing"

	gossh "golang.org/x/crypto/ssh"

	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// The client side runs the fork (internal/xssh); the in-process test
// servers run upstream x/crypto/ssh. These convert keys at the boundary.

// upstreamKey is k as upstream's type, for a test server's configuration.
func upstreamKey(t testing.TB, k ssh.PublicKey) gossh.PublicKey {
	t.Helper()
	u, err := gossh.ParsePublicKey(k.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// upstreamSigner lets a test server sign with s (a host key).
func upstreamSigner(t testing.TB, s ssh.Signer) gossh.Signer {
	return &signerAdapter{s: s, pub: upstreamKey(t, s.PublicKey())}
}

type signerAdapter struct {
	s   ssh.Signer
	pub gossh.PublicKey
}

func (a *signerAdapter) PublicKey() gossh.PublicKey { return a.pub }

func (a *signerAdapter) Sign(rand io.Reader, data []byte) (*gossh.Signature, error) {
	sig, err := a.s.Sign(rand, data)
	if err != nil {
		return nil, err
	}
	return &gossh.Signature{Format: sig.Format, Blob: sig.Blob, Rest: sig.Rest}, nil
}

// forkKey is a test server's key k as the fork's type.
func forkKey(t testing.TB, k gossh.PublicKey) ssh.PublicKey {
	t.Helper()
	f, err := ssh.ParsePublicKey(k.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	return f
}
