// Package dockerfile reads a Dockerfile without a Docker engine: its
// stages and instructions, and the one `go build` command its RUN lines
// hold, so that a test or the benchmark can check the image's shape and
// build the binary exactly as the image does. The action's and
// secrets-env's tests and bench/harness all read theirs here.
package dockerfile

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
)

// SyntaxDirective matches a `# syntax=` parser directive in any of the
// line forms BuildKit honours (after a byte order mark or a shebang line
// too; it also matches such a comment further down, where BuildKit would
// not honour it: stricter than needed). The classic builder (DOCKER_BUILDKIT=0) cannot:
// both Dockerfiles must build with it.
var SyntaxDirective = regexp.MustCompile(`(?im)^\x{FEFF}?(#|//)\s*syntax\s*=`)

// Instr is one Dockerfile instruction, continuation lines joined.
type Instr struct {
	Cmd  string // upper-case: FROM, RUN, COPY, ...
	Args string
	Line int // where the instruction starts, from 1
}

// Stage is a FROM instruction (Instrs[0]) and the ones after it.
type Stage struct {
	From, Name string // the base image and the AS name
	Instrs     []Instr
}

// Parse reads path into its stages. Comments (parser directives
// included) and instructions before the first FROM are left out.
func Parse(path string) ([]Stage, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var stages []Stage
	var cur strings.Builder
	startLine := 0
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(l)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			startLine = i + 1
		}
		if s, ok := strings.CutSuffix(trimmed, "\\"); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			continue
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := Instr{Cmd: strings.ToUpper(cmd), Args: strings.TrimSpace(args), Line: startLine}
		if in.Cmd == "FROM" {
			stages = append(stages, newStage(in.Args))
		}
		if len(stages) > 0 {
			stages[len(stages)-1].Instrs = append(stages[len(stages)-1].Instrs, in)
		}
	}
	if len(stages) == 0 {
		return nil, fmt.Errorf("%s has no FROM", path)
	}
	return stages, nil
}

func newStage(fromArgs string) Stage {
	f := strings.Fields(fromArgs)
	var st Stage
	for _, w := range f {
		if !strings.HasPrefix(w, "--") {
			st.From = w
			break
		}
	}
	if n := len(f); n >= 3 && strings.EqualFold(f[n-2], "AS") {
		st.Name = f[n-1]
	}
	return st
}

// ShellWords splits a simple shell command into words, honouring quotes
// and backslashes. It refuses command substitution; variables ($NAME) are
// left as they are, for the caller to judge.
func ShellWords(s string) ([]string, error) {
	if strings.Contains(s, "`") || strings.Contains(s, "$(") {
		return nil, fmt.Errorf("%q uses command substitution", s)
	}
	var w wordSplitter
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && w.escapes(s[i+1]) {
			i++
			w.cur.WriteByte(s[i])
			w.inWord = true
			continue
		}
		w.add(s[i])
	}
	if w.quote != 0 {
		return nil, fmt.Errorf("%q has an unterminated quote", s)
	}
	w.endWord()
	return w.words, nil
}

type wordSplitter struct {
	words  []string
	cur    strings.Builder
	inWord bool
	quote  byte
}

// escapes reports whether a backslash before c escapes it: always outside
// quotes, before " and \ inside double quotes, never inside single ones.
func (w *wordSplitter) escapes(c byte) bool {
	switch w.quote {
	case 0:
		return true
	case '"':
		return c == '"' || c == '\\'
	}
	return false
}

func (w *wordSplitter) add(c byte) {
	switch {
	case w.quote != 0 && c == w.quote:
		w.quote = 0
	case w.quote != 0:
		w.cur.WriteByte(c)
	case c == '\'' || c == '"':
		w.quote, w.inWord = c, true
	case c == ' ' || c == '\t':
		w.endWord()
	default:
		w.cur.WriteByte(c)
		w.inWord = true
	}
}

func (w *wordSplitter) endWord() {
	if w.inWord {
		w.words = append(w.words, w.cur.String())
		w.cur.Reset()
		w.inWord = false
	}
}

