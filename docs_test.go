package main

// Tests that README.md says what action.yml says: the inputs and outputs
// tables list exactly the declared names, the "required" column and the
// defaults agree, and the YAML snippets a reader copies are valid; and
// that internal/inputs applies action.yml's defaults.

import (
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/productgalaxy/sops-deploy-action/internal/inputs"
)

func readREADME(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mdTable is a Markdown table: lower-cased header cells and the rows.
type mdTable struct {
	header []string
	rows   [][]string
}

// col returns the index of the column named name, or -1.
func (tb mdTable) col(name string) int { return slices.Index(tb.header, name) }

// tableAfter returns the first table after the line heading (e.g.
// "### Inputs"), before the next heading.
func tableAfter(t *testing.T, readme, heading string) mdTable {
	t.Helper()
	lines := strings.Split(readme, "\n")
	start := slices.Index(lines, heading)
	if start < 0 {
		t.Fatalf("README.md has no %q heading", heading)
	}
	var tb mdTable
	for _, l := range lines[start+1:] {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "#") {
			break
		}
		if !strings.HasPrefix(l, "|") {
			if tb.header != nil {
				break // the table has ended
			}
			continue
		}
		cells := splitRow(l)
		switch {
		case tb.header == nil:
			for _, c := range cells {
				tb.header = append(tb.header, strings.ToLower(c))
			}
		case regexp.MustCompile(`^[-:| ]+$`).MatchString(l):
			// the delimiter row
		default:
			tb.rows = append(tb.rows, cells)
		}
	}
	if tb.header == nil || len(tb.rows) == 0 {
		t.Fatalf("README.md: no table under %q", heading)
	}
	return tb
}

// splitRow splits a table row on the pipes that are not escaped (\|) and
// not inside a code span.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(line, "|")
	line = strings.TrimSuffix(line, "|")
	var cells []string
	var cur strings.Builder
	inCode := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && i+1 < len(line) && line[i+1] == '|':
			cur.WriteByte('|')
			i++
		case c == '`':
			inCode = !inCode
			cur.WriteByte(c)
		case c == '|' && !inCode:
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// tableNames returns the first column's names (backticks removed) and the
// rows by name.
func tableNames(t *testing.T, tb mdTable, what string) ([]string, map[string][]string) {
	t.Helper()
	var names []string
	rows := map[string][]string{}
	for _, r := range tb.rows {
		name := strings.Trim(r[0], "` *")
		if _, dup := rows[name]; dup {
			t.Errorf("README.md: %s %q is listed twice", what, name)
		}
		names = append(names, name)
		rows[name] = r
	}
	slices.Sort(names)
	return names, rows
}

// diffNames returns the names in want but not in got, and in got but not
// in want.
func diffNames(want, got []string) (missing, extra []string) {
	for _, n := range want {
		if !slices.Contains(got, n) {
			missing = append(missing, n)
		}
	}
	for _, n := range got {
		if !slices.Contains(want, n) {
			extra = append(extra, n)
		}
	}
	return missing, extra
}

