package remote

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
	"github.com/productgalaxy/sops-deploy-action/internal/xssh/knownhosts"
)

// HostKeyError says the host's key is not the pinned one, is revoked, or
// the host is not in known_hosts. It holds public data only.
type HostKeyError struct {
	Host      string   // host:port
	Presented string   // fingerprint the server presented
	KeyType   string   // its key type
	Expected  []string // pinned fingerprints, or known key types and fingerprints
	Unknown   bool     // the host has no entry at all
	Revoked   bool
	// Seen lists every key ("type SHA256:…") the host presented while the
	// pinned types were tried, when there was more than one.
	Seen []string
	// Offered lists the host key algorithms the host offered when it has
	// none of the known types (then no key was presented at all).
	Offered []string
}

func (e *HostKeyError) Error() string {
	switch {
	case len(e.Offered) > 0:
		return fmt.Sprintf("host key mismatch for %s: it offers only %s host keys, expected %s; nothing was sent", e.Host, strings.Join(e.Offered, ", "), strings.Join(e.Expected, ", "))
	case len(e.Seen) > 1:
		return fmt.Sprintf("host key mismatch for %s: it presented %s, expected %s; nothing was sent", e.Host, strings.Join(e.Seen, ", "), strings.Join(e.Expected, ", "))
	case e.Revoked:
		return fmt.Sprintf("host key of %s (%s %s) is marked @revoked in known_hosts", e.Host, e.KeyType, e.Presented)
	case e.Unknown && e.Presented == "":
		return fmt.Sprintf("known_hosts has no entry for %s", e.Host)
	case e.Unknown:
		return fmt.Sprintf("known_hosts has no entry for %s (it presented %s %s)", e.Host, e.KeyType, e.Presented)
	}
	return fmt.Sprintf("host key mismatch for %s: it presented %s %s, expected %s; nothing was sent", e.Host, e.KeyType, e.Presented, strings.Join(e.Expected, ", "))
}

// Hint says what to do: add an unknown host, investigate a revoked key,
// and treat a mismatch as an attack unless the key was changed on purpose.
func (e *HostKeyError) Hint() string {
	switch {
	case e.Unknown:
		return fmt.Sprintf("add the host's key to known_hosts (from a trusted network: ssh-keyscan -p <port> <host>); the entry must name the host as %s", knownhosts.Normalize(e.Host))
	case e.Revoked:
		return "the host presents a revoked key: investigate before deploying"
	}
	return "if the host key was changed on purpose, update known_hosts or host_fingerprint; otherwise treat this as an attack and do not deploy"
}

// HostKeys checks a server's host key against known_hosts text or pinned
// SHA256 fingerprints. Build it with NewHostKeys.
type HostKeys struct {
	knownHosts ssh.HostKeyCallback
	caLines    map[int]bool // known_hosts line numbers of @cert-authority entries
	fps        map[string]bool
	fpList     []string
}