// GoBuild is a Dockerfile's `go build` command, for this machine.
type GoBuild struct {
	Env  []string // NAME=value words before `go`, the target's left out
	Args []string // the words after `go`, starting with build
	Out  string   // the -o path
	Line int
	// Target is the GOOS/GOARCH/GOARM words set from build arguments
	// ($TARGETARCH): a test builds for the machine it runs on instead.
	Target []string
}

// FindGoBuild returns the one `go build` command in the stages' RUN lines
// (a part of a RUN between &&). It refuses a command with a variable it
// cannot resolve, and a Dockerfile with no such command or more than one.
func FindGoBuild(stages []Stage) (GoBuild, error) {
	var found []GoBuild
	for _, st := range stages {
		for _, in := range st.Instrs {
			if in.Cmd != "RUN" {
				continue
			}
			for _, part := range strings.Split(in.Args, "&&") {
				gb, ok, err := parseGoBuild(strings.TrimSpace(part), in.Line)
				if err != nil {
					return GoBuild{}, err
				}
				if ok {
					found = append(found, gb)
				}
			}
		}
	}
	if len(found) != 1 {
		return GoBuild{}, fmt.Errorf("found %d `go build` commands in RUN lines, want exactly 1", len(found))
	}
	if found[0].Out == "" {
		return GoBuild{}, fmt.Errorf("line %d: `go build` has no -o", found[0].Line)
	}
	return found[0], nil
}

// parseGoBuild reads one shell command; ok is false when it is not a go
// build.
func parseGoBuild(command string, line int) (gb GoBuild, ok bool, err error) {
	words, err := ShellWords(command)
	if err != nil {
		return GoBuild{}, false, nil // not a simple command: not ours
	}
	i := 0
	for ; i < len(words) && strings.Contains(words[i], "=") && !strings.HasPrefix(words[i], "-"); i++ {
		gb.Env = append(gb.Env, words[i])
	}
	if i+1 >= len(words) || words[i] != "go" || words[i+1] != "build" {
		return GoBuild{}, false, nil
	}
	gb.Env = slices.DeleteFunc(gb.Env, func(w string) bool {
		k, v, _ := strings.Cut(w, "=")
		if strings.Contains(v, "$") && (k == "GOOS" || k == "GOARCH" || k == "GOARM") {
			gb.Target = append(gb.Target, w)
			return true
		}
		return false
	})
	if slices.ContainsFunc(append(slices.Clone(gb.Env), words[i:]...), func(w string) bool { return strings.Contains(w, "$") }) {
		return GoBuild{}, false, fmt.Errorf("line %d: the go build command uses a variable a test cannot resolve: %s", line, command)
	}
	gb.Args, gb.Line = words[i+1:], line
	for j, w := range gb.Args {
		if w == "-o" && j+1 < len(gb.Args) {
			gb.Out = gb.Args[j+1]
		} else if v, ok := strings.CutPrefix(w, "-o="); ok {
			gb.Out = v
		}
	}
	return gb, true, nil
}

// String is the command as a shell would take it, environment words
// first (the target's left out, as Command runs it).
func (gb GoBuild) String() string {
	words := append(slices.Clone(gb.Env), "go")
	for _, a := range gb.Args {
		if strings.ContainsAny(a, " \t\"'$\\") {
			a = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
		}
		words = append(words, a)
	}
	return strings.Join(words, " ")
}

// Command is the build writing to out instead of Out, run in dir (the
// build context: the repository root).
func (gb GoBuild) Command(out, dir string) (*exec.Cmd, error) {
	args := slices.Clone(gb.Args)
	replaced := false
	for i, a := range args {
		if a == "-o" && i+1 < len(args) {
			args[i+1], replaced = out, true
		} else if strings.HasPrefix(a, "-o=") {
			args[i], replaced = "-o="+out, true
		}
	}
	if !replaced {
		return nil, errors.New("the go build command has no -o")
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), gb.Env...)
	return cmd, nil
}
