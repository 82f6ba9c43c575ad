package lint

import (
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

// formats maps formatOf's names to secrets' formats.
var formats = map[string]secrets.Format{"yaml": secrets.FormatYAML, "json": secrets.FormatJSON, "dotenv": secrets.FormatDotenv}

// maxKeysNamed bounds the key names one finding lists.
const maxKeysNamed = 20

// rotateHint is what to do about values that reached git in plaintext.
const rotateHint = "rotate every listed value (they are in git history), set `unencrypted_regex: ^sops_` (or no regex) in .sops.yaml, and re-encrypt with `sops encrypt --in-place`"

// checkFile checks one candidate file and records it for the summary.
func (l *linter) checkFile(p string) {
	l.res.Files = append(l.res.Files, File{Path: p, Format: formatOf(p)})
	file := &l.res.Files[len(l.res.Files)-1]
	add := func(line int, sev Severity, title, msg, hint string) {
		l.add(Finding{File: p, Line: line, Severity: sev, Title: title, Message: msg, Hint: hint})
	}
	if file.Format == "" {
		add(1, Notice, "not checked", "a creation rule matches this file, but lint reads only YAML, JSON and .env sops files", "")
		return
	}
	data, ok := l.read(p)
	if !ok {
		return
	}
	loc := newLocator(data, file.Format)
	info, err := secrets.Inspect(data, formats[file.Format])
	if err != nil {
		l.fileError(p, loc, err)
		file.Format = ""
		return
	}
	file.Recipients, file.LastModified, file.Keys = info.Recipients, info.LastModified, len(info.Keys)
	for _, k := range info.Keys {
		if k.Encrypted {
			file.Encrypted++
		}
	}
	if !info.HasMAC {
		add(loc.meta("sops"), Error, "no MAC", "the sops block has no MAC, so nobody can tell whether the values were changed",
			"re-encrypt the file with sops (sops edit, then save)")
	}
	l.checkRecipients(p, loc, info, file)
	l.checkDrift(p, loc, data, info)
	l.checkAge(p, loc, info)
}

// checkDrift finds values the file's own rules leave in plaintext that its
// creation rule in .sops.yaml would encrypt: the file was made under other
// rules (an older .sops.yaml, or command-line flags). sops' rule walk
// decides both.
func (l *linter) checkDrift(p string, loc *locator, data []byte, info *secrets.Inspection) {
	if l.cfg == nil {
		return
	}
	r, ok := l.cfg.ruleFor(p)
	if !ok || r.cryptBad {
		return
	}
	under, err := secrets.EncryptedUnder(data, formats[formatOf(p)], r.crypt)
	if err != nil || len(under) != len(info.Keys) {
		return
	}
	var drift []string
	for i, k := range info.Keys {
		if !k.Encrypted && under[i].Encrypted && under[i].Path == k.Path {
			drift = append(drift, k.Path)
		}
	}
	if len(drift) == 0 {
		return
	}
	l.add(Finding{File: p, Line: loc.key(drift[0]), Severity: Warning, Title: "plaintext by older rules",
		Message: fmt.Sprintf("%d value(s) are left in plaintext by the file's own sops rules, but creation rule %d of .sops.yaml (line %d) would encrypt them: %s",
			len(drift), r.index, r.line, nameList(drift)),
		Hint: fmt.Sprintf("if they are secrets, rotate them (they are in git history) and re-encrypt the file under the current rules: `sops decrypt --in-place %s && sops encrypt --in-place %s`", p, p)})
}

// read reads p, bounded by secrets.MaxFileSize.
func (l *linter) read(p string) ([]byte, bool) {
	f, err := l.fsys.Open(p)
	if err == nil {
		defer f.Close()
		var data []byte
		data, err = io.ReadAll(io.LimitReader(f, secrets.MaxFileSize+1))
		if err == nil && len(data) > secrets.MaxFileSize {
			err = fmt.Errorf("too large")
		}
		if err == nil {
			return data, true
		}
	}
	l.add(Finding{File: p, Severity: Error, Title: "unreadable", Message: fmt.Sprintf("cannot be read, or is larger than %d bytes", secrets.MaxFileSize),
		Hint: "a sops secrets file is small; check the path"})
	return nil, false
}

// fileError turns an Inspect error into a finding. secrets' errors carry
// places and key names, never values.
func (l *linter) fileError(p string, loc *locator, err error) {
	f := Finding{File: p, Severity: Error}
	var (
		fe *secrets.FileError
		pe *secrets.PlaintextError
		ue *secrets.UnsupportedError
	)
	switch {
	case errors.Is(err, secrets.ErrNotEncrypted):
		f.Title = "not encrypted"
		f.Message = "not sops-encrypted (no sops metadata): every value in it is plaintext; once committed (as on a pull request) the values are in git history and must be rotated"
		f.Hint = fmt.Sprintf("rotate every value it holds, encrypt it with `sops encrypt --in-place %s`, and remove the plaintext from history (git filter-repo)", p)
	case errors.As(err, &pe):
		f.Line = loc.key(pe.Keys[0])
		f.Title = "values in plaintext"
		if strings.Contains(pe.Reason, "RE2") {
			f.Title = "values in plaintext (the seed runbook's lookahead trap)"
		}
		f.Message = fmt.Sprintf("%d value(s) are in plaintext in a file that claims to be sops-encrypted: %s (%s); once committed (as on a pull request) they are in git history and must be rotated",
			len(pe.Keys), nameList(pe.Keys), pe.Reason)
		f.Hint = rotateHint
	case errors.As(err, &ue):
		f.Title, f.Message, f.Hint = "unsupported", "the file "+ue.Problem, ue.Hint()
	case errors.As(err, &fe):
		f.Line, f.Title, f.Message, f.Hint = fe.Line, "not a valid sops file", "the file "+fe.Problem, fe.Hint()
	default:
		f.Title, f.Message = "not a valid sops file", "the file cannot be read as a sops file"
	}
	l.add(f)
}

// nameList joins key names, quoted, at most maxKeysNamed of them.
func nameList(keys []string) string {
	var q []string
	for i, k := range keys {
		if i == maxKeysNamed {
			q = append(q, fmt.Sprintf("and %d more", len(keys)-i))
			break
		}
		q = append(q, fmt.Sprintf("%q", k))
	}
	return strings.Join(q, ", ")
}

// checkRecipients compares the file's age recipients with its creation
// rule's.
func (l *linter) checkRecipients(p string, loc *locator, info *secrets.Inspection, file *File) {
	if l.cfg == nil && l.cfgBroken {
		return
	}
	if l.cfg == nil {
		l.add(Finding{File: p, Severity: Warning, Title: "no .sops.yaml", Message: "there is no .sops.yaml at the repository root, so the recipients cannot be checked",
			Hint: "add a .sops.yaml with a creation rule per environment (see the README)"})
		return
	}
	r, ok := l.cfg.ruleFor(p)
	if !ok {
		l.add(Finding{File: p, Line: loc.meta("sops"), Severity: Error, Title: "no creation rule",
			Message: "no creation rule of .sops.yaml matches this path, so `sops updatekeys` cannot re-encrypt the file in a key rotation",
			Hint:    fmt.Sprintf("add a creation rule whose path_regex matches %q, or move the file to a path a rule matches", p)})
		return
	}
	file.Rule = r.index
	if len(r.age) == 0 {
		return
	}
	for _, want := range r.age {
		if !slices.Contains(info.Recipients, want.value) && secrets.IsAgeRecipient(want.value) {
			l.add(Finding{File: p, Line: loc.meta("age"), Severity: Error, Title: "missing recipient",
				Message: fmt.Sprintf("not encrypted to age recipient %s, which creation rule %d of .sops.yaml (line %d) lists", want.value, r.index, want.line),
				Hint:    fmt.Sprintf("run `sops updatekeys %s` with a key that decrypts it, and commit the result", p)})
		}
	}
	for _, have := range info.Recipients {
		if !slices.ContainsFunc(r.age, func(x recipient) bool { return x.value == have }) {
			l.add(Finding{File: p, Line: loc.recipient(have), Severity: Error, Title: "stale recipient",
				Message: fmt.Sprintf("still encrypted to age recipient %s, which creation rule %d of .sops.yaml (line %d) no longer lists: its key still decrypts the file", have, r.index, r.line),
				Hint:    fmt.Sprintf("run `sops updatekeys %s`, then `sops rotate --in-place %s` (a new data key), then change the values if the old key leaked", p, p)})
		}
	}
}

// checkAge warns when sops last wrote the file more than MaxAge ago.
func (l *linter) checkAge(p string, loc *locator, info *secrets.Inspection) {
	if l.opts.MaxAge <= 0 || info.LastModified.IsZero() {
		return
	}
	age := l.opts.Now().Sub(info.LastModified)
	if age <= l.opts.MaxAge {
		return
	}
	l.add(Finding{File: p, Line: loc.meta("lastmodified"), Severity: Warning, Title: "old secrets",
		Message: fmt.Sprintf("last changed by sops on %s (%d days ago), longer ago than max_age %s",
			info.LastModified.UTC().Format(time.DateOnly), int(age.Hours()/24), FormatMaxAge(l.opts.MaxAge)),
		Hint: fmt.Sprintf("rotate its values (the runbook rotates quarterly) with `sops edit %s`, or raise max_age", p)})
}
