package demo

import "embed"

// Fixtures holds the demo's test-only inputs: copies of
// testdata/staging/galaxy.enc.yaml and the TEST-ONLY key
// testdata/keys/a.agekey, made by testdata/gen.sh. They live here, not in
// the action's binary: only `go run ./cmd/demo` embeds them.
//
//go:embed testdata/staging/galaxy.enc.yaml testdata/keys/a.agekey
var Fixtures embed.FS
