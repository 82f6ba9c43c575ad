package remote_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
	"github.com/productgalaxy/sops-deploy-action/internal/xssh/knownhosts"
)

func newEd25519Signer(t testing.TB) ssh.Signer {
	t.Helper()
	_, pemBytes := sshtest.NewKey(t) // upstream's type: the fork's from the PEM
	s, err := ssh.ParsePrivateKey(pemBytes)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newECDSASigner(t testing.TB) ssh.Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newRSASigner(t testing.TB) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(sshtest.RSAKey(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// entry is a known_hosts line for pattern and key.
func entry(pattern string, key ssh.PublicKey) string {
	return pattern + " " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// describe is how HostKeyError.Expected names a known key.
func describe(key ssh.PublicKey, line string) string {
	return key.Type() + " " + ssh.FingerprintSHA256(key) + " (known_hosts line " + line + ")"
}

func tcpAddr(addr string) net.Addr {
	a, err := net.ResolveTCPAddr("tcp", addr)
	if err != nil {
		return &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: 22}
	}
	return a
}

func newHostKeys(t *testing.T, knownHosts string, fps []string) *remote.HostKeys {
	t.Helper()
	hk, err := remote.NewHostKeys(knownHosts, fps)
	if err != nil {
		t.Fatalf("NewHostKeys: %v", err)
	}
	return hk
}

func TestNewHostKeysNeedsExactlyOne(t *testing.T) {
	t.Parallel()
	k := newEd25519Signer(t).PublicKey()
	for _, tc := range []struct {
		name string
		kh   string
		fps  []string
	}{
		{"neither", "", nil},
		{"empty list", "", []string{}},
		{"both", entry("vps", k), []string{ssh.FingerprintSHA256(k)}},
	} {
		if hk, err := remote.NewHostKeys(tc.kh, tc.fps); err == nil || hk != nil {
			t.Errorf("%s: NewHostKeys = %v, %v; want nil and an error", tc.name, hk, err)
		}
	}
}

func TestHostKeysKnownHosts(t *testing.T) {
	t.Parallel()
	a := newEd25519Signer(t).PublicKey()
	b := newEd25519Signer(t).PublicKey()
	ec := newECDSASigner(t).PublicKey()
	rsaKey := newRSASigner(t).PublicKey()

	for _, tc := range []struct {
		name string
		kh   string
		addr string
		key  ssh.PublicKey
		// want is "" for success, or "unknown", "revoked", "mismatch".
		want         string
		wantExpected []string
	}{
		{name: "plain", kh: entry("vps.example.com", a), addr: "vps.example.com:22", key: a},
		{name: "plain among others", kh: entry("other", b) + "\n" + entry("vps.example.com", a) + "\n", addr: "vps.example.com:22", key: a},
		{name: "pattern list", kh: entry("vps,vps.example.com,10.0.0.1", a), addr: "10.0.0.1:22", key: a},
		{name: "wildcard", kh: entry("*.example.com", a), addr: "vps.example.com:22", key: a},
		{name: "crlf and bom", kh: "\uFEFF# scanned\r\n" + entry("vps.example.com", a) + "\r\n", addr: "vps.example.com:22", key: a},
		{name: "comments and blank lines", kh: "# vps.example.com:22 SSH-2.0-OpenSSH_9.2p1\n\n" + entry("vps.example.com", a), addr: "vps.example.com:22", key: a},
		{name: "plain entry, other port", kh: entry("vps.example.com", a), addr: "vps.example.com:2222", key: a, want: "unknown"},
		{name: "bracketed port", kh: entry("[127.0.0.1]:2222", a), addr: "127.0.0.1:2222", key: a},
		{name: "bracketed port, port 22", kh: entry("[127.0.0.1]:2222", a), addr: "127.0.0.1:22", key: a, want: "unknown"},
		{name: "ipv6", kh: entry("[::1]:2222", a), addr: "[::1]:2222", key: a},
		{name: "hashed", kh: entry(knownhosts.HashHostname("secret.example.com"), a), addr: "secret.example.com:22", key: a},
		{name: "hashed with port", kh: entry(knownhosts.HashHostname("[127.0.0.1]:2222"), a), addr: "127.0.0.1:2222", key: a},
		{name: "hashed, other host", kh: entry(knownhosts.HashHostname("secret.example.com"), a), addr: "other.example.com:22", key: a, want: "unknown"},
		{name: "hashed mismatch", kh: entry(knownhosts.HashHostname("secret.example.com"), a), addr: "secret.example.com:22", key: b, want: "mismatch", wantExpected: []string{describe(a, "1")}},
		{name: "unknown host", kh: entry("vps.example.com", a), addr: "db.example.com:22", key: a, want: "unknown"},
		{name: "mismatch", kh: entry("vps.example.com", a), addr: "vps.example.com:22", key: b, want: "mismatch", wantExpected: []string{describe(a, "1")}},
		{name: "mismatch line number", kh: "# comment\n\n" + entry("vps.example.com", a), addr: "vps.example.com:22", key: b, want: "mismatch", wantExpected: []string{describe(a, "3")}},
		{name: "two types, ed25519", kh: entry("vps", a) + "\n" + entry("vps", rsaKey), addr: "vps:22", key: a},
		{name: "two types, rsa", kh: entry("vps", a) + "\n" + entry("vps", rsaKey), addr: "vps:22", key: rsaKey},
		{name: "two types, other key", kh: entry("vps", a) + "\n" + entry("vps", rsaKey), addr: "vps:22", key: ec, want: "mismatch", wantExpected: []string{describe(a, "1"), describe(rsaKey, "2")}},
		{name: "revoked", kh: "@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(b))) + "\n" + entry("vps", a), addr: "vps:22", key: b, want: "revoked"},
		{name: "revoked but listed", kh: entry("vps", b) + "\n@revoked vps " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(b))), addr: "vps:22", key: b, want: "revoked"},
		{name: "other key revoked", kh: entry("vps", a) + "\n@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(b))), addr: "vps:22", key: a},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hk := newHostKeys(t, tc.kh, nil)
			err := hk.Check(tc.addr, tcpAddr(tc.addr), tc.key)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var he *remote.HostKeyError
			if !errors.As(err, &he) {
				t.Fatalf("Check = %v (%T), want *remote.HostKeyError", err, err)
			}
			if got, want := he.Host, tc.addr; got != want {
				t.Errorf("Host: got %q, want %q", got, want)
			}
			if got, want := he.Presented, ssh.FingerprintSHA256(tc.key); got != want {
				t.Errorf("Presented: got %q, want %q", got, want)
			}
			if got, want := he.KeyType, tc.key.Type(); got != want {
				t.Errorf("KeyType: got %q, want %q", got, want)
			}
			if got, want := he.Unknown, tc.want == "unknown"; got != want {
				t.Errorf("Unknown: got %v, want %v", got, want)
			}
			if got, want := he.Revoked, tc.want == "revoked"; got != want {
				t.Errorf("Revoked: got %v, want %v", got, want)
			}
			if got, want := he.Expected, tc.wantExpected; !reflect.DeepEqual(got, want) {
				t.Errorf("Expected: got %q, want %q", got, want)
			}
			msg := err.Error()
			for _, want := range append([]string{tc.addr, he.Presented}, tc.wantExpected...) {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not mention %q", msg, want)
				}
			}
			if want := map[string]string{"unknown": "no entry", "revoked": "@revoked", "mismatch": "mismatch"}[tc.want]; !strings.Contains(msg, want) {
				t.Errorf("error %q does not say %q", msg, want)
			}
		})
	}
}

