package secretsenv

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

// Cred is the -user uid and gid.
type Cred struct {
	UID, GID int
	text     string
}

func (c *Cred) String() string { return c.text }

// ParseUser parses "UID[:GID]", both decimal. GID defaults to UID, the
// user's own group as useradd makes it: secrets-env reads no /etc/passwd
// (scratch images have none), so names are refused.
func ParseUser(s string) (*Cred, error) {
	u, g, hasG := strings.Cut(s, ":")
	uid, err := parseID(u)
	if err != nil {
		return nil, &UsageError{Problem: fmt.Sprintf("-user %q: the uid %s", s, err), Hint: "give numeric ids: -user 1000 or -user 1000:1000"}
	}
	gid := uid
	if hasG {
		if gid, err = parseID(g); err != nil {
			return nil, &UsageError{Problem: fmt.Sprintf("-user %q: the gid %s", s, err), Hint: "give numeric ids: -user 1000 or -user 1000:1000"}
		}
	}
	return &Cred{UID: uid, GID: gid, text: strconv.Itoa(uid) + ":" + strconv.Itoa(gid)}, nil
}

func parseID(s string) (int, error) {
	if s == "" {
		return 0, errors.New("is empty")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	// (uid_t)-1 means "unchanged" to the set*id calls.
	if err != nil || n == 1<<32-1 {
		return 0, errors.New("is not a number from 0 to 4294967294")
	}
	return int(n), nil
}

// testOnlyCredOps lets a test replace the system calls.
var testOnlyCredOps credOps = sysCredOps{}

type credOps interface {
	Setgroups([]int) error
	Setgid(int) error
	Setuid(int) error
	Getuid() int
	Geteuid() int
	Getgid() int
	Getegid() int
	Getgroups() ([]int, error)
}

type sysCredOps struct{}

// Go's syscall set*id calls change every thread of the process (since Go
// 1.16), so the thread that calls execve has the new ids.
func (sysCredOps) Setgroups(g []int) error   { return syscall.Setgroups(g) }
func (sysCredOps) Setgid(g int) error        { return syscall.Setgid(g) }
func (sysCredOps) Setuid(u int) error        { return syscall.Setuid(u) }
func (sysCredOps) Getuid() int               { return syscall.Getuid() }
func (sysCredOps) Geteuid() int              { return syscall.Geteuid() }
func (sysCredOps) Getgid() int               { return syscall.Getgid() }
func (sysCredOps) Getegid() int              { return syscall.Getegid() }
func (sysCredOps) Getgroups() ([]int, error) { return syscall.Getgroups() }

// Drop switches the process to c: supplementary groups cleared, then the
// gid, then the uid (after which the others can no longer change), and
// checks that it took, including that root cannot be regained.
func Drop(c *Cred) error {
	ops := testOnlyCredOps
	fail := func(step string, err error) error {
		ue := &UserError{User: c.String(), Problem: fmt.Sprintf("%s: %v", step, err)}
		if errors.Is(err, syscall.EPERM) {
			ue.Hint = "secrets-env must start as root to use -user: remove the service's user:, and let -user drop privileges after reading the file"
		}
		return ue
	}
	if err := ops.Setgroups([]int{}); err != nil {
		return fail("setgroups", err)
	}
	if err := ops.Setgid(c.GID); err != nil {
		return fail("setgid", err)
	}
	if err := ops.Setuid(c.UID); err != nil {
		return fail("setuid", err)
	}
	groups, err := ops.Getgroups()
	if err != nil {
		return fail("getgroups", err)
	}
	switch {
	case ops.Getuid() != c.UID || ops.Geteuid() != c.UID:
		return &UserError{User: c.String(), Problem: fmt.Sprintf("the uid is %d (effective %d) after setuid", ops.Getuid(), ops.Geteuid())}
	case ops.Getgid() != c.GID || ops.Getegid() != c.GID:
		return &UserError{User: c.String(), Problem: fmt.Sprintf("the gid is %d (effective %d) after setgid", ops.Getgid(), ops.Getegid())}
	case len(groups) > 0 && !slices.Equal(groups, []int{c.GID}):
		return &UserError{User: c.String(), Problem: fmt.Sprintf("%d supplementary groups remain after setgroups", len(groups))}
	}
	if c.UID != 0 {
		// A saved uid of 0 would let the command become root again.
		if err := ops.Setuid(0); err == nil {
			return &UserError{User: c.String(), Problem: "setuid(0) still succeeds after the switch"}
		}
		if c.GID != 0 {
			if err := ops.Setgid(0); err == nil {
				return &UserError{User: c.String(), Problem: "setgid(0) still succeeds after the switch"}
			}
		}
	}
	return nil
}
