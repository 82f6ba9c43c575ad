package remote

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
)

// tracer receives the names of the steps of a connection as the client
// takes them: "ssh: key exchange", "sftp: OPEN", and so on. It is for the
// round-trip benchmark (bench/harness -network), which lines the events up
// with the round trips a delay line counts; the action leaves it nil.
// Events name steps and public protocol packet types, never paths or
// content.
type tracer func(event string)

func (t tracer) emit(event string) {
	if t != nil {
		t(event)
	}
}

type tracerKey struct{}

// withTracer carries t down to the handshake, whose signature the host key
// probing shapes.
func withTracer(ctx context.Context, t tracer) context.Context {
	if t == nil {
		return ctx
	}
	return context.WithValue(ctx, tracerKey{}, t)
}

func tracerFrom(ctx context.Context) tracer {
	t, _ := ctx.Value(tracerKey{}).(tracer)
	return t
}

// sftpPacketNames are the SFTP v3 request types (draft-ietf-secsh-filexfer-02).
var sftpPacketNames = map[byte]string{
	1: "INIT", 3: "OPEN", 4: "CLOSE", 5: "READ", 6: "WRITE", 7: "LSTAT",
	8: "FSTAT", 9: "SETSTAT", 10: "FSETSTAT", 11: "OPENDIR", 12: "READDIR",
	13: "REMOVE", 14: "MKDIR", 15: "RMDIR", 16: "REALPATH", 17: "STAT",
	18: "RENAME", 19: "READLINK", 20: "SYMLINK", 200: "EXTENDED",
}

// packetWriter passes an SFTP request stream through to w and calls
// onPacket with the first bytes of each request before the request is
// passed on (pkg/sftp writes each request whole, under its lock). It
// parses only the length prefix and the first bytes of each packet.
type packetWriter struct {
	w        io.WriteCloser
	onPacket func(head []byte)
	head     []byte // the start of the current packet, up to headLen bytes
	left     int    // bytes of the current packet not yet seen (after head)
}

// headLen covers length, type, request id and an extended request's name
// length and the start of the name.
const headLen = 4 + 1 + 4 + 4 + 32

// traceSFTP emits one event per request written to w: its type (and an
// extended request's name).
func traceSFTP(w io.WriteCloser, t tracer) io.WriteCloser {
	if t == nil {
		return w
	}
	return &packetWriter{w: w, onPacket: func(head []byte) { t.emit("sftp: " + describePacket(head)) }}
}

func (p *packetWriter) Write(b []byte) (int, error) {
	p.scan(b)
	return p.w.Write(b)
}

func (p *packetWriter) Close() error { return p.w.Close() }

func (p *packetWriter) scan(b []byte) {
	for len(b) > 0 {
		if p.left > 0 {
			n := min(p.left, len(b))
			p.left, b = p.left-n, b[n:]
			continue
		}
		n := min(p.headWant()-len(p.head), len(b))
		p.head, b = append(p.head, b[:n]...), b[n:]
		if len(p.head) < p.headWant() {
			continue // more of the head is in b, or in the next Write
		}
		p.onPacket(p.head)
		p.left = 4 + int(binary.BigEndian.Uint32(p.head)) - len(p.head)
		p.head = p.head[:0]
	}
}

// headWant is how much of the current packet's start to collect: its
// length prefix, then up to headLen bytes of the packet.
func (p *packetWriter) headWant() int {
	if len(p.head) < 4 {
		return 4
	}
	return min(headLen, 4+int(binary.BigEndian.Uint32(p.head)))
}

// describePacket names a request from its first bytes.
func describePacket(head []byte) string {
	if len(head) < 5 {
		return "?"
	}
	name, ok := sftpPacketNames[head[4]]
	if !ok {
		return fmt.Sprintf("type %d", head[4])
	}
	if head[4] == 200 && len(head) >= 13 {
		n := int(binary.BigEndian.Uint32(head[9:13]))
		if ext := head[13:]; n <= len(ext) {
			return name + " " + string(ext[:n])
		}
	}
	return name
}
