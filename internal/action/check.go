package action

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
	"github.com/productgalaxy/sops-deploy-action/internal/lint"
	"github.com/productgalaxy/sops-deploy-action/internal/mask"
	"github.com/productgalaxy/sops-deploy-action/internal/report"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

// isCheck reports whether the operation input asks for lint or verify,
// which read the repository only and contact no host.
func isCheck(gha *githubactions.Action) bool {
	op := inputs.Operation(gha.GetInput("operation"))
	return op == inputs.Lint || op == inputs.Verify
}

// lintFailedError says lint found errors; each has its annotation.
type lintFailedError struct{ Errors int }

func (e *lintFailedError) Error() string { return fmt.Sprintf("lint found %d error(s)", e.Errors) }

// check performs operation lint or verify. Like Run, it has printed
// every failure when it returns an error.
func check(_ context.Context, gha *githubactions.Action, opts Options) error {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	s := &step{gha: gha, opts: opts, start: opts.Now(), debug: debugOn(gha)}
	cfg, err := s.loadInputs() // masks first, as for a deploy: verify holds the age key
	if err != nil {
		line := s.fail(err)
		if inputs.Operation(gha.GetInput("operation")) == inputs.Lint {
			s.addSummary(report.LintMarkdown(report.Lint{Error: line}))
		} else {
			s.addSummary(report.VerifyMarkdown(report.Verify{Env: gha.GetInput("env"), Error: line}))
		}
		if s.fileErr != nil {
			return errors.Join(err, s.fileErr)
		}
		return err
	}
	if cfg.Operation == inputs.Lint {
		err = s.lint(cfg)
	} else {
		err = s.verify(cfg)
	}
	if err == nil {
		err = s.fileErr
	}
	return err
}

// addSummary appends md to the step summary. A summary that cannot be
// written is one ::error:: line, remembered so the run fails.
func (s *step) addSummary(md string) {
	if err := s.appendFileCommand("GITHUB_STEP_SUMMARY", "the step summary", md+"\n"); err != nil {
		s.fail(err)
		s.fileErr = err
	}
}

// workspaceFS returns the repository checkout as an fs.FS whose paths
// cannot leave it, and a function that closes it.
func (s *step) workspaceFS() (fs.FS, func(), error) {
	if s.opts.Workspace != nil {
		return s.opts.Workspace, func() {}, nil
	}
	dir := s.gha.Getenv("GITHUB_WORKSPACE")
	if dir == "" {
		dir = "."
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, &workspaceError{Dir: dir, Err: err}
	}
	return root.FS(), func() { root.Close() }, nil
}

// lint runs the lint checks on the workspace, prints one annotation per
// finding on its file and line, and writes a table per file.
func (s *step) lint(cfg *inputs.Config) error {
	ws, closeWS, err := s.workspaceFS()
	if err != nil {
		line := s.fail(err)
		s.addSummary(report.LintMarkdown(report.Lint{Error: line}))
		return err
	}
	defer closeWS()
	res, err := lint.Run(ws, nil, lint.Options{MaxAge: cfg.MaxAge, Now: s.opts.Now})
	if err != nil {
		line := s.fail(err)
		s.addSummary(report.LintMarkdown(report.Lint{Error: line}))
		return err
	}
	sum := report.Lint{}
	for _, f := range res.Findings {
		s.annotate(f)
		sum.Findings = append(sum.Findings, report.LintFinding{File: f.File, Line: f.Line, Severity: f.Severity.String(), Message: f.Message})
	}
	for _, f := range res.Files {
		sum.Files = append(sum.Files, report.LintFile{Path: f.Path, Format: f.Format, Rule: f.Rule, Recipients: len(f.Recipients),
			LastModified: f.LastModified, Keys: f.Keys, Encrypted: f.Encrypted, Errors: f.Errors, Warnings: f.Warnings})
	}
	s.addSummary(report.LintMarkdown(sum))
	s.plainf("Linted %d file(s): %d error(s)", len(res.Files), res.Errors())
	if n := res.Errors(); n > 0 {
		return &lintFailedError{Errors: n}
	}
	return nil
}

