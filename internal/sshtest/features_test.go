package sshtest

import (
	"os/exec"
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
