package secretsenv

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

const (
	// DefaultFile is where Compose mounts a secret named galaxy_yaml.
	DefaultFile = "/run/secrets/galaxy_yaml"
	// MaxFileSize matches the action's limit on the encrypted file; the
	// installed plaintext is smaller than that, so a larger file is not one
	// the action installed.
	MaxFileSize = 16 << 20
	// MaxDepth bounds mapping and list nesting, as the action does.
	MaxDepth = 32
)

// Kind is the YAML kind of an entry.
type Kind int

const (
	Scalar Kind = iota
	Mapping
	List
)

func (k Kind) String() string {
	switch k {
	case Mapping:
		return "a mapping"
	case List:
		return "a list"
	}
	return "a scalar"
}

// Entry is one node of the file: a leaf (Scalar) or a mapping or list.
type Entry struct {
	// Path is the key path as the action prints it: parts joined with "."
	// and list indexes as "[n]", e.g. "db.password" or "hosts[1].name".
	Path string
	// Parts are the path's components: mapping keys and list indexes
	// ("hosts", "1", "name").
	Parts []string
	Kind  Kind
	Line  int
	// Value is the scalar's text (Scalar only).
	Value Secret
	// child is a path of one leaf below a mapping or list, for hints.
	child string
}

// File is a parsed secrets file.
type File struct {
	Name    string
	entries []Entry          // file order, parents before children
	byPath  map[string][]int // indexes into entries
}

// Load reads and parses the secrets file at name. It refuses anything but
// a regular file of at most MaxFileSize bytes.
func Load(name string) (*File, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, openError(name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &FileError{File: name, Problem: fmt.Sprintf("cannot be read: %v", pathless(err))}
	}
	if fi.IsDir() {
		return nil, &FileError{File: name, Problem: "is a directory, not a file",
			Hint: "Docker creates a directory when a bind mount's source does not exist: install the secrets on the host before the container starts, then recreate it"}
	}
	if !fi.Mode().IsRegular() {
		return nil, &FileError{File: name, Problem: "is not a regular file"}
	}
	if fi.Size() > MaxFileSize {
		return nil, tooLarge(name)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, &FileError{File: name, Problem: fmt.Sprintf("cannot be read: %v", pathless(err))}
	}
	if len(data) > MaxFileSize {
		return nil, tooLarge(name)
	}
	return Parse(name, data)
}

func tooLarge(name string) error {
	return &FileError{File: name, Problem: fmt.Sprintf("is larger than the %d-byte limit", MaxFileSize),
		Hint: "this is not a secrets file the action installs; check -file"}
}

// pathless drops the path from a *PathError: the message names the file
// already.
func pathless(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func openError(name string, err error) error {
	err = pathless(err)
	fe := &FileError{File: name, Problem: fmt.Sprintf("cannot be opened: %v", err)}
	switch {
	case errors.Is(err, os.ErrNotExist):
		fe.Hint = "mount the secret: in the service, secrets: [galaxy_yaml], with a top-level secrets: galaxy_yaml: file: /etc/galaxy/secrets/galaxy.yaml"
	case errors.Is(err, os.ErrPermission):
		fe.Hint = "outside swarm, Compose keeps the host file's owner and mode: start the container as root and pass -user, or set the action's owner, group and file_mode"
	}
	return fe
}

var lineRE = regexp.MustCompile(`line (\d+)`)

// Parse parses the secrets file's content. Its errors quote nothing from
// data: yaml's messages can, so only their line number is kept.
func Parse(name string, data []byte) (*File, error) {
	if len(data) > MaxFileSize {
		return nil, tooLarge(name)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &FileError{File: name, Problem: "is empty"}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &FileError{File: name, Problem: "is empty"}
		}
		p := "is not valid YAML"
		if m := lineRE.FindStringSubmatch(err.Error()); m != nil {
			p += " (line " + m[1] + ")"
		}
		return nil, &FileError{File: name, Problem: p}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		return nil, &FileError{File: name, Problem: "holds more than one YAML document",
			Hint: "the action installs a single mapping; check -file"}
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, &FileError{File: name, Problem: "is not a YAML mapping of keys to values"}
	}
	root := doc.Content[0]
	if isSopsEncrypted(root) {
		return nil, &FileError{File: name, Problem: "is still sops-encrypted (it has a sops: block)",
			Hint: "mount the file the action installs (/etc/galaxy/secrets/galaxy.yaml), not the encrypted file from the repository"}
	}
	f := &File{Name: name, byPath: map[string][]int{}}
	if err := f.walk(root, "", nil, 0); err != nil {
		return nil, err
	}
	return f, nil
}

// isSopsEncrypted reports whether the top level has sops's metadata block.
func isSopsEncrypted(root *yaml.Node) bool {
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if k.Value == "sops" && v.Kind == yaml.MappingNode {
			for j := 0; j+1 < len(v.Content); j += 2 {
				if v.Content[j].Value == "mac" {
					return true
				}
			}
		}
	}
	return false
}

