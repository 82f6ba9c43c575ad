// Package sshtest starts a real OpenSSH server for tests.
//
// Each server runs as a child process of the test binary, listens on a
// loopback address and keeps everything (config, keys, log) in a
// t.TempDir(). The system sshd and /etc/ssh are never touched. The login
// user is the user running the tests.
//
// The package is meant to be imported from _test.go files only.
package sshtest

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

const (
	// startAttempts bounds retries when sshd loses the race for its port.
	startAttempts = 3
	// readyTimeout bounds how long one sshd start may take to serve a banner.
	readyTimeout = 10 * time.Second
	// stopTimeout bounds how long cleanup waits after SIGTERM before SIGKILL.
	stopTimeout = 5 * time.Second
)

var (
	sshdCandidates = []string{"/usr/sbin/sshd"}
	sftpCandidates = []string{
		"/usr/lib/openssh/sftp-server",
		"/usr/libexec/openssh/sftp-server",
		"/usr/lib/ssh/sftp-server",
	}
)

// SSHD describes a running OpenSSH server started by Start.
type SSHD struct {
	// Host is the IP address sshd listens on, "127.0.0.1" by default.
	Host string
	// Port is the TCP port sshd listens on.
	Port int
	// Addr is Host:Port, suitable for ssh.Dial.
	Addr string
	// User is the login user: the user running the tests.
	User string
	// HostKey is the server's ed25519 host key.
	HostKey ssh.PublicKey
	// HostKeys are all its host keys: HostKey, then those WithStockHostKeys
	// adds.
	HostKeys []ssh.PublicKey
	// HostCA is the authority that signed HostKey's certificate, when
	// started WithHostCertificate.
	HostCA ssh.PublicKey
	// KnownHosts is a single known_hosts line for HostKey at Addr,
	// e.g. "[127.0.0.1]:40123 ssh-ed25519 AAAA...".
	KnownHosts string
	// Fingerprint is ssh.FingerprintSHA256(HostKey).
	Fingerprint string
	// ClientKeyPEM is an OpenSSH-format PEM private key (ed25519, no
	// passphrase) authorized to log in as User.
	ClientKeyPEM []byte
	// Dir is the temporary directory holding sshd_config, keys and the log.
	Dir string

	clientSigner ssh.Signer
	authKeysPath string
	logPath      string
}

// Option configures Start.
type Option func(*options)

type options struct {
	listenHost string
	extraKeys  []ssh.PublicKey
	chroot     string
	stockKeys  bool
	hostCert   bool
	subsystem  string
	noSFTP     bool
	force      string
	noPubkey   bool
}

// WithStockHostKeys gives the server ecdsa (P-256) and rsa host keys next
// to its ed25519 one, as a stock Debian or Ubuntu sshd has, listed in that
// order in sshd_config. The rsa key is RSAKey: the same for every server
// of a test binary.
func WithStockHostKeys() Option {
	return func(o *options) { o.stockKeys = true }
}

// WithHostCertificate makes the server present a certificate for its
// ed25519 host key, signed by a fresh authority (SSHD.HostCA), to clients
// that offer certificate algorithms.
func WithHostCertificate() Option {
	return func(o *options) { o.hostCert = true }
}

// WithSubsystem replaces the sftp subsystem's command line, e.g. with a
// missing binary or one that prints text first. The command runs through
// the login user's shell.
func WithSubsystem(command string) Option {
	return func(o *options) { o.subsystem = command }
}

// WithoutSFTP leaves the Subsystem sftp line out of sshd_config, so the
// server refuses the sftp subsystem request.
func WithoutSFTP() Option {
	return func(o *options) { o.noSFTP = true }
}

// WithForceCommand makes sshd run command (through the login user's
// shell) for every session, whatever the client asked for.
func WithForceCommand(command string) Option {
	return func(o *options) { o.force = command }
}

// WithoutPublicKeyAuth turns public key authentication off and password
// authentication on, as on a host that allows passwords only.
func WithoutPublicKeyAuth() Option {
	return func(o *options) { o.noPubkey = true }
}

// WithChroot confines SFTP sessions to dir (sshd's ChrootDirectory with
// internal-sftp), so each server has a file system of its own and remote
// paths such as /etc/galaxy/secrets/galaxy.yaml land under dir. dir and
// its parents must be owned by root and not writable by others.
func WithChroot(dir string) Option {
	return func(o *options) { o.chroot = dir }
}

// WithAuthorizedKey authorizes key, in addition to the generated client
// key, to log in as the test user.
func WithAuthorizedKey(key ssh.PublicKey) Option {
	return func(o *options) { o.extraKeys = append(o.extraKeys, key) }
}

// WithListenAddr makes sshd listen on host (an IP address such as
// "127.0.0.2") instead of 127.0.0.1. Any 127.0.0.0/8 address works on
// Linux without further setup.
func WithListenAddr(host string) Option {
	return func(o *options) { o.listenHost = host }
}

// Start starts sshd for the duration of the test and stops it in
// t.Cleanup. Without sshd or sftp-server it ends the test by
// testenv.Missing: a skip, or a failure under CI.
func Start(t testing.TB, opts ...Option) *SSHD {
	t.Helper()
	o := options{listenHost: "127.0.0.1"}
	for _, opt := range opts {
		opt(&o)
	}

	sshdPath := findSSHD()
	if sshdPath == "" {
		testenv.Missing(t, "sshd not found; install openssh-server")
	}
	sftpPath := findFile(sftpCandidates)
	if sftpPath == "" {
		testenv.Missing(t, "sftp-server not found; install openssh-server")
	}

	u, err := user.Current()
	if err != nil {
		t.Fatalf("failed to look up current user: %v", err)
	}
	if os.Geteuid() == 0 {
		// Privilege separation needs this directory when sshd runs as root.
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Logf("sshtest: failed to create /run/sshd: %v", err)
		}
	}

	s := &SSHD{Host: o.listenHost, User: u.Username, Dir: t.TempDir()}
	s.logPath = filepath.Join(s.Dir, "sshd.log")
	s.authKeysPath = filepath.Join(s.Dir, "authorized_keys")
	hostKeyPath, extraHostConfig := s.writeKeys(t, o)
	s.launch(t, o, sshdPath, sftpPath, hostKeyPath, extraHostConfig)
	s.KnownHosts = knownhosts.Line([]string{knownhosts.Normalize(s.Addr)}, s.HostKey)
	return s
}

// writeKeys writes the host keys (and the certificate) and the client's
// authorized_keys, and returns the ed25519 host key's path and the
// sshd_config lines of the other host keys.
func (s *SSHD) writeKeys(t testing.TB, o options) (hostKeyPath, extraHostConfig string) {
	t.Helper()
	hostKeyPath = filepath.Join(s.Dir, "ssh_host_ed25519_key")
	hostKey, hostKeyPEM, err := generateKey("sshtest host key")
	if err != nil {
		t.Fatal(err)
	}
	s.HostKey = hostKey.PublicKey()
	s.Fingerprint = ssh.FingerprintSHA256(s.HostKey)
	if err := os.WriteFile(hostKeyPath, hostKeyPEM, 0o600); err != nil {
		t.Fatalf("failed to write host key: %v", err)
	}
	s.HostKeys = []ssh.PublicKey{s.HostKey}
	if o.stockKeys {
		extraHostConfig += s.addStockHostKeys(t)
	}
	if o.hostCert {
		extraHostConfig += s.addHostCertificate(t, hostKey, hostKeyPath)
	}

	s.clientSigner, s.ClientKeyPEM, err = generateKey("sshtest client key")
	if err != nil {
		t.Fatal(err)
	}
	var authKeys bytes.Buffer
	for _, k := range append([]ssh.PublicKey{s.clientSigner.PublicKey()}, o.extraKeys...) {
		authKeys.Write(ssh.MarshalAuthorizedKey(k))
	}
	// sshd reads authorized_keys as the login user, so other local users
	// (the sudo tests log in as them) must be able to reach and read it.
	if err := os.WriteFile(s.authKeysPath, authKeys.Bytes(), 0o644); err != nil {
		t.Fatalf("failed to write authorized_keys: %v", err)
	}
	for _, d := range []string{s.Dir, filepath.Dir(s.Dir)} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatalf("failed to open up %s: %v", d, err)
		}
	}

	return hostKeyPath, extraHostConfig
}

// launch starts sshd on a free port, retrying a lost race for it, and
// stops it in t.Cleanup.
func (s *SSHD) launch(t testing.TB, o options, sshdPath, sftpPath, hostKeyPath, extraHostConfig string) {
	t.Helper()
	configPath := filepath.Join(s.Dir, "sshd_config")
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatalf("failed to create sshd log: %v", err)
	}
	defer logFile.Close() // the child keeps its own descriptor

	feat := probeFeatures(t, sshdPath, sshdConfig(s.Host, 22, hostKeyPath, s.authKeysPath, sftpPath, true), s.Dir)
	for attempt := 1; ; attempt++ {
		port, err := freePort(s.Host)
		if err != nil {
			t.Fatal(err)
		}
		cfg := o.apply(sshdConfig(s.Host, port, hostKeyPath, s.authKeysPath, sftpPath, feat.penalties)+extraHostConfig, sftpPath)
		if err := os.WriteFile(configPath, []byte(cfg), 0o600); err != nil {
			t.Fatalf("failed to write sshd_config: %v", err)
		}
		fmt.Fprintf(logFile, "=== sshtest: starting sshd on %s:%d (attempt %d)\n", s.Host, port, attempt)
		p, err := startProcess(sshdPath, configPath, logFile, feat.noReexec)
		if err != nil {
			t.Fatal(err)
		}
		addr := net.JoinHostPort(s.Host, strconv.Itoa(port))
		err = waitReady(addr, p.exited)
		if err == nil {
			s.Port = port
			s.Addr = addr
			t.Cleanup(func() {
				p.stop()
				if t.Failed() {
					t.Logf("sshd log (%s):\n%s", s.logPath, s.readLog())
				}
			})
			break
		}
		p.stop()
		// A rejected config gets sshd's own words; anything else is taken
		// for a lost race for the port.
		if out, err := exec.Command(sshdPath, "-t", "-f", configPath).CombinedOutput(); err != nil {
			t.Fatalf("sshd rejected its config %s: %v\n%s", configPath, err, out)
		}
		fmt.Fprintf(logFile, "=== sshtest: attempt %d failed: %v\n", attempt, err)
		if attempt >= startAttempts {
			t.Fatalf("failed to start sshd after %d attempts: %v\nsshd log:\n%s", attempt, err, s.readLog())
		}
	}

}

// addStockHostKeys writes ecdsa and rsa host keys and returns their
// sshd_config lines.
func (s *SSHD) addStockHostKeys(t testing.TB) string {
	t.Helper()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rk := RSAKey(t)
	lines := ""
	for _, k := range []struct {
		name string
		priv crypto.Signer
	}{{"ecdsa", ec}, {"rsa", rk}} {
		block, err := ssh.MarshalPrivateKey(k.priv, "sshtest host key")
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(s.Dir, "ssh_host_"+k.name+"_key")
		if err := os.WriteFile(p, pem.EncodeToMemory(block), 0o600); err != nil {
			t.Fatal(err)
		}
		pub, err := ssh.NewPublicKey(k.priv.Public())
		if err != nil {
			t.Fatal(err)
		}
		s.HostKeys = append(s.HostKeys, pub)
		lines += "HostKey " + p + "\n"
	}
	return lines
}

// addHostCertificate signs the ed25519 host key with a fresh authority and
// returns the sshd_config line that presents the certificate.
func (s *SSHD) addHostCertificate(t testing.TB, hostKey ssh.Signer, hostKeyPath string) string {
	t.Helper()
	ca, _, err := generateKey("sshtest host CA")
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{
		Key: hostKey.PublicKey(), CertType: ssh.HostCert, KeyId: "sshtest",
		ValidPrincipals: []string{s.Host}, ValidBefore: ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	s.HostCA = ca.PublicKey()
	p := hostKeyPath + "-cert.pub"
	if err := os.WriteFile(p, ssh.MarshalAuthorizedKey(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	return "HostCertificate " + p + "\n"
}

// SFTPServerPath returns the path of the sftp-server binary the servers
// use, or "" when none is installed.
func SFTPServerPath() string { return findFile(sftpCandidates) }

// ClientConfig returns a client config that logs in as s.User with the
// generated client key and accepts only s.HostKey.
func (s *SSHD) ClientConfig(t testing.TB) *ssh.ClientConfig {
	t.Helper()
	return &ssh.ClientConfig{
		User:            s.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(s.clientSigner)},
		HostKeyCallback: ssh.FixedHostKey(s.HostKey),
		Timeout:         10 * time.Second,
	}
}

// ClientPublicKey is the public half of ClientKeyPEM.
func (s *SSHD) ClientPublicKey() ssh.PublicKey { return s.clientSigner.PublicKey() }

// Authorize adds key to the server's authorized_keys; sshd reads the file
// on every login, so it takes effect at once.
func (s *SSHD) Authorize(t testing.TB, key ssh.PublicKey) {
	t.Helper()
	f, err := os.OpenFile(s.authKeysPath, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatalf("failed to open authorized_keys: %v", err)
	}
	defer f.Close()
	if _, err := f.Write(ssh.MarshalAuthorizedKey(key)); err != nil {
		t.Fatalf("failed to write authorized_keys: %v", err)
	}
}

// Log returns the sshd log so far.
func (s *SSHD) Log() string { return s.readLog() }

func (s *SSHD) readLog() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(failed to read sshd log: %v)", err)
	}
	return string(b)
}

func findSSHD() string {
	if p := findFile(sshdCandidates); p != "" {
		return p
	}
	p, err := exec.LookPath("sshd")
	if err != nil {
		return ""
	}
	// sshd refuses to re-exec itself unless started by absolute path.
	abs, err := filepath.Abs(p)
	if err != nil {
		return ""
	}
	return abs
}

func findFile(candidates []string) string {
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p
		}
	}
	return ""
}

// generateKey returns a fresh ed25519 signer and its OpenSSH PEM encoding.
func generateKey(comment string) (ssh.Signer, []byte, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to generate ed25519 key: %w", err)
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to create signer: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, nil, fmt.Errorf("failed to marshal private key: %w", err)
	}
	return signer, pem.EncodeToMemory(block), nil
}

func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, fmt.Errorf("failed to pick a free port on %s: %w", host, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func sshdConfig(host string, port int, hostKey, authKeys, sftpServer string, penalties bool) string {
	lines := []string{
		"ListenAddress " + host,
		"Port " + strconv.Itoa(port),
		"HostKey " + hostKey,
		"AuthorizedKeysFile " + authKeys,
		"PidFile none",
		"PubkeyAuthentication yes",
		"PasswordAuthentication no",
		"KbdInteractiveAuthentication no",
		"PermitRootLogin prohibit-password",
		"StrictModes no",
		"UsePAM no",
		"UseDNS no",
		"X11Forwarding no",
		"AllowTcpForwarding local", // jump host tests forward through it
		"AllowAgentForwarding no",
		"PrintMotd no",
		"LogLevel VERBOSE",
		"MaxStartups 100",
		"MaxSessions 50",
		"Subsystem sftp " + sftpServer,
		// sshd runs every session, sftp-server included, through the
		// login shell, and bash sources ~/.bashrc when SSH_CLIENT is set
		// and it is a top-level shell (SHLVL unset or 0). The test
		// user's rc file is not the host under test (pyenv init here
		// added 0.4 s to every session; one that prints would break
		// them all); SHLVL=1 makes bash a nested shell that skips it.
		// WithSubsystem covers a chatty shell on purpose.
		"SetEnv SHLVL=1",
	}
	if penalties {
		// Tests deliberately fail logins; newer sshd would penalize 127.0.0.1.
		lines = append(lines, "PerSourcePenalties no")
	}
	return strings.Join(lines, "\n") + "\n"
}

// apply edits a base sshd_config for the options.
func (o options) apply(cfg, sftpPath string) string {
	if o.subsystem != "" {
		cfg = strings.Replace(cfg, "Subsystem sftp "+sftpPath, "Subsystem sftp "+o.subsystem, 1)
	}
	if o.noSFTP {
		cfg = strings.Replace(cfg, "Subsystem sftp "+sftpPath+"\n", "", 1)
	}
	if o.noPubkey {
		cfg = strings.Replace(cfg, "PubkeyAuthentication yes\nPasswordAuthentication no\n", "PubkeyAuthentication no\nPasswordAuthentication yes\n", 1)
	}
	if o.force != "" {
		cfg += "ForceCommand " + o.force + "\n"
	}
	if o.chroot != "" {
		cfg = strings.Replace(cfg, "Subsystem sftp "+sftpPath, "Subsystem sftp internal-sftp", 1) +
			"ChrootDirectory " + o.chroot + "\nForceCommand internal-sftp\n"
	}
	return cfg
}

// features is what this machine's sshd accepts, learnt once per test
// binary: every Start used to run sshd -t once or twice to find out.
type features struct {
	// penalties: PerSourcePenalties is known (OpenSSH 9.8 and later).
	penalties bool
	// noReexec: -r works (OpenSSH before 9.8, where sshd re-executes
	// itself for every connection unless told not to; later versions
	// always execute sshd-session, and take -r only to log "-r option is
	// deprecated"). Without the re-exec a session costs a fork instead of
	// a new sshd reading its config and keys: a quarter of the CPU of the
	// tests that use sshd. What a session does on the wire is the same.
	noReexec bool
}

var (
	featuresOnce sync.Once
	featuresOf   features
)

// probeFeatures learns this machine's sshd features once per test binary
// (probe).
func probeFeatures(t testing.TB, sshdPath, cfg, dir string) features {
	t.Helper()
	featuresOnce.Do(func() { featuresOf = probe(sshdPath, cfg, dir) })
	return featuresOf
}

// probe runs sshd -t on cfg (a base config) with and without the newer
// options, writing it under dir.
func probe(sshdPath, cfg, dir string) features {
	var f features
	path := filepath.Join(dir, "sshd_config.probe")
	check := func(cfg string, args ...string) ([]byte, error) {
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			return nil, err
		}
		return exec.Command(sshdPath, append(args, "-t", "-f", path)...).CombinedOutput()
	}
	out, err := check(cfg)
	f.penalties = err == nil || !bytes.Contains(out, []byte("PerSourcePenalties"))
	if !f.penalties {
		cfg = strings.Replace(cfg, "PerSourcePenalties no\n", "", 1)
	}
	// OpenSSH 9.8 and later accept -r but ignore it, saying so.
	out, err = check(cfg, "-r")
	f.noReexec = err == nil && !bytes.Contains(out, []byte("-r option is deprecated"))
	return f
}

