package sshtest_test

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// roundTrip writes a file over SFTP, reads it back and checks it.
func roundTrip(t *testing.T, s *sshtest.SSHD, cfg *ssh.ClientConfig) {
	t.Helper()
	conn, err := ssh.Dial("tcp", s.Addr, cfg)
	if err != nil {
		t.Fatalf("failed to dial %s: %v", s.Addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	client, err := sftp.NewClient(conn)
	if err != nil {
		t.Fatalf("failed to start sftp: %v", err)
	}
	t.Cleanup(func() { client.Close() })

	want := []byte("hello from " + s.Addr + "\n")
	path := filepath.Join(t.TempDir(), "secrets.env")
	f, err := client.Create(path)
	if err != nil {
		t.Fatalf("failed to create %s: %v", path, err)
	}
	if _, err := f.Write(want); err != nil {
		t.Fatalf("failed to write: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatalf("failed to close: %v", err)
	}

	f, err = client.Open(path)
	if err != nil {
		t.Fatalf("failed to open: %v", err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatalf("failed to read: %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %q over sftp, want %q", got, want)
	}
	local, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("failed to read local file: %v", err)
	}
	if !bytes.Equal(local, want) {
		t.Fatalf("file on disk is %q, want %q", local, want)
	}
}

func TestStartSFTPRoundTrip(t *testing.T) {
	s := sshtest.Start(t)
	if s.Addr == "" || s.Port == 0 || s.User == "" || s.HostKey == nil {
		t.Fatalf("incomplete SSHD: %+v", s)
	}
	if s.Fingerprint != ssh.FingerprintSHA256(s.HostKey) {
		t.Errorf("Fingerprint = %q, want %q", s.Fingerprint, ssh.FingerprintSHA256(s.HostKey))
	}
	roundTrip(t, s, s.ClientConfig(t))
}

func TestClientKeyPEMAndKnownHosts(t *testing.T) {
	s := sshtest.Start(t)

	signer, err := ssh.ParsePrivateKey(s.ClientKeyPEM)
	if err != nil {
		t.Fatalf("failed to parse ClientKeyPEM: %v", err)
	}
	khPath := filepath.Join(t.TempDir(), "known_hosts")
	if err := os.WriteFile(khPath, []byte(s.KnownHosts+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hostKeyCallback, err := knownhosts.New(khPath)
	if err != nil {
		t.Fatalf("failed to parse KnownHosts line %q: %v", s.KnownHosts, err)
	}
	if !strings.HasPrefix(s.KnownHosts, "[127.0.0.1]:") {
		t.Errorf("KnownHosts = %q, want [127.0.0.1]:port prefix", s.KnownHosts)
	}
	roundTrip(t, s, &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeyCallback,
	})
}

func TestWrongHostKeyRejected(t *testing.T) {
	a := sshtest.Start(t)
	b := sshtest.Start(t)
	cfg := a.ClientConfig(t)
	cfg.HostKeyCallback = ssh.FixedHostKey(b.HostKey)
	conn, err := ssh.Dial("tcp", a.Addr, cfg)
	if err == nil {
		conn.Close()
		t.Fatal("dial succeeded with the wrong host key")
	}
}

func TestParallelServers(t *testing.T) {
	for _, host := range []string{"127.0.0.1", "127.0.0.2"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			s := sshtest.Start(t, sshtest.WithListenAddr(host))
			if s.Host != host {
				t.Errorf("Host = %q, want %q", s.Host, host)
			}
			roundTrip(t, s, s.ClientConfig(t))
		})
	}
}
