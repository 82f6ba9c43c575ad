package main

import (
	"encoding/base64"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// canaryMark is in every planted value and in no key, path or name; no
// output may contain it, even in part.
const canaryMark = "cnry7q"

// TestCanary plants canary values in the file and in the environment,
// triggers every error path, and checks that nothing secrets-env prints
// holds a canary, whole, encoded or as its marker.
func TestCanary(t *testing.T) {
	t.Parallel()
	file := func(content string) string { return writeFile(t, content) }
	good := file(`db:
  password: cnry7q-db-password
  hosts: [cnry7q-host-0, cnry7q-host-1]
nul: "cnry7q-before\0cnry7q-after"
big: ` + strings.Repeat("cnry7q", 25000) + `
multi: |
  cnry7q-line-1
  cnry7q-line-2
`)
	clash := file("db:\n  password: cnry7q-clash-a\ndb_password: cnry7q-clash-b\n")
	noexec := filepath.Join(t.TempDir(), "noexec")
	if err := os.WriteFile(noexec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	badInterp := filepath.Join(t.TempDir(), "badinterp")
	if err := os.WriteFile(badInterp, []byte("#!/nonexistent/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=/usr/bin:/bin", "ALREADY=cnry7q-env-value"}
	run1 := func(args ...string) []string { return args }
	cases := map[string][]string{
		"missing key":     run1("-file", good, "X=db.pasword", "--", "true"),
		"mapping":         run1("-file", good, "X=db", "--", "true"),
		"list":            run1("-file", good, "X=db.hosts", "--", "true"),
		"nul":             run1("-file", good, "X=nul", "--", "true"),
		"nul, -all":       run1("-file", good, "-all", "--", "true"),
		"too long":        run1("-file", good, "X=big", "--", "true"),
		"clash":           run1("-file", clash, "-all", "--", "true"),
		"already set":     run1("-file", good, "ALREADY=db.password", "--", "true"),
		"invalid yaml":    run1("-file", file("a: cnry7q-a\nb: [cnry7q-unclosed\n"), "X=a", "--", "true"),
		"bad token":       run1("-file", file("a: cnry7q-a\n@cnry7q: b\n"), "X=a", "--", "true"),
		"tab":             run1("-file", file("a:\n\tcnry7q: b\n"), "X=a", "--", "true"),
		"duplicate":       run1("-file", file("a: cnry7q-1\na: cnry7q-2\n"), "X=a", "--", "true"),
		"alias":           run1("-file", file("a: &x cnry7q-alias\nb: *x\n"), "X=a", "--", "true"),
		"two documents":   run1("-file", file("a: cnry7q-1\n---\nb: cnry7q-2\n"), "X=a", "--", "true"),
		"scalar document": run1("-file", file("cnry7q-scalar\n"), "X=a", "--", "true"),
		"complex key":     run1("-file", file("? [cnry7q-k]\n: cnry7q-v\n"), "X=a", "--", "true"),
		"encrypted":       run1("-file", file("a: ENC[AES256_GCM,data:cnry7q]\nsops:\n  mac: ENC[cnry7q]\n"), "X=a", "--", "true"),
		"not found":       run1("-file", good, "X=db.password", "--", "no-such-command"),
		"not executable":  run1("-file", good, "X=db.password", "--", noexec),
		"bad interpreter": run1("-file", good, "X=db.password", "--", badInterp),
		"bad user":        run1("-file", good, "-user", "x", "X=db.password", "--", "true"),
		"success":         run1("-file", good, "X=db.password", "Y=multi", "--", "true"),
		"success, -all":   run1("-file", clash, "-override", "X=db.password", "--", "true"),
	}
	check := func(name, out string) {
		t.Helper()
		for _, bad := range []string{canaryMark, strings.ToUpper(canaryMark),
			hex.EncodeToString([]byte(canaryMark)), base64.StdEncoding.EncodeToString([]byte(canaryMark))[:6]} {
			if strings.Contains(out, bad) {
				t.Errorf("%s: output holds %q:\n%s", name, bad, out)
			}
		}
	}
	for name, args := range cases {
		r := run(t, env, args...)
		if strings.HasPrefix(name, "success") != (r.code == 0) {
			t.Errorf("%s: exit %d\n%s", name, r.code, r.stderr)
		}
		check(name, r.stdout+r.stderr)
	}

	// -user started without root, as root can start it.
	t.Run("user", func(t *testing.T) {
		needRoot(t)
		f := filepath.Join(publicDir(t), "galaxy.yaml")
		if err := os.WriteFile(f, []byte("a: cnry7q-user\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(secretsEnv, "-file", f, "-user", "1000", "X=a", "--", "true")
		cmd.Env = env
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, _ := cmd.CombinedOutput()
		if !strings.Contains(string(out), "setgroups") {
			t.Errorf("-user as non-root: %s", out)
		}
		check("-user as non-root", string(out))
	})
}
