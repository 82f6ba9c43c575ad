package sshtest

import (
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// CutProxy forwards TCP connections to an upstream address and can cut a
// connection at an exact byte offset: once Limit bytes (both directions
// counted together) have passed, it closes both sides at once, in the
// middle of a packet if that is where the count ends. Fault tests point a
// client at Addr to lose the connection anywhere in a session.
type CutProxy struct {
	// Addr is the proxy's listening address, Host:Port.
	Addr string
	// Host is "127.0.0.1"; Port the proxy's port.
	Host string
	Port int

	upstream string
	limit    atomic.Int64 // for connections accepted from now on; < 0: no cut
	once     atomic.Bool  // the limit applies to the next connection only
	total    atomic.Int64 // bytes passed, both directions, every connection
	conns    atomic.Int64 // connections accepted
}

// cutDrain bounds how long a cut waits for the bytes before the offset to
// be written out before it closes the connection anyway.
const cutDrain = 5 * time.Second

// StartCutProxy starts a proxy to upstream that cuts nothing until told
// to; it stops in t.Cleanup, once every connection has ended.
func StartCutProxy(t testing.TB, upstream string) *CutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().(*net.TCPAddr)
	p := &CutProxy{Addr: a.String(), Host: a.IP.String(), Port: a.Port, upstream: upstream}
	p.limit.Store(-1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.conns.Add(1)
			limit := p.limit.Load()
			if p.once.Swap(false) {
				p.limit.Store(-1)
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				p.serve(c, limit)
			}()
		}
	}()
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return p
}

// CutAfter makes the proxy cut every connection it accepts from now on
// once n bytes have passed; n < 0 cuts none.
func (p *CutProxy) CutAfter(n int64) { p.once.Store(false); p.limit.Store(n) }

// CutNextAfter makes the proxy cut the next connection it accepts once n
// bytes have passed; later ones pass whole.
func (p *CutProxy) CutNextAfter(n int64) { p.limit.Store(n); p.once.Store(true) }

// Bytes is how many bytes have passed, both directions, over every
// connection since the last ResetBytes.
func (p *CutProxy) Bytes() int64 { return p.total.Load() }

// ResetBytes sets the count Bytes reports to zero.
func (p *CutProxy) ResetBytes() { p.total.Store(0) }

// Conns is how many connections the proxy has accepted.
func (p *CutProxy) Conns() int64 { return p.conns.Load() }

// KnownHostsVia returns the known_hosts line for the host key of s as
// reached through the proxy p (the line names the proxy's port).
func (s *SSHD) KnownHostsVia(p *CutProxy) string {
	return strings.Replace(s.KnownHosts, ":"+strconv.Itoa(s.Port)+" ", ":"+strconv.Itoa(p.Port)+" ", 1)
}

// cutConn is one proxied connection and its byte budget.
type cutConn struct {
	c, u     net.Conn
	mu       sync.Mutex
	drained  *sync.Cond // signalled when inflight drops to zero
	used     int64
	limit    int64 // < 0: no cut
	inflight int   // writes reserved and not yet done
	cutting  bool
	once     sync.Once
}

// reserve takes up to n bytes of the budget for one write and reports
// whether the budget is spent; every reserve is followed by a written.
func (k *cutConn) reserve(n int) (int, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.inflight++
	if k.cutting {
		return 0, true
	}
	if k.limit < 0 {
		return n, false
	}
	if room := k.limit - k.used; int64(n) > room {
		n = int(room)
	}
	k.used += int64(n)
	return n, k.used >= k.limit
}

// written ends a write reserve began.
func (k *cutConn) written() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.inflight--; k.inflight == 0 {
		k.drained.Broadcast()
	}
}

// cut closes both sides once every reserved byte has been written: no
// byte past the offset passes, none before it is lost. A write the peer
// does not take within cutDrain ends with a deadline error.
func (k *cutConn) cut() {
	k.once.Do(func() {
		deadline := time.Now().Add(cutDrain)
		k.c.SetWriteDeadline(deadline)
		k.u.SetWriteDeadline(deadline)
		k.mu.Lock()
		k.cutting = true
		for k.inflight > 0 {
			k.drained.Wait()
		}
		k.mu.Unlock()
		k.c.Close()
		k.u.Close()
	})
}

func (p *CutProxy) serve(c net.Conn, limit int64) {
	defer c.Close()
	u, err := net.Dial("tcp", p.upstream)
	if err != nil {
		return
	}
	defer u.Close()
	k := &cutConn{c: c, u: u, limit: limit}
	k.drained = sync.NewCond(&k.mu)
	if limit == 0 {
		k.cut()
		return
	}
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			if n > 0 {
				m, spent := k.reserve(n)
				_, werr := dst.Write(buf[:m])
				p.total.Add(int64(m))
				k.written()
				if spent || werr != nil {
					k.cut()
					return
				}
			}
			if err != nil {
				k.cut()
				return
			}
		}
	}
	done := make(chan struct{})
	go func() { pipe(u, c); close(done) }()
	pipe(c, u)
	<-done
}

// NeverContacted listens on 127.0.0.1 for a host that a test must not
// reach: it closes each connection at once and counts them.
func NeverContacted(t testing.TB) (addr string, count *atomic.Int32) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	count = new(atomic.Int32)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			count.Add(1)
			c.Close()
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), count
}
