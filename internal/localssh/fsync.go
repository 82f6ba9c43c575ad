package localssh

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
)

// SFTP v3 protocol constants used by fsyncLayer
// (draft-ietf-secsh-filexfer-02 and OpenSSH's PROTOCOL).
const (
	fxpInit     = 1
	fxpVersion  = 2
	fxpOpen     = 3
	fxpClose    = 4
	fxpStatus   = 101
	fxpHandle   = 102
	fxpExtended = 200

	fxOK      = 0
	fxFailure = 4

	fsyncExtension = "fsync@openssh.com"

	// maxPacket matches the request size limit of pkg/sftp's server.
	maxPacket = 256 * 1024
)

var errPacketSize = errors.New("invalid sftp packet length")

// fsyncLayer sits between an SSH channel and pkg/sftp's Server and adds
// the fsync@openssh.com extension, which that server lacks:
//
//   - it appends fsync@openssh.com to the server's SSH_FXP_VERSION reply;
//   - it remembers which path each SSH_FXP_OPEN handle refers to;
//   - it answers fsync requests itself: it waits until the server has
//     answered every earlier request (pkg/sftp runs writes concurrently),
//     then opens the handle's path and fsyncs it. On Linux, fsync through
//     any descriptor flushes the file's data. A handle whose file was
//     renamed or replaced after opening is fsynced by its original path.
//
// Only whole packets are ever written to the channel, so replies from the
// server and from the layer never interleave.
type fsyncLayer struct {
	ch io.ReadWriteCloser

	// rbuf holds the rest of the packet being handed to the server. Only
	// the server's single receive goroutine calls Read.
	rbuf []byte

	wmu  sync.Mutex // serializes writes to ch; guards wbuf
	wbuf []byte     // incomplete packet written by the server

	mu      sync.Mutex
	cond    *sync.Cond        // signalled when pending drops or closed is set
	pending int               // requests forwarded to the server but not yet answered
	closed  bool              // no more replies will come
	opens   map[uint32]string // OPEN request id -> path, until answered
	handles map[string]string // open file handle -> path
}

func newFsyncLayer(ch io.ReadWriteCloser) *fsyncLayer {
	l := &fsyncLayer{
		ch:      ch,
		opens:   make(map[uint32]string),
		handles: make(map[string]string),
	}
	l.cond = sync.NewCond(&l.mu)
	return l
}

// Read hands client requests to the server, except fsync requests, which
// it answers itself.
func (l *fsyncLayer) Read(p []byte) (int, error) {
	for len(l.rbuf) == 0 {
		pkt, err := readPacket(l.ch)
		if err != nil {
			return 0, err
		}
		if l.interceptRequest(pkt) {
			continue
		}
		l.rbuf = pkt
	}
	n := copy(p, l.rbuf)
	l.rbuf = l.rbuf[n:]
	return n, nil
}

// Write receives replies from the server, possibly in pieces, and
// forwards each one once it is complete.
func (l *fsyncLayer) Write(p []byte) (int, error) {
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.wbuf = append(l.wbuf, p...)
	for len(l.wbuf) >= 4 {
		size := int(binary.BigEndian.Uint32(l.wbuf))
		if len(l.wbuf) < 4+size {
			break
		}
		pkt := l.inspectReply(l.wbuf[:4+size])
		if _, err := l.ch.Write(pkt); err != nil {
			l.markClosed()
			return 0, err
		}
		l.wbuf = append(l.wbuf[:0], l.wbuf[4+size:]...)
	}
	return len(p), nil
}

// Close closes the channel and wakes a pending fsync.
func (l *fsyncLayer) Close() error {
	l.markClosed()
	return l.ch.Close()
}

func (l *fsyncLayer) markClosed() {
	l.mu.Lock()
	l.closed = true
	l.cond.Broadcast()
	l.mu.Unlock()
}

// readPacket reads one length-prefixed SFTP packet, prefix included.
func readPacket(r io.Reader) ([]byte, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(hdr[:])
	if size == 0 || size > maxPacket {
		return nil, fmt.Errorf("failed to read sftp packet: %w: %d", errPacketSize, size)
	}
	pkt := make([]byte, 4+size)
	copy(pkt, hdr[:])
	if _, err := io.ReadFull(r, pkt[4:]); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("failed to read sftp packet: %w", err)
	}
	return pkt, nil
}

