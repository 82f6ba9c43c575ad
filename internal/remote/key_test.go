package remote_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/secret"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

const testPassphrase = "correct horse battery staple"

// testKey is a generated private key in one encoding.
type testKey struct {
	pem []byte
	pub ssh.PublicKey
}

func ed25519Key(t testing.TB) (ed25519.PrivateKey, ssh.PublicKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return priv, sp
}

// openSSHKey returns a fresh ed25519 key in the OpenSSH format.
func openSSHKey(t testing.TB) testKey {
	t.Helper()
	priv, pub := ed25519Key(t)
	block, err := ssh.MarshalPrivateKey(priv, "test key")
	if err != nil {
		t.Fatal(err)
	}
	return testKey{pem: pem.EncodeToMemory(block), pub: pub}
}

// encryptedKey is made once, by the real ssh-keygen (as users make
// theirs), with one bcrypt round: at OpenSSH's default of 16 each parse
// costs about a tenth of a second of CPU, and the rounds change nothing
// ParseSigner does.
var encryptedKey = sync.OnceValues(func() (testKey, error) {
	dir, err := os.MkdirTemp("", "remote-key-test-")
	if err != nil {
		return testKey{}, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "id_ed25519")
	out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-a", "1", "-N", testPassphrase, "-C", "test key", "-f", path).CombinedOutput()
	if err != nil {
		return testKey{}, fmt.Errorf("ssh-keygen: %v\n%s", err, out)
	}
	pemBytes, err := os.ReadFile(path)
	if err != nil {
		return testKey{}, err
	}
	pubLine, err := os.ReadFile(path + ".pub")
	if err != nil {
		return testKey{}, err
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(pubLine)
	return testKey{pem: pemBytes, pub: pub}, err
})

// haveKeygen reports whether ssh-keygen, which encrypted needs, is found.
func haveKeygen() bool {
	_, err := exec.LookPath("ssh-keygen")
	return err == nil
}

// encrypted returns an ed25519 key in the OpenSSH format encrypted with
// testPassphrase. Without ssh-keygen it ends the test by testenv.Missing.
func encrypted(t testing.TB) testKey {
	t.Helper()
	if !haveKeygen() {
		testenv.Missing(t, "ssh-keygen not found; install openssh-client")
	}
	k, err := encryptedKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func rsaPKCS1Key(t testing.TB) testKey {
	t.Helper()
	priv := sshtest.RSAKey(t)
	pub, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{pem: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(priv)}), pub: pub}
}

func ecdsaSEC1Key(t testing.TB) testKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalECPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{pem: pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), pub: pub}
}

func pkcs8Key(t testing.TB) testKey {
	t.Helper()
	priv, pub := ed25519Key(t)
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return testKey{pem: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pub: pub}
}

// longLines returns the lines of s that are long enough to be key
// material.
func longLines(s string) []string {
	var out []string
	for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
		if line = strings.TrimSpace(line); len(line) >= 12 {
			out = append(out, line)
		}
	}
	return out
}

// keyLines returns the base64 body lines of a PEM key.
func keyLines(pemText []byte) []string {
	var out []string
	for _, line := range longLines(string(pemText)) {
		if !strings.HasPrefix(line, "-----") {
			out = append(out, line)
		}
	}
	return out
}

