package remote

import (
	"errors"
	"io"
	"net"
	"syscall"

	"github.com/pkg/sftp"

	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// Transient reports whether err is a network failure worth retrying:
// connection refused or reset, a handshake cut short, or a connection lost
// or stalled during the install. Host key, authentication, sudo,
// permission, disk-full and validation failures are never transient.
func Transient(err error) bool {
	var (
		hke *HostKeyError
		ae  *AuthError
		se  *SudoError
		ke  *KeyError
		ote *OpTimeoutError
		ce  *ConnectError
		ie  *InstallError
		cxe *CancelledError
		le  *LockError
		sfe *SFTPError
		dns *net.DNSError
		st  *sftp.StatusError
		oce *ssh.OpenChannelError
	)
	switch {
	case errors.As(err, &hke), errors.As(err, &ae), errors.As(err, &se), errors.As(err, &ke), errors.As(err, &cxe), errors.As(err, &le), errors.As(err, &sfe):
		return false
	case errors.As(err, &dns) && dns.IsNotFound:
		return false
	case errors.As(err, &oce):
		// The server refused a channel (forwarding through a bastion, the
		// SFTP subsystem): asking again gets the same answer.
		return false
	case errors.As(err, &st):
		// The server answered: permission, no space, no such file. Only a
		// lost connection is worth another try.
		return st.FxCode() == sftp.ErrSSHFxConnectionLost || st.FxCode() == sftp.ErrSSHFxNoConnection
	case errors.As(err, &ote):
		return true
	case errors.As(err, &ce):
		return true
	case errors.As(err, &ie):
		return ie.Fix == "" && connectionLost(ie.Err)
	}
	return false
}

func connectionLost(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, sftp.ErrSSHFxConnectionLost) || errors.Is(err, sftp.ErrSSHFxNoConnection)
}
