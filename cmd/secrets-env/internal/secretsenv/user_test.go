package secretsenv

import (
	"errors"
	"fmt"
	"strings"
	"syscall"
	"testing"
)

// fakeCreds records set*id calls and answers get*id calls like a kernel.
type fakeCreds struct {
	calls         []string
	uid, gid      int
	savedUID      int
	groups        []int
	failOn        string // a call name that fails with EPERM
	ignoreSetuid  bool   // setuid "succeeds" but changes nothing
	keepSavedRoot bool   // setuid leaves the saved uid at 0
}

func (f *fakeCreds) fail(name string) error {
	f.calls = append(f.calls, name)
	if f.failOn == name {
		return syscall.EPERM
	}
	return nil
}

func (f *fakeCreds) Setgroups(g []int) error {
	if err := f.fail(fmt.Sprintf("setgroups(%v)", g)); err != nil {
		return err
	}
	f.groups = g
	return nil
}

func (f *fakeCreds) Setgid(g int) error {
	if err := f.fail(fmt.Sprintf("setgid(%d)", g)); err != nil {
		return err
	}
	if f.uid != 0 && g != f.gid {
		return syscall.EPERM
	}
	f.gid = g
	return nil
}

func (f *fakeCreds) Setuid(u int) error {
	if err := f.fail(fmt.Sprintf("setuid(%d)", u)); err != nil {
		return err
	}
	if f.uid != 0 && u != f.uid && u != f.savedUID {
		return syscall.EPERM
	}
	if !f.ignoreSetuid {
		f.uid = u
		if !f.keepSavedRoot {
			f.savedUID = u
		}
	}
	return nil
}

func (f *fakeCreds) Getuid() int               { return f.uid }
func (f *fakeCreds) Geteuid() int              { return f.uid }
func (f *fakeCreds) Getgid() int               { return f.gid }
func (f *fakeCreds) Getegid() int              { return f.gid }
func (f *fakeCreds) Getgroups() ([]int, error) { return f.groups, nil }

// Not parallel: these tests replace testOnlyCredOps.
func withFake(t *testing.T, f *fakeCreds) {
	old := testOnlyCredOps
	testOnlyCredOps = f
	t.Cleanup(func() { testOnlyCredOps = old })
}

func TestDropOrder(t *testing.T) {
	f := &fakeCreds{groups: []int{0, 1, 2}}
	withFake(t, f)
	if err := Drop(&Cred{UID: 1000, GID: 2000, text: "1000:2000"}); err != nil {
		t.Fatal(err)
	}
	// The last two are the check that root cannot be regained.
	if got, want := strings.Join(f.calls, " "), "setgroups([]) setgid(2000) setuid(1000) setuid(0) setgid(0)"; got != want {
		t.Errorf("calls: got %s, want %s", got, want)
	}
	if f.uid != 1000 || f.gid != 2000 || len(f.groups) != 0 {
		t.Errorf("ended as uid %d gid %d groups %v", f.uid, f.gid, f.groups)
	}
}

func TestDropFailures(t *testing.T) {
	c := &Cred{UID: 1000, GID: 1000, text: "1000:1000"}
	for _, tc := range []struct {
		name string
		fake *fakeCreds
		want string
		hint string
	}{
		{"not root", &fakeCreds{failOn: "setgroups([])"}, "failed to switch to user 1000:1000: setgroups: operation not permitted", "must start as root"},
		{"setgid", &fakeCreds{failOn: "setgid(1000)"}, "setgid: operation not permitted", "must start as root"},
		{"setuid", &fakeCreds{failOn: "setuid(1000)"}, "setuid: operation not permitted", "must start as root"},
		{"did not take", &fakeCreds{ignoreSetuid: true}, "the uid is 0 (effective 0) after setuid", ""},
		{"saved root", &fakeCreds{keepSavedRoot: true}, "setuid(0) still succeeds after the switch", ""},
	} {
		withFake(t, tc.fake)
		err := Drop(c)
		var ue *UserError
		if !errors.As(err, &ue) {
			t.Errorf("%s: got %v, want a *UserError", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) || !strings.Contains(Hint(err), tc.hint) {
			t.Errorf("%s: got %q (hint %q), want %q (hint %q)", tc.name, err, Hint(err), tc.want, tc.hint)
		}
	}
}

func TestDropToRoot(t *testing.T) {
	f := &fakeCreds{groups: []int{5}}
	withFake(t, f)
	if err := Drop(&Cred{text: "0:0"}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(f.calls, " "), "setgroups([]) setgid(0) setuid(0)"; got != want {
		t.Errorf("calls: got %s, want %s", got, want)
	}
}
