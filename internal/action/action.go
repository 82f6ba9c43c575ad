// Package action runs one deploy: inputs → secrets → remote → report. It is
// the only layer that talks to the runner (log lines, masks, summary,
// outputs).
package action

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/sethvargo/go-githubactions"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
	"github.com/productgalaxy/sops-deploy-action/internal/mask"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/report"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

// Options are the seams the runner's process environment provides.
type Options struct {
	// Workspace is the repository checkout; nil opens GITHUB_WORKSPACE (or
	// the working directory) as an os.Root, so paths cannot escape it.
	Workspace fs.FS
	// Timeouts for each SSH connection; zero means remote.DefaultTimeouts.
	Timeouts remote.Timeouts
	// Backoff is the first delay between retries, doubled each time; zero
	// means defaultBackoff.
	Backoff time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// defaultBackoff is the first delay before retrying a transient failure.
const defaultBackoff = time.Second

// Run performs the deploy or rollback described by the inputs in gha and
// reports the outcome to the runner. On failure it has printed one
// ::error:: line per failure and returns a non-nil error; the caller only
// sets the exit code.
func Run(ctx context.Context, gha *githubactions.Action, opts Options) error {
	if isCheck(gha) {
		return check(ctx, gha, opts) // lint or verify: no host (check.go)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeouts == (remote.Timeouts{}) {
		opts.Timeouts = remote.DefaultTimeouts
	}
	if opts.Backoff == 0 {
		opts.Backoff = defaultBackoff
	}
	s := &step{gha: gha, opts: opts, start: opts.Now(), debug: debugOn(gha)}
	err := s.deploy(ctx)
	s.sum.Duration = opts.Now().Sub(s.start)
	var hf *hostsFailedError
	var fce *fileCommandError
	switch {
	case errors.As(err, &fce):
		// The hosts are done; the summary shows them and this problem.
		s.sum.Problems = append(s.sum.Problems, s.fail(err))
	case err != nil && !errors.As(err, &hf):
		s.sum.Error = s.fail(err)
	}
	if serr := s.writeSummary(); serr != nil {
		s.fail(serr)
		if err == nil {
			err = serr
		}
	}
	return err
}

// step is one run of the action, a step of the workflow's job: the
// runner it talks to, and the summary it fills in as it goes.
type step struct {
	gha   *githubactions.Action
	opts  Options
	start time.Time
	debug bool
	sum   report.Summary
	// fileErr is a file command that could not be written (lint and
	// verify), already printed.
	fileErr error
}

// fail prints err as one ::error:: line and returns that line.
func (s *step) fail(err error) string {
	msg, hint := describe(err)
	line := msg
	if hint != "" {
		line += "; fix: " + hint
	}
	s.gha.Errorf("%s", line)
	return line
}

func debugOn(gha *githubactions.Action) bool {
	return gha.Getenv("RUNNER_DEBUG") == "1" || strings.EqualFold(gha.Getenv("ACTIONS_STEP_DEBUG"), "true")
}

func (s *step) debugf(format string, args ...any) {
	if s.debug {
		s.gha.Debugf(format, args...)
	}
}

func (s *step) since() time.Duration { return s.opts.Now().Sub(s.start).Round(time.Millisecond) }

// hostsFailedError says some hosts failed; each already has its ::error::
// line.
type hostsFailedError struct{ Failed, Total int }

func (e *hostsFailedError) Error() string {
	return fmt.Sprintf("%d of %d host(s) failed", e.Failed, e.Total)
}

// deploy performs a deploy or a rollback on every host: inputs, keys and
// host keys first, then the file (deploy only), then the hosts, then the
// outputs. Nothing contacts a host before every input is checked.
func (s *step) deploy(ctx context.Context) error {
	cfg, err := s.loadInputs()
	if err != nil {
		return err
	}
	s.sum.Operation, s.sum.Env, s.sum.RemotePath = string(cfg.Operation), cfg.Env, cfg.RemotePath
	d, ids, err := s.prepare(cfg)
	if err != nil {
		return err
	}
	if cfg.Operation == inputs.Deploy {
		s.sum.File = cfg.File
		res, err := s.decrypt(cfg, ids)
		if err != nil {
			return err
		}
		d.content, d.leaves = res.Plaintext, res.Leaves
	}
	results := s.fanOut(ctx, d)
	s.sum.Hosts = results
	outErr := s.writeOutputs(hostOutputs(cfg, results, len(d.leaves), s.sum.FileSHA256), s.doneText(results))
	if failed := s.sum.Failed(); failed > 0 {
		if outErr != nil {
			s.sum.Problems = append(s.sum.Problems, s.fail(outErr))
		}
		return &hostsFailedError{Failed: failed, Total: len(results)}
	}
	return outErr
}

// loadInputs masks every secret input, whole and line by line, raw and
// trimmed, before anything is printed, then reads the inputs.
func (s *step) loadInputs() (*inputs.Config, error) {
	for _, name := range inputs.SecretInputs {
		mask.Secret(s.gha, s.gha.Getenv("INPUT_"+strings.ToUpper(name)))
		mask.Secret(s.gha, s.gha.GetInput(name))
	}
	return inputs.Load(s.gha.GetInput)
}

// prepare parses the keys and host keys and returns the deployer of the
// hosts, without the file's content yet. A host known_hosts does not cover
// is an input error: it is said before contacting anything.
func (s *step) prepare(cfg *inputs.Config) (*hostDeployer, secrets.Identities, error) {
	var ids secrets.Identities
	var err error
	if cfg.Operation == inputs.Deploy {
		if ids, err = secrets.ParseIdentities(cfg.AgeKey.Reveal()); err != nil {
			return nil, ids, err
		}
	}
	signer, err := remote.ParseSigner(cfg.SSHKey, cfg.SSHKeyPassphrase)
	if err != nil {
		return nil, ids, err
	}
	hostKeys, err := remote.NewHostKeys(cfg.KnownHosts, cfg.HostFingerprints)
	if err != nil {
		return nil, ids, err
	}
	addrs := []string{}
	if cfg.Jump != nil {
		addrs = append(addrs, cfg.Jump.Addr())
	}
	for _, h := range cfg.Hosts {
		addrs = append(addrs, h.Addr())
	}
	for _, a := range addrs {
		if !hostKeys.Knows(a) {
			return nil, ids, &remote.HostKeyError{Host: a, Unknown: true}
		}
	}
	s.debugf("inputs valid: %s of %d host(s); ssh key %s (%s)", cfg.Operation, len(cfg.Hosts), remote.ClientKeyDescription(signer), s.since())
	return &hostDeployer{cfg: cfg, signer: signer, hostKeys: hostKeys, opts: s.opts}, ids, nil
}

// hostOutputs are the step's outputs: what changed, restarted and failed
// where, and for a deploy what the file held.
func hostOutputs(cfg *inputs.Config, results []report.Host, keyCount int, fileSHA256 string) [][2]string {
	var changed bool
	failed, changedOn, restartedOn := []string{}, []string{}, []string{}
	for _, h := range results {
		changed = changed || h.Changed
		if h.Changed {
			changedOn = append(changedOn, h.Label)
		}
		if h.Restarted {
			restartedOn = append(restartedOn, h.Label)
		}
		if !h.OK {
			failed = append(failed, h.Label)
		}
	}
	outputs := [][2]string{
		{"remote_path", cfg.RemotePath},
		{"changed", strconv.FormatBool(changed)},
		{"hosts_failed", strings.Join(failed, ",")},
		{"hosts_changed", strings.Join(changedOn, ",")},
		{"hosts_restarted", strings.Join(restartedOn, ",")},
	}
	if cfg.Operation == inputs.Deploy {
		outputs = append(outputs,
			[2]string{"changed_keys", changedKeysJSON(results)},
			[2]string{"key_count", fmt.Sprint(keyCount)},
			[2]string{"sha256", fileSHA256})
	}
	return outputs
}

// doneText says what the run did on the hosts, for errors that happen
// after the hosts are done.
func (s *step) doneText(results []report.Host) string {
	ok := len(results) - report.Summary{Hosts: results}.Failed()
	verb := map[string]string{"deploy": "installed", "rollback": "rolled back"}[s.sum.Operation]
	return fmt.Sprintf("%s on %d of %d host(s), as the lines above say", verb, ok, len(results))
}

func (s *step) writeOutputs(outputs [][2]string, done string) error {
	text, err := outputsText(outputs)
	if err == nil {
		err = s.appendFileCommand("GITHUB_OUTPUT", "the outputs", text)
	}
	var fce *fileCommandError
	if errors.As(err, &fce) {
		fce.Done = done
	}
	return err
}

// decrypt reads, checks and decrypts the file, masks every value and logs
// what it found. Nothing here contacts a host.
func (s *step) decrypt(cfg *inputs.Config, ids secrets.Identities) (*secrets.Result, error) {
	gha := s.gha
	encrypted, err := s.readFile(cfg.File)
	if err != nil {
		return nil, err
	}
	res, err := secrets.Decrypt(encrypted, ids)
	if err != nil {
		return nil, &fileProblem{File: cfg.File, Err: err}
	}
	// Only now: a refused file may hold plaintext values, and its digest
	// would be a digest of them.
	sum := sha256.Sum256(encrypted)
	s.sum.FileSHA256 = hex.EncodeToString(sum[:])
	skipped := mask.Values(gha, res.Leaves)
	s.debugf("decrypted and masked %d values (%s)", len(res.Leaves), s.since())
	if missing := missingKeys(res.Leaves, cfg.RequiredKeys); len(missing) > 0 {
		return nil, &fileProblem{File: cfg.File, Err: &missingKeysError{Keys: missing}}
	}
	s.sum.LastModified = res.LastModified
	s.sum.Recipients = res.Recipients
	s.sum.Unencrypted = res.Unencrypted()
	s.sum.Empty = skipped.Empty
	for _, l := range res.Leaves {
		s.sum.Keys = append(s.sum.Keys, l.Path)
	}
	s.plainf("Decrypted %q in memory: %d keys, encrypted to %s (sops lastmodified %s, file sha256 %s)",
		cfg.File, len(res.Leaves), safeList(res.Recipients), res.LastModified.UTC().Format(time.RFC3339), s.sum.FileSHA256)
	if len(skipped.Empty) > 0 {
		gha.Warningf("%d key(s) have empty values: %s", len(skipped.Empty), strings.Join(skipped.Empty, ", "))
	}
	if len(skipped.Short) > 0 {
		gha.Warningf("%d value(s) are shorter than %d characters or booleans and are not masked in the log (masking them would hide that text everywhere): %s",
			len(skipped.Short), mask.MinLength, strings.Join(skipped.Short, ", "))
	}
	if len(s.sum.Unencrypted) > 0 {
		gha.Noticef("%d key(s) are stored unencrypted by the file's own sops rules: %s", len(s.sum.Unencrypted), strings.Join(s.sum.Unencrypted, ", "))
	}
	return res, nil
}

func (s *step) writeSummary() error {
	err := s.appendFileCommand("GITHUB_STEP_SUMMARY", "the step summary", report.Markdown(s.sum)+"\n")
	var fce *fileCommandError
	if errors.As(err, &fce) && len(s.sum.Hosts) > 0 {
		fce.Done = s.doneText(s.sum.Hosts)
	}
	return err
}

// readFile reads the encrypted file from the workspace, refusing paths that
// leave it and files over the size bound.
func (s *step) readFile(name string) ([]byte, error) {
	ws, closeWS, err := s.workspaceFS()
	if err != nil {
		return nil, err
	}
	defer closeWS()
	f, err := ws.Open(name)
	if err != nil {
		return nil, &fileProblem{File: name, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, secrets.MaxFileSize+1))
	if err != nil {
		return nil, &fileProblem{File: name, Err: err}
	}
	if len(b) > secrets.MaxFileSize {
		return nil, &fileProblem{File: name, Err: &secrets.FileError{Problem: fmt.Sprintf("is larger than the %d-byte limit", secrets.MaxFileSize), Fix: "a secrets file this large is not a Compose secrets file; check the file input"}}
	}
	return b, nil
}

// plainf prints an info line. The runner also honours the legacy
// "##[command]" form anywhere in a line, so that sequence is broken up
// whatever the arguments hold; every argument that comes from inputs or
// the file is quoted or validated as well.
func (s *step) plainf(format string, args ...any) {
	s.gha.Infof("%s", strings.ReplaceAll(fmt.Sprintf(format, args...), "##[", "#\u200b#["))
}

var plainRE = regexp.MustCompile(`^[A-Za-z0-9_.@:/+=\[\]-]+$`)

// safeList joins strings that come from the repository for a plain log
// line, quoting any that could carry a line break or a workflow command.
func safeList(xs []string) string {
	out := make([]string, len(xs))
	for i, x := range xs {
		if plainRE.MatchString(x) && !strings.HasPrefix(x, "::") {
			out[i] = x
		} else {
			out[i] = strconv.Quote(x)
		}
	}
	return strings.Join(out, ", ")
}

// missingKeys returns the required names that match no value's key path,
// neither exactly nor as a parent mapping or list.
func missingKeys(leaves []secrets.Leaf, required []string) []string {
	var missing []string
	for _, k := range required {
		found := false
		for _, l := range leaves {
			if l.Path == k || strings.HasPrefix(l.Path, k+".") || strings.HasPrefix(l.Path, k+"[") {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, k)
		}
	}
	return missing
}

// missingKeysError lists required keys the file lacks.
type missingKeysError struct{ Keys []string }

func (e *missingKeysError) Error() string {
	return fmt.Sprintf("lacks %d required key(s): %s", len(e.Keys), strings.Join(e.Keys, ", "))
}

// Hint says how to fix it.
func (e *missingKeysError) Hint() string {
	return "add them with `sops edit` on the file, or correct the required_keys input"
}

// fileProblem ties an error to the secrets file it concerns.
type fileProblem struct {
	File string
	Err  error
}

// Error names the file before the problem. An error that is not one of
// ours (it has no Hint method) is not shown: it might quote the file,
// which can hold plaintext.
func (e *fileProblem) Error() string {
	var pe *fs.PathError
	switch {
	case errors.Is(e.Err, fs.ErrNotExist):
		return fmt.Sprintf("file %q does not exist in the workspace", e.File)
	case errors.As(e.Err, &pe):
		return fmt.Sprintf("failed to read file %q from the workspace: %v", e.File, pe.Err)
	case !ours(e.Err):
		return fmt.Sprintf("failed to read file %q from the workspace", e.File)
	}
	return fmt.Sprintf("file %q %v", e.File, e.Err)
}

func (e *fileProblem) Unwrap() error { return e.Err }

// Hint says how to fix a file that cannot be read; the errors of a file
// that was read carry their own.
func (e *fileProblem) Hint() string {
	switch {
	case errors.Is(e.Err, fs.ErrNotExist):
		return "run actions/checkout before this step, and check the env and file inputs"
	case !ours(e.Err):
		return "check that the path is a readable file inside the repository checkout"
	}
	return ""
}

// workspaceError says the workspace could not be opened.
type workspaceError struct {
	Dir string
	Err error
}

func (e *workspaceError) Error() string {
	return fmt.Sprintf("failed to open workspace %q: %v", e.Dir, e.Err)
}
func (e *workspaceError) Unwrap() error { return e.Err }

// Hint says how to fix it.
func (e *workspaceError) Hint() string {
	return "run the action in a job that has checked out the repository"
}
