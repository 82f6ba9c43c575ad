package action

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"syscall"
	"testing"
	"time"

	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

// TestDescribe is the table of what a user reads for each error: the
// message (the error's own text, behind the host label the edge adds) and
// the hint (the error's Hint, or the edge's wording for library errors and
// for the remote types that cannot say it yet). An error that is not ours
// is never shown under a file: it could quote the file.
func TestDescribe(t *testing.T) {
	t.Parallel()
	fp := func(err error) error { return &fileProblem{File: "secrets/s/g.enc.yaml", Err: err} }
	hk := func(e *remote.HostKeyError) error {
		e.Host, e.KeyType, e.Presented, e.Expected = "vps:22", "ssh-ed25519", "SHA256:p", []string{"SHA256:e"}
		return e
	}
	for i, tc := range []struct {
		err               error
		wantMsg, wantHint string
	}{
		{&inputs.Error{Input: "env", Problem: "is required", Fix: "set env"},
			"input env: is required",
			"set env"},
		{&secrets.KeyInputError{Input: "age_key", Line: 3, Problem: "bad", Fix: "fix it"},
			"input age_key: line 3: bad",
			"fix it"},
		{&secrets.KeyInputError{Input: "age_key", Problem: "bad", Fix: "fix it"},
			"input age_key: bad",
			"fix it"},
		{fp(&secrets.FileError{Line: 2, Problem: "is not valid YAML", Fix: "check"}),
			"file \"secrets/s/g.enc.yaml\" line 2: is not valid YAML",
			"check"},
		{fp(&secrets.PlaintextError{Keys: []string{"a", "b"}, Reason: "r"}),
			"file \"secrets/s/g.enc.yaml\" 2 value(s) are stored in plaintext in the encrypted file: a, b (r); these values are in git history and must be rotated",
			"set `unencrypted_regex: ^sops_` (or no regex) in .sops.yaml instead of `encrypted_regex: ^(?!sops_).*`, rotate every listed value, and re-encrypt with `sops encrypt --in-place`"},
		{fp(&secrets.NoMatchingKeyError{FileRecipients: []string{"age1a"}, KeyRecipients: []string{"age1b"}}),
			"file \"secrets/s/g.enc.yaml\" the age key matches none of the file's recipients: file is encrypted to age1a; age_key holds age1b",
			"use the age key of one of the file's recipients; after rotating keys, run `sops updatekeys` on the file so it is encrypted to the new recipient"},
		{fp(&secrets.IntegrityError{Key: "k", Problem: "does not decrypt"}),
			"file \"secrets/s/g.enc.yaml\" failed its integrity check: value of \"k\" does not decrypt",
			"restore the file from git, or re-encrypt it with sops; never edit ENC[…] values or the sops: block by hand"},
		{fp(&secrets.IntegrityError{Problem: "p"}),
			"file \"secrets/s/g.enc.yaml\" failed its integrity check: p",
			"restore the file from git, or re-encrypt it with sops; never edit ENC[…] values or the sops: block by hand"},
		{fp(&secrets.UnsupportedError{Problem: "uses x", Fix: "do y"}),
			"file \"secrets/s/g.enc.yaml\" uses x",
			"do y"},
		{fp(&missingKeysError{Keys: []string{"a"}}),
			"file \"secrets/s/g.enc.yaml\" lacks 1 required key(s): a",
			"add them with `sops edit` on the file, or correct the required_keys input"},
		{fp(&fs.PathError{Op: "open", Path: "f", Err: fs.ErrNotExist}),
			"file \"secrets/s/g.enc.yaml\" does not exist in the workspace",
			"run actions/checkout before this step, and check the env and file inputs"},
		{fp(&fs.PathError{Op: "read", Path: "f", Err: syscall.EISDIR}),
			"failed to read file \"secrets/s/g.enc.yaml\" from the workspace: is a directory",
			"check that the path is a readable file inside the repository checkout"},
		{fp(errors.New("yaml: secret content")),
			"failed to read file \"secrets/s/g.enc.yaml\" from the workspace",
			"check that the path is a readable file inside the repository checkout"},
		{&workspaceError{Dir: "/w", Err: fs.ErrPermission},
			"failed to open workspace \"/w\": permission denied",
			"run the action in a job that has checked out the repository"},
		{&remote.KeyError{Problem: "is bad", Fix: "fix"},
			"input ssh_key: is bad",
			"fix"},
		{&remote.KnownHostsError{Problem: "line 2: bad"},
			"input known_hosts: line 2: bad",
			"pass known_hosts lines as printed by ssh-keyscan"},
		{hk(&remote.HostKeyError{Unknown: true}),
			"known_hosts has no entry for vps:22 (it presented ssh-ed25519 SHA256:p)",
			"add the host's key to known_hosts (from a trusted network: ssh-keyscan -p <port> <host>); the entry must name the host as vps"},
		{hk(&remote.HostKeyError{Revoked: true}),
			"host key of vps:22 (ssh-ed25519 SHA256:p) is marked @revoked in known_hosts",
			"the host presents a revoked key: investigate before deploying"},
		{hk(&remote.HostKeyError{}),
			"host key mismatch for vps:22: it presented ssh-ed25519 SHA256:p, expected SHA256:e; nothing was sent",
			"if the host key was changed on purpose, update known_hosts or host_fingerprint; otherwise treat this as an attack and do not deploy"},
		{hk(&remote.HostKeyError{Offered: []string{"rsa"}}),
			"host key mismatch for vps:22: it offers only rsa host keys, expected SHA256:e; nothing was sent",
			"if the host key was changed on purpose, update known_hosts or host_fingerprint; otherwise treat this as an attack and do not deploy"},
		{hk(&remote.HostKeyError{Seen: []string{"a", "b"}}),
			"host key mismatch for vps:22: it presented a, b, expected SHA256:e; nothing was sent",
			"if the host key was changed on purpose, update known_hosts or host_fingerprint; otherwise treat this as an attack and do not deploy"},
		{&remote.AuthError{User: "u", Addr: "a:22", Key: "k", Offered: true},
			"u@a:22 refused the ssh_key (k)",
			"add the public key of ssh_key to ~u/.ssh/authorized_keys on the host, and check the user input"},
		{&remote.AuthError{User: "u", Addr: "a:22"},
			"u@a:22 does not accept public key authentication",
			"enable PubkeyAuthentication in the host's sshd_config"},
		{&remote.SudoError{User: "u", Addr: "a:22", Stderr: "x"},
			"failed to start the SFTP server through sudo -n: \"x\"",
			"let the login user run sftp-server as root without a password: add `u ALL=(root) NOPASSWD: /usr/lib/openssh/sftp-server` (RHEL: /usr/libexec/openssh/sftp-server) with visudo -f /etc/sudoers.d/sops-deploy"},
		{&remote.OpTimeoutError{After: time.Second},
			"an SFTP operation stalled for more than 1s; the connection was closed; remote_path holds the previous or the new version, complete, never a partial one",
			"check the host's disk and load; the deploy is retried on such failures up to the retries input"},
		{&remote.ConnectError{Addr: "a:22", Phase: "connect to", Err: &ssh.OpenChannelError{Reason: ssh.Prohibited, Message: "no"}},
			"failed to connect to a:22: ssh: rejected: administratively prohibited (\"no\")",
			"the server refused the channel: on a jump host allow forwarding for the user (AllowTcpForwarding local); on the target allow SFTP (Subsystem sftp)"},
		{&remote.ConnectError{Addr: "a:22", Phase: "connect to", Err: context.DeadlineExceeded},
			"failed to connect to a:22: context deadline exceeded",
			"check that the host is up and that its SSH port is reachable from the runner"},
		{&remote.ConnectError{Addr: "a:22", Phase: "connect to", Err: io.EOF},
			"failed to connect to a:22: EOF",
			"check host and port, and that sshd runs on the host and allows SFTP (Subsystem sftp)"},
		{&remote.InstallError{Step: "write", Path: "/p", Err: fs.ErrPermission},
			"failed to write \"/p\": permission denied; remote_path holds the previous or the new version, complete, never a partial one",
			"the login user cannot write there (or set that owner): set sudo: true with a sudoers rule for sftp-server, or use a directory the user owns"},
		{&remote.InstallError{Step: "write", Path: "/p", Err: errors.New("x")},
			"failed to write \"/p\": x; remote_path holds the previous or the new version, complete, never a partial one",
			"check free space and permissions on the host"},
		{&remote.InstallError{Step: "write", Path: "/p", Err: errors.New("x"), Fix: "h"},
			"failed to write \"/p\": x",
			"h"},
		{&remote.InstallError{Step: "write", Path: "/p", Err: &remote.OpTimeoutError{After: time.Second}},
			"failed to write \"/p\": an SFTP operation stalled for more than 1s; the connection was closed; remote_path holds the previous or the new version, complete, never a partial one",
			"check the host's disk and load; the deploy is retried on such failures up to the retries input"},
		{&remote.InstallError{Step: "write", Path: "/p", Err: &remote.OpTimeoutError{After: time.Second}, Fix: "h"},
			"failed to write \"/p\": an SFTP operation stalled for more than 1s; the connection was closed; remote_path holds the previous or the new version, complete, never a partial one",
			"h"},
		{&remote.SFTPError{Addr: "a:22", Err: io.EOF},
			"failed to start SFTP on a:22 although the SSH login worked: EOF",
			"check the host's `Subsystem sftp` line in sshd_config (the sftp-server it names must exist; internal-sftp always does), and make the login user's shell start-up files (.bashrc, .profile) print nothing in non-interactive shells"},
		{&remote.CancelledError{Path: "/p", Cause: context.Canceled, Cleaned: true},
			"cancelled while working on \"/p\": it still holds the version it had; the temporary files were removed",
			"run the deploy again"},
		{&remote.LockError{Path: "/p.lock"},
			"another deploy to this path holds the lock \"/p.lock\" and did not release it before this run ran out of time or was cancelled; remote_path was not touched",
			"let the other deploy finish (a crashed run's lock expires by itself), or put deploys to one host in one concurrency group"},
		{&restartError{Err: errors.New("cmd failed")},
			"the new secrets are installed and verified, but cmd failed; the services still use the old ones",
			"fix the command (run it by hand on the host to see why it fails), then restart the services by hand: a re-run finds the file unchanged and does not restart"},
		{&remote.NoExecError{Addr: "a", User: "u", Reason: "r"},
			"u@a runs no commands (r), so restart_command cannot run there; nothing was written",
			"give the deploy user a login shell and no ForceCommand internal-sftp (Match block in sshd_config), or leave restart_command empty and restart the services another way"},
		{&fileCommandError{Var: "GITHUB_OUTPUT", Path: "/o", What: "the outputs", Err: fs.ErrPermission},
			"failed to write the outputs to GITHUB_OUTPUT (\"/o\"): permission denied",
			"the runner sets GITHUB_OUTPUT to a writable file; when running the action by hand, point it at a writable file or unset it"},
		{&timeoutError{After: time.Minute, Attempts: 3, Last: &remote.ConnectError{Addr: "a:22", Phase: "connect to", Err: context.DeadlineExceeded}},
			"did not finish within 1m0s (3 attempt(s)); last error: failed to connect to a:22: context deadline exceeded; remote_path holds the previous or the new version, complete, never a partial one",
			"check that the host is reachable and responsive, or raise the timeout input; check that the host is up and that its SSH port is reachable from the runner"},
		{&timeoutError{After: time.Minute, Attempts: 3, Last: &remote.OpTimeoutError{After: time.Second}},
			"did not finish within 1m0s (3 attempt(s)); last error: an SFTP operation stalled for more than 1s; the connection was closed; remote_path holds the previous or the new version, complete, never a partial one",
			"check that the host is reachable and responsive, or raise the timeout input; check the host's disk and load; the deploy is retried on such failures up to the retries input"},
		{&timeoutError{After: time.Minute, Attempts: 3, Last: &remote.InstallError{Step: "write", Path: "/p", Err: fs.ErrPermission}},
			"did not finish within 1m0s (3 attempt(s)); last error: failed to write \"/p\": permission denied; remote_path holds the previous or the new version, complete, never a partial one",
			"check that the host is reachable and responsive, or raise the timeout input; the login user cannot write there (or set that owner): set sudo: true with a sudoers rule for sftp-server, or use a directory the user owns"},
		{&timeoutError{After: time.Minute, Attempts: 3, Last: errors.New("x")},
			"did not finish within 1m0s (3 attempt(s)); last error: x; remote_path holds the previous or the new version, complete, never a partial one",
			"check that the host is reachable and responsive, or raise the timeout input"},
		{context.Canceled,
			"the deploy was cancelled or timed out; remote_path holds the previous or the new version, complete, never a partial one",
			"run the deploy again"},
		{fmt.Errorf("w: %w", context.DeadlineExceeded),
			"the deploy was cancelled or timed out; remote_path holds the previous or the new version, complete, never a partial one",
			"run the deploy again"},
		{&hostError{Label: "u@a:22", Err: &remote.LockError{Path: "/p.lock"}},
			"u@a:22: another deploy to this path holds the lock \"/p.lock\" and did not release it before this run ran out of time or was cancelled; remote_path was not touched",
			"let the other deploy finish (a crashed run's lock expires by itself), or put deploys to one host in one concurrency group"},
		{&hostError{Label: "u@a:22", Err: context.Canceled},
			"u@a:22: the deploy was cancelled or timed out; remote_path holds the previous or the new version, complete, never a partial one",
			"run the deploy again"},
		{errors.New("plain"),
			"plain",
			""},
	} {
		t.Run(fmt.Sprintf("%02d %T", i, tc.err), func(t *testing.T) {
			msg, hint := describe(tc.err)
			if msg != tc.wantMsg {
				t.Errorf("message:\ngot  %q\nwant %q", msg, tc.wantMsg)
			}
			if hint != tc.wantHint {
				t.Errorf("hint:\ngot  %q\nwant %q", hint, tc.wantHint)
			}
			if strings.ContainsAny(msg+hint, "\n\r") {
				t.Errorf("not one line: %q; %q", msg, hint)
			}
		})
	}
}

