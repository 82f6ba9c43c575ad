package sshtest_test

import (
	"bytes"
	"io"
	"net"
	"testing"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/sshtest"
)

// sink accepts connections and sends what each one received, once it
// ends, on the returned channel.
func sink(t *testing.T) (string, <-chan []byte) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan []byte, 4)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(c)
			c.Close()
			got <- b
		}
	}()
	t.Cleanup(func() { ln.Close(); <-done })
	return ln.Addr().String(), got
}

// TestCutProxyCutsAtTheOffset: a cut falls on the exact byte, in the
// middle of one write, and both sides see the end at once rather than at
// their next read.
func TestCutProxyCutsAtTheOffset(t *testing.T) {
	t.Parallel()
	up, got := sink(t)
	p := sshtest.StartCutProxy(t, up)
	p.CutNextAfter(300)
	for i, want := range []int{300, 1000} { // the second connection passes whole
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			t.Fatal(err)
		}
		msg := bytes.Repeat([]byte{'x'}, 1000)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			c.(*net.TCPConn).CloseWrite()
		}
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		start := time.Now()
		if _, err := c.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("connection %d: read after the end = %v, want EOF", i+1, err)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("connection %d: the client saw the end after %s", i+1, d)
		}
		c.Close()
		select {
		case b := <-got:
			if len(b) != want {
				t.Errorf("connection %d: upstream received %d bytes, want %d", i+1, len(b), want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("connection %d: upstream never saw the end", i+1)
		}
	}
	if n := p.Conns(); n != 2 {
		t.Errorf("Conns() = %d, want 2", n)
	}
	if n := p.Bytes(); n != 1300 {
		t.Errorf("Bytes() = %d, want 1300", n)
	}
}
