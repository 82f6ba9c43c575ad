package remote

import (
	"io"
	"net"
	"sync"
)

// wireConn is the net.Conn an SSH connection runs over. It tells one
// waiter when the next write has been made: x/crypto writes each packet
// whole, under one lock, so a packet written after that has to follow the
// packet that write began.
type wireConn struct {
	net.Conn
	mu   sync.Mutex
	next chan struct{} // closed by the next Write, then nil
}

// nextWrite returns a channel closed once the next Write has returned.
func (w *wireConn) nextWrite() <-chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.next = make(chan struct{})
	return w.next
}

func (w *wireConn) Write(p []byte) (int, error) {
	n, err := w.Conn.Write(p)
	w.mu.Lock()
	if w.next != nil {
		close(w.next)
		w.next = nil
	}
	w.mu.Unlock()
	return n, err
}

// afterRequest holds the first write to w until the channel request it
// must follow is on the wire (sent is closed) or has failed (done is
// closed first). sshd drops data on a session channel that has no
// subsystem or command yet, so the SFTP INIT must not overtake the
// request that starts sftp-server.
type afterRequest struct {
	w    io.WriteCloser
	sent <-chan struct{}
	done <-chan struct{}
	once sync.Once
}

func (a *afterRequest) Write(p []byte) (int, error) {
	a.once.Do(func() {
		select {
		case <-a.sent:
		case <-a.done:
		}
	})
	return a.w.Write(p)
}

func (a *afterRequest) Close() error { return a.w.Close() }

var _ net.Conn = (*wireConn)(nil)