func TestHostKeysAlgorithms(t *testing.T) {
	t.Parallel()
	a := newEd25519Signer(t).PublicKey()
	ec := newECDSASigner(t).PublicKey()
	rsaKey := newRSASigner(t).PublicKey()

	for _, tc := range []struct {
		name string
		kh   string
		fps  []string
		addr string
		want []string
	}{
		{name: "ed25519", kh: entry("vps", a), addr: "vps:22", want: []string{ssh.KeyAlgoED25519}},
		{name: "ecdsa", kh: entry("vps", ec), addr: "vps:22", want: []string{ssh.KeyAlgoECDSA256}},
		{name: "rsa", kh: entry("vps", rsaKey), addr: "vps:22", want: []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
		{name: "two types in file order", kh: entry("vps", a) + "\n" + entry("vps", rsaKey), addr: "vps:22",
			want: []string{ssh.KeyAlgoED25519, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
		{name: "rsa first", kh: entry("vps", rsaKey) + "\n" + entry("vps", ec), addr: "vps:22",
			want: []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA, ssh.KeyAlgoECDSA256}},
		{name: "same type twice", kh: entry("vps", a) + "\n" + entry("vps", newEd25519Signer(t).PublicKey()), addr: "vps:22", want: []string{ssh.KeyAlgoED25519}},
		{name: "only this host's keys", kh: entry("vps", a) + "\n" + entry("other", rsaKey), addr: "vps:22", want: []string{ssh.KeyAlgoED25519}},
		{name: "bracketed port", kh: entry("[127.0.0.1]:2222", ec) + "\n" + entry("127.0.0.1", a), addr: "127.0.0.1:2222", want: []string{ssh.KeyAlgoECDSA256}},
		{name: "hashed", kh: entry(knownhosts.HashHostname("[127.0.0.1]:2222"), rsaKey), addr: "127.0.0.1:2222", want: []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
		{name: "unknown host", kh: entry("vps", a), addr: "other:22", want: nil},
		// A fingerprint has no type: ed25519 first, no certificates.
		{name: "fingerprints", fps: []string{ssh.FingerprintSHA256(a)}, addr: "vps:22", want: []string{ssh.KeyAlgoED25519,
			ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hk := newHostKeys(t, tc.kh, tc.fps)
			if got, want := hk.Algorithms(tc.addr), tc.want; !reflect.DeepEqual(got, want) {
				t.Errorf("got %q, want %q", got, want)
			}
		})
	}
}

func TestHostKeysMalformed(t *testing.T) {
	t.Parallel()
	a := newEd25519Signer(t).PublicKey()
	rsaKey := newRSASigner(t).PublicKey()
	blob := strings.Fields(string(ssh.MarshalAuthorizedKey(a)))[1]
	for _, tc := range []struct {
		name     string
		kh       string
		wantLine string
	}{
		{"bad base64", "vps ssh-ed25519 !!!not-base64!!!", "line 1"},
		{"after comments", "# scanned\n\n# more\nvps ssh-ed25519 !!!not-base64!!!\n", "line 4"},
		{"no key", "vps ssh-ed25519", "line 1"},
		{"type mismatch", "# x\nvps ssh-rsa " + blob, "line 2"},
		{"truncated key", "vps ssh-ed25519 " + blob[:len(blob)/2], "line 1"},
		{"unknown marker", "@trusted vps " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rsaKey))), "line 1"},
		{"fingerprint instead", ssh.FingerprintSHA256(a), "line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hk, err := remote.NewHostKeys(tc.kh, nil)
			if err == nil {
				t.Fatalf("NewHostKeys = %v, want an error", hk)
			}
			var ke *remote.KnownHostsError
			if !errors.As(err, &ke) {
				t.Fatalf("error is %T (%v), want *remote.KnownHostsError", err, err)
			}
			msg := err.Error()
			if got, want := msg, "input known_hosts: "+tc.wantLine+":"; !strings.HasPrefix(got, want) {
				t.Errorf("got %q, want prefix %q", got, want)
			}
			for _, leak := range []string{os.TempDir(), "sops-deploy-known-hosts", "known_hosts:" + tc.wantLine[len("line "):], "knownhosts:"} {
				if strings.Contains(msg, leak) {
					t.Errorf("error %q holds %q", msg, leak)
				}
			}
		})
	}
}

