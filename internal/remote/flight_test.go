package remote

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/bench/delayline"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// dialThroughLine connects to a real sshd through a delay line of the given
// RTT and returns the connection with the line's counts.
func dialThroughLine(t *testing.T, rtt time.Duration) (*Conn, *delayline.Line) {
	t.Helper()
	s := sshtest.Start(t)
	line, err := delayline.Listen(s.Host+":0", fmt.Sprintf("%s:%d", s.Host, s.Port), rtt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { line.Close() })
	signer, err := ssh.ParsePrivateKey(s.ClientKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	var port int
	fmt.Sscanf(line.Addr()[len(s.Host)+1:], "%d", &port)
	// The host's key under the line's address.
	kh := fmt.Sprintf("[%s]:%d %s", s.Host, port, s.KnownHosts[len(fmt.Sprintf("[%s]:%d ", s.Host, s.Port)):])
	hk, err := NewHostKeys(kh, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := Dial(context.Background(), Target{Host: s.Host, Port: port, User: s.User}, signer, hk, Options{Timeouts: DefaultTimeouts})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, line
}

// TestFlightKeepsOrderInOneRoundTrip sends dependent requests in one flight
// to OpenSSH's sftp-server: each must see the effect of the one before,
// and the lot must cost one round trip.
func TestFlightKeepsOrderInOneRoundTrip(t *testing.T) {
	t.Parallel()
	c, line := dialThroughLine(t, 100*time.Millisecond)
	base := t.TempDir()
	for i := range 5 {
		d := path.Join(base, fmt.Sprintf("d%d", i))
		before := line.Conns()[0].RoundTrips()
		var fi fs.FileInfo
		errs := c.flight(
			func() error { return c.sftp.Mkdir(d) },
			func() error { return c.sftp.Chmod(d, 0o700) },
			func() (err error) { fi, err = c.sftp.Lstat(d); return err },
			func() error { return c.sftp.Mkdir(path.Join(d, "inner")) },
			func() error { return c.sftp.RemoveDirectory(path.Join(d, "inner")) },
		)
		for j, err := range errs {
			if err != nil {
				t.Fatalf("flight %d, step %d: %v (out of order?)", i, j, err)
			}
		}
		if got := fi.Mode().Perm(); got != 0o700 {
			t.Errorf("flight %d: Lstat saw mode %04o, want 0700: it ran before the chmod", i, got)
		}
		if got := line.Conns()[0].RoundTrips() - before; got != 1 {
			t.Errorf("flight %d of 5 requests took %d round trips, want 1", i, got)
		}
		if _, err := os.Stat(filepath.Join(d, "inner")); !os.IsNotExist(err) {
			t.Errorf("flight %d: inner directory left: %v", i, err)
		}
	}
}

// TestFlightReportsEachError: a failing step does not hide the others'.
func TestFlightReportsEachError(t *testing.T) {
	t.Parallel()
	c, _ := dialThroughLine(t, 0)
	missing := path.Join(t.TempDir(), "missing")
	errs := c.flight(
		func() error { _, err := c.sftp.Lstat(missing); return err },
		func() error { return nil }, // sends nothing
		func() error { _, err := c.sftp.Lstat("/"); return err },
	)
	if errs[0] == nil || errs[1] != nil || errs[2] != nil {
		t.Errorf("got errors %v, want only the first", errs)
	}
}
