package lint

import (
	"bytes"
	"testing"
	"testing/fstest"
	"time"
)

// FuzzLint runs lint on arbitrary .sops.yaml and sops file contents: it
// must not fail or panic, and every finding must point at a line of its
// file.
func FuzzLint(f *testing.F) {
	for _, name := range []string{"good.enc.yaml", "seedbug.enc.yaml", "oneplain.enc.yaml", "good.enc.json", "good.enc.env"} {
		ext := byte(0)
		switch {
		case bytes.HasSuffix([]byte(name), []byte(".json")):
			ext = 1
		case bytes.HasSuffix([]byte(name), []byte(".env")):
			ext = 2
		}
		for _, cfg := range []string{"good", "seed", "dropold", "broken"} {
			f.Add(fixture(f, "files/"+name), ext, fixture(f, "configs/"+cfg+".sops.yaml"))
		}
	}
	f.Add([]byte("a: b\n"), byte(0), []byte("creation_rules: [{age: x}]"))
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, data []byte, ext byte, cfg []byte) {
		file := "secrets/staging/galaxy.enc." + []string{"yaml", "json", "env"}[int(ext)%3]
		fsys := fstest.MapFS{configFile: {Data: cfg}, file: {Data: data}}
		res, err := Run(fsys, nil, Options{MaxAge: DefaultMaxAge, Now: func() time.Time { return now }})
		if err != nil {
			t.Fatal(err)
		}
		lines := map[string]int{configFile: bytes.Count(cfg, []byte("\n")) + 1, file: bytes.Count(data, []byte("\n")) + 1}
		for _, x := range res.Findings {
			if x.Line < 1 || x.Line > lines[x.File] {
				t.Errorf("finding at %s:%d, outside the file's %d lines: %s", x.File, x.Line, lines[x.File], x.Message)
			}
		}
	})
}
