package main

// Tests of the workflow files against action.yml: the example workflows
// users copy (.github/examples) and this repository's own workflows
// (.github/workflows). action.yml is read on every run, so a new or renamed
// input is picked up without touching these tests.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
)

// thisAction is how the examples refer to this action.
const thisAction = "productgalaxy/sops-deploy-action"

// actionMeta is the part of action.yml the tests compare against.
type actionMeta struct {
	Inputs map[string]struct {
		Description string  `yaml:"description"`
		Required    bool    `yaml:"required"`
		Default     *string `yaml:"default"`
	} `yaml:"inputs"`
	Outputs map[string]struct {
		Description string `yaml:"description"`
	} `yaml:"outputs"`
	Runs struct {
		Using string `yaml:"using"`
		Image string `yaml:"image"`
	} `yaml:"runs"`
}

func loadAction(t *testing.T) *actionMeta {
	t.Helper()
	b, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionMeta
	if err := yaml.Unmarshal(b, &a); err != nil {
		t.Fatalf("failed to parse action.yml: %v", err)
	}
	if len(a.Inputs) == 0 || len(a.Outputs) == 0 {
		t.Fatalf("action.yml declares %d inputs and %d outputs; expected some of each", len(a.Inputs), len(a.Outputs))
	}
	return &a
}

func (a *actionMeta) inputNames() []string  { return sortedKeys(a.Inputs) }
func (a *actionMeta) outputNames() []string { return sortedKeys(a.Outputs) }

func (a *actionMeta) requiredInputs() []string {
	var req []string
	for name, in := range a.Inputs {
		if in.Required {
			req = append(req, name)
		}
	}
	slices.Sort(req)
	return req
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// workflow is one parsed workflow file.
type workflow struct {
	path    string
	example bool       // under .github/examples
	root    *yaml.Node // the top-level mapping
	jobs    []wfJob
}

type wfJob struct {
	id          string
	node        *yaml.Node
	environment string
	steps       []wfStep
}

type wfStep struct {
	index       int
	name        string
	uses        string
	usesComment string // the line comment after uses:, e.g. "# v4.2.2"
	line        int
	with        map[string]string
	withKeys    []string // in file order
}

func (s wfStep) String() string {
	if s.name != "" {
		return fmt.Sprintf("step %d (%s, line %d)", s.index+1, s.name, s.line)
	}
	return fmt.Sprintf("step %d (%s, line %d)", s.index+1, s.uses, s.line)
}

// usesThisAction reports whether the step runs this action, from this
// repository (uses: ./) or by name (the examples).
func (s wfStep) usesThisAction() bool {
	return s.uses == "./" || strings.HasPrefix(s.uses, thisAction+"@")
}

// workflowFiles returns every workflow and example workflow.
func workflowFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	for _, pattern := range []string{".github/workflows/*.y*ml", ".github/examples/*.y*ml"} {
		m, err := filepath.Glob(pattern)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m {
			// The Compose example is no workflow (cmd/secrets-env tests it).
			if !strings.HasPrefix(filepath.Base(f), "docker-compose") {
				files = append(files, f)
			}
		}
	}
	return files
}

func loadWorkflows(t *testing.T) []*workflow {
	t.Helper()
	var wfs []*workflow
	for _, p := range workflowFiles(t) {
		wfs = append(wfs, loadWorkflow(t, p))
	}
	var examples int
	for _, wf := range wfs {
		if wf.example {
			examples++
		}
	}
	if examples < 3 {
		t.Fatalf("found %d example workflows in .github/examples; expected deploy-staging, deploy-prod and deploy-prod-rollback", examples)
	}
	return wfs
}

func loadWorkflow(t *testing.T, path string) *workflow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("%s: not valid YAML: %v", path, err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("%s: the top level is not a mapping", path)
	}
	wf := &workflow{
		path:    path,
		example: filepath.Base(filepath.Dir(path)) == "examples",
		root:    doc.Content[0],
	}
	jobs := mapGet(wf.root, "jobs")
	if jobs == nil || jobs.Kind != yaml.MappingNode {
		t.Fatalf("%s: no jobs", path)
	}
	for i := 0; i+1 < len(jobs.Content); i += 2 {
		j := wfJob{id: jobs.Content[i].Value, node: jobs.Content[i+1]}
		if env := mapGet(j.node, "environment"); env != nil {
			if env.Kind == yaml.MappingNode {
				env = mapGet(env, "name")
			}
			if env != nil {
				j.environment = env.Value
			}
		}
		if steps := mapGet(j.node, "steps"); steps != nil {
			for k, sn := range steps.Content {
				j.steps = append(j.steps, parseStep(t, path, j.id, k, sn))
			}
		}
		wf.jobs = append(wf.jobs, j)
	}
	return wf
}