type process struct {
	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait has returned
}

func startProcess(sshdPath, configPath string, logFile *os.File, noReexec bool) (*process, error) {
	// -D: do not daemonize; -e: log to stderr, which is the log file.
	args := []string{"-D", "-e", "-f", configPath}
	if noReexec {
		args = append(args, "-r")
	}
	cmd := exec.Command(sshdPath, args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("failed to start sshd: %w", err)
	}
	p := &process{cmd: cmd, exited: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// stop terminates sshd and waits for it (and the goroutine waiting on it).
func (p *process) stop() {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitReady polls addr until it sends an SSH-2.0 banner, sshd exits, or
// readyTimeout passes.
func waitReady(addr string, exited <-chan struct{}) error {
	deadline := time.Now().Add(readyTimeout)
	lastErr := errors.New("no attempt made")
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("sshd exited before serving %s (last probe: %w)", addr, lastErr)
		default:
		}
		if lastErr = probeBanner(addr); lastErr == nil {
			return nil
		}
		select {
		case <-exited:
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("timed out after %v waiting for sshd banner on %s: %w", readyTimeout, addr, lastErr)
}

func probeBanner(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return fmt.Errorf("failed to connect: %w", err)
	}
	defer c.Close()
	if err := c.SetReadDeadline(time.Now().Add(2 * time.Second)); err != nil {
		return fmt.Errorf("failed to set read deadline: %w", err)
	}
	line, err := bufio.NewReaderSize(c, 256).ReadSlice('\n')
	if err != nil {
		return fmt.Errorf("failed to read banner: %w", err)
	}
	if !bytes.HasPrefix(line, []byte("SSH-2.0-")) {
		return fmt.Errorf("unexpected banner %q", line)
	}
	return nil
}

// ChrootDir returns a fresh directory for WithChroot, removed in
// t.Cleanup. sshd wants every component of a chroot owned by root and not
// writable by others, which rules out the usual temporary directories: it
// lives under /run. It needs root: the test fails under CI=true without
// it, and skips elsewhere.
func ChrootDir(t testing.TB) string {
	t.Helper()
	testenv.MustHaveRoot(t, "sshd's ChrootDirectory")
	root, err := os.MkdirTemp("/run", "sops-deploy-chroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	if err := os.Chmod(root, 0o755); err != nil {
		t.Fatal(err)
	}
	return root
}

// RSAKey returns a 2048-bit RSA key, the same one for the whole test
// binary: generating one takes a tenth of a second or more of CPU, and
// the tests that use it need an RSA key, not a fresh one.
func RSAKey(t testing.TB) *rsa.PrivateKey {
	t.Helper()
	k, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) })

// NewKey returns a fresh ed25519 key as a signer and in the OpenSSH PEM
// encoding (no passphrase) an ssh_key input holds. No server authorizes
// it until told to (WithAuthorizedKey, Authorize).
func NewKey(t testing.TB) (ssh.Signer, []byte) {
	t.Helper()
	signer, pemBytes, err := generateKey("sshtest key")
	if err != nil {
		t.Fatal(err)
	}
	return signer, pemBytes
}
