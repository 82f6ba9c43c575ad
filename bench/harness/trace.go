package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/productgalaxy/sops-deploy-action/bench/delayline"
	"github.com/productgalaxy/sops-deploy-action/internal/remote"
	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
	ssh "github.com/productgalaxy/sops-deploy-action/internal/xssh"
)

// traceRTT is the link the per-phase trace runs over: long enough that the
// client's pipelined writes always leave before an answer can come back.
const traceRTT = 50 * time.Millisecond

// turnLog lines up the steps the client traces (remote.Options.Trace) with
// the round trips the delay line counts: each turn is charged to the steps
// traced since the previous turn.
type turnLog struct {
	mu      sync.Mutex
	pending []string
	turns   [][]string // turns[0] is the TCP connect
}

func (l *turnLog) step(event string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.turns) == 0 && event == "tcp: connect" {
		l.turns = append(l.turns, []string{event})
		return
	}
	l.pending = append(l.pending, event)
}

func (l *turnLog) turn(_, _ int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.turns = append(l.turns, l.pending)
	l.pending = nil
}

// phaseOf sorts a traced step into the phases of BENCHMARKS.md.
func phaseOf(step string) string {
	switch {
	case step == "tcp: connect":
		return "TCP"
	case step == "ssh: version, key exchange":
		return "key exchange"
	case strings.HasPrefix(step, "ssh: host key checked"), step == "ssh: auth publickey":
		return "auth"
	case strings.HasPrefix(step, "ssh: direct-tcpip"):
		return "jump channel"
	case step == "ssh: open session channel":
		return "channel open"
	case step == "ssh: subsystem request", step == "sftp: INIT":
		return "SFTP start"
	case strings.HasPrefix(step, "sftp: "):
		return "SFTP requests"
	case step == "close":
		return "close"
	}
	return "other"
}

var phaseOrder = []string{"TCP", "key exchange", "auth", "jump channel", "channel open", "SFTP start", "SFTP requests", "close", "other"}

// phases counts turns per phase; a turn with no traced step (x/crypto's
// own packets: auth "none", the signed publickey request) belongs to the
// phase of the turn before.
func (l *turnLog) phases() (map[string]int, []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	counts := map[string]int{}
	var listing []string
	phase := "TCP"
	for i, steps := range l.turns {
		desc := "(no traced step: continues " + phase + ")"
		if len(steps) > 0 {
			phase = phaseOf(steps[len(steps)-1])
			desc = compress(steps)
		}
		counts[phase]++
		listing = append(listing, fmt.Sprintf("%2d  %-13s %s", i+1, phase, desc))
	}
	return counts, listing
}

// compress joins steps, "sftp: WRITE ×3" for repeats.
func compress(steps []string) string {
	var out []string
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && steps[j] == steps[i] {
			j++
		}
		s := steps[i]
		if j-i > 1 {
			s += fmt.Sprintf(" ×%d", j-i)
		}
		out = append(out, s)
		i = j
	}
	return strings.Join(out, ", ")
}

// traceCases runs the single-host cases and the jump case once each in
// this process, through a delay line, with remote.Options.Trace, and
// prints round trips per phase and, for each case, every turn.
func (h *harness) traceCases() error {
	pem, err := os.ReadFile(h.clientKey)
	if err != nil {
		return err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		return err
	}
	type traced struct {
		name    string
		counts  map[string]int
		listing []string
	}
	var all []traced
	for _, c := range h.netCases() {
		if c.hosts > 1 {
			continue
		}
		progress("trace: %s at %s RTT", c.name, traceRTT)
		log, err := h.traceOne(c, signer)
		if err != nil {
			return fmt.Errorf("trace %s: %w", c.name, err)
		}
		counts, listing := log.phases()
		all = append(all, traced{c.name, counts, listing})
	}
	fmt.Printf("\nRound trips per phase (one run each, in process, through a %s delay line, steps traced with remote.Options.Trace):\n\n", traceRTT)
	fmt.Print("| case |")
	for _, p := range phaseOrder {
		fmt.Printf(" %s |", p)
	}
	fmt.Print(" total |\n|---|")
	for range phaseOrder {
		fmt.Print("---|")
	}
	fmt.Println("---|")
	for _, t := range all {
		fmt.Printf("| %s |", t.name)
		total := 0
		for _, p := range phaseOrder {
			fmt.Printf(" %d |", t.counts[p])
			total += t.counts[p]
		}
		fmt.Printf(" %d |\n", total)
	}
	for _, t := range all {
		fmt.Printf("\nTurns, %s (each charged to the steps traced since the turn before):\n\n", t.name)
		for _, l := range t.listing {
			fmt.Println("    " + l)
		}
	}
	return nil
}

// traceOne deploys case c once through a fresh delay line.
func (h *harness) traceOne(c netCase, signer ssh.Signer) (*turnLog, error) {
	srv := h.servers[0]
	front := srv
	if c.jump {
		front = h.servers[1]
	}
	line, err := delayline.Listen(front.host+":0", front.addr(), traceRTT)
	if err != nil {
		return nil, err
	}
	defer line.Close()
	log := &turnLog{}
	line.OnTurn = log.turn
	l := link{line: line, srv: front}
	hk, err := remote.NewHostKeys(l.knownHost()+"\n"+srv.knownHost+"\n", nil)
	if err != nil {
		return nil, err
	}
	p := filepath.Join(srv.dir, "action", "galaxy.yaml")
	if err := writeOrRemove(p, c.file); err != nil {
		return nil, err
	}
	if err := writeOrRemove(p+".previous", c.previous); err != nil {
		return nil, err
	}
	opts := remote.Options{Timeouts: remote.DefaultTimeouts, Trace: log.step}
	target := remote.Target{Host: front.host, Port: portNumber(line.Addr()), User: h.user}
	if c.jump {
		bastion := target
		opts.Jump = &bastion
		target = remote.Target{Host: srv.host, Port: srv.port, User: h.user}
	}
	conn, err := remote.Dial(context.Background(), target, signer, hk, opts)
	if err != nil {
		return nil, err
	}
	remotePath := filepath.Join(h.remoteRoot, "action", "galaxy.yaml")
	if strings.Contains(strings.Join(c.env, " "), "rollback") {
		_, err = conn.Rollback(remote.Spec{Path: remotePath, Mode: 0o600, UID: -1, GID: -1})
	} else {
		_, err = conn.Install(remote.Spec{Path: remotePath, Content: h.small.plain, Mode: 0o600, UID: -1, GID: -1, Backup: true,
			ReadPrevious: secrets.MaxFileSize}) // as the action asks, for changed_keys
	}
	cerr := conn.Close()
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	// Let the last turn (the close) reach the delay line's counter.
	time.Sleep(traceRTT)
	if err := expectFile(p, c.wantFile); err != nil {
		return nil, err
	}
	return log, expectFile(p+".previous", c.wantPrevious)
}

func portNumber(addr string) int {
	var n int
	fmt.Sscanf(addr[strings.LastIndex(addr, ":")+1:], "%d", &n)
	return n
}