// interceptRequest records what the layer needs to know about a client
// request. It reports true if it answered the request itself.
func (l *fsyncLayer) interceptRequest(pkt []byte) bool {
	typ, body := pkt[4], pkt[5:]
	switch typ {
	case fxpOpen:
		if id, rest, ok := takeUint32(body); ok {
			if path, _, ok := takeString(rest); ok {
				l.mu.Lock()
				l.opens[id] = path
				l.mu.Unlock()
			}
		}
	case fxpClose:
		if _, rest, ok := takeUint32(body); ok {
			if handle, _, ok := takeString(rest); ok {
				l.mu.Lock()
				delete(l.handles, handle)
				l.mu.Unlock()
			}
		}
	case fxpExtended:
		id, rest, ok := takeUint32(body)
		if !ok {
			break
		}
		name, rest, ok := takeString(rest)
		if !ok || name != fsyncExtension {
			break
		}
		handle, _, ok := takeString(rest)
		if !ok {
			break // let the server reject the malformed request
		}
		l.fsync(id, handle)
		return true
	}
	l.mu.Lock()
	l.pending++
	l.mu.Unlock()
	return false
}

// inspectReply updates the handle table from a complete server reply and
// returns the reply to forward.
func (l *fsyncLayer) inspectReply(pkt []byte) []byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pending--
	l.cond.Broadcast()

	typ, body := pkt[4], pkt[5:]
	switch typ {
	case fxpVersion:
		out := make([]byte, 0, len(pkt)+8+len(fsyncExtension)+1)
		out = append(out, pkt...)
		out = appendString(out, fsyncExtension)
		out = appendString(out, "1")
		binary.BigEndian.PutUint32(out, uint32(len(out)-4))
		return out
	case fxpHandle:
		if id, rest, ok := takeUint32(body); ok {
			if path, found := l.opens[id]; found {
				delete(l.opens, id)
				if handle, _, ok := takeString(rest); ok {
					l.handles[handle] = path
				}
			}
		}
	case fxpStatus:
		if id, _, ok := takeUint32(body); ok {
			delete(l.opens, id) // a failed OPEN
		}
	}
	return pkt
}

// fsync answers an fsync@openssh.com request once every earlier request
// has been answered by the server.
func (l *fsyncLayer) fsync(id uint32, handle string) {
	l.mu.Lock()
	for l.pending > 0 && !l.closed {
		l.cond.Wait()
	}
	path, ok := l.handles[handle]
	l.mu.Unlock()

	var err error
	if ok {
		err = syncPath(path)
	} else {
		err = errors.New("invalid handle")
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	if _, werr := l.ch.Write(statusPacket(id, err)); werr != nil {
		l.markClosed()
	}
}

func syncPath(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		// A write-only file may still be opened for writing.
		var werr error
		if f, werr = os.OpenFile(path, os.O_WRONLY, 0); werr != nil {
			return err
		}
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

func statusPacket(id uint32, err error) []byte {
	code, msg := uint32(fxOK), "Success"
	if err != nil {
		code, msg = fxFailure, err.Error()
	}
	pkt := make([]byte, 4, 4+1+4+4+4+len(msg)+4)
	pkt = append(pkt, fxpStatus)
	pkt = binary.BigEndian.AppendUint32(pkt, id)
	pkt = binary.BigEndian.AppendUint32(pkt, code)
	pkt = appendString(pkt, msg)
	pkt = appendString(pkt, "") // language tag
	binary.BigEndian.PutUint32(pkt, uint32(len(pkt)-4))
	return pkt
}

func appendString(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint32(b, uint32(len(s)))
	return append(b, s...)
}

func takeUint32(b []byte) (uint32, []byte, bool) {
	if len(b) < 4 {
		return 0, b, false
	}
	return binary.BigEndian.Uint32(b), b[4:], true
}

func takeString(b []byte) (string, []byte, bool) {
	n, rest, ok := takeUint32(b)
	if !ok || uint64(len(rest)) < uint64(n) {
		return "", b, false
	}
	return string(rest[:n]), rest[n:], true
}