func TestHostKeysFingerprints(t *testing.T) {
	t.Parallel()
	a := newEd25519Signer(t).PublicKey()
	b := newEd25519Signer(t).PublicKey()
	rsaKey := newRSASigner(t).PublicKey()
	pins := []string{ssh.FingerprintSHA256(a), ssh.FingerprintSHA256(rsaKey)}
	hk := newHostKeys(t, "", pins)
	const addr = "vps.example.com:22"

	for _, k := range []ssh.PublicKey{a, rsaKey} {
		if err := hk.Check(addr, tcpAddr("127.0.0.1:22"), k); err != nil {
			t.Errorf("Check(%s): %v", k.Type(), err)
		}
	}

	err := hk.Check(addr, tcpAddr("127.0.0.1:22"), b)
	var he *remote.HostKeyError
	if !errors.As(err, &he) {
		t.Fatalf("Check = %v (%T), want *remote.HostKeyError", err, err)
	}
	if got, want := he.Presented, ssh.FingerprintSHA256(b); got != want {
		t.Errorf("Presented: got %q, want %q", got, want)
	}
	if got, want := he.KeyType, ssh.KeyAlgoED25519; got != want {
		t.Errorf("KeyType: got %q, want %q", got, want)
	}
	if got, want := he.Expected, pins; !reflect.DeepEqual(got, want) {
		t.Errorf("Expected: got %q, want %q", got, want)
	}
	if got, want := he.Host, addr; got != want {
		t.Errorf("Host: got %q, want %q", got, want)
	}
	if he.Unknown || he.Revoked {
		t.Errorf("Unknown, Revoked = %v, %v; want false, false", he.Unknown, he.Revoked)
	}
	for _, want := range append([]string{"mismatch", addr, he.Presented}, pins...) {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}

	// A pin is not a prefix match.
	short := newHostKeys(t, "", []string{ssh.FingerprintSHA256(a)[:20]})
	if err := short.Check(addr, tcpAddr("127.0.0.1:22"), a); !errors.As(err, &he) {
		t.Errorf("Check with a truncated pin = %v, want *remote.HostKeyError", err)
	}
}