func TestReadmeInputsTableMatchesActionYML(t *testing.T) {
	t.Parallel()
	a := loadAction(t)
	tb := tableAfter(t, readREADME(t), "### Inputs")
	names, rows := tableNames(t, tb, "input")
	missing, extra := diffNames(a.inputNames(), names)
	if len(missing) > 0 {
		t.Errorf("README.md inputs table lacks inputs declared in action.yml: %s", strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("README.md inputs table lists inputs action.yml does not declare: %s", strings.Join(extra, ", "))
	}

	reqCol, defCol := tb.col("required"), tb.col("default")
	if reqCol < 0 || defCol < 0 {
		t.Fatalf("README.md inputs table header %v lacks a required or default column", tb.header)
	}
	for name, in := range a.Inputs {
		row, ok := rows[name]
		if !ok || len(row) <= max(reqCol, defCol) {
			continue
		}
		// "one of these two" (known_hosts, host_fingerprint) and "no" both
		// mean not required by action.yml.
		saysYes := strings.EqualFold(strings.Trim(row[reqCol], " *"), "yes")
		switch {
		case in.Required && !saysYes:
			t.Errorf("README.md: input %q is required in action.yml, but its required column says %q (want yes)", name, row[reqCol])
		case !in.Required && saysYes:
			t.Errorf("README.md: input %q is not required in action.yml, but its required column says yes", name)
		}
		if in.Default != nil && *in.Default != "" && !strings.Contains(row[defCol], "`"+*in.Default+"`") {
			t.Errorf("README.md: input %q default column says %q; action.yml's default is `%s`", name, row[defCol], *in.Default)
		}
	}
}

func TestReadmeOutputsTableMatchesActionYML(t *testing.T) {
	t.Parallel()
	a := loadAction(t)
	tb := tableAfter(t, readREADME(t), "### Outputs")
	names, _ := tableNames(t, tb, "output")
	missing, extra := diffNames(a.outputNames(), names)
	if len(missing) > 0 {
		t.Errorf("README.md outputs table lacks outputs declared in action.yml: %s", strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		t.Errorf("README.md outputs table lists outputs action.yml does not declare: %s", strings.Join(extra, ", "))
	}
}

// yamlBlocks returns the ```yaml fenced blocks of a Markdown text.
func yamlBlocks(md string) []string {
	var blocks []string
	var cur []string
	in := false
	for _, l := range strings.Split(md, "\n") {
		trimmed := strings.TrimSpace(l)
		switch {
		case !in && (trimmed == "```yaml" || trimmed == "```yml"):
			in, cur = true, nil
		case in && trimmed == "```":
			in = false
			blocks = append(blocks, strings.Join(cur, "\n"))
		case in:
			cur = append(cur, l)
		}
	}
	return blocks
}

// TestReadmeYAMLSnippets checks the README's YAML snippets: each parses;
// each use of this action passes only declared inputs and every required
// one; each .sops.yaml rule's regular expressions compile with Go's regexp,
// as sops compiles them (sops ignores the error of one that does not, such
// as the lookahead `^(?!sops_).*`, and encrypts nothing).
func TestReadmeYAMLSnippets(t *testing.T) {
	t.Parallel()
	a := loadAction(t)
	blocks := yamlBlocks(readREADME(t))
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```yaml blocks")
	}
	var uses, rules int
	for i, b := range blocks {
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(b), &doc); err != nil {
			t.Errorf("README.md yaml block %d does not parse: %v\n%s", i+1, err, b)
			continue
		}
		walkMappings(&doc, func(m *yaml.Node) {
			if u := mapGet(m, "uses"); u != nil && (u.Value == "./" || strings.HasPrefix(u.Value, thisAction+"@")) {
				uses++
				with := map[string]string{}
				if w := mapGet(m, "with"); w != nil {
					for j := 0; j+1 < len(w.Content); j += 2 {
						with[w.Content[j].Value] = w.Content[j+1].Value
					}
				}
				undeclared, missing := checkActionStep(a, with)
				for _, k := range undeclared {
					t.Errorf("README.md yaml block %d, line %d of the block: input %q is not declared in action.yml", i+1, u.Line, k)
				}
				for _, k := range missing {
					t.Errorf("README.md yaml block %d, line %d of the block: required input %q is not given", i+1, u.Line, k)
				}
			}
			if cr := mapGet(m, "creation_rules"); cr != nil {
				for _, rule := range cr.Content {
					rules++
					for j := 0; j+1 < len(rule.Content); j += 2 {
						k, v := rule.Content[j].Value, rule.Content[j+1].Value
						if !strings.HasSuffix(k, "_regex") {
							continue
						}
						if _, err := regexp.Compile(v); err != nil {
							t.Errorf("README.md yaml block %d: .sops.yaml %s %q does not compile in Go (sops would silently encrypt nothing): %v", i+1, k, v, err)
						}
						if k == "encrypted_regex" {
							t.Errorf("README.md yaml block %d: .sops.yaml example uses encrypted_regex; show unencrypted_regex: ^sops_ (or no regex)", i+1)
						}
					}
				}
			}
		})
	}
	if uses == 0 {
		t.Error("README.md shows no step that uses the action")
	}
	if rules == 0 {
		t.Error("README.md shows no .sops.yaml creation_rules")
	}
}

func walkMappings(n *yaml.Node, f func(*yaml.Node)) {
	if n.Kind == yaml.MappingNode {
		f(n)
	}
	for _, c := range n.Content {
		walkMappings(c, f)
	}
}

// TestInputDefaultsMatchActionYML holds internal/inputs' defaults equal to
// action.yml's: the runner passes action.yml's default for an input the
// workflow leaves out, and inputs.Load applies its own when the input is
// empty (a run by hand, the tests). Both must give the same Config.
func TestInputDefaultsMatchActionYML(t *testing.T) {
	t.Parallel()
	// other is a valid value that is not the default, to show that the
	// input is read at all by the operation it is loaded with.
	other := map[string]string{
		"operation": "rollback", "port": "2222", "remote_path": "/etc/other.yaml", "max_age": "30d",
		"file_mode": "0640", "sudo": "true", "backup": "false", "timeout": "90s", "retries": "3", "parallel": "2",
	}
	base := func(name string) map[string]string {
		if name == "max_age" {
			return map[string]string{"operation": "lint"}
		}
		return map[string]string{
			"env": "staging", "age_key": "AGE-SECRET-KEY-1TEST", "ssh_key": "test key", "host": "vps",
			"user": "deploy", "known_hosts": "vps ssh-ed25519 AAAA",
		}
	}
	load := func(t *testing.T, in map[string]string) *inputs.Config {
		t.Helper()
		c, err := inputs.Load(func(name string) string { return in[name] })
		if err != nil {
			t.Fatalf("Load: %v", err)
		}
		return c
	}
	for name, in := range loadAction(t).Inputs {
		if in.Default == nil || *in.Default == "" {
			continue // empty: inputs.Load decides, and action.yml's description says what
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			alt, ok := other[name]
			if !ok {
				t.Fatalf("action.yml gives input %q a default; add another valid value for it to this test", name)
			}
			unset := load(t, base(name))
			with := base(name)
			with[name] = *in.Default
			if got := load(t, with); !reflect.DeepEqual(got, unset) {
				t.Errorf("input %q: action.yml's default %q loads as %+v; left empty it loads as %+v", name, *in.Default, got, unset)
			}
			with[name] = alt
			if reflect.DeepEqual(load(t, with), unset) {
				t.Errorf("input %q = %q loads like its default: the test does not exercise it", name, alt)
			}
		})
	}
}

// TestListInputsSayTheirSeparators: every list input is split the same
// way (internal/inputs splitList), and action.yml and README.md say so in
// the same words.
func TestListInputsSayTheirSeparators(t *testing.T) {
	t.Parallel()
	const rule = "comma or newline separated"
	a := loadAction(t)
	_, rows := tableNames(t, tableAfter(t, readREADME(t), "### Inputs"), "input")
	for _, name := range []string{"host", "host_fingerprint", "required_keys"} {
		if desc := strings.Join(strings.Fields(a.Inputs[name].Description), " "); !strings.Contains(desc, rule) {
			t.Errorf("action.yml: the description of list input %q does not say %q", name, rule)
		}
		if !strings.Contains(strings.Join(rows[name], " "), rule) {
			t.Errorf("README.md: the row of list input %q does not say %q", name, rule)
		}
	}
}
