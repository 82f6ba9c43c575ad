package main

// End-to-end tests of the host side: idempotence, backup and rollback,
// mode and owner, refusals on the host, several hosts, a jump host, sudo
// and retries, all against real OpenSSH servers.

import (
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
	"github.com/productgalaxy/sops-deploy-action/internal/testenv"
)

func outputValue(out, name string) string {
	_, rest, ok := strings.Cut(out, name+"<<")
	if !ok {
		return "<unset>"
	}
	lines := strings.SplitN(rest, "\n", 3)
	if len(lines) < 2 {
		return "<malformed>"
	}
	return lines[1]
}

func TestIdempotentBackupAndRollback(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	r := newRunner(t)
	remote := r.forHost(s)
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	newContent := readTestdata(t, "staging/galaxy.plain.yaml")
	if err := os.MkdirAll(filepath.Dir(remote), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(remote, []byte("old: version\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	res := r.run()
	if res.code != 0 {
		t.Fatalf("deploy: exit %d\n%s", res.code, res.stdout)
	}
	if got := outputValue(res.output, "changed"); got != "true" {
		t.Errorf("first deploy: changed = %q, want true", got)
	}
	prev := remote + ".previous"
	if got := string(must(os.ReadFile(prev))); got != "old: version\n" {
		t.Errorf(".previous holds %q, want the old version", got)
	}
	// The backup is the old file itself (a hard link made on the host),
	// with its bits for others removed.
	if fi := must(os.Stat(prev)); fi.Mode().Perm() != 0o640 {
		t.Errorf(".previous mode %04o, want 0640 (the old 0644 without others)", fi.Mode().Perm())
	}

	// Same content again: nothing is written.
	before := must(os.Stat(remote))
	res = r.run()
	if res.code != 0 {
		t.Fatalf("second deploy: exit %d\n%s", res.code, res.stdout)
	}
	if got := outputValue(res.output, "changed"); got != "false" {
		t.Errorf("second deploy: changed = %q, want false", got)
	}
	if after := must(os.Stat(remote)); !os.SameFile(before, after) {
		t.Errorf("an identical deploy replaced the file")
	}
	if !strings.Contains(res.stdout, "unchanged") || !strings.Contains(res.summary, "| no |") {
		t.Errorf("log or summary does not say unchanged:\n%s\n%s", res.stdout, res.summary)
	}

	// Roll back without the age key or the file: the versions swap.
	rb := newRunner(t)
	rb.inputs = map[string]string{"operation": "rollback", "env": "staging", "host": s.Addr, "user": s.User,
		"ssh_key": string(s.ClientKeyPEM), "known_hosts": s.KnownHosts, "remote_path": remote}
	res = rb.run()
	if res.code != 0 {
		t.Fatalf("rollback: exit %d\n%s", res.code, res.stdout)
	}
	if got := string(must(os.ReadFile(remote))); got != "old: version\n" {
		t.Errorf("after rollback the file holds %q", got)
	}
	if got := must(os.ReadFile(prev)); string(got) != string(newContent) {
		t.Errorf("after rollback .previous is not the rolled-back version")
	}
	if !strings.Contains(res.summary, "rolled back on 1 host") {
		t.Errorf("summary:\n%s", res.summary)
	}
	// A second rollback undoes the first.
	if res = rb.run(); res.code != 0 {
		t.Fatalf("second rollback: exit %d\n%s", res.code, res.stdout)
	}
	if got := must(os.ReadFile(remote)); string(got) != string(newContent) {
		t.Errorf("second rollback did not restore the deployed version")
	}
	assertNoTempFiles(t, filepath.Dir(remote))

	// backup: false leaves no .previous.
	nb := newRunner(t)
	remote2 := nb.forHost(s)
	nb.inputs["backup"] = "false"
	nb.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	if err := os.MkdirAll(filepath.Dir(remote2), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(remote2, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := nb.run(); res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if fileExists(remote2 + ".previous") {
		t.Errorf("backup: false wrote a .previous file")
	}
	// And a rollback there says there is no previous version.
	nb.inputs["operation"] = "rollback"
	res = nb.run()
	if res.code != 1 || !strings.Contains(strings.Join(errorLines(res.stdout), ""), "no previous version") {
		t.Errorf("rollback without a previous version: exit %d\n%s", res.code, res.stdout)
	}
}

func TestModeOwnerAndHostRefusals(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	enc := readTestdata(t, "staging/galaxy.enc.yaml")
	root := os.Geteuid() == 0
	cases := []struct {
		name   string
		setup  func(t *testing.T, r *runner, remote string)
		want   string // substring of the ::error:: line; "" means success
		check  func(t *testing.T, remote string)
		asRoot bool
	}{
		{"file_mode 0640", func(t *testing.T, r *runner, _ string) { r.inputs["file_mode"] = "0640" }, "",
			func(t *testing.T, remote string) {
				if fi := must(os.Stat(remote)); fi.Mode().Perm() != 0o640 {
					t.Errorf("mode %04o, want 0640", fi.Mode().Perm())
				}
			}, false},
		{"file_mode for others refused", func(t *testing.T, r *runner, _ string) { r.inputs["file_mode"] = "0644" }, "input file_mode", nil, false},
		{"owner and group", func(t *testing.T, r *runner, _ string) { r.inputs["owner"], r.inputs["group"] = "1", "1" }, "",
			func(t *testing.T, remote string) {
				fi := must(os.Stat(remote))
				if uid, gid := ownerOf(fi); uid != 1 || gid != 1 {
					t.Errorf("owner %d:%d, want 1:1", uid, gid)
				}
			}, true},
		{"symlink at remote_path", func(t *testing.T, r *runner, remote string) {
			target := filepath.Join(t.TempDir(), "elsewhere")
			must(0, os.WriteFile(target, []byte("untouched\n"), 0o600))
			must(0, os.Symlink(target, remote))
		}, "symbolic link", nil, false},
		{"directory at remote_path", func(t *testing.T, r *runner, remote string) {
			must(0, os.Mkdir(remote, 0o700))
		}, "not a regular file", nil, false},
		{"parent writable by others", func(t *testing.T, r *runner, remote string) {
			must(0, os.Chmod(filepath.Dir(remote), 0o777))
		}, "writable by its group or others", nil, false},
		{"parent writable by its group", func(t *testing.T, r *runner, remote string) {
			must(0, os.Chmod(filepath.Dir(remote), 0o770))
		}, "writable by its group or others", nil, false},
		{"stale temp files removed, others kept", func(t *testing.T, r *runner, remote string) {
			// What a run that crashed mid-upload leaves: its work
			// directory with a partial file, and its lock, whose time
			// (0 s from when it was taken) is up.
			stale := filepath.Join(filepath.Dir(remote), ".sops-deploy-galaxy.yaml.d")
			must(0, os.Mkdir(stale, 0o700))
			must(0, os.WriteFile(filepath.Join(stale, "new"), []byte("partial"), 0o600))
			must(0, os.Symlink("sops-deploy-lock:0123456789abcdef01234567:0", filepath.Join(filepath.Dir(remote), ".sops-deploy-galaxy.yaml.lock")))
			// Not ours: a name that only starts like ours.
			must(0, os.WriteFile(filepath.Join(filepath.Dir(remote), ".sops-deploy-galaxy.yaml2-keep"), []byte("x"), 0o600))
		}, "", func(t *testing.T, remote string) {
			entries, _ := os.ReadDir(filepath.Dir(remote))
			var names []string
			for _, e := range entries {
				names = append(names, e.Name())
			}
			if got, want := strings.Join(names, " "), ".sops-deploy-galaxy.yaml2-keep galaxy.yaml"; got != want {
				t.Errorf("directory holds %q, want %q", got, want)
			}
		}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.asRoot && !root {
				testenv.MustHaveRoot(t, "to set an owner")
			}
			r := newRunner(t)
			remote := r.forHost(s)
			must(0, os.MkdirAll(filepath.Dir(remote), 0o700))
			r.put("secrets/staging/galaxy.enc.yaml", enc)
			tc.setup(t, r, remote)
			res := r.run()
			if tc.want == "" {
				if res.code != 0 {
					t.Fatalf("exit %d\n%s", res.code, res.stdout)
				}
			} else {
				errs := errorLines(res.stdout)
				if res.code != 1 || len(errs) != 1 || !strings.Contains(errs[0], tc.want) {
					t.Fatalf("want one error containing %q, got exit %d:\n%s", tc.want, res.code, res.stdout)
				}
				// A refusal on the host has a hint of its own.
				if strings.Contains(errs[0], "free space") {
					t.Errorf("refusal with the generic hint: %s", errs[0])
				}
			}
			if tc.check != nil {
				tc.check(t, remote)
			}
		})
	}
}

// TestManyHosts installs on three real sshd instances on 127.0.0.1-3,
// each confined to a root of its own (so each is a separate file system
// with the default remote_path), and one dead host: the dead one fails
// alone, with one error line, and the run fails.
func TestManyHosts(t *testing.T) {
	t.Parallel()
	var servers []*sshtest.SSHD
	var roots []string
	for _, ip := range []string{"127.0.0.1", "127.0.0.2", "127.0.0.3"} {
		root := sshtest.ChrootDir(t)
		roots = append(roots, root)
		servers = append(servers, sshtest.Start(t, sshtest.WithListenAddr(ip), sshtest.WithChroot(root)))
	}
	dead := closedPort(t)
	r := newRunner(t)
	r.forHost(servers[0])
	delete(r.inputs, "remote_path") // the default, /etc/galaxy/secrets/galaxy.yaml
	var hosts, known []string
	for _, s := range servers {
		hosts = append(hosts, s.Addr)
		known = append(known, s.KnownHosts)
	}
	r.inputs["host"] = strings.Join(append(hosts, dead), ",\n")
	r.inputs["known_hosts"] = strings.Join(known, "\n") + "\n[127.0.0.1]:" + dead[strings.LastIndex(dead, ":")+1:] + " ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHdXLaMJmAkkKsuBaq2FkbhEiWJ55gsuiAWQr52e24Xd"
	r.inputs["retries"] = "0"
	r.inputs["ssh_key"] = string(sharedClientKey(t, servers))
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	res := r.run()
	if res.code != 1 {
		t.Fatalf("exit %d, want 1\n%s", res.code, res.stdout)
	}
	errs := errorLines(res.stdout)
	if len(errs) != 1 || !strings.Contains(errs[0], dead) {
		t.Errorf("want one error line for %s, got:\n%s", dead, res.stdout)
	}
	want := readTestdata(t, "staging/galaxy.plain.yaml")
	for i, root := range roots {
		p := filepath.Join(root, "etc", "galaxy", "secrets", "galaxy.yaml")
		if got, err := os.ReadFile(p); err != nil || string(got) != string(want) {
			t.Errorf("host %d: installed file missing or wrong (%v)", i, err)
		}
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("host %d: mode %04o", i, fi.Mode().Perm())
		}
	}
	if got := outputValue(res.output, "hosts_failed"); !strings.Contains(got, dead) || strings.Contains(got, ",") {
		t.Errorf("hosts_failed = %q, want only %s", got, dead)
	}
	if got := outputValue(res.output, "changed"); got != "true" {
		t.Errorf("changed = %q, want true", got)
	}
	if n := strings.Count(res.summary, "✅ ok"); n != 3 {
		t.Errorf("summary has %d ok rows, want 3:\n%s", n, res.summary)
	}
	if n := strings.Count(res.summary, "❌ failed"); n != 1 {
		t.Errorf("summary has %d failed rows, want 1", n)
	}
	for _, s := range servers {
		if !strings.Contains(res.stdout, s.Addr+": installed") {
			t.Errorf("log lacks an installed line for %s:\n%s", s.Addr, res.stdout)
		}
	}
}

// sharedClientKey returns servers[0]'s client key after authorizing it on
// the other servers.
func sharedClientKey(t *testing.T, servers []*sshtest.SSHD) []byte {
	t.Helper()
	for _, s := range servers[1:] {
		s.Authorize(t, servers[0].ClientPublicKey())
	}
	return servers[0].ClientKeyPEM
}

func TestJumpHost(t *testing.T) {
	t.Parallel()
	bastion := sshtest.Start(t)
	target := sshtest.Start(t, sshtest.WithListenAddr("127.0.0.2"))
	target.Authorize(t, bastion.ClientPublicKey())
	r := newRunner(t)
	remote := r.forHost(bastion)
	r.inputs["host"] = target.Addr
	r.inputs["jump_host"] = bastion.User + "@" + bastion.Addr
	r.inputs["known_hosts"] = bastion.KnownHosts + "\n" + target.KnownHosts
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	res := r.run()
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if !fileExists(remote) {
		t.Errorf("nothing installed")
	}
	if !strings.Contains(res.stdout, target.Fingerprint) {
		t.Errorf("log does not show the target's verified host key")
	}
	// The bastion's key must be pinned too.
	r.inputs["known_hosts"] = target.KnownHosts
	res = r.run()
	if errs := errorLines(res.stdout); res.code != 1 || len(errs) != 1 || !strings.Contains(errs[0], "no entry for "+bastion.Addr) {
		t.Errorf("unpinned bastion: exit %d\n%s", res.code, res.stdout)
	}
}

func TestRetryAfterLostConnection(t *testing.T) {
	t.Parallel()
	s := sshtest.Start(t)
	// The first connection is cut once 5000 bytes have passed (both
	// directions): past the login, where a session's SFTP starts.
	proxy := sshtest.StartCutProxy(t, s.Addr)
	proxy.CutNextAfter(5000)
	r := newRunner(t)
	remote := r.forHost(s)
	r.inputs["host"] = proxy.Addr
	r.inputs["known_hosts"] = s.KnownHostsVia(proxy)
	r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
	res := r.run()
	if res.code != 0 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if got := proxy.Conns(); got != 2 {
		t.Errorf("%d connections, want 2 (one cut, one retry)", got)
	}
	if !strings.Contains(res.summary, "(2 attempts)") {
		t.Errorf("summary does not show the retry:\n%s", res.summary)
	}
	if !fileExists(remote) {
		t.Errorf("nothing installed")
	}
	assertNoTempFiles(t, filepath.Dir(remote))

	// Authentication failures are not retried.
	proxy2 := sshtest.StartCutProxy(t, s.Addr) // cuts nothing, counts
	r.inputs["host"] = proxy2.Addr
	r.inputs["known_hosts"] = s.KnownHostsVia(proxy2)
	r.inputs["ssh_key"] = string(testClientKey(t))
	if res := r.run(); res.code != 1 {
		t.Fatalf("exit %d\n%s", res.code, res.stdout)
	}
	if got := proxy2.Conns(); got != 1 {
		t.Errorf("an authentication failure was retried (%d connections)", got)
	}
}

// TestSudo needs two local users made by .ci/run: sopsdeploy-sudo may run
// sftp-server as root without a password, sopsdeploy-nopw may not.
func TestSudo(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"sopsdeploy-sudo", "sopsdeploy-nopw"} {
		if _, err := user.Lookup(name); err != nil {
			testenv.Missing(t, "user "+name+" is missing; the user setup in .ci/run creates it")
		}
	}
	s := sshtest.Start(t)
	// A directory only root can write: the login user needs sudo.
	dir := filepath.Join(t.TempDir(), "etc", "galaxy", "secrets")
	must(0, os.MkdirAll(dir, 0o755))
	must(0, os.Chmod(filepath.Dir(filepath.Dir(dir)), 0o755))
	for _, name := range []string{"sopsdeploy-sudo", "sopsdeploy-nopw"} {
		t.Run(name, func(t *testing.T) {
			r := newRunner(t)
			r.forHost(s)
			remote := filepath.Join(dir, name+".yaml")
			r.inputs["remote_path"] = remote
			r.inputs["user"] = name
			r.inputs["sudo"] = "true"
			r.put("secrets/staging/galaxy.enc.yaml", readTestdata(t, "staging/galaxy.enc.yaml"))
			res := r.run()
			if name == "sopsdeploy-sudo" {
				if res.code != 0 {
					t.Fatalf("exit %d\n%s", res.code, res.stdout)
				}
				fi := must(os.Stat(remote))
				if uid, _ := ownerOf(fi); uid != 0 || fi.Mode().Perm() != 0o600 {
					t.Errorf("installed with uid %d mode %04o, want root 0600", uid, fi.Mode().Perm())
				}
				return
			}
			errs := errorLines(res.stdout)
			if res.code != 1 || len(errs) != 1 || !strings.Contains(errs[0], "NOPASSWD: /usr/lib/openssh/sftp-server") {
				t.Errorf("want one error with the sudoers line, got exit %d:\n%s", res.code, res.stdout)
			}
			if fileExists(remote) {
				t.Errorf("a file was installed without sudo rights")
			}
		})
	}
}
