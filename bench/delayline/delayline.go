// Package delayline is a TCP proxy that holds every chunk a fixed one-way
// delay in each direction, the way a long link does, and counts the
// client's round trips on each connection.
//
// Each direction has its own queue: a chunk is read as soon as it arrives,
// stamped, and written out when its delay has passed, in order. Nothing
// waits for an answer before reading the next chunk, so data a client
// pipelines stays pipelined and only real waits cost time.
//
// Round trips are counted as the client experiences them: one for the TCP
// connect (the delay line forwards nothing in either direction until one
// RTT after it accepted, as SYN, SYN-ACK take one RTT), plus one for every
// answered client "turn". A turn is a chunk from the client that arrives
// after server data was released to the client since the client's
// previous chunk (so the client may have been waiting for it); it is
// counted when server data is next released to the client. A client that
// writes without waiting (pipelining, or several packets of one flight)
// does not add turns; a client that must read an answer before it can
// write its next request adds one per answer. A last turn nothing answers
// before the client closes its side (a disconnect) costs no wait and is
// not counted.
package delayline

import (
	"net"
	"sync"
	"time"
)

// Line is a listening delay line in front of one upstream address.
type Line struct {
	ln       net.Listener
	upstream string
	oneWay   time.Duration
	// OnTurn, if set, is called (from the proxy's goroutines) with the
	// connection's number and its new round-trip count each time the count
	// grows. It must not block.
	OnTurn func(conn, count int)

	mu    sync.Mutex
	conns []*Stats
	wg    sync.WaitGroup
	open  map[net.Conn]struct{}
	done  bool
}

// Stats are the counts of one proxied connection.
type Stats struct {
	mu         sync.Mutex
	roundTrips int
	serverSent bool // server data released to the client since the client's last chunk
	pending    bool // a client turn not answered yet
	clientDone bool // the client closed its side
	up, down   int64
}

// RoundTrips returns the connection's round trips so far.
func (s *Stats) RoundTrips() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.roundTrips
}

// Bytes returns the bytes carried client→server and server→client.
func (s *Stats) Bytes() (up, down int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.up, s.down
}

// Listen starts a delay line on addr (host:0 for a free port) in front of
// upstream with the given round-trip time, half of it in each direction.
func Listen(addr, upstream string, rtt time.Duration) (*Line, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	l := &Line{ln: ln, upstream: upstream, oneWay: rtt / 2, open: map[net.Conn]struct{}{}}
	l.wg.Add(1)
	go l.accept()
	return l, nil
}

// Addr is where clients connect.
func (l *Line) Addr() string { return l.ln.Addr().String() }

// Conns returns the stats of every connection accepted so far, in order.
func (l *Line) Conns() []*Stats {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Stats(nil), l.conns...)
}

// Reset forgets the connections counted so far.
func (l *Line) Reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.conns = nil
}

// Close stops listening, cuts every open connection and waits for its
// goroutines.
func (l *Line) Close() error {
	err := l.ln.Close()
	l.mu.Lock()
	l.done = true
	for c := range l.open {
		c.Close()
	}
	l.mu.Unlock()
	l.wg.Wait()
	return err
}

func (l *Line) track(c net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.done {
		c.Close()
		return false
	}
	l.open[c] = struct{}{}
	return true
}

func (l *Line) untrack(c net.Conn) {
	l.mu.Lock()
	delete(l.open, c)
	l.mu.Unlock()
	c.Close()
}

func (l *Line) accept() {
	defer l.wg.Done()
	for {
		c, err := l.ln.Accept()
		if err != nil {
			return
		}
		if !l.track(c) {
			return
		}
		st := &Stats{roundTrips: 1} // the TCP connect
		l.mu.Lock()
		l.conns = append(l.conns, st)
		n := len(l.conns)
		l.mu.Unlock()
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.serve(c, st, n)
		}()
	}
}

// serve proxies one connection until both directions end.
func (l *Line) serve(client net.Conn, st *Stats, n int) {
	defer l.untrack(client)
	up, err := net.Dial("tcp", l.upstream)
	if err != nil {
		return
	}
	if !l.track(up) {
		return
	}
	defer l.untrack(up)
	// Nothing moves before the TCP connect's round trip is over.
	start := time.Now().Add(2 * l.oneWay)
	var wg sync.WaitGroup
	wg.Go(func() {
		l.pump(up, client, start, pumpHooks{
			arrived: func(k int) {
				st.mu.Lock()
				st.up += int64(k)
				st.pending = st.pending || st.serverSent
				st.serverSent = false
				st.mu.Unlock()
			},
			ended: func() {
				st.mu.Lock()
				st.clientDone = true
				st.mu.Unlock()
			},
		})
	})
	wg.Go(func() {
		l.pump(client, up, start, pumpHooks{
			arrived: func(k int) {
				st.mu.Lock()
				st.down += int64(k)
				st.mu.Unlock()
			},
			released: func() { l.answer(st, n) },
		})
	})
	wg.Wait()
}

// answer notes server data released to the client: the answer to a
// pending turn, if any.
func (l *Line) answer(st *Stats, n int) {
	st.mu.Lock()
	st.serverSent = true
	turn := st.pending && !st.clientDone
	if turn {
		st.pending = false
		st.roundTrips++
	}
	count := st.roundTrips
	st.mu.Unlock()
	if turn && l.OnTurn != nil {
		l.OnTurn(n, count)
	}
}

// pumpHooks are called by pump: arrived when a chunk is read from the
// source, ended when the source has ended, released just before a chunk is
// written to the destination. Each may be nil.
type pumpHooks struct {
	arrived  func(int)
	ended    func()
	released func()
}

type chunk struct {
	data []byte
	due  time.Time
}

// pump copies src to dst, each chunk held for oneWay after it arrived, or
// after start if it arrived earlier. Reading never waits for writing, so
// the chunks in flight are as many as the sender sent.
func (l *Line) pump(dst, src net.Conn, start time.Time, hooks pumpHooks) {
	q := make(chan chunk, 4096)
	go func() {
		defer close(q)
		for {
			buf := make([]byte, 32<<10)
			k, err := src.Read(buf)
			if k > 0 {
				if hooks.arrived != nil {
					hooks.arrived(k)
				}
				at := time.Now()
				if at.Before(start) {
					at = start
				}
				q <- chunk{data: buf[:k], due: at.Add(l.oneWay)}
			}
			if err != nil {
				if hooks.ended != nil {
					hooks.ended()
				}
				return
			}
		}
	}()
	var werr error
	for c := range q {
		if werr != nil {
			continue // drain, so the reader can finish
		}
		time.Sleep(time.Until(c.due))
		// Mark the release before the write: the client may read it and
		// answer before Write returns here. A chunk the client sent just
		// before may then count as a turn too: the count errs high.
		if hooks.released != nil {
			hooks.released()
		}
		if _, werr = dst.Write(c.data); werr != nil {
			src.Close() // the peer is gone: end the reader too
		}
	}
	// Pass the half-close on, so a peer waiting for EOF sees it.
	if tc, ok := dst.(*net.TCPConn); ok && werr == nil {
		_ = tc.CloseWrite()
	} else {
		dst.Close()
	}
}
