// Package report renders the step summary. It shows what was deployed —
// names, recipients, paths, sizes — and never a value.
package report

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// maxKeysListed bounds the key names written to the summary, which the
// runner caps at 1 MiB per step.
const maxKeysListed = 500

// Summary is what a deploy or rollback did. Every field is public
// information.
type Summary struct {
	Operation    string // "deploy" or "rollback"
	Env          string
	File         string
	FileSHA256   string // of the encrypted file
	LastModified time.Time
	Recipients   []string
	Keys         []string // key paths, in file order
	Unencrypted  []string // key paths the file's own rules leave in plaintext
	Empty        []string // key paths with empty values
	RemotePath   string
	Hosts        []Host
	Duration     time.Duration
	Error        string // one line, for a failure before any host; else empty
	// Problems are failures after the hosts were done (an output that
	// could not be written), one line each.
	Problems []string
}

// Host is the outcome on one host.
type Host struct {
	Label     string // user@host:port
	OK        bool
	Changed   bool
	Restarted bool   // restart_command ran and succeeded
	HostKey   string // verified host key: type and fingerprint
	Mode      fs.FileMode
	Bytes     int64
	Backup    string      // path of the kept previous version, if written
	Keys      *KeyChanges // the key names a deploy changed; nil when not compared
	Attempts  int
	Duration  time.Duration
	Error     string // one line; empty on success
}

// KeyChanges names the keys a deploy added, removed and changed on a
// host. Names only.
type KeyChanges struct {
	Added, Removed, Changed []string
	Unknown                 string // why they are not known, or ""
}

// Failed returns how many hosts failed.
func (s Summary) Failed() int {
	n := 0
	for _, h := range s.Hosts {
		if !h.OK {
			n++
		}
	}
	return n
}

// Markdown renders s for GITHUB_STEP_SUMMARY: a heading with the outcome,
// the run's facts, a row per host, the key changes, then the key names.
func Markdown(s Summary) string {
	var b strings.Builder
	op := s.Operation
	if op == "" {
		op = "deploy"
	}
	writeHeading(&b, s, op)
	writeFacts(&b, s, op)
	writeHosts(&b, s.Hosts)
	writeKeyChanges(&b, s.Hosts)
	writeKeyLists(&b, s)
	return b.String()
}

// writeHeading writes the outcome and any problem after the hosts.
func writeHeading(b *strings.Builder, s Summary, op string) {
	verb := map[string]string{"deploy": "deployed", "rollback": "rolled back"}[op]
	switch {
	case s.Error != "":
		fmt.Fprintf(b, "### ❌ sops-deploy: %s not %s\n\n%s\n\n", code(s.Env), verb, code(s.Error))
	case s.Failed() > 0:
		fmt.Fprintf(b, "### ❌ sops-deploy: %s %s on %d of %d host(s)\n\n", code(s.Env), verb, len(s.Hosts)-s.Failed(), len(s.Hosts))
	default:
		fmt.Fprintf(b, "### ✅ sops-deploy: %s %s on %d host(s)\n\n", code(s.Env), verb, len(s.Hosts))
	}
	for _, p := range s.Problems {
		fmt.Fprintf(b, "⚠️ %s\n\n", code(p))
	}
}

// writeFacts writes the two-column table of what the run used; empty
// facts get no row.
func writeFacts(b *strings.Builder, s Summary, op string) {
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(b, "| %s | %s |\n", k, v)
		}
	}
	row("Operation", op)
	row("Environment", code(s.Env))
	row("File", code(s.File))
	row("Encrypted file sha256", code(s.FileSHA256))
	if !s.LastModified.IsZero() {
		row("sops lastmodified", code(s.LastModified.UTC().Format(time.RFC3339)))
	}
	row("Recipients", codes(s.Recipients, len(s.Recipients)))
	if s.Keys != nil {
		row("Keys", fmt.Sprintf("%d", len(s.Keys)))
	}
	row("Remote path", code(s.RemotePath))
	if s.Duration > 0 {
		row("Duration", s.Duration.Round(time.Millisecond).String())
	}
}

// writeHosts writes a row per host: its outcome, and the host key or the
// error line.
func writeHosts(b *strings.Builder, hosts []Host) {
	if len(hosts) == 0 {
		return
	}
	b.WriteString("\n| Host | Result | Changed | Mode | Bytes | Duration | Details |\n|---|---|---|---|---|---|---|\n")
	for _, h := range hosts {
		result, details := "✅ ok", code(h.HostKey)
		if !h.OK {
			result, details = "❌ failed", code(h.Error)
		} else if h.Backup != "" {
			details += "; previous version kept"
		}
		if h.OK && h.Restarted {
			details += "; services restarted"
		}
		if h.Attempts > 1 {
			details += fmt.Sprintf(" (%d attempts)", h.Attempts)
		}
		changed, mode, size := "", "", ""
		if h.OK {
			changed = map[bool]string{true: "yes", false: "no"}[h.Changed]
			mode, size = code(fmt.Sprintf("%04o", h.Mode.Perm())), fmt.Sprint(h.Bytes)
		}
		fmt.Fprintf(b, "| %s | %s | %s | %s | %s | %s | %s |\n", code(h.Label), result, changed, mode, size, h.Duration.Round(time.Millisecond), details)
	}
}

// writeKeyLists writes the key names, the ones left unencrypted and the
// empty ones; names only, never values.
func writeKeyLists(b *strings.Builder, s Summary) {
	if len(s.Keys) > 0 {
		fmt.Fprintf(b, "\n**Key names** (%d): %s\n", len(s.Keys), codes(s.Keys, maxKeysListed))
	}
	if len(s.Unencrypted) > 0 {
		fmt.Fprintf(b, "\n**Left unencrypted by the file's own sops rules** (%d): %s\n", len(s.Unencrypted), codes(s.Unencrypted, maxKeysListed))
	}
	if len(s.Empty) > 0 {
		fmt.Fprintf(b, "\n**Empty values** (%d): %s\n", len(s.Empty), codes(s.Empty, maxKeysListed))
	}
}

// code renders s as inline code that cannot break the table or the
// Markdown around it. Everything that comes from inputs, the file or a
// server goes through it: inside a code span, Markdown links, images and
// HTML are shown as text.
func code(s string) string {
	if s == "" {
		return ""
	}
	s = strings.NewReplacer("\n", " ", "\r", " ", "|", "\\|").Replace(s)
	fence := "`"
	for strings.Contains(s, fence) {
		fence += "`"
	}
	pad := ""
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		pad = " "
	}
	return fence + pad + s + pad + fence
}

func codes(list []string, max int) string {
	var parts []string
	for i, s := range list {
		if i == max {
			parts = append(parts, fmt.Sprintf("… and %d more", len(list)-max))
			break
		}
		parts = append(parts, code(s))
	}
	return strings.Join(parts, ", ")
}

// writeKeyChanges lists, per host whose file changed, the key names the
// deploy added, removed and changed.
func writeKeyChanges(b *strings.Builder, hosts []Host) {
	for _, h := range hosts {
		k := h.Keys
		switch {
		case k == nil || !h.Changed:
			continue
		case k.Unknown != "":
			fmt.Fprintf(b, "\n**Keys changed on %s**: not known (%s)\n", code(h.Label), k.Unknown)
		default:
			fmt.Fprintf(b, "\n**Keys changed on %s**: added (%d) %s; removed (%d) %s; changed (%d) %s\n", code(h.Label),
				len(k.Added), codes(k.Added, maxKeysListed), len(k.Removed), codes(k.Removed, maxKeysListed), len(k.Changed), codes(k.Changed, maxKeysListed))
		}
	}
}