func TestParseSigner(t *testing.T) {
	t.Parallel()
	plain := openSSHKey(t)
	// Only the cases that use enc need ssh-keygen: without it they end by
	// testenv.Missing one by one, and the others still run.
	var enc testKey
	if haveKeygen() {
		enc = encrypted(t)
	}
	rsaKey := rsaPKCS1Key(t)
	ecKey := ecdsaSEC1Key(t)
	p8Key := pkcs8Key(t)
	lines := strings.Split(strings.TrimSpace(string(plain.pem)), "\n")
	if len(lines) < 4 {
		t.Fatalf("generated key has %d lines, want at least 4", len(lines))
	}
	const ageKey = "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"

	for _, tc := range []struct {
		name       string
		key        string
		passphrase string
		secret     []byte        // the key whose lines must never be echoed
		wantPub    ssh.PublicKey // success
		wantErr    string        // substring of the problem
		enc        bool          // uses enc, which ssh-keygen made
	}{
		{name: "openssh", key: string(plain.pem), secret: plain.pem, wantPub: plain.pub},
		{name: "openssh without final newline", key: strings.TrimSpace(string(plain.pem)), secret: plain.pem, wantPub: plain.pub},
		{name: "crlf bom blank lines", key: "\uFEFF\r\n\r\n" + strings.ReplaceAll(string(plain.pem), "\n", "\r\n") + "\r\n\r\n", secret: plain.pem, wantPub: plain.pub},
		{name: "cr only", key: strings.ReplaceAll(string(plain.pem), "\n", "\r"), secret: plain.pem, wantPub: plain.pub},
		{name: "surrounding spaces", key: "  \n\t" + string(plain.pem) + " \n ", secret: plain.pem, wantPub: plain.pub},
		{name: "unencrypted key with a passphrase set", key: string(plain.pem), passphrase: "unused", secret: plain.pem, wantPub: plain.pub},
		{name: "rsa pkcs1", key: string(rsaKey.pem), secret: rsaKey.pem, wantPub: rsaKey.pub},
		{name: "ecdsa sec1", key: string(ecKey.pem), secret: ecKey.pem, wantPub: ecKey.pub},
		{name: "pkcs8", key: string(p8Key.pem), secret: p8Key.pem, wantPub: p8Key.pub},
		{name: "encrypted with passphrase", enc: true, key: string(enc.pem), passphrase: testPassphrase, secret: enc.pem, wantPub: enc.pub},
		{name: "encrypted crlf with passphrase", enc: true, key: strings.ReplaceAll(string(enc.pem), "\n", "\r\n"), passphrase: testPassphrase, secret: enc.pem, wantPub: enc.pub},

		{name: "public key", key: string(ssh.MarshalAuthorizedKey(plain.pub)), wantErr: "public key"},
		{name: "public key with comment", key: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rsaKey.pub))) + " deploy@ci\n", wantErr: "public key"},
		{name: "ecdsa public key", key: string(ssh.MarshalAuthorizedKey(ecKey.pub)), wantErr: "public key"},
		{name: "newlines replaced by spaces", key: strings.ReplaceAll(string(plain.pem), "\n", " "), secret: plain.pem, wantErr: "single line"},
		{name: "newlines as literal backslash n", key: strings.ReplaceAll(string(plain.pem), "\n", `\n`), secret: plain.pem, wantErr: "single line"},
		{name: "missing END line", key: strings.Join(lines[:len(lines)-1], "\n"), secret: plain.pem, wantErr: "cut short"},
		{name: "cut in half", key: strings.Join(lines[:len(lines)/2], "\n"), secret: plain.pem, wantErr: "cut short"},
		{name: "missing BEGIN line", key: strings.Join(lines[1:], "\n"), secret: plain.pem, wantErr: "-----BEGIN"},
		{name: "body only", key: strings.Join(lines[1:len(lines)-1], "\n"), secret: plain.pem, wantErr: "-----BEGIN"},
		{name: "corrupted body", key: strings.Replace(string(plain.pem), lines[1], strings.Repeat("A", len(lines[1])), 1), secret: plain.pem, wantErr: "not a private key"},
		{name: "line missing from body", key: strings.Replace(string(plain.pem), lines[2]+"\n", "", 1), secret: plain.pem, wantErr: "not a private key"},
		{name: "certificate pem", key: "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUW0o1\n-----END CERTIFICATE-----\n", wantErr: "not a private key"},
		{name: "encrypted without passphrase", enc: true, key: string(enc.pem), secret: enc.pem, wantErr: "passphrase"},
		{name: "encrypted with wrong passphrase", enc: true, key: string(enc.pem), passphrase: "wrong horse battery staple", secret: enc.pem, wantErr: "could not be decrypted"},
		{name: "age key", key: ageKey + "\n", secret: []byte(ageKey), wantErr: "age key"},
		{name: "age key file", key: "# created: 2024-01-01T00:00:00Z\n# public key: age1xyz\n" + ageKey + "\n", secret: []byte(ageKey), wantErr: "age key"},
		{name: "putty", key: "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nComment: test\n", wantErr: "PuTTY"},
		{name: "garbage", key: "not a key at all", wantErr: "-----BEGIN"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.enc {
				encrypted(t) // without ssh-keygen: a skip, or a failure under CI
			}
			signer, err := remote.ParseSigner(secret.NewString(tc.key), secret.NewString(tc.passphrase))
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("ParseSigner: %v", err)
				}
				if got, want := ssh.FingerprintSHA256(signer.PublicKey()), ssh.FingerprintSHA256(tc.wantPub); got != want {
					t.Errorf("public key: got %q, want %q", got, want)
				}
				if got, want := remote.ClientKeyDescription(signer), tc.wantPub.Type()+" "+ssh.FingerprintSHA256(tc.wantPub); got != want {
					t.Errorf("ClientKeyDescription: got %q, want %q", got, want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseSigner succeeded, want an error about %q", tc.wantErr)
			}
			if signer != nil {
				t.Errorf("ParseSigner returned a signer with its error")
			}
			var ke *remote.KeyError
			if !errors.As(err, &ke) {
				t.Fatalf("error is %T (%v), want *remote.KeyError", err, err)
			}
			if got, want := ke.Problem, tc.wantErr; !strings.Contains(got, want) {
				t.Errorf("Problem: got %q, want it to contain %q", got, want)
			}
			if ke.Hint() == "" {
				t.Errorf("error %q has no hint", err)
			}
			if got, want := err.Error(), "input ssh_key: "+ke.Problem; got != want {
				t.Errorf("got %q, want %q", got, want)
			}
			for _, text := range []string{err.Error(), ke.Hint()} {
				for _, line := range append(keyLines(tc.secret), longLines(tc.key)...) {
					if strings.Contains(text, line) {
						t.Errorf("error text %q echoes a line of the key", text)
					}
				}
				if len(tc.passphrase) > 0 && strings.Contains(text, tc.passphrase) {
					t.Errorf("error text %q echoes the passphrase", text)
				}
			}
		})
	}
}