// NewHostKeys builds the checker from exactly one of knownHosts (the text of
// known_hosts lines) and fingerprints.
func NewHostKeys(knownHostsText string, fingerprints []string) (*HostKeys, error) {
	if (knownHostsText == "") == (len(fingerprints) == 0) {
		return nil, errors.New("exactly one of known_hosts and host_fingerprint must be set")
	}
	if len(fingerprints) > 0 {
		h := &HostKeys{fps: map[string]bool{}, fpList: fingerprints}
		for _, f := range fingerprints {
			h.fps[f] = true
		}
		return h, nil
	}
	// knownhosts only reads files. known_hosts is public data, so a
	// short-lived file is fine; it is removed before the parse returns.
	dir, err := os.MkdirTemp("", "sops-deploy-known-hosts-")
	if err != nil {
		return nil, fmt.Errorf("failed to create a temporary directory: %w", err)
	}
	defer os.RemoveAll(dir)
	f := filepath.Join(dir, "known_hosts")
	text := strings.ReplaceAll(strings.TrimPrefix(knownHostsText, "\uFEFF"), "\r\n", "\n")
	if err := os.WriteFile(f, []byte(text+"\n"), 0o600); err != nil {
		return nil, fmt.Errorf("failed to write known_hosts: %w", err)
	}
	// knownhosts skips a malformed line when others are valid; a typo in an
	// @revoked line would then go unnoticed, so every line is checked.
	for i, line := range strings.Split(text, "\n") {
		if l := strings.TrimSpace(line); l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if _, _, _, _, _, err := ssh.ParseKnownHosts([]byte(line)); err != nil {
			return nil, &KnownHostsError{Problem: fmt.Sprintf("line %d: not a known_hosts entry ([@marker] hosts key-type base64-key)", i+1)}
		}
	}
	cb, err := knownhosts.New(f)
	if err != nil {
		return nil, &KnownHostsError{Problem: knownHostsProblem(err, f)}
	}
	// knownhosts reports @cert-authority keys among a host's known keys
	// without marking them; remember their lines.
	caLines := map[int]bool{}
	for i, line := range strings.Split(text, "\n") {
		if w := strings.FieldsFunc(line, func(r rune) bool { return r == ' ' || r == '\t' }); len(w) > 0 && w[0] == "@cert-authority" {
			caLines[i+1] = true
		}
	}
	return &HostKeys{knownHosts: cb, caLines: caLines}, nil
}

// KnownHostsError reports malformed known_hosts input.
type KnownHostsError struct{ Problem string }

func (e *KnownHostsError) Error() string { return "input known_hosts: " + e.Problem }

// Hint says how to fix it.
func (e *KnownHostsError) Hint() string { return "pass known_hosts lines as printed by ssh-keyscan" }

// knownhosts skips lines it cannot parse and fails only when no line is
// valid, with "knownhosts: <file>: no valid entries, line <n>: <problem>".
var noValidEntriesRE = regexp.MustCompile(`^no valid entries, line (\d+): (.*)$`)

func knownHostsProblem(err error, file string) string {
	// Keep the line and drop the temporary file name.
	msg := strings.ReplaceAll(err.Error(), file+": ", "")
	msg = strings.ReplaceAll(msg, file, "known_hosts")
	msg = strings.ReplaceAll(msg, "knownhosts: ", "")
	if m := noValidEntriesRE.FindStringSubmatch(msg); m != nil {
		return "line " + m[1] + ": " + m[2]
	}
	return msg
}

// dummyKey is a key no host has; asking knownhosts about it lists the keys
// that are known for a host.
var dummyKey = func() ssh.PublicKey {
	k, err := ssh.NewPublicKey(ed25519.PublicKey(make([]byte, ed25519.PublicKeySize)))
	if err != nil {
		panic(err)
	}
	return k
}()

// pinnedAlgorithms are offered, in this order, to a host pinned by
// fingerprints: a fingerprint does not say its key type, so a host with
// several keys presents its ed25519 key first, and the other types are
// tried (see dialSSH) before a mismatch is declared. No certificate
// algorithms: a pinned fingerprint names a plain key, and a host that has a
// certificate would otherwise present the certificate.
var pinnedAlgorithms = []string{
	ssh.KeyAlgoED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
	ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
}

// Pinned reports whether h checks fingerprints rather than known_hosts.
func (h *HostKeys) Pinned() bool { return h.knownHosts == nil }

// withoutKeyType drops from algos every algorithm that presents a key of
// keyType (for ssh-rsa: all RSA signature algorithms).
func withoutKeyType(algos []string, keyType string) []string {
	drop := map[string]bool{}
	for _, a := range algorithmsFor(keyType) {
		drop[a] = true
	}
	var out []string
	for _, a := range algos {
		if !drop[a] {
			out = append(out, a)
		}
	}
	return out
}

