package main

import (
	"debug/elf"
	"os"
	"regexp"
	"strings"
	"testing"
)

// TestDockerfile checks what the image promises without a Docker engine:
// both builders can build it, the binary is static and stripped, and the
// final image holds the binary only.
func TestDockerfile(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	var froms, finalCopies []string
	var run string
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "# syntax=") || strings.HasPrefix(line, "#syntax=") {
			t.Error("a # syntax= line: the classic builder cannot honour it")
		}
		word, rest, _ := strings.Cut(line, " ")
		switch strings.ToUpper(word) {
		case "FROM":
			froms = append(froms, rest)
			finalCopies = nil
		case "COPY", "ADD":
			finalCopies = append(finalCopies, rest)
		case "RUN":
			if strings.Contains(rest, "go build") {
				run = rest
			}
			if strings.Contains(rest, "--mount") {
				t.Error("RUN --mount needs BuildKit")
			}
		}
	}
	if len(froms) != 2 {
		t.Fatalf("%d FROM lines, want 2", len(froms))
	}
	if !strings.HasPrefix(froms[0], "--platform=${BUILDPLATFORM:-linux/amd64} golang:1.26-bookworm ") {
		t.Errorf("builder FROM %q: want --platform=${BUILDPLATFORM:-linux/amd64} golang:1.26-bookworm", froms[0])
	}
	if froms[1] != "scratch" {
		t.Errorf("final FROM %q, want scratch", froms[1])
	}
	if len(finalCopies) != 1 || finalCopies[0] != "--from=build /out/secrets-env /secrets-env" {
		t.Errorf("final stage copies %q, want the binary only", finalCopies)
	}
	for _, want := range []string{"CGO_ENABLED=0", "GOARCH=${TARGETARCH:-amd64}", "GOOS=${TARGETOS:-linux}", "-trimpath", `-ldflags="-s -w -buildid="`, "-o /out/secrets-env ./cmd/secrets-env"} {
		if !strings.Contains(run, want) {
			t.Errorf("go build line %q lacks %s", run, want)
		}
	}
	if regexp.MustCompile(`\$\{?(BUILDPLATFORM|TARGETARCH|TARGETOS)\}?[^:]`).MatchString(text) {
		t.Error("a platform argument used without a default; the classic builder leaves it empty")
	}
	if !strings.Contains(text, `ENTRYPOINT ["/secrets-env"]`) {
		t.Error(`no ENTRYPOINT ["/secrets-env"]`)
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
