// Package lint checks a repository's sops setup without any key: the
// .sops.yaml creation rules, and every sops file they or a secrets/
// directory hold. It reads the repository through an fs.FS and returns
// findings; it never prints, and nothing in a finding comes from a value
// (only paths, line numbers, key names, regular expressions, recipients and
// dates).
package lint

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"
)

// Severity orders findings: an Error fails the check.
type Severity int

// The severities, as GitHub's annotation commands name them.
const (
	Notice Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	}
	return "notice"
}

// Finding is one problem at one place.
type Finding struct {
	File     string // slash-separated, relative to the repository root
	Line     int    // 1-based; 1 when the problem is the whole file
	Severity Severity
	Title    string // a few words, for an annotation's title
	Message  string // one line: what is wrong and where
	Hint     string // how to fix it; may be empty
}

// File is one file that was checked, for the summary table.
type File struct {
	Path         string
	Format       string // "yaml", "json", "dotenv", or "" when not a sops file
	Rule         int    // 1-based index of the matching creation rule, 0 if none
	Recipients   []string
	LastModified time.Time
	Keys         int // values in the file
	Encrypted    int // values the file's rules encrypt
	Errors       int
	Warnings     int
}

// Result is the outcome of a lint run.
type Result struct {
	Files    []File    // in path order; .sops.yaml first when present
	Findings []Finding // by file, then line
}

// Errors returns how many findings are errors.
func (r *Result) Errors() int {
	n := 0
	for _, f := range r.Findings {
		if f.Severity == Error {
			n++
		}
	}
	return n
}

// DefaultMaxAge is the runbook's quarterly rotation.
const DefaultMaxAge = 90 * 24 * time.Hour

// Options tune a lint run.
type Options struct {
	// MaxAge is how old a file's sops lastmodified may be before a warning;
	// zero disables the check.
	MaxAge time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// configFile is the sops configuration lint reads, at the repository root
// (sops itself looks for it from the working directory upwards).
const configFile = ".sops.yaml"

// Run lints the repository fsys. paths are slash-separated paths relative
// to its root: files, or directories that are walked (".git" skipped). With
// no paths, or when configFile is among them (a rule change concerns every
// file), the whole repository is checked. A file is checked when a creation
// rule's path_regex matches it or when it is a .yaml, .yml, .json or .env
// file under a directory named secrets; other given files are skipped, so
// that a pre-commit hook can pass every staged file. The error is non-nil
// only when the repository cannot be walked.
func Run(fsys fs.FS, paths []string, opts Options) (*Result, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &linter{fsys: fsys, opts: opts, res: &Result{}}
	l.loadConfig()
	files, err := l.candidates(paths)
	if err != nil {
		return nil, err
	}
	for _, p := range files {
		l.checkFile(p)
	}
	l.finish()
	return l.res, nil
}

type linter struct {
	fsys fs.FS
	opts Options
	cfg  *config // nil when there is no configFile, or it does not parse
	res  *Result
	// cfgBroken is set when configFile exists but cannot be read or parsed:
	// its finding says so, and files are not checked against it.
	cfgBroken bool
}

func (l *linter) add(f Finding) {
	if f.Line < 1 {
		f.Line = 1
	}
	l.res.Findings = append(l.res.Findings, f)
}

// finish sorts the findings and counts them per file.
func (l *linter) finish() {
	slices.SortStableFunc(l.res.Findings, func(a, b Finding) int {
		if c := cmp.Compare(fileOrder(a.File), fileOrder(b.File)); c != 0 {
			return c
		}
		return cmp.Compare(a.Line, b.Line)
	})
	for i := range l.res.Files {
		f := &l.res.Files[i]
		for _, x := range l.res.Findings {
			switch {
			case x.File != f.Path:
			case x.Severity == Error:
				f.Errors++
			case x.Severity == Warning:
				f.Warnings++
			}
		}
	}
}

// fileOrder sorts configFile first, then by path.
func fileOrder(p string) string {
	if p == configFile {
		return ""
	}
	return p
}

// candidates returns the files to check, sorted and without duplicates.
func (l *linter) candidates(paths []string) ([]string, error) {
	all := len(paths) == 0
	for _, p := range paths {
		if cleanPath(p) == configFile {
			all = true
		}
	}
	if all {
		paths = []string{"."}
	}
	var out []string
	for _, p := range paths {
		p = cleanPath(p)
		if !fs.ValidPath(p) {
			l.add(Finding{File: p, Severity: Error, Title: "path outside the repository",
				Message: fmt.Sprintf("%q is not a path inside the repository", p), Hint: "give paths relative to the repository root"})
			continue
		}
		found, err := l.walk(p)
		if err != nil {
			return nil, err
		}
		out = append(out, found...)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

func cleanPath(p string) string {
	return path.Clean(strings.TrimPrefix(strings.ReplaceAll(p, "\\", "/"), "./"))
}

// walk returns the candidate files at or under p.
func (l *linter) walk(p string) ([]string, error) {
	st, err := fs.Stat(l.fsys, p)
	if err != nil {
		l.add(Finding{File: p, Severity: Error, Title: "no such file",
			Message: fmt.Sprintf("%q does not exist or cannot be read", p), Hint: "give paths relative to the repository root"})
		return nil, nil
	}
	if !st.IsDir() {
		if l.isCandidate(p) {
			return []string{p}, nil
		}
		return nil, nil
	}
	var out []string
	err = fs.WalkDir(l.fsys, p, func(q string, d fs.DirEntry, err error) error {
		switch {
		case err != nil:
			return err
		case d.IsDir() && d.Name() == ".git":
			return fs.SkipDir
		case d.Type().IsRegular() && l.isCandidate(q):
			out = append(out, q)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("failed to walk %q: %w", p, err)
	}
	return out, nil
}

// isCandidate reports whether p is a file lint checks: one a creation
// rule's path_regex matches, or a data file under a secrets/ directory. A
// rule without path_regex (it matches every path for sops) does not make
// every file of the repository a candidate.
func (l *linter) isCandidate(p string) bool {
	if p == configFile {
		return false
	}
	if underSecrets(p) && formatOf(p) != "" {
		return true
	}
	if l.cfg != nil {
		for _, r := range l.cfg.rules {
			if r.pathRE != nil && r.pathRE.MatchString(p) {
				return true
			}
		}
	}
	return false
}

func underSecrets(p string) bool {
	dirs := strings.Split(path.Dir(p), "/")
	return slices.Contains(dirs, "secrets")
}

// formatOf returns the sops store sops picks for p by its extension, among
// those lint reads, or "".
func formatOf(p string) string {
	switch strings.ToLower(path.Ext(p)) {
	case ".yaml", ".yml":
		return "yaml"
	case ".json":
		return "json"
	case ".env":
		return "dotenv"
	}
	return ""
}