// TestDescribeFaults: each fault has its own message and hint, and none
// that is permanent is classed transient.
func TestDescribeFaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name              string
		err               error
		wantMsg, wantHint string
		notHint           string
	}{
		{"cancelled", &remote.CancelledError{Path: "/etc/x", Cause: context.Canceled, Cleaned: true},
			"cancelled while working on", "run the deploy again", "free space"},
		{"host offers other key types", &remote.HostKeyError{Host: "vps:22", Offered: []string{"ssh-ed25519"}, Expected: []string{"ecdsa-sha2-nistp256 SHA256:x (known_hosts line 1)"}},
			"host key mismatch", "attack", "check host and port"},
		{"sftp does not start", &remote.SFTPError{Addr: "vps:22", Err: errors.New("EOF")},
			"although the SSH login worked", "Subsystem sftp", "check host and port"},
		{"lock held", &remote.LockError{Path: "/etc/.sops-deploy-x.lock"},
			"holds the lock", "concurrency group", "free space"},
		{"symlink at the target", &remote.InstallError{Step: "replace", Path: "/etc/x", Err: errors.New("it is a symbolic link; refusing to follow it"), Fix: "move it away on the host, or choose another remote_path"},
			"symbolic link", "move it away", "free space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, hint := describe(&hostError{Label: "deploy@vps:22", Err: tc.err})
			if !strings.Contains(msg, tc.wantMsg) || !strings.Contains(hint, tc.wantHint) || strings.Contains(hint, tc.notHint) {
				t.Errorf("got %q; hint %q", msg, hint)
			}
			if remote.Transient(tc.err) {
				t.Errorf("%v is classed transient", tc.err)
			}
		})
	}
}
