package lint

import (
	"fmt"
	"strings"

	"go.yaml.in/yaml/v3"
)

// locator finds the line of a key or a sops metadata field in a file, for
// annotations. It reads only positions and key names. Unknown places are
// line 1. It parses the file only when a finding asks for a line.
type locator struct {
	data   []byte
	format string
	lines  []string
	keys   map[string]int // key path (as secrets names it) → line
	metas  map[string]int // "sops", "age", "lastmodified", "mac" → line
}

func newLocator(data []byte, format string) *locator {
	return &locator{data: data, format: format}
}

// parse fills the maps on first use.
func (l *locator) parse() *locator {
	if l.keys != nil {
		return l
	}
	data := l.data
	l.lines, l.keys, l.metas = strings.Split(string(data), "\n"), map[string]int{}, map[string]int{}
	if l.format == "dotenv" {
		l.dotenv()
		return l
	}
	// JSON is YAML as far as positions go; a file yaml cannot parse keeps
	// line 1 everywhere.
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) == nil && len(doc.Content) == 1 && doc.Content[0].Kind == yaml.MappingNode {
		l.yamlTop(doc.Content[0])
	}
	return l
}

func (l *locator) yamlTop(top *yaml.Node) {
	for i := 0; i+1 < len(top.Content); i += 2 {
		k, v := top.Content[i], top.Content[i+1]
		if k.Value != "sops" {
			l.yamlKeys(v, k.Value, k.Line)
			continue
		}
		l.metas["sops"] = k.Line
		for j := 0; v.Kind == yaml.MappingNode && j+1 < len(v.Content); j += 2 {
			l.metas[v.Content[j].Value] = v.Content[j].Line
		}
	}
}

// yamlKeys records the line of every value under n, with the key paths
// secrets uses ("a.b", "list[0]").
func (l *locator) yamlKeys(n *yaml.Node, path string, line int) {
	switch n.Kind {
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.yamlKeys(n.Content[i+1], path+"."+n.Content[i].Value, n.Content[i].Line)
		}
	case yaml.SequenceNode:
		idx := 0
		for _, e := range n.Content {
			if e.Kind == yaml.ScalarNode && strings.HasPrefix(e.Value, "ENC[") && strings.HasSuffix(e.Value, ",type:comment]") {
				continue // an encrypted comment, which secrets does not count
			}
			l.yamlKeys(e, fmt.Sprintf("%s[%d]", path, idx), e.Line)
			idx++
		}
	default:
		l.keys[path] = line
	}
}

// dotenv records KEY=value lines; sops keeps its metadata in sops_* keys.
func (l *locator) dotenv() {
	for i, s := range l.lines {
		k, _, ok := strings.Cut(s, "=")
		if !ok || strings.HasPrefix(s, "#") {
			continue
		}
		line := i + 1
		switch {
		case k == "sops_lastmodified":
			l.metas["lastmodified"] = line
		case k == "sops_mac":
			l.metas["mac"] = line
		case strings.HasPrefix(k, "sops_age__"):
			if l.metas["age"] == 0 {
				l.metas["age"] = line
			}
		case strings.HasPrefix(k, "sops_"):
		default:
			l.keys[k] = line
		}
		if strings.HasPrefix(k, "sops_") && l.metas["sops"] == 0 {
			l.metas["sops"] = line
		}
	}
}

func (l *locator) key(path string) int { return max(l.parse().keys[path], 1) }

func (l *locator) meta(name string) int {
	if n := l.parse().metas[name]; n > 0 {
		return n
	}
	return max(l.metas["sops"], 1)
}

// recipient returns the line that names an age recipient (a public key).
func (l *locator) recipient(r string) int {
	for i, s := range l.parse().lines {
		if strings.Contains(s, r) {
			return i + 1
		}
	}
	return l.meta("age")
}
