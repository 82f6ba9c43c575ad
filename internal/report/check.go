package report

import (
	"fmt"
	"strings"
	"time"
)

// maxFindingsListed bounds the findings written to the summary.
const maxFindingsListed = 200

// Lint is the outcome of operation lint. Every field is public: paths,
// counts, recipients, dates and messages that name places, never values.
type Lint struct {
	Files    []LintFile
	Findings []LintFinding
	Error    string // one line, when lint could not run; else empty
}

// LintFile is one checked file.
type LintFile struct {
	Path         string
	Format       string // "" when the file is not a readable sops file
	Rule         int    // matching creation rule, 1-based; 0 if none
	Recipients   int
	LastModified time.Time
	Keys         int
	Encrypted    int
	Errors       int
	Warnings     int
}

// LintFinding is one finding.
type LintFinding struct {
	File     string
	Line     int
	Severity string // "error", "warning", "notice"
	Message  string
}

// LintMarkdown renders a lint run: a table per file, then the findings.
func LintMarkdown(l Lint) string {
	var b strings.Builder
	errs, warns := 0, 0
	for _, f := range l.Files {
		errs, warns = errs+f.Errors, warns+f.Warnings
	}
	switch {
	case l.Error != "":
		fmt.Fprintf(&b, "### ❌ sops-deploy lint: not run\n\n%s\n", code(l.Error))
		return b.String()
	case errs > 0:
		fmt.Fprintf(&b, "### ❌ sops-deploy lint: %d error(s), %d warning(s) in %d file(s)\n\n", errs, warns, len(l.Files))
	default:
		fmt.Fprintf(&b, "### ✅ sops-deploy lint: %d file(s) checked, %d warning(s)\n\n", len(l.Files), warns)
	}
	b.WriteString("| File | Result | Errors | Warnings | Creation rule | Recipients | Values (encrypted) | sops lastmodified |\n|---|---|---|---|---|---|---|---|\n")
	for _, f := range l.Files {
		result := "✅ ok"
		switch {
		case f.Errors > 0:
			result = "❌ errors"
		case f.Warnings > 0:
			result = "⚠️ warnings"
		}
		rule, recips, values, lm := "", "", "", ""
		if f.Rule > 0 {
			rule = fmt.Sprint(f.Rule)
		}
		if f.Format != "" {
			recips, values = fmt.Sprint(f.Recipients), fmt.Sprintf("%d (%d)", f.Keys, f.Encrypted)
		}
		if !f.LastModified.IsZero() {
			lm = f.LastModified.UTC().Format(time.DateOnly)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %d | %s | %s | %s | %s |\n", code(f.Path), result, f.Errors, f.Warnings, rule, recips, values, lm)
	}
	if len(l.Findings) > 0 {
		b.WriteString("\n| Place | Severity | Problem |\n|---|---|---|\n")
		for i, f := range l.Findings {
			if i == maxFindingsListed {
				fmt.Fprintf(&b, "| … | | and %d more |\n", len(l.Findings)-i)
				break
			}
			fmt.Fprintf(&b, "| %s | %s | %s |\n", code(fmt.Sprintf("%s:%d", f.File, f.Line)), f.Severity, code(f.Message))
		}
	}
	return b.String()
}

// Verify is the outcome of operation verify.
type Verify struct {
	Env, File    string
	FileSHA256   string // of the encrypted file
	LastModified time.Time
	Recipients   []string
	Keys         []string // key paths, in file order
	Unencrypted  []string
	Empty        []string
	CompareFile  string
	Compared     bool     // false when compare_file was not set or could not be decrypted
	CompareNote  string   // why the comparison did not happen, if it did not
	Added        []string // key paths in File but not in CompareFile
	Removed      []string
	Changed      []string // key paths whose value or type differs
	Error        string   // one line, for a failure; else empty
}

// VerifyMarkdown renders a verify run.
func VerifyMarkdown(v Verify) string {
	var b strings.Builder
	if v.Error != "" {
		fmt.Fprintf(&b, "### ❌ sops-deploy verify: %s does not verify\n\n%s\n\n", code(v.File), code(v.Error))
	} else {
		fmt.Fprintf(&b, "### ✅ sops-deploy verify: %s decrypts with the %s key\n\n", code(v.File), code(v.Env))
	}
	b.WriteString("| | |\n|---|---|\n")
	row := func(k, val string) {
		if val != "" {
			fmt.Fprintf(&b, "| %s | %s |\n", k, val)
		}
	}
	row("Operation", "verify (no host contacted)")
	row("Environment", code(v.Env))
	row("File", code(v.File))
	row("Encrypted file sha256", code(v.FileSHA256))
	if !v.LastModified.IsZero() {
		row("sops lastmodified", code(v.LastModified.UTC().Format(time.RFC3339)))
	}
	row("Recipients", codes(v.Recipients, len(v.Recipients)))
	if v.Keys != nil {
		row("Keys", fmt.Sprint(len(v.Keys)))
	}
	row("Compared with", code(v.CompareFile))
	if v.CompareNote != "" {
		row("Comparison", code(v.CompareNote))
	}
	if v.Compared {
		fmt.Fprintf(&b, "\n**Key names added** (%d): %s\n", len(v.Added), codes(v.Added, maxKeysListed))
		fmt.Fprintf(&b, "\n**Key names removed** (%d): %s\n", len(v.Removed), codes(v.Removed, maxKeysListed))
		fmt.Fprintf(&b, "\n**Keys whose value changed** (%d): %s\n", len(v.Changed), codes(v.Changed, maxKeysListed))
	}
	if len(v.Keys) > 0 {
		fmt.Fprintf(&b, "\n**Key names** (%d): %s\n", len(v.Keys), codes(v.Keys, maxKeysListed))
	}
	if len(v.Unencrypted) > 0 {
		fmt.Fprintf(&b, "\n**Left unencrypted by the file's own sops rules** (%d): %s\n", len(v.Unencrypted), codes(v.Unencrypted, maxKeysListed))
	}
	if len(v.Empty) > 0 {
		fmt.Fprintf(&b, "\n**Empty values** (%d): %s\n", len(v.Empty), codes(v.Empty, maxKeysListed))
	}
	return b.String()
}