// TestParseSignerWrongPassphraseError pins what x/crypto returns for a wrong
// passphrase, which ParseSigner relies on to say so.
func TestParseSignerWrongPassphraseError(t *testing.T) {
	t.Parallel()
	enc := encrypted(t)
	_, err := ssh.ParsePrivateKeyWithPassphrase(enc.pem, []byte("wrong"))
	if !errors.Is(err, x509.IncorrectPasswordError) {
		t.Errorf("x/crypto returned %v for a wrong passphrase, want x509.IncorrectPasswordError", err)
	}
	var missing *ssh.PassphraseMissingError
	if _, err := ssh.ParsePrivateKey(enc.pem); !errors.As(err, &missing) {
		t.Errorf("x/crypto returned %v without a passphrase, want *ssh.PassphraseMissingError", err)
	}
}

// publicTexts collects the messages and hints ParseSigner gives for short
// probe inputs. They are fixed texts: a fuzzed input line that happens to
// be part of one of them is not a leak.
func publicTexts(t testing.TB, encrypted []byte) []string {
	t.Helper()
	var out []string
	for _, in := range []struct{ key, pass string }{
		{"ssh-ed25519 AAAA", ""},
		{"AGE-SECRET-KEY-1", ""},
		{"PuTTY-User-Key-File-3", ""},
		{"x", ""},
		{"-----BEGIN X----- y", ""},
		{"-----BEGIN X-----\ny", ""},
		{"-----BEGIN X-----\ny\n-----END X-----", ""},
		{string(encrypted), ""},
		{string(encrypted), "wrong"},
	} {
		_, err := remote.ParseSigner(secret.NewString(in.key), secret.NewString(in.pass))
		var ke *remote.KeyError
		if !errors.As(err, &ke) {
			t.Fatalf("ParseSigner(%q) = %v, want a *remote.KeyError", in.key, err)
		}
		out = append(out, err.Error(), ke.Hint())
	}
	return out
}

func FuzzParseSigner(f *testing.F) {
	plain := openSSHKey(f)
	enc := encrypted(f)
	f.Add(string(plain.pem), "")
	f.Add(strings.ReplaceAll(string(plain.pem), "\n", "\r\n"), "")
	f.Add(string(enc.pem), testPassphrase)
	f.Add(string(enc.pem), "")
	f.Add(string(enc.pem), "wrong")
	f.Add(string(rsaPKCS1Key(f).pem), "")
	f.Add(string(ecdsaSEC1Key(f).pem), "")
	f.Add(string(pkcs8Key(f).pem), "")
	f.Add(string(ssh.MarshalAuthorizedKey(plain.pub)), "")
	f.Add("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQ\n-----END OPENSSH PRIVATE KEY-----\n", "")
	f.Add("AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ", "")
	f.Add("garbage", "")
	fixed := publicTexts(f, enc.pem)
	f.Fuzz(func(t *testing.T, key, passphrase string) {
		if passphrase != "" && slowKDF(key) {
			t.Skip("bcrypt rounds too high for a fuzz run")
		}
		signer, err := remote.ParseSigner(secret.NewString(key), secret.NewString(passphrase))
		if err == nil {
			if signer == nil {
				t.Fatal("ParseSigner returned neither a signer nor an error")
			}
			return
		}
		var ke *remote.KeyError
		if !errors.As(err, &ke) {
			t.Fatalf("error is %T, want *remote.KeyError", err)
		}
		for _, text := range []string{err.Error(), ke.Hint()} {
			for _, line := range longLines(key + "\n" + passphrase) {
				if strings.Contains(text, line) && !containsAny(fixed, line) {
					t.Fatalf("error text echoes an input line")
				}
			}
		}
	})
}

func containsAny(texts []string, s string) bool {
	for _, text := range texts {
		if strings.Contains(text, s) {
			return true
		}
	}
	return false
}

// slowKDF reports whether key is an OpenSSH key whose bcrypt KDF asks for
// so many rounds that trying a passphrase would stall the fuzzer.
func slowKDF(key string) bool {
	block, _ := pem.Decode([]byte(secret.NormalizeKeyText(key) + "\n"))
	if block == nil {
		return false
	}
	const magic = "openssh-key-v1\x00"
	if !bytes.HasPrefix(block.Bytes, []byte(magic)) {
		return false
	}
	var w struct {
		CipherName, KdfName, KdfOpts string
		Rest                         []byte `ssh:"rest"`
	}
	if ssh.Unmarshal(block.Bytes[len(magic):], &w) != nil || w.KdfName != "bcrypt" {
		return false
	}
	var opts struct {
		Salt   string
		Rounds uint32
	}
	return ssh.Unmarshal([]byte(w.KdfOpts), &opts) == nil && opts.Rounds > 64
}
