package main

import (
	"debug/elf"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/productgalaxy/sops-deploy-action/internal/dockerfile"
)

// TestDockerfile checks what the image promises without a Docker engine:
// both builders can build it, the binary is static and stripped, and the
// final image holds the binary only. TestMain builds the binary the tests
// run with the go build line this reads.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := string(b)
	if dockerfile.SyntaxDirective.MatchString(text) {
		t.Error("a # syntax= line: the classic builder cannot honour it")
	}
	if regexp.MustCompile(`\$\{?(BUILDPLATFORM|TARGETARCH|TARGETOS)\}?[^:]`).MatchString(text) {
		t.Error("a platform argument used without a default; the classic builder leaves it empty")
	}
	stages, err := dockerfile.Parse("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 {
		t.Fatalf("%d FROM lines, want 2", len(stages))
	}
	if from := stages[0].Instrs[0].Args; !strings.HasPrefix(from, "--platform=${BUILDPLATFORM:-linux/amd64} golang:1.26-bookworm ") {
		t.Errorf("builder FROM %q: want --platform=${BUILDPLATFORM:-linux/amd64} golang:1.26-bookworm", from)
	}
	if stages[1].From != "scratch" {
		t.Errorf("final FROM %q, want scratch", stages[1].From)
	}
	var finalCopies, entrypoints []string
	for _, st := range stages {
		for _, in := range st.Instrs {
			if in.Cmd == "RUN" && strings.Contains(in.Args, "--mount") {
				t.Errorf("line %d: RUN --mount needs BuildKit", in.Line)
			}
		}
	}
	for _, in := range stages[1].Instrs {
		switch in.Cmd {
		case "COPY", "ADD":
			finalCopies = append(finalCopies, in.Args)
		case "ENTRYPOINT":
			entrypoints = append(entrypoints, in.Args)
		}
	}
	if len(entrypoints) != 1 || entrypoints[0] != `["/secrets-env"]` {
		t.Errorf("final stage ENTRYPOINT %q, want [\"/secrets-env\"]", entrypoints)
	}
	if len(finalCopies) != 1 || finalCopies[0] != "--from=build /out/secrets-env /secrets-env" {
		t.Errorf("final stage copies %q, want the binary only", finalCopies)
	}
	gb, err := dockerfile.FindGoBuild(stages)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(gb.Env, "CGO_ENABLED=0") || !slices.Equal(gb.Target, []string{"GOOS=${TARGETOS:-linux}", "GOARCH=${TARGETARCH:-amd64}"}) {
		t.Errorf("line %d: go build runs with %v, for %v; want CGO_ENABLED=0, for GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH:-amd64}", gb.Line, gb.Env, gb.Target)
	}
	if want := []string{"build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", "/out/secrets-env", "./cmd/secrets-env"}; !slices.Equal(gb.Args, want) {
		t.Errorf("line %d: go %q, want go %q", gb.Line, gb.Args, want)
	}
}

// TestStatic: the binary built as the Dockerfile builds it (TestMain) runs
// in a scratch image: no interpreter, no dynamic section, no symbols.
func TestStatic(t *testing.T) {
	t.Parallel()
	f, err := elf.Open(secretsEnv)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("the binary has a %v program header: it is not static", p.Type)
		}
	}
	if s := f.Section(".symtab"); s != nil {
		t.Error("the binary has a symbol table; -ldflags=-s strips it")
	}
}