func parseStep(t *testing.T, path, jobID string, index int, n *yaml.Node) wfStep {
	t.Helper()
	s := wfStep{index: index, line: n.Line, with: map[string]string{}}
	if n.Kind != yaml.MappingNode {
		t.Fatalf("%s: job %q step %d is not a mapping", path, jobID, index+1)
	}
	if v := mapGet(n, "name"); v != nil {
		s.name = v.Value
	}
	if v := mapGet(n, "uses"); v != nil {
		s.uses, s.usesComment, s.line = v.Value, v.LineComment, v.Line
	}
	if w := mapGet(n, "with"); w != nil {
		if w.Kind != yaml.MappingNode {
			t.Fatalf("%s: job %q %v: with is not a mapping", path, jobID, s)
		}
		for i := 0; i+1 < len(w.Content); i += 2 {
			k := w.Content[i].Value
			s.withKeys = append(s.withKeys, k)
			s.with[k] = w.Content[i+1].Value
		}
	}
	return s
}

// mapGet returns the value of key in mapping n, or nil.
func mapGet(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// checkActionStep returns what is wrong with the inputs a step passes to
// this action: keys action.yml does not declare, required inputs missing.
func checkActionStep(a *actionMeta, with map[string]string) (undeclared, missing []string) {
	for k := range with {
		if _, ok := a.Inputs[k]; !ok {
			undeclared = append(undeclared, k)
		}
	}
	for _, req := range a.requiredInputs() {
		if _, ok := with[req]; !ok {
			missing = append(missing, req)
		}
	}
	slices.Sort(undeclared)
	return undeclared, missing
}

// TestWorkflowInputsMatchActionYML checks every step that runs this action:
// each with: key is an input action.yml declares, and each required input
// is given.
func TestWorkflowInputsMatchActionYML(t *testing.T) {
	t.Parallel()
	a := loadAction(t)
	for _, wf := range loadWorkflows(t) {
		found := 0
		for _, j := range wf.jobs {
			for _, s := range j.steps {
				if !s.usesThisAction() {
					continue
				}
				found++
				undeclared, missing := checkActionStep(a, s.with)
				for _, k := range undeclared {
					t.Errorf("%s: job %q %v passes input %q, which action.yml does not declare (declared: %s)",
						wf.path, j.id, s, k, strings.Join(a.inputNames(), ", "))
				}
				for _, k := range missing {
					t.Errorf("%s: job %q %v does not pass %q, which action.yml marks required: true",
						wf.path, j.id, s, k)
				}
				if wf.example {
					// Secret inputs come from secrets, never from a literal or a variable.
					for _, k := range inputs.SecretInputs {
						if v, ok := s.with[k]; ok && !regexp.MustCompile(`^\$\{\{\s*secrets\.[A-Za-z0-9_]+\s*\}\}$`).MatchString(v) {
							t.Errorf("%s: job %q %v: %s is %q; pass it from a secret: ${{ secrets.NAME }}", wf.path, j.id, s, k, v)
						}
					}
				}
			}
		}
		if wf.example && found == 0 {
			t.Errorf("%s: no step uses %s", wf.path, thisAction)
		}
		if filepath.Base(wf.path) == "ci.yml" && found == 0 {
			t.Errorf("%s: no step runs the action from the checkout (uses: ./)", wf.path)
		}
	}
}

var (
	shaPinned    = regexp.MustCompile(`^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+(/[^@]+)?@[0-9a-f]{40}$`)
	versionNote  = regexp.MustCompile(`^#\s*v\d+(\.\d+){0,2}\b`)
	digestPinned = regexp.MustCompile(`^docker://[^@]+@sha256:[0-9a-f]{64}$`)
)

// TestWorkflowActionsPinnedBySHA checks that every action from another
// repository (this one included, in the examples) is pinned by a full
// commit SHA with a version comment, and every docker:// image by digest.
func TestWorkflowActionsPinnedBySHA(t *testing.T) {
	t.Parallel()
	for _, wf := range loadWorkflows(t) {
		for _, j := range wf.jobs {
			for _, s := range j.steps {
				switch {
				case s.uses == "" || strings.HasPrefix(s.uses, "./"):
					// a run: step, or an action from this checkout
				case strings.HasPrefix(s.uses, "docker://"):
					if !digestPinned.MatchString(s.uses) {
						t.Errorf("%s: job %q %v: %q is not pinned by digest (docker://image@sha256:<64 hex>)", wf.path, j.id, s, s.uses)
					}
				case !shaPinned.MatchString(s.uses):
					t.Errorf("%s: job %q %v: %q is not pinned by a full 40-hex commit SHA", wf.path, j.id, s, s.uses)
				case !versionNote.MatchString(s.usesComment):
					t.Errorf("%s: job %q %v: %q has no version comment (e.g. `# v4.2.2`) after the SHA", wf.path, j.id, s, s.uses)
				}
			}
		}
	}
}

// deploys reports whether a step of the job runs this action to deploy or
// roll back (not lint or verify, which change nothing).
func (j wfJob) deploys() bool {
	for _, s := range j.steps {
		if op := s.with["operation"]; s.usesThisAction() && (op == "" || op == "deploy" || op == "rollback") {
			return true
		}
	}
	return false
}

// TestWorkflowsPermissionsAndConcurrency checks that every workflow states
// its token permissions, and that each example has least permissions; and
// that each example deploy has a concurrency group that never cancels a
// running deploy, one group per environment (a rollback shares its
// deploy's group). A check (lint, verify) may be cancelled.
func TestWorkflowsPermissionsAndConcurrency(t *testing.T) {
	t.Parallel()
	groups := map[string]map[string][]string{} // environment -> group -> files
	for _, wf := range loadWorkflows(t) {
		perms := mapGet(wf.root, "permissions")
		if perms == nil {
			t.Errorf("%s: no top-level permissions: block; state the token's permissions (e.g. contents: read)", wf.path)
		}
		if !wf.example {
			continue
		}
		switch {
		case perms == nil:
		case perms.Kind != yaml.MappingNode:
			t.Errorf("%s: permissions is %q; list each permission (contents: read)", wf.path, perms.Value)
		default:
			for i := 0; i+1 < len(perms.Content); i += 2 {
				if v := perms.Content[i+1].Value; v != "read" && v != "none" {
					t.Errorf("%s: permissions grant %s: %s; the deploy needs contents: read only", wf.path, perms.Content[i].Value, v)
				}
			}
		}
		for _, j := range wf.jobs {
			if mapGet(j.node, "permissions") != nil {
				t.Errorf("%s: job %q sets its own permissions; keep the one top-level block", wf.path, j.id)
			}
		}

		deploys := slices.ContainsFunc(wf.jobs, wfJob.deploys)
		conc := mapGet(wf.root, "concurrency")
		if conc == nil || conc.Kind != yaml.MappingNode || mapGet(conc, "group") == nil {
			t.Errorf("%s: no top-level concurrency: block with a group", wf.path)
			continue
		}
		if c := mapGet(conc, "cancel-in-progress"); deploys && c != nil && c.Value != "false" {
			t.Errorf("%s: concurrency cancel-in-progress is %s; a deploy must not be cancelled by the next one", wf.path, c.Value)
		}
		group := mapGet(conc, "group").Value
		for _, j := range wf.jobs {
			if !j.deploys() {
				continue
			}
			if j.environment == "" {
				t.Errorf("%s: job %q has no environment; secrets and approvals live on the environment", wf.path, j.id)
				continue
			}
			if groups[j.environment] == nil {
				groups[j.environment] = map[string][]string{}
			}
			if !slices.Contains(groups[j.environment][group], wf.path) {
				groups[j.environment][group] = append(groups[j.environment][group], wf.path)
			}
		}
	}
	for env, byGroup := range groups {
		if len(byGroup) > 1 {
			t.Errorf("examples deploying to environment %q use different concurrency groups %v; use one, so a rollback never races a deploy", env, byGroup)
		}
	}
}

// TestExampleRequiredKeys checks that the examples' required_keys list the
// runbook's keys, which the staging fixture holds (testdata/README.md).
func TestExampleRequiredKeys(t *testing.T) {
	t.Parallel()
	var doc yaml.Node
	if err := yaml.Unmarshal(readTestdata(t, "staging/galaxy.plain.yaml"), &doc); err != nil {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i+1 < len(doc.Content[0].Content); i += 2 {
		want = append(want, doc.Content[0].Content[i].Value)
	}
	slices.Sort(want)
	for _, wf := range loadWorkflows(t) {
		if !wf.example {
			continue
		}
		for _, j := range wf.jobs {
			for _, s := range j.steps {
				v, ok := s.with["required_keys"]
				if !s.usesThisAction() || !ok {
					continue
				}
				got := strings.FieldsFunc(v, func(r rune) bool { return r == ',' || r == '\n' || r == ' ' })
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("%s: job %q %v: required_keys %v, want the runbook's %v", wf.path, j.id, s, got, want)
				}
			}
		}
	}
}

// TestActionYMLHasNoExpressions fails on a `${{` anywhere in action.yml's
// metadata. GitHub's runner evaluates expressions in action metadata too
// (descriptions and defaults included) and refuses to load an action whose
// expression names a context it does not offer there, such as secrets;
// act refuses it with "expressions are not allowed here". Backticks and
// block scalars do not escape it, so no scalar may hold one.
func TestActionYMLHasNoExpressions(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("failed to parse action.yml: %v", err)
	}
	found := 0
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, "${{") {
			found++
			t.Errorf("action.yml line %d (%s): holds an expression; write it as plain words", n.Line, path)
		}
		for i, c := range n.Content {
			p := path
			if n.Kind == yaml.MappingNode && i%2 == 1 {
				p = path + "." + n.Content[i-1].Value
			}
			walk(c, p)
		}
	}
	walk(&doc, "")
	if found == 0 && strings.Contains(string(b), "${{") {
		t.Errorf("action.yml holds `${{` outside any value (a comment?); the runner's parser may still see it")
	}
}
