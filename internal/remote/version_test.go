package remote

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

// TestEarlyVersion: pkg/sftp reads the early VERSION first, then the
// stream behind the server's real VERSION, which is parsed on the side; a
// stream that does not start with a VERSION fails the read and says why.
func TestEarlyVersion(t *testing.T) {
	real := versionPacket([][2]string{{"posix-rename@openssh.com", "1"}, {"limits@openssh.com", "1"}})
	behind := []byte("the answers")
	v := newEarlyVersion(bytes.NewReader(append(append([]byte{}, real...), behind...)))
	got, err := io.ReadAll(v)
	if err != nil {
		t.Fatal(err)
	}
	if want := append(versionPacket(claimedExtensions), behind...); !bytes.Equal(got, want) {
		t.Errorf("pkg/sftp reads %q, want the early VERSION, then %q", got, behind)
	}
	ext, err := v.real()
	if err != nil || len(ext) != 2 || ext["limits@openssh.com"] != "1" {
		t.Errorf("real VERSION: %v, %v", ext, err)
	}
	if _, ok := ext["hardlink@openssh.com"]; ok {
		t.Error("the real VERSION's extensions include one it does not name")
	}

	for name, stream := range map[string][]byte{
		"banner":      []byte("Welcome to galaxy\n"),
		"empty":       nil,
		"cut":         real[:len(real)-3],
		"version 6":   append([]byte{0, 0, 0, 5, fxpVersion}, 0, 0, 0, 6),
		"not VERSION": {0, 0, 0, 5, 101, 0, 0, 0, 0},
		"malformed":   append([]byte{0, 0, 0, 9, fxpVersion, 0, 0, 0, 3}, 0, 0, 0, 9),
	} {
		v := newEarlyVersion(bytes.NewReader(stream))
		io.ReadFull(v, make([]byte, len(versionPacket(claimedExtensions))))
		if _, err := v.Read(make([]byte, 1)); err == nil {
			t.Errorf("%s: the read after the early VERSION succeeds", name)
		}
		if _, err := v.real(); err == nil || strings.Contains(err.Error(), "Welcome") {
			t.Errorf("%s: real() = %v, want an error that quotes nothing the server sent", name, err)
		}
	}
}