// hostCert certifies hostKey, signed by ca, for principals.
func hostCert(t testing.TB, hostKey ssh.PublicKey, ca ssh.Signer, principals []string, validBefore uint64) *ssh.Certificate {
	t.Helper()
	cert := &ssh.Certificate{
		Key:             hostKey,
		Serial:          1,
		CertType:        ssh.HostCert,
		KeyId:           "test host",
		ValidPrincipals: principals,
		ValidAfter:      0,
		ValidBefore:     validBefore,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestHostKeysCertAuthority(t *testing.T) {
	t.Parallel()
	ca := newEd25519Signer(t)
	otherCA := newEd25519Signer(t)
	rsaCA := newRSASigner(t)
	host := newEd25519Signer(t).PublicKey()
	principals := []string{"127.0.0.1", "vps.example.com"}
	good := hostCert(t, host, ca, principals, ssh.CertTimeInfinity)
	byOther := hostCert(t, host, otherCA, principals, ssh.CertTimeInfinity)
	byRSA := hostCert(t, host, rsaCA, principals, ssh.CertTimeInfinity)
	wrongPrincipal := hostCert(t, host, ca, []string{"db.example.com"}, ssh.CertTimeInfinity)
	expired := hostCert(t, host, ca, principals, uint64(time.Now().Add(-time.Hour).Unix()))
	userCert := hostCert(t, host, ca, principals, ssh.CertTimeInfinity)
	userCert.CertType = ssh.UserCert
	if err := userCert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}

	caLine := "@cert-authority [127.0.0.1]:2222,vps.example.com " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))
	rsaCALine := "@cert-authority * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(rsaCA.PublicKey())))
	for _, tc := range []struct {
		name string
		kh   string
		addr string
		key  ssh.PublicKey
		ok   bool
	}{
		{name: "trusted ca, ip and port", kh: caLine, addr: "127.0.0.1:2222", key: good, ok: true},
		{name: "trusted ca, name", kh: caLine, addr: "vps.example.com:22", key: good, ok: true},
		{name: "trusted rsa ca, wildcard", kh: rsaCALine, addr: "vps.example.com:22", key: byRSA, ok: true},
		{name: "ca among plain entries", kh: entry("vps.example.com", newEd25519Signer(t).PublicKey()) + "\n" + caLine, addr: "vps.example.com:22", key: good, ok: true},
		{name: "other ca", kh: caLine, addr: "127.0.0.1:2222", key: byOther},
		{name: "ca for other hosts", kh: caLine, addr: "127.0.0.1:22", key: good},
		{name: "trusted ca, wildcard with port", kh: "@cert-authority [*]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey()))), addr: "127.0.0.1:2222", key: good, ok: true},
		{name: "not a principal", kh: "@cert-authority [*]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey()))), addr: "127.0.0.2:2222", key: good},
		{name: "wrong principal", kh: caLine, addr: "127.0.0.1:2222", key: wrongPrincipal},
		{name: "expired", kh: caLine, addr: "127.0.0.1:2222", key: expired},
		{name: "user certificate", kh: caLine, addr: "127.0.0.1:2222", key: userCert},
		{name: "revoked host key", kh: caLine + "\n@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(host))), addr: "127.0.0.1:2222", key: good},
		{name: "revoked ca", kh: caLine + "\n@revoked * " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey()))), addr: "127.0.0.1:2222", key: good},
		{name: "plain key of a certified host", kh: caLine, addr: "127.0.0.1:2222", key: host},
		{name: "certificate as a plain entry", kh: entry("[127.0.0.1]:2222", good), addr: "127.0.0.1:2222", key: good},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hk := newHostKeys(t, tc.kh, nil)
			err := hk.Check(tc.addr, tcpAddr(tc.addr), tc.key)
			if tc.ok {
				if err != nil {
					t.Fatalf("Check: %v", err)
				}
				return
			}
			var he *remote.HostKeyError
			if !errors.As(err, &he) {
				t.Fatalf("Check = %v (%T), want *remote.HostKeyError", err, err)
			}
			if got, want := he.KeyType, tc.key.Type(); got != want {
				t.Errorf("KeyType: got %q, want %q", got, want)
			}
			if len(he.Expected) == 0 && !he.Unknown && !he.Revoked {
				t.Errorf("HostKeyError %q says neither what was expected nor why", err)
			}
			// The CA is not a host key: never tell the user to expect it as one.
			for _, e := range he.Expected {
				if strings.HasPrefix(e, ssh.KeyAlgoED25519+" "+ssh.FingerprintSHA256(ca.PublicKey())) {
					t.Errorf("Expected %q names the CA key as a host key", e)
				}
			}
		})
	}
}

