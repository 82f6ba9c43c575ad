package action

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/remote"
)

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
		{"symlink at the target", &remote.InstallError{Step: "replace", Path: "/etc/x", Err: errors.New("it is a symbolic link; refusing to follow it"), Hint: "move it away on the host, or choose another remote_path"},
			"symbolic link", "move it away", "free space"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msg, hint := Describe(&HostError{Label: "deploy@vps:22", Err: tc.err})
			if !strings.Contains(msg, tc.wantMsg) || !strings.Contains(hint, tc.wantHint) || strings.Contains(hint, tc.notHint) {
				t.Errorf("got %q; hint %q", msg, hint)
			}
			if remote.Transient(tc.err) {
				t.Errorf("%v is classed transient", tc.err)
			}
		})
	}
}
