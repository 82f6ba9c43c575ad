package remote

import (
	"context"
	"errors"
	"fmt"

	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// The Hint methods of the error types declared in conn.go live here while
// conn.go is being reworked; each belongs next to its type. The hints of
// the types in other files sit with them.

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

// Hint says how to fix it.
func (e *AuthError) Hint() string {
	if !e.Offered {
		return "enable PubkeyAuthentication in the host's sshd_config"
	}
	return fmt.Sprintf("add the public key of ssh_key to ~%s/.ssh/authorized_keys on the host, and check the user input", e.User)
}

// Hint says how to fix it.
func (e *SudoError) Hint() string {
	return fmt.Sprintf("let the login user run sftp-server as root without a password: add `%s ALL=(root) NOPASSWD: /usr/lib/openssh/sftp-server` (RHEL: /usr/libexec/openssh/sftp-server) with visudo -f /etc/sudoers.d/sops-deploy", e.User)
}

// Hint says what to check.
func (e *OpTimeoutError) Hint() string {
	return "check the host's disk and load; the deploy is retried on such failures up to the retries input"
}