// Expected describes what would be accepted for addr: the pinned
// fingerprints, or the known_hosts entries for it.
func (h *HostKeys) Expected(addr string) []string {
	if h.knownHosts == nil {
		return h.fpList
	}
	var ke *knownhosts.KeyError
	if err := h.knownHosts(addr, fakeAddr(addr), dummyKey); !errors.As(err, &ke) {
		return nil
	}
	return h.describeWant(ke.Want)
}

func (h *HostKeys) describeWant(want []knownhosts.KnownKey) []string {
	var out []string
	for _, w := range want {
		if h.caLines[w.Line] {
			out = append(out, fmt.Sprintf("a host certificate signed by %s %s (known_hosts line %d, @cert-authority)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Line))
			continue
		}
		out = append(out, fmt.Sprintf("%s %s (known_hosts line %d)", w.Key.Type(), ssh.FingerprintSHA256(w.Key), w.Line))
	}
	return out
}

// Algorithms returns the host key algorithms to offer for addr (host:port)
// so that a host with several key types presents one that is pinned
// (golang/go#29286). Nil means no preference.
func (h *HostKeys) Algorithms(addr string) []string {
	if h.knownHosts == nil {
		return pinnedAlgorithms
	}
	err := h.knownHosts(addr, fakeAddr(addr), dummyKey)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) || len(ke.Want) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	for _, w := range ke.Want {
		as := algorithmsFor(w.Key.Type())
		if h.caLines[w.Line] {
			// A CA of any type can certify a host key of any type.
			as = certAlgorithms
		}
		for _, a := range as {
			if !seen[a] {
				seen[a] = true
				algos = append(algos, a)
			}
		}
	}
	return algos
}

var certAlgorithms = []string{
	ssh.CertAlgoED25519v01,
	ssh.CertAlgoECDSA256v01, ssh.CertAlgoECDSA384v01, ssh.CertAlgoECDSA521v01,
	ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01,
}

func algorithmsFor(keyType string) []string {
	switch keyType {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	}
	return []string{keyType}
}

func fakeAddr(addr string) net.Addr {
	host, port, _ := net.SplitHostPort(addr)
	p, _ := strconv.Atoi(port)
	return &net.TCPAddr{IP: net.ParseIP(host), Port: p}
}

// Knows reports whether a host key could be accepted for addr at all:
// always with pinned fingerprints, and with known_hosts when some entry
// (a key or a certificate authority) matches addr.
func (h *HostKeys) Knows(addr string) bool {
	if h.knownHosts == nil {
		return true
	}
	var ke *knownhosts.KeyError
	err := h.knownHosts(addr, fakeAddr(addr), dummyKey)
	return err == nil || !errors.As(err, &ke) || len(ke.Want) > 0
}

// Check verifies key for addr (host:port) and returns a *HostKeyError when
// it is not trusted.
func (h *HostKeys) Check(addr string, remote net.Addr, key ssh.PublicKey) error {
	presented := ssh.FingerprintSHA256(key)
	if h.knownHosts == nil {
		if h.fps[presented] {
			return nil
		}
		// A pin names a plain key; a certificate for that key carries it.
		if cert, ok := key.(*ssh.Certificate); ok && h.fps[ssh.FingerprintSHA256(cert.Key)] {
			return nil
		}
		return &HostKeyError{Host: addr, Presented: presented, KeyType: key.Type(), Expected: h.fpList}
	}
	err := h.knownHosts(addr, remote, key)
	if err == nil {
		return nil
	}
	he := &HostKeyError{Host: addr, Presented: presented, KeyType: key.Type()}
	var ke *knownhosts.KeyError
	var re *knownhosts.RevokedError
	switch {
	case errors.As(err, &re):
		he.Revoked = true
	case errors.As(err, &ke) && len(ke.Want) == 0:
		he.Unknown = true
	case errors.As(err, &ke):
		he.Expected = h.describeWant(ke.Want)
	default:
		// Certificates signed by an unknown or wrong authority and similar.
		he.Expected = []string{"a key or certificate trusted by known_hosts"}
	}
	return he
}
