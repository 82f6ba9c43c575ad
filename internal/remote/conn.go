package remote

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
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
}

// DefaultTimeouts suit a VPS across the internet.
var DefaultTimeouts = Timeouts{Connect: 15 * time.Second, Handshake: 30 * time.Second}

// ConnectError says the TCP connection or the SSH handshake failed for a
// reason other than the host key or authentication.
type ConnectError struct {
	Addr  string
	Phase string // "connect" or "handshake"
	Err   error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("failed to %s to %s: %v", e.Phase, e.Addr, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// AuthError says the server refused the client key.
type AuthError struct {
	User, Addr string
	Key        string // key type and fingerprint, public
	Offered    bool   // false when the server did not offer public key auth
}

func (e *AuthError) Error() string {
	if !e.Offered {
		return fmt.Sprintf("%s@%s does not accept public key authentication", e.User, e.Addr)
	}
	return fmt.Sprintf("%s@%s refused the ssh_key (%s)", e.User, e.Addr, e.Key)
}

// Conn is an SSH connection with an SFTP session.
type Conn struct {
	ssh  *ssh.Client
	sftp *sftp.Client
	// HostKey is the verified host key's fingerprint.
	HostKey string
	// HostKeyType is the verified host key's type.
	HostKeyType string
	stop        func() bool
}

// Dial connects to t, checks the host key with hk, authenticates with
// signer and opens an SFTP session. Cancelling ctx closes the connection.
func Dial(ctx context.Context, t Target, signer ssh.Signer, hk *HostKeys, to Timeouts) (*Conn, error) {
	addr := t.Addr()
	d := net.Dialer{Timeout: to.Connect}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, &ConnectError{Addr: addr, Phase: "connect", Err: err}
	}
	var (
		hostErr   error
		verified  bool
		authTried bool
		presented ssh.PublicKey
	)
	cfg := &ssh.ClientConfig{
		User: t.User,
		Auth: []ssh.AuthMethod{ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
			authTried = true
			return []ssh.Signer{signer}, nil
		})},
		HostKeyCallback: func(_ string, remote net.Addr, key ssh.PublicKey) error {
			presented = key
			if err := hk.Check(addr, remote, key); err != nil {
				hostErr = err
				return err
			}
			verified = true
			return nil
		},
		HostKeyAlgorithms: hk.Algorithms(addr),
		Timeout:           to.Connect,
	}
	// ClientConfig.Timeout bounds only the TCP connect: bound the
	// handshake with a deadline on the connection, and let ctx cut it.
	_ = nc.SetDeadline(time.Now().Add(to.Handshake))
	stopHandshake := context.AfterFunc(ctx, func() { nc.Close() })
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	stopHandshake()
	if err != nil {
		nc.Close()
		switch {
		case hostErr != nil:
			return nil, hostErr
		case verified:
			return nil, &AuthError{User: t.User, Addr: addr, Key: ClientKeyDescription(signer), Offered: authTried}
		case ctx.Err() != nil:
			return nil, &ConnectError{Addr: addr, Phase: "handshake", Err: ctx.Err()}
		}
		return nil, &ConnectError{Addr: addr, Phase: "handshake", Err: err}
	}
	_ = nc.SetDeadline(time.Time{})
	client := ssh.NewClient(cc, chans, reqs)
	c := &Conn{ssh: client, HostKey: ssh.FingerprintSHA256(presented), HostKeyType: presented.Type()}
	c.stop = context.AfterFunc(ctx, func() { client.Close() })
	sc, err := sftp.NewClient(client)
	if err != nil {
		c.Close()
		if ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, &ConnectError{Addr: addr, Phase: "start SFTP on", Err: err}
	}
	c.sftp = sc
	return c, nil
}

// Close closes the SFTP session and the connection.
func (c *Conn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	var errs []error
	if c.sftp != nil {
		errs = append(errs, c.sftp.Close())
	}
	errs = append(errs, c.ssh.Close())
	return errors.Join(errs...)
}
