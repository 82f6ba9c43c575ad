package remote

import (
	"errors"
	"io"
	"sync"
	"time"
)

// A flight is a batch of SFTP requests sent back to back, in a fixed
// order, before any answer is read: one round trip for the lot instead of
// one each. OpenSSH's sftp-server handles requests one at a time in the
// order they arrive, so a later request of a flight sees the effect of
// every earlier one (a SETSTAT after its MKDIR, a RENAME after its
// CLOSE). pkg/sftp's Client and File methods may be called from several
// goroutines and keep many requests in flight, but it has no call that
// sends without waiting; so flight starts each step in its own goroutine
// and waits until that step's request is on the wire (or the step has
// returned) before it starts the next.
//
// A request's failure does not stop the server from acting on the later
// ones: a flight holds only steps whose later members are harmless when
// an earlier one fails (and the results are checked before anything that
// is not). A step that sends more than one request (a write longer than
// one packet) must be last in its flight, since the next step is started
// once the first request of its predecessor is on the wire. For the same
// reason nothing else may send while a flight does: other senders (the
// lock's renewal) hold Conn.sending, as flight does until all its
// requests are answered.

// sentCounter counts the requests written to the SFTP server.
type sentCounter struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    uint64
}

func newSentCounter() *sentCounter {
	s := &sentCounter{}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// countSFTP passes w through and counts each request written to it.
func (s *sentCounter) countSFTP(w io.WriteCloser) io.WriteCloser {
	return &packetWriter{w: w, onPacket: func([]byte) {
		s.mu.Lock()
		s.n++
		s.mu.Unlock()
		s.cond.Broadcast()
	}}
}

// flight runs steps in order, each started once the one before has sent
// its request or returned, and returns their errors in order once all
// have returned. The whole flight is bounded by the operation timeout.
func (c *Conn) flight(steps ...func() error) []error {
	errs := make([]error, len(steps))
	ran := false
	timeout := c.op(func() error {
		ran = true
		c.sending.Lock()
		defer c.sending.Unlock()
		var wg sync.WaitGroup
		for i, step := range steps {
			c.sent.mu.Lock()
			before, done := c.sent.n, false
			c.sent.mu.Unlock()
			wg.Go(func() {
				errs[i] = step()
				c.sent.mu.Lock()
				done = true
				c.sent.mu.Unlock()
				c.sent.cond.Broadcast()
			})
			c.sent.mu.Lock()
			for c.sent.n == before && !done {
				c.sent.cond.Wait()
			}
			c.sent.mu.Unlock()
		}
		wg.Wait()
		return errors.Join(errs...) // so that op can tell a stall
	})
	if !ran { // cancelled: nothing was sent
		for i := range errs {
			errs[i] = timeout
		}
		return errs
	}
	var ote *OpTimeoutError
	if errors.As(timeout, &ote) {
		for i := range errs {
			if errs[i] != nil {
				errs[i] = timeout
			}
		}
	}
	return errs
}

// pending is a request whose answer a flight does not wait for: its step
// returns once the request is on the wire, and the answer is collected
// later with wait. It serves a request that may take long to be answered
// for reasons the flight's other answers reveal (an OPEN of what turns
// out to be a named pipe), so the flight is not held up by it.
type pending[T any] struct {
	done chan struct{}
	v    T
	err  error
}

// sendOnly returns a flight step that sends f's request, and the pending
// answer. f must send exactly one request.
func sendOnly[T any](c *Conn, f func() (T, error)) (func() error, *pending[T]) {
	p := &pending[T]{done: make(chan struct{})}
	step := func() error {
		c.sent.mu.Lock()
		before := c.sent.n
		c.sent.mu.Unlock()
		go func() {
			v, err := f()
			c.sent.mu.Lock()
			p.v, p.err = v, err
			close(p.done)
			c.sent.mu.Unlock()
			c.sent.cond.Broadcast()
		}()
		c.sent.mu.Lock()
		defer c.sent.mu.Unlock()
		for c.sent.n == before && !p.answered() {
			c.sent.cond.Wait()
		}
		return nil
	}
	return step, p
}

// answeredWithin reports whether the answer came, waiting at most d.
func (p *pending[T]) answeredWithin(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return true
	case <-t.C:
		return false
	}
}

func (p *pending[T]) answered() bool { return closedChan(p.done) }

// wait returns the answer, bounded by the operation timeout (which cuts
// the connection, and so ends the request, when it stalls).
func wait[T any](c *Conn, p *pending[T]) (T, error) {
	err := c.op(func() error {
		select {
		case <-p.done:
			return p.err
		case <-c.ctx.Done():
			return c.ctx.Err()
		}
	})
	if err != nil {
		var zero T
		return zero, err
	}
	return p.v, nil
}
