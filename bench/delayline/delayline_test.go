package delayline

import (
	"bytes"
	"crypto/rand"
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// echoServer echoes every connection on 127.0.0.1:0 until the test ends.
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			})
		}
	})
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	return ln.Addr().String()
}

func startLine(t *testing.T, rtt time.Duration) *Line {
	t.Helper()
	l, err := Listen("127.0.0.1:0", echoServer(t), rtt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func dial(t *testing.T, l *Line) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func exchange(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := c.Write([]byte(msg)); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if string(got) != msg {
		t.Fatalf("got %q, want %q", got, msg)
	}
}

// closeAndCount closes c and returns the round trips of the line's only
// connection. Every write was answered, so the proxy has counted it.
func closeAndCount(t *testing.T, l *Line, c net.Conn) int {
	t.Helper()
	c.Close()
	conns := l.Conns()
	if len(conns) != 1 {
		t.Fatalf("%d connections counted, want 1", len(conns))
	}
	return conns[0].RoundTrips()
}

func TestSequentialExchangesEachCostARoundTrip(t *testing.T) {
	t.Parallel()
	const rtt, n = 40 * time.Millisecond, 5
	l := startLine(t, rtt)
	start := time.Now()
	c := dial(t, l)
	for range n {
		exchange(t, c, "ping")
	}
	// A lower bound only: the delay line may be slow on a loaded machine,
	// never fast. The connect's round trip, then one per answer.
	if got, least := time.Since(start), (n+1)*rtt; got < least {
		t.Errorf("%d exchanges took %s, want at least %s", n, got, least)
	}
	// The first request goes out with the connect, each later one after an
	// answer: 1 + (n-1).
	if got := closeAndCount(t, l, c); got != n {
		t.Errorf("counted %d round trips, want %d", got, n)
	}
}

func TestPipelinedWritesCostOneRoundTrip(t *testing.T) {
	t.Parallel()
	// Long enough that all writes are sent before the first echo can be
	// released, on any machine.
	l := startLine(t, 400*time.Millisecond)
	c := dial(t, l)
	exchange(t, c, "first") // the connect's round trip
	want := make([]byte, 1<<20)
	if _, err := rand.Read(want); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	got := make([]byte, len(want))
	var rerr error
	wg.Go(func() { _, rerr = io.ReadFull(c, got) })
	for off := 0; off < len(want); off += 16 << 10 {
		if _, err := c.Write(want[off : off+16<<10]); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if rerr != nil {
		t.Fatal(rerr)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("the echoed stream differs from what was sent: chunks lost or reordered")
	}
	if got, least := time.Since(start), 400*time.Millisecond; got < least {
		t.Errorf("pipelined exchange took %s, want at least one RTT (%s)", got, least)
	}
	if got := closeAndCount(t, l, c); got != 2 {
		t.Errorf("counted %d round trips, want 2 (connect with the first exchange, then one for all pipelined writes)", got)
	}
}

func TestOnTurnAndReset(t *testing.T) {
	t.Parallel()
	l := startLine(t, 0)
	var mu sync.Mutex
	var turns []int
	l.OnTurn = func(conn, count int) { mu.Lock(); turns = append(turns, count); mu.Unlock() }
	c := dial(t, l)
	exchange(t, c, "a")
	exchange(t, c, "b")
	exchange(t, c, "c")
	mu.Lock()
	got := append([]int(nil), turns...)
	mu.Unlock()
	if len(got) != 2 || got[0] != 2 || got[1] != 3 {
		t.Errorf("OnTurn saw counts %v, want [2 3]", got)
	}
	if up, down := l.Conns()[0].Bytes(); up != 3 || down != 3 {
		t.Errorf("carried %d bytes up, %d down, want 3 and 3", up, down)
	}
	l.Reset()
	if n := len(l.Conns()); n != 0 {
		t.Errorf("%d connections after Reset, want 0", n)
	}
}

func TestUnansweredLastTurnIsNotCounted(t *testing.T) {
	t.Parallel()
	l := startLine(t, 200*time.Millisecond)
	c := dial(t, l)
	exchange(t, c, "a")
	exchange(t, c, "b")
	// A disconnect after the last answer: the echo comes back after the
	// client has gone, and nothing waited for it.
	if _, err := c.Write([]byte("bye")); err != nil {
		t.Fatal(err)
	}
	c.(*net.TCPConn).CloseWrite()
	// Wait for the echo of "bye" itself, not for a time it should have come
	// by: the proxy marks the release before it writes, so once the client
	// has read it the proxy has judged the turn (a sleep would let a loaded
	// machine pass a proxy that counts it).
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if got, err := io.ReadAll(c); err != nil || string(got) != "bye" {
		t.Fatalf("after the half-close read %q, %v; want the echo \"bye\" and EOF", got, err)
	}
	if got := closeAndCount(t, l, c); got != 2 {
		t.Errorf("counted %d round trips, want 2", got)
	}
}
