package forktest

import "testing"

func TestEqualOutside(t *testing.T) {
	m := NewMarkers("fork")
	up := "a\nb\nc\nd\ne\n"
	for _, tc := range []struct {
		fork string
		ok   bool
	}{
		{"a\n// fork: begin patch\nX\n// fork: end patch\nc\nd\ne\n", true},
		{"a\n// fork: begin patch\nX\n// fork: end patch\nc\n\t// fork: begin patch\nY\n// fork: end patch\ne\n", true},
		{"a\n// fork: begin patch\nX\n// fork: end patch\nc\nD\ne\n", false},
		{"A\n// fork: begin patch\nX\n// fork: end patch\nc\nd\ne\n", false},
		{"a\n// fork: begin patch\nX\n// fork: end patch\nc\nd\n", false},
		{"a\n// fork: begin patch\nX\nc\nd\ne\n", false},
		{"a\nb\nc\nd\ne\n", false},
		{"a\n// fork: begin patch\nX\n// fork: end patch\nd\n// fork: begin patch\n// fork: end patch\nc\ne\n", false},
		{"a\n// other: begin patch\nX\n// other: end patch\nc\nd\ne\n", false},
	} {
		if got := m.EqualOutside(tc.fork, up) == ""; got != tc.ok {
			t.Errorf("EqualOutside(%q) ok = %v, want %v", tc.fork, got, tc.ok)
		}
	}
}

// TestReplacedDigest: the digest changes with the replaced text, and only
// with it.
func TestReplacedDigest(t *testing.T) {
	m := NewMarkers("fork")
	fork := "a\n// fork: begin patch\nX\n// fork: end patch\nc\n"
	d := m.ReplacedDigest(fork, "a\nb\nc\n")
	if d == "" || d != m.ReplacedDigest(fork+"", "a\nb\nc\n") {
		t.Fatalf("digest %q is not stable", d)
	}
	if m.ReplacedDigest(fork, "a\nB\nc\n") == d {
		t.Error("a change in the replaced text keeps the digest")
	}
	if m.ReplacedDigest("a\n// fork: begin patch\nY\n// fork: end patch\nc\n", "a\nb\nc\n") != d {
		t.Error("a change inside the patch changes the digest of what it replaces")
	}
}
