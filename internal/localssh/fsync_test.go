package localssh

import (
	"bytes"
	"encoding/binary"
	"io"
	"os"
	"sync"
	"testing"
	"time"
)

type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}

type fakeChannel struct {
	io.Reader
	io.Writer
}

func (fakeChannel) Close() error { return nil }

func packet(typ byte, id uint32, strs ...string) []byte {
	b := []byte{0, 0, 0, 0, typ}
	b = binary.BigEndian.AppendUint32(b, id)
	for _, s := range strs {
		b = appendString(b, s)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

// replies splits b into packets and returns each one's id and, for
// status replies, the status code (else 0).
func replies(t *testing.T, b []byte) (ids, codes []uint32) {
	t.Helper()
	for len(b) > 0 {
		pkt, err := readPacket(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("bad reply stream: %v", err)
		}
		ids = append(ids, binary.BigEndian.Uint32(pkt[5:]))
		code := uint32(0)
		if pkt[4] == fxpStatus {
			code = binary.BigEndian.Uint32(pkt[9:])
		}
		codes = append(codes, code)
		b = b[len(pkt):]
	}
	return ids, codes
}

// TestFsyncLayerBarrier checks that an fsync is answered only after the
// server has answered every request forwarded before it.
func TestFsyncLayerBarrier(t *testing.T) {
	path := t.TempDir() + "/f"
	in := bytes.Join([][]byte{
		packet(fxpOpen, 1, path), // pflags/attrs omitted: the fake server ignores them
		packet(6, 2, "h1"),       // a WRITE, contents irrelevant here
		packet(fxpExtended, 3, fsyncExtension, "h1"),
	}, nil)
	out := &lockedBuffer{}
	l := newFsyncLayer(fakeChannel{bytes.NewReader(in), out})

	// Fake server: receive OPEN, create the file, answer with handle "h1".
	buf := make([]byte, 1024)
	if _, err := l.Read(buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write(packet(fxpHandle, 1, "h1")); err != nil {
		t.Fatal(err)
	}
	// Receive the WRITE but do not answer yet.
	if _, err := l.Read(buf); err != nil {
		t.Fatal(err)
	}
	// The next Read consumes the fsync and must block until the WRITE is
	// answered; it then hits the end of input.
	readDone := make(chan error, 1)
	go func() {
		_, err := l.Read(buf)
		readDone <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if ids, _ := replies(t, out.Bytes()); len(ids) != 1 {
		t.Fatalf("replies before the WRITE was answered: %v, want [1]", ids)
	}
	// Answer the WRITE, in two pieces like pkg/sftp does.
	status := statusPacket(2, nil)
	if _, err := l.Write(status[:9]); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Write(status[9:]); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-readDone:
		if err != io.EOF {
			t.Fatalf("Read after fsync: %v, want io.EOF", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("fsync still blocked after the WRITE was answered")
	}
	ids, codes := replies(t, out.Bytes())
	if len(ids) != 3 || ids[0] != 1 || ids[1] != 2 || ids[2] != 3 {
		t.Fatalf("reply ids = %v, want [1 2 3]", ids)
	}
	if codes[2] != fxOK {
		t.Fatalf("fsync status = %d, want OK", codes[2])
	}
}

// TestFsyncLayerVersion checks that fsync@openssh.com is appended to the
// server's extensions.
func TestFsyncLayerVersion(t *testing.T) {
	out := &lockedBuffer{}
	l := newFsyncLayer(fakeChannel{bytes.NewReader(nil), out})
	version := []byte{0, 0, 0, 0, fxpVersion, 0, 0, 0, 3}
	version = appendString(appendString(version, "posix-rename@openssh.com"), "1")
	binary.BigEndian.PutUint32(version, uint32(len(version)-4))
	if _, err := l.Write(version); err != nil {
		t.Fatal(err)
	}
	want := appendString(appendString(bytes.Clone(version), fsyncExtension), "1")
	binary.BigEndian.PutUint32(want, uint32(len(want)-4))
	if got := out.Bytes(); !bytes.Equal(got, want) {
		t.Fatalf("VERSION forwarded as %q, want %q", got, want)
	}
}
