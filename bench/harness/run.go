package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os/exec"
	"slices"
	"syscall"
	"time"
)

// prog is one contender in a workload.
type prog struct {
	name  string
	prep  func() error              // untimed, before each run; may be nil
	cmd   func() *exec.Cmd          // a fresh command for each run
	want  int                       // its exit code
	check func(stdout []byte) error // untimed, after each run; may be nil
}

// sample is one timed run: to the first line of stdout (or EOF) and to
// the exit, with the process's CPU time and peak RSS.
type sample struct {
	first, wall, cpu time.Duration
	rssKB            int64
}

// measure runs every prog once to warm up, then n rounds in which each
// prog runs once, in order (A,B,A,B,… or A,B,S,A,B,S,…).
func measure(n int, progs ...prog) ([][]sample, error) {
	out := make([][]sample, len(progs))
	for round := -1; round < n; round++ {
		for i, p := range progs {
			s, err := p.once()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p.name, err)
			}
			if round >= 0 {
				out[i] = append(out[i], s)
			}
		}
	}
	return out, nil
}

func (p prog) once() (sample, error) {
	if p.prep != nil {
		if err := p.prep(); err != nil {
			return sample{}, fmt.Errorf("prepare: %w", err)
		}
	}
	cmd := p.cmd()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		return sample{}, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return sample{}, err
	}
	r := bufio.NewReader(pipe)
	stdout, _ := r.ReadBytes('\n')
	s := sample{first: time.Since(start)}
	rest, _ := io.ReadAll(r)
	err = cmd.Wait()
	s.wall = time.Since(start)
	stdout = append(stdout, rest...)
	if cmd.ProcessState == nil || cmd.ProcessState.ExitCode() != p.want {
		return sample{}, fmt.Errorf("%s: %v, want exit code %d\nstdout:\n%s\nstderr:\n%s", cmd.Path, err, p.want, tail(stdout), tail(stderr.Bytes()))
	}
	s.cpu = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.rssKB = ru.Maxrss // kilobytes on Linux
	}
	if p.check != nil {
		err = p.check(stdout)
	}
	return s, err
}

// tail keeps the end of a long output (the large file prints 10,000 masks).
func tail(b []byte) []byte {
	if len(b) > 4000 {
		return append([]byte("…"), b[len(b)-4000:]...)
	}
	return b
}

func median(xs []time.Duration) time.Duration {
	s := slices.Sorted(slices.Values(xs))
	if len(s) == 0 {
		return 0
	}
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

// field picks one measure out of each sample.
func field(ss []sample, f func(sample) time.Duration) (out []time.Duration) {
	for _, s := range ss {
		out = append(out, f(s))
	}
	return out
}

func wall(s sample) time.Duration  { return s.wall }
func first(s sample) time.Duration { return s.first }
func cpu(s sample) time.Duration   { return s.cpu }

func med(ss []sample, f func(sample) time.Duration) time.Duration { return median(field(ss, f)) }

func maxRSS(ss []sample) (m int64) {
	for _, s := range ss {
		m = max(m, s.rssKB)
	}
	return m
}

// spread is "median (min–max)" of the wall times.
func spread(ss []sample) string {
	w := field(ss, wall)
	return fmt.Sprintf("%s (%.0f–%.0f)", ms(median(w)), float64(slices.Min(w))/1e6, float64(slices.Max(w))/1e6)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d)/1e6) }

func mb(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }
