package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"

	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// Target is where to connect and as whom.
type Target struct {
	Host string // name or address, without brackets
	Port int
	User string
}

// Addr returns host:port, with brackets around IPv6 addresses.
func (t Target) Addr() string { return net.JoinHostPort(t.Host, strconv.Itoa(t.Port)) }

// Timeouts bound each phase of a connection.
type Timeouts struct {
	Connect   time.Duration // TCP connect
	Handshake time.Duration // SSH handshake and authentication
	Op        time.Duration // each SFTP operation (a stalled server is cut off)
}

// DefaultTimeouts suit a VPS across the internet.
var DefaultTimeouts = Timeouts{Connect: 15 * time.Second, Handshake: 30 * time.Second, Op: 60 * time.Second}

// Options shape a connection.
type Options struct {
	Timeouts Timeouts
	// Jump, when set, is a bastion reached first; the target is dialled
	// through it. Its host key is checked with the same HostKeys.
	Jump *Target
	// Sudo runs the SFTP server through `sudo -n` over an exec channel, so
	// the install runs with root rights.
	Sudo bool
	// Trace, when set, is called with the name of each step of the
	// connection as the client takes it (key exchange, auth, channel, each
	// SFTP request by type). For the round-trip benchmark; never names a
	// path or content.
	Trace func(event string)
	// State carries what earlier attempts of this run did on this host;
	// nil starts afresh.
	State *RunState
}

// ConnectError says the TCP connection or the SSH handshake failed for a
// reason other than the host key or authentication.
type ConnectError struct {
	Addr  string
	Phase string // "connect to", "handshake with", "start SFTP on"
	Err   error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("failed to %s %s: %v", e.Phase, e.Addr, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// Hint says how to fix it: the cause decides whether the host is
// unreachable, refused a channel, or does not run sshd with SFTP.
func (e *ConnectError) Hint() string {
	var oce *ssh.OpenChannelError
	switch {
	case errors.As(e.Err, &oce):
		return "the server refused the channel: on a jump host allow forwarding for the user (AllowTcpForwarding local); on the target allow SFTP (Subsystem sftp)"
	case errors.Is(e.Err, context.DeadlineExceeded):
		return "check that the host is up and that its SSH port is reachable from the runner"
	}
	return "check host and port, and that sshd runs on the host and allows SFTP (Subsystem sftp)"
}

// AuthError says the server refused the client key.
type AuthError struct {
	User, Addr string
	Key        string // key type and fingerprint, public
	Offered    bool   // false when the server did not offer public key auth
	// Then lists the methods the server asks for after accepting the
	// key (sshd's AuthenticationMethods publickey,…); empty otherwise.
	Then []string
}

func (e *AuthError) Error() string {
	if len(e.Then) > 0 {
		return fmt.Sprintf("%s@%s accepted the ssh_key (%s) but then requires %s too; the action logs in with a key only", e.User, e.Addr, e.Key, strings.Join(e.Then, " or "))
	}
	if !e.Offered {
		return fmt.Sprintf("%s@%s does not accept public key authentication", e.User, e.Addr)
	}
	return fmt.Sprintf("%s@%s refused the ssh_key (%s)", e.User, e.Addr, e.Key)
}

// Hint says how to fix it.
func (e *AuthError) Hint() string {
	if len(e.Then) > 0 {
		return fmt.Sprintf("let %s log in with the key alone: AuthenticationMethods publickey in a Match User block of the host's sshd_config", e.User)
	}
	if !e.Offered {
		return "enable PubkeyAuthentication in the host's sshd_config"
	}
	return fmt.Sprintf("add the public key of ssh_key to ~%s/.ssh/authorized_keys on the host, and check the user input", e.User)
}

// SudoError says the SFTP server could not be started through sudo.
type SudoError struct {
	User, Addr string
	Stderr     string // the first line sudo printed; remote text, print quoted
}

func (e *SudoError) Error() string {
	if e.Stderr == "" {
		return "failed to start the SFTP server through sudo -n"
	}
	return fmt.Sprintf("failed to start the SFTP server through sudo -n: %q", e.Stderr)
}

// Hint says how to fix it.
func (e *SudoError) Hint() string {
	return fmt.Sprintf("let the login user run sftp-server as root without a password: add `%s ALL=(root) NOPASSWD: /usr/lib/openssh/sftp-server` (RHEL: /usr/libexec/openssh/sftp-server) with visudo -f /etc/sudoers.d/sops-deploy", e.User)
}

// OpTimeoutError says one SFTP operation took longer than Timeouts.Op, so
// the connection was cut.
type OpTimeoutError struct{ After time.Duration }

func (e *OpTimeoutError) Error() string {
	return fmt.Sprintf("an SFTP operation stalled for more than %s; the connection was closed; %s", e.After, OldOrNew)
}

// Hint says what to check.
func (e *OpTimeoutError) Hint() string {
	return "check the host's disk and load; the deploy is retried on such failures up to the retries input"
}

// Conn is an SSH connection with an SFTP session.
type Conn struct {
	ssh  *ssh.Client
	wire *wireConn // what c.ssh runs over
	addr string    // the target's host:port
	// version reads the server's VERSION behind pkg/sftp's back (see
	// version.go); nil on the sudo path, where pkg/sftp waits for it.
	version *earlyVersion
	jump    *ssh.Client
	sftp    *sftp.Client
	session *ssh.Session // the sudo exec channel, if any
	// HostKeyFingerprint is the verified host key's SHA256 fingerprint.
	HostKeyFingerprint string
	// HostKeyType is the verified host key's type.
	HostKeyType string
	opTimeout   time.Duration
	timedOut    atomic.Bool
	stop        func() bool
	closeOnce   sync.Once
	// ctx is Dial's. Once it is done no new operation starts, except the
	// clean-up (cleaning), and the connection closes cancelGrace later.
	ctx      context.Context
	cleaning atomic.Bool
	state    *RunState
	// renewEvery is how often a held lock is renewed.
	renewEvery time.Duration
	renewing   atomic.Int32 // lock renewals running
	trace      tracer
	sent       *sentCounter // SFTP requests written, for flight
	sending    sync.Mutex   // held by a flight, and by any other sender meanwhile
}

// Dial connects to t, checks the host key with hk, authenticates with
// signer and opens an SFTP session. Cancelling ctx closes the connection.
func Dial(ctx context.Context, t Target, signer ssh.Signer, hk *HostKeys, opts Options) (*Conn, error) {
	to := opts.Timeouts
	tr := tracer(opts.Trace)
	c := &Conn{opTimeout: to.Op, ctx: ctx, state: opts.State, renewEvery: lockRenewEvery, trace: tr, sent: newSentCounter()}
	if c.state == nil {
		c.state = NewRunState()
	}
	ctx = withTracer(ctx, tr)
	dial := tcpDialer(t, to)
	if opts.Jump != nil {
		jc, _, _, err := dialSSH(ctx, *opts.Jump, signer, hk, to, tcpDialer(*opts.Jump, to))
		if err != nil {
			return nil, err
		}
		c.jump = jc
		dial = jumpDialer(jc, *opts.Jump, t, to)
	}
	client, key, wire, err := dialSSH(ctx, t, signer, hk, to, dial)
	if err != nil {
		if c.jump != nil {
			c.jump.Close()
		}
		return nil, err
	}
	c.ssh, c.wire, c.addr, c.HostKeyFingerprint, c.HostKeyType = client, wire, t.Addr(), ssh.FingerprintSHA256(key), key.Type()
	// A cancelled run still removes its temporary files: the connection
	// stays open for cancelGrace, then it is closed whatever is in flight.
	c.stop = context.AfterFunc(ctx, func() { time.AfterFunc(cancelGrace, c.closeTransport) })
	// Starting SFTP has no timeout of its own: a stalled server is cut off
	// like any operation.
	err = c.op(func() (err error) {
		if opts.Sudo {
			return c.startSudoSFTP(t, tr)
		}
		return c.startSFTP(tr)
	})
	if err != nil {
		var se *SudoError
		var ote *OpTimeoutError
		if !errors.As(err, &se) && !errors.As(err, &ote) {
			err = c.startFailure(err)
		}
		c.Close()
		return nil, err
	}
	return c, nil
}

// SFTPError says the host accepted the login, and the connection still
// works, but SFTP did not start: the server's answer is final.
type SFTPError struct {
	Addr string
	Err  error
}

func (e *SFTPError) Error() string {
	return fmt.Sprintf("failed to start SFTP on %s although the SSH login worked: %v", e.Addr, e.Err)
}

func (e *SFTPError) Unwrap() error { return e.Err }

// Hint says how to fix it.
func (e *SFTPError) Hint() string {
	return "check the host's `Subsystem sftp` line in sshd_config (the sftp-server it names must exist; internal-sftp always does), and make the login user's shell start-up files (.bashrc, .profile) print nothing in non-interactive shells"
}

// alive reports whether the SSH connection still answers a request.
func (c *Conn) alive() bool {
	return c.op(func() error {
		_, _, err := c.ssh.SendRequest("keepalive@openssh.com", true, nil)
		return err
	}) == nil
}

// sftpServerScript finds sftp-server on Debian/Ubuntu, RHEL and Arch paths
// and runs it through sudo without a password prompt, with umask 077 so
// nothing it creates is ever readable by others.
const sftpServerScript = `for p in /usr/lib/openssh/sftp-server /usr/libexec/openssh/sftp-server /usr/lib/ssh/sftp-server /usr/libexec/sftp-server; do if [ -x "$p" ]; then exec sudo -n "$p" -u 077; fi; done; echo "sops-deploy: no sftp-server binary found" >&2; exit 127`

// maxStderr bounds what is kept of the remote stderr.
const maxStderr = 4096

// sftpOptions: a file longer than one packet (32 KiB) is written with all
// its WRITE requests in flight at once, not one round trip per packet. A
// failed write may leave holes in the temporary file; it is never renamed
// then (the size and every answer are checked first).
//
// The packet size is pkg/sftp's default, set here because install.go's
// maxOneWrite (a write that is one request) depends on it.
var sftpOptions = []sftp.ClientOption{sftp.UseConcurrentWrites(true), sftp.MaxPacket(maxOneWrite)}

// startSFTP opens a session channel and starts the sftp subsystem on it,
// as sftp.NewClient does, but with the request stream passed through tr,
// and without waiting for the subsystem request's reply before INIT: the
// request goes from a goroutine and INIT follows it on the wire. That
// saves a round trip where the server grants the channel's window at the
// open (x/crypto's server); OpenSSH grants it only once the subsystem
// runs, with the reply, so there INIT still waits for it (in x/crypto's
// window accounting). Nor does it wait for INIT's answer: pkg/sftp reads
// an early VERSION (version.go), so the first requests follow INIT, and a
// server that answers INIT wrongly fails the first operation with the
// SFTPError Dial would have returned.
func (c *Conn) startSFTP(tr tracer) error {
	tr.emit("ssh: open session channel")
	sess, stdin, stdout, _, err := c.openSession()
	if err != nil {
		return err
	}
	tr.emit("ssh: subsystem request")
	in, reply := c.requestFirst(sess, stdin, func() error { return sess.RequestSubsystem("sftp") })
	c.version = newEarlyVersion(stdout)
	sc, err := sftp.NewClientPipe(c.version, c.sent.countSFTP(traceSFTP(in, tr)), sftpOptions...)
	// The reply comes before VERSION, or the refusal closed the channel,
	// or the connection is gone (the operation timeout closes it): this
	// never waits longer than NewClientPipe did.
	if rerr := <-reply; rerr != nil {
		if sc != nil {
			sc.Close()
		}
		return rerr
	}
	if err != nil {
		return err
	}
	c.sftp = sc
	return nil
}

// hasExtension reports whether the SFTP server offers the extension
// name, from its own VERSION.
func (c *Conn) hasExtension(name string) (bool, error) {
	if c.version == nil {
		_, ok := c.sftp.HasExtension(name)
		return ok, nil
	}
	var ext map[string]string
	err := c.op(func() (err error) { ext, err = c.version.real(); return err })
	if err != nil {
		return false, c.startFailure(err)
	}
	_, ok := ext[name]
	return ok, nil
}

// startFailed returns, when the server's VERSION did not come as it
// should, the failure to start SFTP, classified as Dial does (a host that
// still answers gave its final answer); nil when it came or is not known
// yet.
func (c *Conn) startFailed() error {
	if c.version == nil || !closedChan(c.version.done) || c.version.err == nil {
		return nil
	}
	return c.startFailure(c.version.err)
}

func (c *Conn) startFailure(err error) error {
	var ote *OpTimeoutError
	switch {
	case c.ctx.Err() != nil:
		err = c.ctx.Err()
	case !errors.As(err, &ote) && c.alive():
		return &SFTPError{Addr: c.addr, Err: err}
	}
	return &ConnectError{Addr: c.addr, Phase: "start SFTP on", Err: err}
}

func closedChan(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// requestFirst sends a session's channel request with send, from a
// goroutine, and returns stdin wrapped so that its first
// write waits only until the request is on the wire, not for the reply,
// and the channel that delivers send's result. A refusal closes the
// session, so whatever reads its stdout sees EOF at once instead of
// waiting for an answer that never comes.
func (c *Conn) requestFirst(sess *ssh.Session, stdin io.WriteCloser, send func() error) (io.WriteCloser, <-chan error) {
	sent := c.wire.nextWrite()
	done := make(chan struct{})
	reply := make(chan error, 1)
	go func() {
		err := send()
		if err != nil {
			sess.Close()
		}
		close(done)
		reply <- err
	}()
	return &afterRequest{w: stdin, sent: sent, done: done}, reply
}

// openSession opens the session channel the SFTP stream runs on, with
// its pipes and a bounded stderr, and keeps it in c.session.
func (c *Conn) openSession() (*ssh.Session, io.WriteCloser, io.Reader, *limitedBuffer, error) {
	sess, err := c.ssh.NewSession()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	c.session = sess
	stdin, err := sess.StdinPipe()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	stdout, err := sess.StdoutPipe()
	if err != nil {
		return nil, nil, nil, nil, err
	}
	stderr := &limitedBuffer{max: maxStderr}
	sess.Stderr = stderr
	return sess, stdin, stdout, stderr, nil
}

func (c *Conn) startSudoSFTP(t Target, tr tracer) error {
	sess, stdin, stdout, stderr, err := c.openSession()
	if err != nil {
		return err
	}
	if err := sess.Start(sftpServerScript); err != nil {
		return err
	}
	sc, err := sftp.NewClientPipe(stdout, c.sent.countSFTP(traceSFTP(stdin, tr)), sftpOptions...)
	if err != nil {
		// sudo has exited (or will): wait briefly for its message.
		done := make(chan struct{})
		go func() { sess.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(2 * time.Second):
		}
		line, _, _ := strings.Cut(strings.TrimSpace(stderr.String()), "\n")
		return &SudoError{User: t.User, Addr: t.Addr(), Stderr: line}
	}
	c.sftp = sc
	return nil
}

type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// dialFunc opens the TCP connection (or the channel through a jump host)
// that one SSH handshake runs over.
type dialFunc func(ctx context.Context) (net.Conn, error)

// maxKeyProbes bounds the handshakes made to find a pinned key: one per
// key family (ed25519, ecdsa, rsa) and one to learn there is no other.
const maxKeyProbes = 4

// dialSSH connects and authenticates. With pinned fingerprints, a host key
// that matches none of them ends that handshake before anything is sent,
// and the host is asked again for a key of a type not yet seen: a
// fingerprint does not say its type, and a host with several keys shows
// one per handshake. The mismatch is reported once every type was tried.
func dialSSH(ctx context.Context, t Target, signer ssh.Signer, hk *HostKeys, to Timeouts, dial dialFunc) (*ssh.Client, ssh.PublicKey, *wireConn, error) {
	addr := t.Addr()
	algos := hk.Algorithms(addr)
	var seen []string
	for probe := 1; ; probe++ {
		client, presented, wire, err := handshake(ctx, t, signer, hk, to, dial, algos)
		var he *HostKeyError
		var ne *ssh.AlgorithmNegotiationError
		switch {
		case err == nil:
			return client, presented, wire, nil
		case errors.As(err, &he) && hk.Pinned() && presented != nil:
			seen = append(seen, presented.Type()+" "+ssh.FingerprintSHA256(presented))
			he.Seen = seen
			if algos = withoutKeyType(algos, presented.Type()); len(algos) == 0 || probe >= maxKeyProbes {
				return nil, nil, nil, he
			}
		case errors.As(err, &ne) && ne.What == "host key" && len(seen) > 0:
			// The host has no key of the types left: the keys seen are all.
			first, _, _ := strings.Cut(seen[0], " ")
			return nil, nil, nil, &HostKeyError{Host: addr, KeyType: first, Presented: strings.TrimPrefix(seen[0], first+" "), Seen: seen, Expected: hk.Expected(addr)}
		case errors.As(err, &ne) && ne.What == "host key":
			// None of the known key types: an impostor, or a host whose keys
			// were all replaced. Not a network failure.
			return nil, nil, nil, &HostKeyError{Host: addr, Offered: ne.RequestedAlgorithms, Expected: hk.Expected(addr)}
		default:
			return nil, nil, nil, err
		}
	}
}

// tcpDialer dials t directly.
func tcpDialer(t Target, to Timeouts) dialFunc {
	return func(ctx context.Context) (net.Conn, error) {
		tracerFrom(ctx).emit("tcp: connect")
		d := net.Dialer{Timeout: to.Connect}
		nc, err := d.DialContext(ctx, "tcp", t.Addr())
		if err != nil {
			return nil, &ConnectError{Addr: t.Addr(), Phase: "connect to", Err: err}
		}
		return withQuickAck(nc), nil
	}
}

// jumpDialer dials t through the bastion jc.
func jumpDialer(jc *ssh.Client, jump, t Target, to Timeouts) dialFunc {
	return func(ctx context.Context) (net.Conn, error) {
		tracerFrom(ctx).emit("ssh: direct-tcpip channel through the jump host")
		dctx, cancel := context.WithTimeout(ctx, to.Connect)
		defer cancel()
		nc, err := jc.DialContext(dctx, "tcp", t.Addr())
		if err != nil {
			return nil, &ConnectError{Addr: t.Addr(), Phase: "connect (through " + jump.Addr() + ") to", Err: err}
		}
		return nc, nil
	}
}

// handshake runs one SSH handshake offering the host key algorithms algos.
// It returns the key the host presented, if any, even on failure.
func handshake(ctx context.Context, t Target, signer ssh.Signer, hk *HostKeys, to Timeouts, dial dialFunc, algos []string) (*ssh.Client, ssh.PublicKey, *wireConn, error) {
	dialed, err := dial(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	nc := &wireConn{Conn: dialed}
	hs := &handshakeState{ctx: ctx, t: t, signer: signer}
	cfg := hs.config(hk, algos)
	// The handshake has no timeout of its own: bound it with a deadline on
	// the connection, and let ctx cut it.
	if to.Handshake > 0 {
		_ = nc.SetDeadline(time.Now().Add(to.Handshake))
	}
	stopHandshake := context.AfterFunc(ctx, func() { nc.Close() })
	tracerFrom(ctx).emit("ssh: version, key exchange")
	cc, chans, reqs, err := ssh.NewClientConn(nc, t.Addr(), cfg)
	stopHandshake()
	if err != nil {
		nc.Close()
		return nil, hs.presented, nil, hs.failure(err, to)
	}
	_ = nc.SetDeadline(time.Time{})
	return ssh.NewClient(cc, chans, reqs), hs.presented, nc, nil
}

// handshakeState is what one handshake learns through its callbacks.
type handshakeState struct {
	ctx       context.Context
	t         Target
	signer    ssh.Signer
	hostErr   error
	verified  bool
	allowed   []string // the methods the last auth failure listed
	partial   bool     // the key was accepted, another method is required
	presented ssh.PublicKey
}

func (hs *handshakeState) config(hk *HostKeys, algos []string) *ssh.ClientConfig {
	addr := hs.t.Addr()
	return &ssh.ClientConfig{
		User: hs.t.User,
		// The fork (internal/xssh) sends the signed request at once, with
		// no "none" probe, so the methods the host allows are learnt only
		// from its answer: AuthCallback sees them after each failure and
		// returns no other method.
		Auth: []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			tracerFrom(hs.ctx).emit("ssh: auth publickey")
			return []ssh.Signer{hs.signer}, nil
		})},
		AuthCallback: func(ac *ssh.ClientAuthContext) (ssh.AuthMethod, error) {
			hs.allowed = ac.AllowedMethods
			hs.partial = slices.Contains(ac.PartialSuccessMethods, "publickey")
			return nil, nil
		},
		HostKeyCallback: func(_ string, remote net.Addr, key ssh.PublicKey) error {
			hs.presented = key
			if err := hk.Check(addr, remote, key); err != nil {
				hs.hostErr = err
				return err
			}
			hs.verified = true
			tracerFrom(hs.ctx).emit("ssh: host key checked; newkeys, auth service request")
			return nil
		},
		HostKeyAlgorithms: algos,
	}
}

// failure says why the handshake failed: the host key, cancellation, no
// common algorithm, a timeout or a cut (network failures, retried), or the
// login refused.
func (hs *handshakeState) failure(err error, to Timeouts) error {
	addr := hs.t.Addr()
	var ne *ssh.AlgorithmNegotiationError
	switch {
	case hs.hostErr != nil:
		return hs.hostErr
	case hs.ctx.Err() != nil:
		return &ConnectError{Addr: addr, Phase: "handshake with", Err: hs.ctx.Err()}
	case errors.As(err, &ne):
		return ne
	case isTimeout(err):
		return &ConnectError{Addr: addr, Phase: "handshake with", Err: fmt.Errorf("no SSH handshake within %s", to.Handshake)}
	case connectionLost(err):
		// Cut during authentication: a network failure, not a refusal.
		return &ConnectError{Addr: addr, Phase: "handshake with", Err: err}
	case hs.verified:
		// A host that does not list publickey did not consider the key.
		// With no list (it disconnected instead), say the key was refused.
		offered := hs.partial || hs.allowed == nil || slices.Contains(hs.allowed, "publickey")
		ae := &AuthError{User: hs.t.User, Addr: addr, Key: ClientKeyDescription(hs.signer), Offered: offered}
		if hs.partial {
			ae.Then = hs.allowed
		}
		return ae
	}
	return &ConnectError{Addr: addr, Phase: "handshake with", Err: err}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// op runs one SFTP operation, cutting the connection if it stalls for
// longer than the operation timeout. Once the run is cancelled it runs
// only clean-up operations.
func (c *Conn) op(f func() error) error {
	if err := c.ctx.Err(); err != nil && !c.cleaning.Load() {
		return err
	}
	return c.cleanupOp(f)
}

// cleanupOp is op, also after cancellation.
func (c *Conn) cleanupOp(f func() error) error {
	if c.opTimeout <= 0 {
		return f()
	}
	t := time.AfterFunc(c.opTimeout, func() {
		c.timedOut.Store(true)
		c.closeTransport()
	})
	err := f()
	t.Stop()
	if err != nil && c.timedOut.Load() {
		return &OpTimeoutError{After: c.opTimeout}
	}
	return err
}

func (c *Conn) closeTransport() {
	c.ssh.Close()
	if c.jump != nil {
		c.jump.Close()
	}
}

// Close closes the SFTP session and the connection.
func (c *Conn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.trace.emit("close")
		if c.stop != nil {
			c.stop()
		}
		// Close the connection first: every request has been answered, and
		// an orderly SFTP close (EOF on the channel, then waiting for
		// sftp-server to exit and the channel to close) costs a round trip
		// that tells us nothing. sshd ends the session when the connection
		// goes.
		errs := []error{c.ssh.Close()}
		if c.sftp != nil {
			_ = c.sftp.Close() // reports the connection closed above
		}
		if c.session != nil {
			c.session.Close()
		}
		if c.jump != nil {
			errs = append(errs, c.jump.Close())
		}
		err = errors.Join(errs...)
	})
	return err
}

var _ io.Writer = (*limitedBuffer)(nil)
