package action

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
	"github.com/productgalaxy/sops-deploy-action/internal/xssh/knownhosts"
)

// oldOrNew is what is always true of remote_path after a failure.
const oldOrNew = "remote_path holds the previous or the new version, complete, never a partial one"

// Describe turns an error from any layer into one line saying what is wrong
// (naming the input, file, key, host or recipient) and a hint saying how to
// fix it. Neither ever holds a secret: the typed errors carry only places
// and public data.
func Describe(err error) (msg, hint string) {
	var he *HostError
	if errors.As(err, &he) {
		msg, hint = Describe(he.Err)
		return he.Label + ": " + msg, hint
	}
	var te *TimeoutError
	if errors.As(err, &te) {
		_, hint = Describe(te.Last)
		return te.Error() + "; " + oldOrNew, "check that the host is reachable and responsive, or raise the timeout input; " + hint
	}
	file := ""
	var fp *FileProblem
	if errors.As(err, &fp) {
		file = fmt.Sprintf("file %q ", fp.File)
	}
	var (
		ie  *inputs.Error
		ke  *secrets.KeyInputError
		fe  *secrets.FileError
		pe  *secrets.PlaintextError
		nm  *secrets.NoMatchingKeyError
		ig  *secrets.IntegrityError
		ue  *secrets.UnsupportedError
		ske *remote.KeyError
		khe *remote.KnownHostsError
		hke *remote.HostKeyError
		ae  *remote.AuthError
		ce  *remote.ConnectError
		ine *remote.InstallError
		we  *WorkspaceError
		mk  *MissingKeysError
		se  *remote.SudoError
		ote *remote.OpTimeoutError
		oce *ssh.OpenChannelError
		cxe *remote.CancelledError
		le  *remote.LockError
		sfe *remote.SFTPError
	)
	switch {
	case errors.As(err, &sfe):
		return sfe.Error(), sfe.Hint()
	case errors.As(err, &cxe):
		return cxe.Error(), cxe.Hint()
	case errors.As(err, &le):
		return le.Error() + "; remote_path was not touched", le.Hint()
	case errors.As(err, &ie):
		return ie.Error(), ie.Hint
	case errors.As(err, &ke):
		return "input " + ke.Error(), ke.Hint
	case errors.As(err, &pe):
		return file + pe.Error() + "; these values are in git history and must be rotated",
			"set `unencrypted_regex: ^sops_` (or no regex) in .sops.yaml instead of `encrypted_regex: ^(?!sops_).*`, rotate every listed value, and re-encrypt with `sops encrypt --in-place`"
	case errors.As(err, &nm):
		return file + nm.Error(), "use the age key of one of the file's recipients; after rotating keys, run `sops updatekeys` on the file so it is encrypted to the new recipient"
	case errors.As(err, &ig):
		return file + "failed its integrity check: " + ig.Error(), "restore the file from git, or re-encrypt it with sops; never edit ENC[…] values or the sops: block by hand"
	case errors.As(err, &mk):
		return file + mk.Error(), "add them with `sops edit` on the file, or correct the required_keys input"
	case errors.As(err, &ue):
		return file + ue.Error(), ue.Hint
	case errors.As(err, &fe):
		return file + fe.Error(), fe.Hint
	case fp != nil && errors.Is(err, fs.ErrNotExist):
		return fmt.Sprintf("file %q does not exist in the workspace", fp.File),
			"run actions/checkout before this step, and check the env and file inputs"
	case fp != nil:
		return fmt.Sprintf("failed to read file %q from the workspace", fp.File), "check that the path is a readable file inside the repository checkout"
	case errors.As(err, &we):
		return we.Error(), "run the action in a job that has checked out the repository"
	case errors.As(err, &ske):
		return "input " + ske.Error(), ske.Hint
	case errors.As(err, &khe):
		return "input " + khe.Error(), "pass known_hosts lines as printed by ssh-keyscan"
	case errors.As(err, &hke):
		switch {
		case hke.Unknown:
			return hke.Error(), fmt.Sprintf("add the host's key to known_hosts (from a trusted network: ssh-keyscan -p <port> <host>); the entry must name the host as %s", knownhosts.Normalize(hke.Host))
		case hke.Revoked:
			return hke.Error(), "the host presents a revoked key: investigate before deploying"
		}
		return hke.Error() + "; nothing was sent", "if the host key was changed on purpose, update known_hosts or host_fingerprint; otherwise treat this as an attack and do not deploy"
	case errors.As(err, &ae):
		if !ae.Offered {
			return ae.Error(), "enable PubkeyAuthentication in the host's sshd_config"
		}
		return ae.Error(), fmt.Sprintf("add the public key of ssh_key to ~%s/.ssh/authorized_keys on the host, and check the user input", ae.User)
	case errors.As(err, &se):
		return se.Error(), fmt.Sprintf("let the login user run sftp-server as root without a password: add `%s ALL=(root) NOPASSWD: /usr/lib/openssh/sftp-server` (RHEL: /usr/libexec/openssh/sftp-server) with visudo -f /etc/sudoers.d/sops-deploy", se.User)
	case errors.As(err, &ote):
		return ote.Error() + "; " + oldOrNew, "check the host's disk and load; the deploy is retried on such failures up to the retries input"
	case errors.As(err, &ce) && errors.As(err, &oce):
		return ce.Error(), "the server refused the channel: on a jump host allow forwarding for the user (AllowTcpForwarding local); on the target allow SFTP (Subsystem sftp)"
	case errors.As(err, &ce):
		if errors.Is(err, context.DeadlineExceeded) {
			return ce.Error(), "check that the host is up and that its SSH port is reachable from the runner"
		}
		return ce.Error(), "check host and port, and that sshd runs on the host and allows SFTP (Subsystem sftp)"
	case errors.As(err, &ine) && ine.Hint != "":
		return ine.Error(), ine.Hint
	case errors.As(err, &ine):
		msg := ine.Error() + "; " + oldOrNew
		if errors.Is(err, fs.ErrPermission) {
			return msg, "the login user cannot write there (or set that owner): set sudo: true with a sudoers rule for sftp-server, or use a directory the user owns"
		}
		return msg, "check free space and permissions on the host"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "the deploy was cancelled or timed out; " + oldOrNew, "run the deploy again"
	}
	return strings.TrimSpace(err.Error()), ""
}
