package dockerfile

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestShellWords(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{`go build -o /out/x .`, []string{"go", "build", "-o", "/out/x", "."}},
		{`A=1  go  build -ldflags="-s -w" .`, []string{"A=1", "go", "build", "-ldflags=-s -w", "."}},
		{`echo 'a "b" \n' "c \" \\ \d" e\ f`, []string{"echo", `a "b" \n`, `c " \ \d`, "e f"}},
		{`x ""`, []string{"x", ""}},
	} {
		got, err := ShellWords(tc.in)
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("ShellWords(%s) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{`echo $(id)`, "echo `id`", `echo "open`, `echo 'open`} {
		if got, err := ShellWords(bad); err == nil {
			t.Errorf("ShellWords(%s) = %q; want an error", bad, got)
		}
	}
}

func TestFindGoBuild(t *testing.T) {
	dir := t.TempDir()
	stages := func(text string) []Stage {
		t.Helper()
		p := filepath.Join(dir, "Dockerfile")
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := Parse(p)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := stages("# comment\nARG X\nFROM --platform=$B golang AS build\nRUN apt-get update && \\\n    CGO_ENABLED=0 GOARCH=${TARGETARCH:-amd64} go build -trimpath -ldflags=\"-s -w -X 'a.b=c'\" \\\n    -o /out/app ./cmd/app\nFROM scratch\nCOPY --from=build /out/app /app\n")
	if len(st) != 2 || st[0].From != "golang" || st[0].Name != "build" || st[1].From != "scratch" || st[1].Instrs[1].Line != 8 {
		t.Fatalf("stages = %+v", st)
	}
	gb, err := FindGoBuild(st)
	if err != nil {
		t.Fatal(err)
	}
	if gb.Line != 4 || gb.Out != "/out/app" || !slices.Equal(gb.Env, []string{"CGO_ENABLED=0"}) || !slices.Equal(gb.Target, []string{"GOARCH=${TARGETARCH:-amd64}"}) {
		t.Errorf("FindGoBuild = %+v", gb)
	}
	if words, err := ShellWords(gb.String()); err != nil || !slices.Equal(words, append([]string{"CGO_ENABLED=0", "go"}, gb.Args...)) {
		t.Errorf("String() = %s: a shell reads %q, %v", gb.String(), words, err)
	}
	cmd, err := gb.Command("/tmp/x", dir)
	if err != nil || !slices.Contains(cmd.Args, "/tmp/x") || slices.Contains(cmd.Args, "/out/app") || cmd.Dir != dir {
		t.Errorf("Command = %v in %s, %v", cmd.Args, cmd.Dir, err)
	}
	for text, want := range map[string]string{
		"FROM golang\nRUN echo hi\n":                                     "found 0",
		"FROM golang\nRUN go build -o a . && go build -o b .\n":          "found 2",
		"FROM golang\nRUN go build .\n":                                  "has no -o",
		"FROM golang\nRUN go build -ldflags=$FLAGS -o a .\n":             "cannot resolve",
		"FROM golang\nRUN GOOS=$T CGO_ENABLED=$C go build -o /out/a .\n": "cannot resolve",
	} {
		if _, err := FindGoBuild(stages(text)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("FindGoBuild(%q) = %v; want an error with %q", text, err, want)
		}
	}
}

func TestSyntaxDirective(t *testing.T) {
	for text, want := range map[string]bool{
		"# syntax=docker/dockerfile:1\nFROM x\n":            true,
		"# syntax = docker/dockerfile:1\nFROM x\n":          true,
		"# SYNTAX=docker/dockerfile:1\nFROM x\n":            true,
		"//syntax=docker/dockerfile:1\nFROM x\n":            true,
		"\uFEFF# syntax=docker/dockerfile:1\nFROM x\n":      true,  // BuildKit drops a BOM first
		"#!/bin/sh\n# syntax=docker/dockerfile:1\nFROM x\n": true,  // and a shebang line
		" # syntax=docker/dockerfile:1\nFROM x\n":           false, // not a directive to BuildKit
		"# escape=`\nFROM x\n":                              false,
		"# the syntax is plain\nFROM x\n":                   false,
	} {
		if got := SyntaxDirective.MatchString(text); got != want {
			t.Errorf("SyntaxDirective(%q) = %v, want %v", text, got, want)
		}
	}
}
