// Package report renders the step summary. It shows what was deployed —
// names, recipients, paths, sizes — and never a value.
package report

import (
	"fmt"
	"io/fs"
	"strings"
	"time"
)

// MaxKeysListed bounds the key names written to the summary, which the
// runner caps at 1 MiB per step.
const MaxKeysListed = 500

// Summary is what a deploy did. Every field is public information.
type Summary struct {
	Env          string
	File         string
	FileSHA256   string // of the encrypted file
	LastModified time.Time
	Recipients   []string
	Keys         []string // key paths, in file order
	Unencrypted  []string // key paths the file's own rules leave in plaintext
	Empty        []string // key paths with empty values
	Host         string   // user@host:port
	HostKey      string   // verified host key: type and fingerprint
	RemotePath   string
	Mode         fs.FileMode
	Bytes        int64
	Duration     time.Duration
	Error        string // one line; empty on success
}

// Markdown renders s for GITHUB_STEP_SUMMARY.
func Markdown(s Summary) string {
	var b strings.Builder
	if s.Error != "" {
		fmt.Fprintf(&b, "### ❌ sops-deploy: %s not deployed\n\n", code(s.Env))
		fmt.Fprintf(&b, "%s\n\n", cell(s.Error))
	} else {
		fmt.Fprintf(&b, "### ✅ sops-deploy: %s deployed\n\n", code(s.Env))
	}
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, v)
		}
	}
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
	row("Host", code(s.Host))
	row("Host key", code(s.HostKey))
	row("Remote path", code(s.RemotePath))
	if s.Error == "" && s.RemotePath != "" {
		row("Mode", code(fmt.Sprintf("%04o", s.Mode.Perm())))
		row("Bytes", fmt.Sprintf("%d", s.Bytes))
	}
	if s.Duration > 0 {
		row("Duration", s.Duration.Round(time.Millisecond).String())
	}
	if len(s.Keys) > 0 {
		fmt.Fprintf(&b, "\n**Key names** (%d): %s\n", len(s.Keys), codes(s.Keys, MaxKeysListed))
	}
	if len(s.Unencrypted) > 0 {
		fmt.Fprintf(&b, "\n**Left unencrypted by the file's own sops rules** (%d): %s\n", len(s.Unencrypted), codes(s.Unencrypted, MaxKeysListed))
	}
	if len(s.Empty) > 0 {
		fmt.Fprintf(&b, "\n**Empty values** (%d): %s\n", len(s.Empty), codes(s.Empty, MaxKeysListed))
	}
	return b.String()
}

// code renders s as inline code that cannot break the table or the
// Markdown around it.
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

func cell(s string) string {
	return strings.NewReplacer("\n", " ", "\r", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
