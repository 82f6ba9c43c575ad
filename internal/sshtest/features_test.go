package sshtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// TestFeatures: the probe learns what the installed sshd's version says
// it has: PerSourcePenalties from 9.8 on, -r (no re-exec) before it.
func TestFeatures(t *testing.T) {
	s := Start(t)
	out, _ := exec.Command(findSSHD(), "-V").CombinedOutput()
	m := regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("sshd -V printed no OpenSSH version: %q", out)
	}
	major, _ := strconv.Atoi(string(m[1]))
	minor, _ := strconv.Atoi(string(m[2]))
	newer := major > 9 || major == 9 && minor >= 8
	got := probeFeatures(t, findSSHD(), "", s.Dir) // already probed: cfg unused
	if got.penalties != newer || got.noReexec == newer {
		t.Errorf("OpenSSH %d.%d: probed %+v, want penalties %v and noReexec %v", major, minor, got, newer, !newer)
	}
}

// TestProbe runs the probe against stand-ins for the two generations of
// sshd -t. OpenSSH before 9.8 rejects PerSourcePenalties and takes -r;
// 9.8 and later (sshd.c since V_9_8_P1: `case 'r': logit("-r option is
// deprecated"); break;`, logged on stderr) know PerSourcePenalties and
// still accept -r, but ignore it: every session runs sshd-session.
func TestProbe(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name, script string
		want         features
	}{
		{"9.2", `#!/bin/sh
while [ $# -gt 0 ]; do [ "$1" = -f ] && f=$2; shift; done
if grep -q '^PerSourcePenalties' "$f"; then
	echo "$f line 21: Bad configuration option: PerSourcePenalties" >&2
	echo "$f: terminating, 1 bad configuration options" >&2
	exit 255
fi
`, features{penalties: false, noReexec: true}},
		{"9.8", `#!/bin/sh
for a; do [ "$a" = -r ] && echo "-r option is deprecated" >&2; done
exit 0
`, features{penalties: true, noReexec: false}},
	} {
		sshd := filepath.Join(dir, "sshd-"+tc.name)
		if err := os.WriteFile(sshd, []byte(tc.script), 0o755); err != nil {
			t.Fatal(err)
		}
		cfg := sshdConfig("127.0.0.1", 22, "/k", "/a", "/s", true)
		if got := probe(sshd, cfg, dir); got != tc.want {
			t.Errorf("sshd %s: probed %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
