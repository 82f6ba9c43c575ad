package remote

import (
	"net"
	"syscall"
)

// quickAckConn turns on TCP_QUICKACK after every read. OpenSSH leaves
// Nagle's algorithm on for non-interactive sessions such as SFTP, so when
// it sends two small packets back to back the second waits for our ACK of
// the first, and Linux delays that ACK by up to 40 ms. Each SSH round trip
// of the session setup paid that stall. Linux clears TCP_QUICKACK on its
// own, hence after every read.
type quickAckConn struct {
	*net.TCPConn
	raw syscall.RawConn
}

func withQuickAck(c net.Conn) net.Conn {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return c
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return c
	}
	q := &quickAckConn{TCPConn: tc, raw: raw}
	q.quickAck()
	return q
}

func (c *quickAckConn) quickAck() {
	_ = c.raw.Control(func(fd uintptr) {
		_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
	})
}

func (c *quickAckConn) Read(p []byte) (int, error) {
	n, err := c.TCPConn.Read(p)
	c.quickAck()
	return n, err
}