// TestHostKeysCertAuthorityAlgorithms checks that a host trusted through a
// @cert-authority line is asked for a certificate: offering only the CA
// key's plain type would make the host present a plain key that no line
// trusts.
func TestHostKeysCertAuthorityAlgorithms(t *testing.T) {
	t.Parallel()
	ca := newEd25519Signer(t)
	plain := newRSASigner(t).PublicKey()
	caLine := "@cert-authority [127.0.0.1]:2222 " + strings.TrimSpace(string(ssh.MarshalAuthorizedKey(ca.PublicKey())))

	isCert := func(a string) bool { return strings.HasSuffix(a, "-cert-v01@openssh.com") }
	for _, tc := range []struct {
		name      string
		kh        string
		certFirst bool     // a certificate algorithm comes first
		allCerts  bool     // only certificate algorithms are offered
		want      []string // must all be offered
		notWant   []string // must not be offered
	}{
		{name: "ca only", kh: caLine, certFirst: true, allCerts: true,
			want: []string{ssh.CertAlgoED25519v01, ssh.CertAlgoECDSA256v01, ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01}},
		{name: "ca then plain", kh: caLine + "\n" + entry("[127.0.0.1]:2222", plain), certFirst: true,
			want: []string{ssh.CertAlgoED25519v01, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256}, notWant: []string{ssh.KeyAlgoED25519}},
		{name: "plain then ca", kh: entry("[127.0.0.1]:2222", plain) + "\n" + caLine,
			want: []string{ssh.KeyAlgoRSASHA512, ssh.CertAlgoED25519v01}, notWant: []string{ssh.KeyAlgoED25519}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := newHostKeys(t, tc.kh, nil).Algorithms("127.0.0.1:2222")
			if len(got) == 0 {
				t.Fatalf("Algorithms = nil, want certificate algorithms")
			}
			if got, want := isCert(got[0]), tc.certFirst; got != want {
				t.Errorf("first algorithm is a certificate: got %v, want %v", got, want)
			}
			for _, a := range got {
				if tc.allCerts && !isCert(a) {
					t.Errorf("got %q, want only certificate algorithms", got)
				}
			}
			for _, w := range tc.want {
				if !slices.Contains(got, w) {
					t.Errorf("got %q, want it to hold %q", got, w)
				}
			}
			for _, w := range tc.notWant {
				if slices.Contains(got, w) {
					t.Errorf("got %q, want it not to hold %q", got, w)
				}
			}
			seen := map[string]bool{}
			for _, a := range got {
				if seen[a] {
					t.Errorf("got %q, which lists %q twice", got, a)
				}
				seen[a] = true
			}
		})
	}
}

func TestKnownHostsBadLineAmongGoodOnes(t *testing.T) {
	t.Parallel()
	signer := newEd25519Signer(t)
	good := knownhosts.Line([]string{"[127.0.0.1]:2222"}, signer.PublicKey())
	for _, text := range []string{
		"# ssh-keyscan comment\n" + good + "\n@revoked ssh-ed25519 AAAA-not-base64\n",
		good + "\nthis is not an entry\n",
	} {
		_, err := remote.NewHostKeys(text, nil)
		var ke *remote.KnownHostsError
		if !errors.As(err, &ke) || !strings.Contains(err.Error(), "line ") {
			t.Errorf("remote.NewHostKeys(%q) = %v, want a KnownHostsError naming the line", text, err)
		}
	}
	if _, err := remote.NewHostKeys("# comment\n\n"+good+"\n", nil); err != nil {
		t.Errorf("valid text with comments refused: %v", err)
	}
}
