package remote

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
)

type nopCloser struct{ bytes.Buffer }

func (nopCloser) Close() error { return nil }

func packet(typ byte, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(1+4+len(body)))
	b = append(b, typ, 0, 0, 0, 7)
	return append(b, body...)
}

func TestPacketTracerNamesEachRequest(t *testing.T) {
	t.Parallel()
	ext := binary.BigEndian.AppendUint32(nil, uint32(len("fsync@openssh.com")))
	ext = append(ext, "fsync@openssh.com"...)
	ext = append(ext, 0, 0, 0, 1, 'h')
	stream := slices.Concat(packet(7, []byte("\x00\x00\x00\x01/")), packet(6, bytes.Repeat([]byte{'x'}, 5000)), packet(200, ext), packet(4, []byte("\x00\x00\x00\x01h")))
	want := []string{"sftp: LSTAT", "sftp: WRITE", "sftp: EXTENDED fsync@openssh.com", "sftp: CLOSE"}
	// Every way of cutting the stream into writes gives the same events.
	for _, size := range []int{1, 2, 3, 5, 13, 64, 4096, len(stream)} {
		var got []string
		var out nopCloser
		w := traceSFTP(&out, func(e string) { got = append(got, e) })
		for off := 0; off < len(stream); off += size {
			if _, err := w.Write(stream[off:min(off+size, len(stream))]); err != nil {
				t.Fatal(err)
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("writes of %d bytes: got %q, want %q", size, got, want)
		}
		if !bytes.Equal(out.Bytes(), stream) {
			t.Errorf("writes of %d bytes: the stream was altered", size)
		}
	}
}

func TestTraceSFTPWithoutTracerIsTheWriter(t *testing.T) {
	t.Parallel()
	var out nopCloser
	if w := traceSFTP(&out, nil); w != &out {
		t.Errorf("got %T, want the writer itself", w)
	}
}