// walk records n and everything below it, with the action's path naming
// (internal/secrets walkLeaves): "a.b" for keys, "a[0]" for list items.
func (f *File) walk(n *yaml.Node, path string, parts []string, depth int) error {
	if depth > MaxDepth {
		return &FileError{File: f.Name, Problem: fmt.Sprintf("nests deeper than %d levels (line %d)", MaxDepth, n.Line)}
	}
	if n.Kind == yaml.AliasNode {
		return &FileError{File: f.Name, Problem: fmt.Sprintf("uses a YAML alias (line %d)", n.Line),
			Hint: "sops writes no aliases; check -file"}
	}
	idx := -1 // the root mapping is no entry
	if depth > 0 {
		idx = len(f.entries)
		f.entries = append(f.entries, Entry{Path: path, Parts: parts, Line: n.Line})
		f.byPath[path] = append(f.byPath[path], idx)
	}
	switch n.Kind {
	case yaml.ScalarNode:
		f.entries[idx].Kind = Scalar
		f.entries[idx].Value = scalarValue(n)
		return nil
	case yaml.MappingNode:
		if err := f.walkMapping(n, path, parts, depth); err != nil {
			return err
		}
		if idx >= 0 {
			f.entries[idx].Kind = Mapping
		}
	case yaml.SequenceNode:
		for i, v := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			if err := f.walk(v, p, append(parts[:len(parts):len(parts)], strconv.Itoa(i)), depth+1); err != nil {
				return err
			}
		}
		f.entries[idx].Kind = List
	default:
		return &FileError{File: f.Name, Problem: fmt.Sprintf("has a YAML node secrets-env cannot read (line %d)", n.Line)}
	}
	if idx >= 0 {
		for _, e := range f.entries[idx+1:] {
			if e.Kind == Scalar {
				f.entries[idx].child = e.Path
				break
			}
		}
	}
	return nil
}

// walkMapping walks a mapping's values, refusing keys that are not
// strings or are given twice.
func (f *File) walkMapping(n *yaml.Node, path string, parts []string, depth int) error {
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			return &FileError{File: f.Name, Problem: fmt.Sprintf("has a mapping key that is not a string (line %d)", k.Line)}
		}
		p := k.Value
		if depth > 0 {
			p = path + "." + k.Value
		}
		if line, dup := seen[k.Value]; dup {
			return &FileError{File: f.Name, Problem: fmt.Sprintf("has key %q twice (lines %d and %d)", p, line, k.Line)}
		}
		seen[k.Value] = k.Line
		if err := f.walk(v, p, append(parts[:len(parts):len(parts)], k.Value), depth+1); err != nil {
			return err
		}
	}
	return nil
}

// scalarValue is a scalar's text as YAML defines it, untouched by type:
// `true`, `0123`, `1e3` and `2024-01-01` stay as written, quoted strings
// lose their quotes and escapes are decoded, block scalars keep their line
// breaks (and the final one, per their chomping indicator). A null (`~`,
// `null` or nothing) is the empty string, as the action reads it.
func scalarValue(n *yaml.Node) Secret {
	if n.ShortTag() == "!!null" {
		return Secret{}
	}
	return Secret{text: n.Value}
}

// Leaves returns the file's scalars in file order.
func (f *File) Leaves() []Entry {
	var out []Entry
	for _, e := range f.entries {
		if e.Kind == Scalar {
			out = append(out, e)
		}
	}
	return out
}

// Lookup returns the scalar at key, a path as Entry.Path spells it.
func (f *File) Lookup(key string) (Entry, error) {
	idx := f.byPath[key]
	switch {
	case len(idx) == 0:
		return Entry{}, &KeyError{File: f.Name, Key: key, Problem: "is not in", Hint: f.nearest(key)}
	case len(idx) > 1:
		a, b := f.entries[idx[0]], f.entries[idx[1]]
		return Entry{}, &KeyError{File: f.Name, Key: key, Problem: fmt.Sprintf("names two entries (lines %d and %d) of", a.Line, b.Line),
			Hint: `a key that contains "." or "[" reads like a nested path; rename one of them`}
	}
	e := f.entries[idx[0]]
	if e.Kind != Scalar {
		ke := &KeyError{File: f.Name, Key: key, Problem: fmt.Sprintf("is %s, not a scalar, in", e.Kind)}
		if e.child != "" {
			ke.Hint = fmt.Sprintf("name one of its values, e.g. %s", e.child)
		}
		return Entry{}, ke
	}
	return e, nil
}

// maxHintKeys bounds the key paths a hint lists.
const maxHintKeys = 8

// nearest words the hint for a missing key: the paths next to where it
// would be (below its longest existing parent, or at the top level). Key
// paths are not secret; the action prints them too.
func (f *File) nearest(key string) string {
	parent := key
	for {
		i := strings.LastIndexAny(parent, ".[")
		if i <= 0 {
			parent = ""
			break
		}
		parent = parent[:i]
		if idx := f.byPath[parent]; len(idx) == 1 && f.entries[idx[0]].Kind != Scalar {
			break
		}
	}
	var parts []string
	if parent != "" {
		parts = f.entries[f.byPath[parent][0]].Parts
	}
	var near []string
	for _, e := range f.entries {
		if len(e.Parts) != len(parts)+1 || !slices.Equal(e.Parts[:len(parts)], parts) {
			continue
		}
		if len(near) == maxHintKeys {
			near = append(near, "…")
			break
		}
		near = append(near, e.Path)
	}
	where := "the top level holds"
	if parent != "" {
		where = fmt.Sprintf("%s holds", parent)
	}
	return fmt.Sprintf(`%s: %s (nested keys are joined with ".", list items written [n])`, where, strings.Join(near, ", "))
}