// annotate prints a finding as a workflow command on its file and line, so
// that a pull request shows it in the diff. go-githubactions escapes the
// properties and the message; a finding holds no value.
func (s *step) annotate(f lint.Finding) {
	msg := f.Message
	if f.Hint != "" {
		msg += "; fix: " + f.Hint
	}
	// The runner also honours the legacy ##[command] form.
	msg = strings.ReplaceAll(msg, "##[", "#\u200b#[")
	a := s.gha.WithFieldsMap(map[string]string{"file": f.File, "line": strconv.Itoa(f.Line), "title": f.Title})
	switch f.Severity {
	case lint.Error:
		a.Errorf("%s", msg)
	case lint.Warning:
		a.Warningf("%s", msg)
	default:
		a.Noticef("%s", msg)
	}
}

// verify decrypts the file in memory with age_key and checks its MAC, shape
// and required_keys; with compare_file it lists the key names added,
// removed and changed. It contacts no host.
func (s *step) verify(cfg *inputs.Config) error {
	v := report.Verify{Env: cfg.Env, File: cfg.File, CompareFile: cfg.CompareFile}
	err := s.verifyInto(cfg, &v)
	if err != nil {
		v.Error = s.fail(err)
	}
	s.addSummary(report.VerifyMarkdown(v))
	return err
}

func (s *step) verifyInto(cfg *inputs.Config, v *report.Verify) error {
	ids, err := secrets.ParseIdentities(cfg.AgeKey.Reveal())
	if err != nil {
		return err
	}
	// compare_file first, so that its values too are masked before
	// anything else is printed.
	var base *secrets.Result
	var baseErr error
	if cfg.CompareFile != "" {
		base, baseErr = s.decryptBase(cfg.CompareFile, ids)
	}
	// decrypt masks every value before it returns, and logs names only.
	res, err := s.decrypt(cfg, ids)
	if err != nil {
		return err
	}
	v.FileSHA256, v.LastModified, v.Recipients = s.sum.FileSHA256, res.LastModified, res.Recipients
	v.Keys, v.Unencrypted, v.Empty = s.sum.Keys, s.sum.Unencrypted, s.sum.Empty
	if cfg.CompareFile != "" {
		s.compare(cfg.CompareFile, base, baseErr, res, v)
	}
	return nil
}

// decryptBase reads and decrypts compare_file with the same key and masks
// its values.
func (s *step) decryptBase(name string, ids secrets.Identities) (*secrets.Result, error) {
	data, err := s.readFile(name)
	if err != nil {
		return nil, err
	}
	base, err := secrets.Decrypt(data, ids)
	if err != nil {
		return nil, &fileProblem{File: name, Err: err}
	}
	mask.Values(s.gha, base.Leaves)
	return base, nil
}

// compare lists the key names that differ from compare_file's. A
// compare_file that cannot be read or decrypted is a warning, not a
// failure: the base branch may predate a key rotation.
func (s *step) compare(name string, base *secrets.Result, baseErr error, res *secrets.Result, v *report.Verify) {
	switch {
	case errors.Is(baseErr, fs.ErrNotExist):
		v.Compared, v.CompareNote = true, "compare_file does not exist: every key is new"
		v.Added = v.Keys
		return
	case baseErr != nil:
		msg, _ := describe(baseErr)
		v.CompareNote = "not compared: " + msg
		s.gha.Warningf("compare_file %q is not compared: %s", name, msg)
		return
	}
	v.Compared = true
	v.Added, v.Removed, v.Changed = diffKeys(base.Leaves, res.Leaves)
	s.plainf("Compared with %q: %d key(s) added, %d removed, %d changed", name, len(v.Added), len(v.Removed), len(v.Changed))
}

// diffKeys returns the key paths only in b (added), only in a (removed),
// and in both with a different type or value (changed), in file order. It
// compares in memory and returns names only.
func diffKeys(a, b []secrets.Leaf) (added, removed, changed []string) {
	old := make(map[string]secrets.Leaf, len(a))
	for _, l := range a {
		old[l.Path] = l
	}
	seen := make(map[string]bool, len(b))
	for _, l := range b {
		seen[l.Path] = true
		o, ok := old[l.Path]
		switch {
		case !ok:
			added = append(added, l.Path)
		case o.Type != l.Type || o.Value.Reveal() != l.Value.Reveal():
			changed = append(changed, l.Path)
		}
	}
	for _, l := range a {
		if !seen[l.Path] {
			removed = append(removed, l.Path)
		}
	}
	return added, removed, changed
}
