package secretsenv

import (
	"fmt"
	"strings"
)

// MaxEnvString is Linux's limit on one "NAME=value" string passed to
// execve (MAX_ARG_STRLEN, 32 pages, counting the NUL): a longer one makes
// execve fail with E2BIG, so it is refused before, naming the key.
const MaxEnvString = 32 * 4096

// Spec is one VAR=key argument.
type Spec struct {
	Var string
	Key string
}

// Export is one variable to set.
type Export struct {
	Var   string
	Key   string
	File  string
	Value Secret
}

// ValidName reports whether s is a portable environment variable name:
// ASCII letters, digits and "_", not starting with a digit.
func ValidName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z':
		case '0' <= c && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

// EnvName is the -all name of a key path: each part upper-cased (ASCII
// only), every character other than A-Z, 0-9 and "_" replaced by "_", the
// parts joined with "_", and a leading "_" added before a digit. It returns
// "" when no name results (an empty key).
func EnvName(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			b.WriteByte('_')
		}
		for _, r := range p {
			switch {
			case 'a' <= r && r <= 'z':
				b.WriteRune(r - 'a' + 'A')
			case 'A' <= r && r <= 'Z', '0' <= r && r <= '9', r == '_':
				b.WriteRune(r)
			default:
				b.WriteByte('_')
			}
		}
	}
	s := b.String()
	if s != "" && s[0] >= '0' && s[0] <= '9' {
		s = "_" + s
	}
	if strings.Trim(s, "_") == "" {
		return ""
	}
	return s
}

// Select resolves VAR=key arguments against f.
func Select(f *File, specs []Spec) ([]Export, error) {
	out := make([]Export, 0, len(specs))
	for _, s := range specs {
		e, err := f.Lookup(s.Key)
		if err != nil {
			if ke, ok := err.(*KeyError); ok {
				ke.Var = s.Var
			}
			return nil, err
		}
		x := Export{Var: s.Var, Key: s.Key, File: f.Name, Value: e.Value}
		if err := checkValue(f.Name, x); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// All exports every leaf of f under its EnvName. Two keys with one name are
// an error naming both.
func All(f *File) ([]Export, error) {
	var out []Export
	byName := map[string]string{}
	for _, e := range f.Leaves() {
		name := EnvName(e.Parts)
		if name == "" {
			return nil, &KeyError{File: f.Name, Key: e.Path, Problem: "maps to no variable name with -all, in",
				Hint: "rename the key, or map the others by hand with VAR=key"}
		}
		if prev, ok := byName[name]; ok {
			return nil, &ClashError{File: f.Name, Var: name, KeyA: prev, KeyB: e.Path}
		}
		byName[name] = e.Path
		x := Export{Var: name, Key: e.Path, File: f.Name, Value: e.Value}
		if err := checkValue(f.Name, x); err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	if len(out) == 0 {
		return nil, &FileError{File: f.Name, Problem: "has no values to export"}
	}
	return out, nil
}

// checkValue refuses values that execve cannot pass.
func checkValue(file string, x Export) error {
	if strings.IndexByte(x.Value.text, 0) >= 0 {
		return &KeyError{File: file, Key: x.Key, Var: x.Var, Problem: "has a value with a NUL character, which an environment variable cannot hold, in"}
	}
	if n := len(x.Var) + 1 + len(x.Value.text) + 1; n > MaxEnvString {
		return &KeyError{File: file, Key: x.Key, Var: x.Var, Problem: fmt.Sprintf("has a value too long for an environment variable (over %d bytes), in", MaxEnvString),
			Hint: "pass a value this large as a file, not a variable"}
	}
	return nil
}

// Environ returns base with exports added, in order. A variable of base
// that an export names is an error listing every such name (in the order
// of exports), unless override is set: then the export replaces it in
// place, and every copy of it that base holds twice.
func Environ(base []string, exports []Export, override bool) ([]string, error) {
	inBase := make(map[string]bool, len(base))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		inBase[name] = true
	}
	if !override {
		var clash []Export
		for _, x := range exports {
			if inBase[x.Var] {
				clash = append(clash, Export{Var: x.Var, Key: x.Key})
			}
		}
		if len(clash) > 0 {
			return nil, &EnvSetError{File: exports[0].File, Exports: clash}
		}
	}
	want := make(map[string]int, len(exports))
	for i, x := range exports {
		want[x.Var] = i
	}
	env := make([]string, 0, len(base)+len(exports))
	done := make(map[string]bool, len(exports))
	for _, kv := range base {
		name, _, _ := strings.Cut(kv, "=")
		i, ok := want[name]
		switch {
		case !ok:
			env = append(env, kv)
		case !done[name]:
			env = append(env, name+"="+exports[i].Value.text)
			done[name] = true
		}
	}
	for _, x := range exports {
		if !done[x.Var] {
			env = append(env, x.Var+"="+x.Value.text)
		}
	}
	return env, nil
}
