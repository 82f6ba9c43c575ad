package remote_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/localssh"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/secret"
	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

const secretContent = "db_password: s3cr3t-value\napi_key: 0123456789abcdef\n"

func spec(path, content string) remote.Spec {
	return remote.Spec{Path: path, Content: []byte(content), Mode: 0o600, UID: -1, GID: -1}
}

// tempFiles lists the temporary files Install may have left in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !errors.Is(err, syscall.ENOTDIR) {
		t.Fatalf("failed to list %s: %v", dir, err)
	}
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), remote.TempPrefix) {
			out = append(out, e.Name())
		}
	}
	return out
}

func assertNoTemps(t *testing.T, dir string) {
	t.Helper()
	if got := tempFiles(t, dir); len(got) != 0 {
		t.Errorf("temporary files left in %s: %q", dir, got)
	}
}

func assertFile(t *testing.T, path, content string, mode fs.FileMode) {
	t.Helper()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatalf("installed file: %v", err)
	}
	if !fi.Mode().IsRegular() {
		t.Errorf("%s is %v, want a regular file", path, fi.Mode())
	}
	if got, want := fi.Mode().Perm(), mode; got != want {
		t.Errorf("mode of %s: got %04o, want %04o", path, got, want)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), content; got != want {
		t.Errorf("content of %s: got %q, want %q", path, got, want)
	}
}

func assertInstallError(t *testing.T, err error, wantPath, wantText string) *remote.InstallError {
	t.Helper()
	var ie *remote.InstallError
	if !errors.As(err, &ie) {
		t.Fatalf("Install = %v (%T), want *remote.InstallError", err, err)
	}
	if wantPath != "" && ie.Path != wantPath {
		t.Errorf("Path: got %q, want %q", ie.Path, wantPath)
	}
	if !strings.Contains(err.Error(), wantText) {
		t.Errorf("got %q, want it to contain %q", err, wantText)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error %q holds the content", err)
	}
	return ie
}

// checkNewInstall installs into a missing nested directory through c and
// checks the result.
func checkNewInstall(t *testing.T, c *remote.Conn) {
	t.Helper()
	base := t.TempDir()
	target := filepath.Join(base, "etc", "galaxy", "secrets", "galaxy.yaml")
	res, err := c.Install(spec(target, secretContent))
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	assertFile(t, target, secretContent, 0o600)
	for _, d := range []string{"etc", "etc/galaxy", "etc/galaxy/secrets"} {
		fi, err := os.Stat(filepath.Join(base, d))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := fi.Mode().Perm(), fs.FileMode(0o700); got != want {
			t.Errorf("mode of %s: got %04o, want %04o", d, got, want)
		}
	}
	if got, want := res.Path, target; got != want {
		t.Errorf("Installed.Path: got %q, want %q", got, want)
	}
	if got, want := res.Mode, fs.FileMode(0o600); got != want {
		t.Errorf("Installed.Mode: got %04o, want %04o", got, want)
	}
	if got, want := res.Size, int64(len(secretContent)); got != want {
		t.Errorf("Installed.Size: got %d, want %d", got, want)
	}
	if !res.Changed {
		t.Errorf("Installed.Changed: got false, want true")
	}
	for _, d := range []string{base, filepath.Dir(target)} {
		assertNoTemps(t, d)
	}
}

// TestInstallNewNested installs on localssh, which offers no
// fsync@openssh.com, as some servers do not: the install skips the sync
// (TestInstallOpenSSH installs with it).
func TestInstallNewNested(t *testing.T) {
	t.Parallel()
	srv, signer := startLocal(t, localssh.Config{})
	checkNewInstall(t, dialLocal(t, srv, signer))
}

// TestInstallOpenSSH runs the install against OpenSSH's sftp-server, whose
// rename, fsync and attribute handling differ from pkg/sftp's server.
func TestInstallOpenSSH(t *testing.T) {
	t.Parallel()
	c, s := dialOpenSSH(t)
	if got, want := c.HostKeyFingerprint, s.Fingerprint; got != want {
		t.Errorf("HostKey: got %q, want %q", got, want)
	}
	checkNewInstall(t, c)

	// Replacing works the same way there.
	dir := t.TempDir()
	target := filepath.Join(dir, "galaxy.yaml")
	if err := os.WriteFile(target, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Install(spec(target, secretContent)); err != nil {
		t.Fatalf("Install over an existing file: %v", err)
	}
	assertFile(t, target, secretContent, 0o600)
	assertNoTemps(t, dir)
}

func TestInstallReplace(t *testing.T) {
	t.Parallel()
	srv, signer := startLocal(t, localssh.Config{})
	for _, tc := range []struct {
		name    string
		oldMode fs.FileMode
		old     string
		mode    fs.FileMode
	}{
		{"0644 to 0600", 0o644, "old: value\n", 0o600},
		{"0600 to 0600", 0o600, "old: value\n", 0o600},
		{"0400 to 0600", 0o400, "old: value\n", 0o600},
		{"0600 to 0640", 0o600, "old: value\n", 0o640},
		{"longer to shorter", 0o600, strings.Repeat("x", 100000), 0o600},
		{"empty", 0o600, "", 0o600},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			target := filepath.Join(dir, "galaxy.yaml")
			if err := os.WriteFile(target, []byte(tc.old), tc.oldMode); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(target, tc.oldMode); err != nil {
				t.Fatal(err)
			}
			s := spec(target, secretContent)
			s.Mode = tc.mode
			// A connection of its own: a Conn is one attempt of one run,
			// and its run state is not shared between installs at once.
			res, err := dialLocal(t, srv, signer).Install(s)
			if err != nil {
				t.Fatalf("Install: %v", err)
			}
			assertFile(t, target, secretContent, tc.mode)
			if got, want := res.Mode, tc.mode; got != want {
				t.Errorf("Installed.Mode: got %04o, want %04o", got, want)
			}
			if !res.Changed {
				t.Errorf("Installed.Changed: got false, want true")
			}
			if _, err := os.Lstat(target + remote.BackupSuffix); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Backup false left %s%s (err %v)", target, remote.BackupSuffix, err)
			}
			assertNoTemps(t, dir)
		})
	}
}

// dialOpenSSH starts a real sshd and connects to it.
func dialOpenSSH(t *testing.T) (*remote.Conn, *sshtest.SSHD) {
	t.Helper()
	s := sshtest.Start(t)
	signer, err := remote.ParseSigner(secret.NewString(string(s.ClientKeyPEM)), secret.NewString(""))
	if err != nil {
		t.Fatalf("ParseSigner: %v", err)
	}
	c, err := remote.Dial(context.Background(), remote.Target{Host: s.Host, Port: s.Port, User: s.User}, signer, newHostKeys(t, s.KnownHosts, nil), testOptions)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c, s
}

func TestInstallRefusals(t *testing.T) {
	t.Parallel()
	t.Run("localssh", func(t *testing.T) {
		t.Parallel()
		srv, signer := startLocal(t, localssh.Config{})
		testInstallRefusals(t, dialLocal(t, srv, signer))
	})
	t.Run("openssh", func(t *testing.T) {
		t.Parallel()
		c, _ := dialOpenSSH(t)
		testInstallRefusals(t, c)
	})
}

func testInstallRefusals(t *testing.T, c *remote.Conn) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, dir string) (target string, check func(t *testing.T))
		want  string
	}{
		{
			name: "symlink",
			setup: func(t *testing.T, dir string) (string, func(*testing.T)) {
				elsewhere := filepath.Join(t.TempDir(), "elsewhere.yaml")
				if err := os.WriteFile(elsewhere, []byte("untouched\n"), 0o644); err != nil {
					t.Fatal(err)
				}
				target := filepath.Join(dir, "galaxy.yaml")
				if err := os.Symlink(elsewhere, target); err != nil {
					t.Fatal(err)
				}
				return target, func(t *testing.T) {
					if got, err := os.Readlink(target); err != nil || got != elsewhere {
						t.Errorf("symlink now points to %q (%v), want %q", got, err, elsewhere)
					}
					assertFile(t, elsewhere, "untouched\n", 0o644)
				}
			},
			want: "symbolic link",
		},
		{
			name: "dangling symlink",
			setup: func(t *testing.T, dir string) (string, func(*testing.T)) {
				missing := filepath.Join(t.TempDir(), "missing.yaml")
				target := filepath.Join(dir, "galaxy.yaml")
				if err := os.Symlink(missing, target); err != nil {
					t.Fatal(err)
				}
				return target, func(t *testing.T) {
					if _, err := os.Lstat(missing); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("the symlink's target was created (err %v)", err)
					}
				}
			},
			want: "symbolic link",
		},
		{
			name: "directory",
			setup: func(t *testing.T, dir string) (string, func(*testing.T)) {
				target := filepath.Join(dir, "galaxy.yaml")
				if err := os.Mkdir(target, 0o700); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(target, "keep"), []byte("keep\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return target, func(t *testing.T) {
					assertFile(t, filepath.Join(target, "keep"), "keep\n", 0o600)
				}
			},
			want: "not a regular file",
		},
		{
			name: "parent is a file",
			setup: func(t *testing.T, dir string) (string, func(*testing.T)) {
				parent := filepath.Join(dir, "secrets")
				if err := os.WriteFile(parent, []byte("a file\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(parent, "galaxy.yaml"), func(t *testing.T) {
					assertFile(t, parent, "a file\n", 0o600)
				}
			},
			want: "not a directory",
		},
		{
			name: "grandparent is a file",
			setup: func(t *testing.T, dir string) (string, func(*testing.T)) {
				parent := filepath.Join(dir, "secrets")
				if err := os.WriteFile(parent, []byte("a file\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return filepath.Join(parent, "staging", "galaxy.yaml"), func(t *testing.T) {
					assertFile(t, parent, "a file\n", 0o600)
				}
			},
			want: "failed to",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			target, check := tc.setup(t, dir)
			res, err := c.Install(spec(target, secretContent))
			if res != nil {
				t.Errorf("Install returned %+v with its error", res)
			}
			assertInstallError(t, err, "", tc.want)
			check(t)
			assertNoTemps(t, dir)
			assertNoTemps(t, filepath.Dir(target))
		})
	}
}

// TestInstallPermissionDenied makes the host refuse a write. Root passes
// permission checks, so as root the target is under /proc, where nothing
// can be created.
func TestInstallPermissionDenied(t *testing.T) {
	t.Parallel()
	srv, signer := startLocal(t, localssh.Config{})
	c := dialLocal(t, srv, signer)

	var target, dir string
	if os.Geteuid() == 0 {
		dir = "/proc"
		target = "/proc/sops-deploy-test/galaxy.yaml"
	} else {
		dir = filepath.Join(t.TempDir(), "secrets")
		if err := os.Mkdir(dir, 0o500); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Chmod(dir, 0o700) })
		target = filepath.Join(dir, "galaxy.yaml")
	}
	res, err := c.Install(spec(target, secretContent))
	if res != nil {
		t.Errorf("Install returned %+v with its error", res)
	}
	assertInstallError(t, err, "", "failed to")
	if _, err := os.Lstat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("%s exists after a failed install (err %v)", target, err)
	}
	assertNoTemps(t, dir)
	assertNoTemps(t, filepath.Dir(target))
	if remote.Transient(err) {
		t.Errorf("Transient(%v) = true, want false: the host refused the write", err)
	}
}
