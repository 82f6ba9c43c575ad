package report

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	p := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(p, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Errorf("%s differs (run go test -update):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

func sample() Summary {
	return Summary{
		Env:          "staging",
		File:         "secrets/staging/galaxy.enc.yaml",
		FileSHA256:   "97a2cc2f1e4789b2fd389c98d18a2691edad0d3b79ea493722eb51b011ebe597",
		LastModified: time.Date(2026, 11, 30, 1, 56, 12, 0, time.UTC),
		Recipients:   []string{"age1ks0dfm7et5cje8unmwu2ksememrtp5wslnr5vd7w0krkwdy8pf6q3dqwrt"},
		Keys:         []string{"database_url", "b2_key_id", "region_unencrypted", "odd|name`x"},
		Unencrypted:  []string{"region_unencrypted"},
		Empty:        []string{"b2_key_id"},
		RemotePath:   "/etc/galaxy/secrets/galaxy.yaml",
		Hosts: []Host{
			{Label: "deploy@vps1.example:22", OK: true, Changed: true, HostKey: "ssh-ed25519 SHA256:EzDYjstME/jfbSMeTkBJO1UAeKKampPMABkOl/E1/Ms", Mode: 0o600, Bytes: 878, Backup: "/etc/galaxy/secrets/galaxy.yaml.previous", Attempts: 1, Duration: 120 * time.Millisecond},
			{Label: "deploy@[2001:db8::1]:2222", OK: true, Changed: false, HostKey: "ssh-ed25519 SHA256:AAAA", Mode: 0o600, Bytes: 878, Attempts: 2, Duration: 1100 * time.Millisecond},
		},
		Duration: 1234567 * time.Microsecond,
	}
}

func TestMarkdownSuccess(t *testing.T) {
	t.Parallel()
	golden(t, "success.md", Markdown(sample()))
}

func TestMarkdownFailure(t *testing.T) {
	t.Parallel()
	s := sample()
	s.Error = `file "secrets/staging/galaxy.enc.yaml" failed its integrity check; fix: restore <it>`
	s.Hosts = nil
	golden(t, "failure.md", Markdown(s))
}

func TestMarkdownHostFailure(t *testing.T) {
	t.Parallel()
	s := sample()
	s.Hosts[1] = Host{Label: "deploy@vps2.example:22", Error: `host key mismatch for vps2.example:22 | evil`, Attempts: 1, Duration: 30 * time.Millisecond}
	golden(t, "host-failure.md", Markdown(s))
}

func TestMarkdownBoundsKeyList(t *testing.T) {
	t.Parallel()
	s := sample()
	s.Keys = nil
	for i := 0; i < maxKeysListed+7; i++ {
		s.Keys = append(s.Keys, "k")
	}
	md := Markdown(s)
	if got, want := strings.Count(md, "`k`"), maxKeysListed; got != want {
		t.Errorf("listed %d keys, want %d", got, want)
	}
	if !strings.Contains(md, "… and 7 more") {
		t.Errorf("no overflow note")
	}
}

func TestCodeCannotBreakMarkdown(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"plain":      "`plain`",
		"a|b":        "`a\\|b`",
		"a`b":        "``a`b``",
		"`x":         "`` `x ``",
		"line\nnext": "`line next`",
	} {
		if got := code(in); got != want {
			t.Errorf("code(%q) = %q, want %q", in, got, want)
		}
	}
}

// BenchmarkMarkdown10k renders a summary with 10,000 key names.
func BenchmarkMarkdown10k(b *testing.B) {
	s := sample()
	s.Keys = nil
	for i := 0; i < 10000; i++ {
		s.Keys = append(s.Keys, fmt.Sprintf("key_%05d", i))
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = Markdown(s)
	}
}
