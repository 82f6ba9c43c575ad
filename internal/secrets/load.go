package secrets

import (
	"fmt"
	"strings"

	sops "github.com/productgalaxy/sops-deploy-action/internal/xsops"
	"go.yaml.in/yaml/v3"
)

// loadBranch turns a parsed YAML document into the sops tree branch that
// sops' own YAML store (stores/yaml LoadPlainFile, in internal/xsops' copy,
// which is held to upstream's) builds from the same
// bytes: the same values, keys, comments and comment placement. It exists
// because that store parses the file twice and checks for duplicate keys
// with a quadratic scan, which dominates decryption of large files; here
// the document checkShape already parsed is reused and duplicates are found
// with a map. TestLoadMatchesSopsStore and FuzzLoadMatchesSopsStore hold it
// equal to the store, and the installed file is emitted by the store
// itself.
func loadBranch(doc *yaml.Node) (sops.TreeBranch, error) {
	return mapBranch(doc, make(sops.TreeBranch, 0), false)
}

// commentItems appends each line of a YAML comment block (without its
// leading '#') as a comment.
func commentItems(comment string, inline bool, add func(sops.Comment)) {
	if comment == "" {
		return
	}
	for _, line := range strings.Split(comment, "\n") {
		if line != "" {
			add(sops.Comment{Value: line[1:], Inline: inline})
		}
	}
}

func branchComments(b *sops.TreeBranch, comment string, inline bool) {
	commentItems(comment, inline, func(c sops.Comment) { *b = append(*b, sops.TreeItem{Key: c}) })
}

func listComments(l *[]any, comment string, inline bool) {
	commentItems(comment, inline, func(c sops.Comment) { *l = append(*l, c) })
}

func value(n *yaml.Node, commentsDone bool) (any, error) {
	switch n.Kind {
	case yaml.SequenceNode:
		var list []any
		if !commentsDone {
			listComments(&list, n.HeadComment, false)
			listComments(&list, n.LineComment, false)
		}
		for _, item := range n.Content {
			listComments(&list, item.HeadComment, false)
			listComments(&list, item.LineComment, true)
			v, err := value(item, true)
			if err != nil {
				return nil, err
			}
			list = append(list, v)
			listComments(&list, item.FootComment, false)
		}
		if !commentsDone {
			listComments(&list, n.FootComment, false)
		}
		return list, nil
	case yaml.MappingNode:
		return mapBranch(n, make(sops.TreeBranch, 0), commentsDone)
	case yaml.ScalarNode:
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, &FileError{Line: n.Line, Problem: "has a value YAML cannot decode"}
		}
		return v, nil
	}
	return nil, &FileError{Line: n.Line, Problem: "has a YAML node sops does not support"}
}

func mapBranch(n *yaml.Node, b sops.TreeBranch, commentsDone bool) (sops.TreeBranch, error) {
	if !commentsDone {
		branchComments(&b, n.HeadComment, false)
		branchComments(&b, n.LineComment, false)
	}
	switch n.Kind {
	case yaml.DocumentNode:
		for _, item := range n.Content {
			var err error
			if b, err = mapBranch(item, b, false); err != nil {
				return nil, err
			}
		}
	case yaml.MappingNode:
		seen := make(map[string]int, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, val := n.Content[i], n.Content[i+1]
			if key.Kind == yaml.ScalarNode {
				if first, dup := seen[key.Value]; dup {
					return nil, &FileError{Line: key.Line, Problem: fmt.Sprintf("defines key %q twice (first at line %d)", key.Value, first),
						Fix: "remove one of them with sops edit"}
				}
				seen[key.Value] = key.Line
			}
			branchComments(&b, key.HeadComment, false)
			branchComments(&b, key.LineComment, false)
			scalar := val.Kind == yaml.ScalarNode || val.Kind == yaml.AliasNode
			if scalar {
				branchComments(&b, val.HeadComment, false)
				branchComments(&b, val.LineComment, true)
			}
			var k any
			if err := key.Decode(&k); err != nil {
				return nil, &FileError{Line: key.Line, Problem: "has a key YAML cannot decode"}
			}
			v, err := value(val, scalar)
			if err != nil {
				return nil, err
			}
			b = append(b, sops.TreeItem{Key: k, Value: v})
			if scalar {
				branchComments(&b, val.FootComment, false)
			}
			branchComments(&b, key.FootComment, false)
		}
	case yaml.ScalarNode:
		if n.ShortTag() != "!!null" {
			return nil, &FileError{Line: n.Line, Problem: "has a single value at the top level, not a mapping of secret names to values"}
		}
	default:
		return nil, &FileError{Line: n.Line, Problem: "has a list at the top level, not a mapping of secret names to values"}
	}
	if !commentsDone {
		branchComments(&b, n.FootComment, false)
	}
	return b, nil
}
