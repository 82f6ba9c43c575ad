package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/productgalaxy/sops-deploy-action/bench/delayline"
)

// The network mode (-network) runs every case through delay lines in front
// of the real sshd, at each RTT, alternating the action with the runbook
// pipeline (scp + ssh chmod) over the same link, and counts round trips on
// the wire. See BENCHMARKS.md, "Over a network".

// oldVersion is what the host holds before a "changed" deploy: a valid
// YAML file that differs from the fixture (not a secret).
var oldVersion = []byte("# the version before this deploy\nsops_note: old\n")

// netCase is one deploy scenario of the network mode.
type netCase struct {
	name  string
	hosts int  // 1 or 10
	jump  bool // through a bastion: the delay line sits in front of the bastion
	// before is what the host holds before the run: the file and its
	// .previous (nil: absent).
	file, previous []byte
	env            []string // extra inputs
	// after is what the host must hold after the run.
	wantFile, wantPrevious []byte
	wantChanged            bool
}

func (h *harness) netCases() []netCase {
	plain := h.small.plain
	changed := netCase{name: "changed file + backup", hosts: 1, file: oldVersion, wantFile: plain, wantPrevious: oldVersion, wantChanged: true}
	ten, jump := changed, changed
	ten.name, ten.hosts = "10 hosts (changed + backup)", 10
	jump.name, jump.jump = "jump host (changed + backup)", true
	// The same length as the new version, so the install must read it to
	// tell it differs.
	sameSize := append(bytes.Repeat([]byte("#"), len(plain)-1), '\n')
	return []netCase{
		changed,
		{name: "changed, same size + backup", hosts: 1, file: sameSize, wantFile: plain, wantPrevious: sameSize, wantChanged: true},
		{name: "first deploy", hosts: 1, wantFile: plain, wantChanged: true},
		{name: "unchanged rerun", hosts: 1, file: plain, previous: oldVersion, wantFile: plain, wantPrevious: oldVersion},
		{name: "rollback", hosts: 1, file: plain, previous: oldVersion, env: []string{"INPUT_OPERATION=rollback"}, wantFile: oldVersion, wantPrevious: plain, wantChanged: true},
		ten,
		jump,
	}
}

// link is a delay line in front of one server, and that server.
type link struct {
	line *delayline.Line
	srv  *server
}

func (l link) addr() string { return l.line.Addr() }

// knownHost is the server's known_hosts line under the line's address.
func (l link) knownHost() string {
	port := l.line.Addr()[strings.LastIndex(l.line.Addr(), ":")+1:]
	key := l.srv.knownHost[strings.Index(l.srv.knownHost, " ")+1:]
	return fmt.Sprintf("[%s]:%s %s", l.srv.host, port, key)
}

// roundTrips sums the round trips of every connection the lines carried
// since their last reset, and returns the largest of one connection.
func roundTrips(links []link) (sum, most, conns int) {
	for _, l := range links {
		for _, c := range l.line.Conns() {
			n := c.RoundTrips()
			sum, most, conns = sum+n, max(most, n), conns+1
		}
	}
	return sum, most, conns
}

func resetLinks(links []link) {
	for _, l := range links {
		l.line.Reset()
	}
}

func (h *harness) startLinks(rtt time.Duration) ([]link, error) {
	var links []link
	for _, s := range h.servers {
		l, err := delayline.Listen(s.host+":0", s.addr(), rtt)
		if err != nil {
			closeLinks(links)
			return nil, err
		}
		links = append(links, link{line: l, srv: s})
	}
	return links, nil
}

func closeLinks(links []link) {
	for _, l := range links {
		l.line.Close()
	}
}

// route says, for one case, which links carry it (whose round trips are
// counted), where the action connects, and the known_hosts it needs.
type route struct {
	counted    []link
	targets    []string // host:port the action deploys to
	jump       string   // user@host:port, or ""
	servers    []*server
	knownHosts []string
}

// routeFor: a direct case goes through the first n links; the jump case
// goes through link 2 (the bastion, over the slow link) to server 1, which
// the bastion reaches on loopback, as a bastion next to its hosts does.
func (h *harness) routeFor(c netCase, links []link) route {
	var r route
	if c.jump {
		bastion := links[1]
		r.counted = []link{bastion}
		r.targets = []string{h.servers[0].addr()}
		r.jump = h.user + "@" + bastion.addr()
		r.servers = h.servers[:1]
		r.knownHosts = []string{bastion.knownHost(), h.servers[0].knownHost}
		return r
	}
	for _, l := range links[:c.hosts] {
		r.counted = append(r.counted, l)
		r.targets = append(r.targets, l.addr())
		r.servers = append(r.servers, l.srv)
		r.knownHosts = append(r.knownHosts, l.knownHost())
	}
	return r
}

// netRun is one measured run: wall time and round trips.
type netRun struct {
	wall             time.Duration
	sum, most, conns int
}

// counted wraps p so that each run starts with the lines reset and records
// the round trips they carried.
func counted(p prog, links []link, runs *[]netRun) prog {
	prep := p.prep
	p.prep = func() error {
		resetLinks(links)
		if prep != nil {
			return prep()
		}
		return nil
	}
	check := p.check
	p.check = func(out []byte) error {
		sum, most, conns := roundTrips(links)
		*runs = append(*runs, netRun{sum: sum, most: most, conns: conns})
		if check != nil {
			return check(out)
		}
		return nil
	}
	return p
}

func writeOrRemove(p string, b []byte) error {
	if b == nil {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	return os.WriteFile(p, b, 0o600)
}

func expectFile(p string, want []byte) error {
	got, err := os.ReadFile(p)
	switch {
	case want == nil && errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return err
	case !bytes.Equal(got, want):
		return fmt.Errorf("%s (%d bytes) is not the expected version (%d bytes)", p, len(got), len(want))
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o600 {
		return fmt.Errorf("%s: mode is not 0600", p)
	}
	return nil
}

// netAction is the action for case c over route r.
func (h *harness) netAction(c netCase, r route) prog {
	remote := filepath.Join(h.remoteRoot, "action", "galaxy.yaml")
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + h.home, "TMPDIR=" + filepath.Join(h.tmp, "tmpdir"),
		"GITHUB_ACTIONS=true", "GITHUB_WORKSPACE=" + h.root,
		"GITHUB_STEP_SUMMARY=" + h.summary, "GITHUB_OUTPUT=" + h.output,
		"INPUT_ENV=staging", "INPUT_AGE_KEY=" + h.ageKey,
		"INPUT_HOST=" + strings.Join(r.targets, ","), "INPUT_USER=" + h.user,
		"INPUT_SSH_KEY=" + h.clientKeyPEM, "INPUT_KNOWN_HOSTS=" + strings.Join(r.knownHosts, "\n"),
		"INPUT_FILE=" + h.small.enc, "INPUT_REMOTE_PATH=" + remote,
		"INPUT_BACKUP=true", "INPUT_JUMP_HOST=" + r.jump,
	}
	env = append(env, c.env...)
	return prog{
		name: "action, " + c.name,
		prep: func() error {
			for _, f := range []string{h.summary, h.output} {
				if err := os.WriteFile(f, nil, 0o600); err != nil {
					return err
				}
			}
			for _, s := range r.servers {
				p := filepath.Join(s.dir, "action", "galaxy.yaml")
				if err := writeOrRemove(p, c.file); err != nil {
					return err
				}
				if err := writeOrRemove(p+".previous", c.previous); err != nil {
					return err
				}
			}
			return nil
		},
		cmd: func() *exec.Cmd { cmd := exec.Command(h.bin); cmd.Env = env; return cmd },
		check: func([]byte) error {
			for _, s := range r.servers {
				p := filepath.Join(s.dir, "action", "galaxy.yaml")
				if err := expectFile(p, c.wantFile); err != nil {
					return fmt.Errorf("host %s: %w", s.addr(), err)
				}
				if err := expectFile(p+".previous", c.wantPrevious); err != nil {
					return fmt.Errorf("host %s: %w", s.addr(), err)
				}
			}
			out, err := os.ReadFile(h.output)
			if err != nil {
				return err
			}
			// name=value, or name<<DELIMITER, value, DELIMITER.
			re := regexp.MustCompile(fmt.Sprintf(`(?m)^changed(=|<<\S+\n)%t$`, c.wantChanged))
			if !re.Match(out) {
				return fmt.Errorf("GITHUB_OUTPUT lacks changed=%t", c.wantChanged)
			}
			return nil
		},
	}
}

// netRunbookScript is the runbook over the link: per host scp, then ssh
// chmod, one host after another. $PROXY, when set, is an ssh command that
// reaches the host through the bastion (-W), as ProxyJump would; -o options
// are not passed on to ProxyJump's own ssh, so it is spelled out.
const netRunbookScript = `set -euo pipefail
SOPS_AGE_KEY_FILE="$AGE_KEY_FILE" sops --config /dev/null decrypt --input-type yaml --output-type yaml "$FILE" > "$TMPF"
opts=(-F /dev/null -i "$KEY" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes -o BatchMode=yes)
[ -z "$PROXY" ] || opts+=(-o ProxyCommand="$PROXY")
for hp in $HOSTS; do
  h=${hp%:*} p=${hp##*:}
  scp -q "${opts[@]}" -P "$p" "$TMPF" "$LOGIN@$h:$REMOTE"
  ssh "${opts[@]}" -p "$p" "$LOGIN@$h" chmod 600 "$REMOTE"
done
shred -u "$TMPF"
`

func (h *harness) netRunbook(c netCase, r route) prog {
	remote := filepath.Join(h.remoteRoot, "baseline", "galaxy.yaml")
	tmpf := filepath.Join(h.tmp, "tmpdir", "galaxy.yaml")
	kh := filepath.Join(h.tmp, "known_hosts_net")
	proxy := ""
	if r.jump != "" {
		bastion := r.jump[strings.Index(r.jump, "@")+1:]
		i := strings.LastIndex(bastion, ":")
		proxy = fmt.Sprintf("ssh -F /dev/null -i %s -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes -o BatchMode=yes -p %s -W %%h:%%p %s@%s",
			h.clientKey, kh, bastion[i+1:], h.user, bastion[:i])
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + h.home, "FILE=" + h.small.enc, "TMPF=" + tmpf,
		"AGE_KEY_FILE=" + ageKeyFile, "HOSTS=" + strings.Join(r.targets, " "), "KEY=" + h.clientKey,
		"KH=" + kh, "LOGIN=" + h.user, "REMOTE=" + remote, "PROXY=" + proxy,
	}
	return prog{
		name: "runbook, " + c.name,
		prep: func() error {
			if err := os.WriteFile(kh, []byte(strings.Join(r.knownHosts, "\n")+"\n"), 0o600); err != nil {
				return err
			}
			for _, s := range r.servers {
				if err := writeOrRemove(filepath.Join(s.dir, "baseline", "galaxy.yaml"), c.file); err != nil {
					return err
				}
			}
			return nil
		},
		cmd: func() *exec.Cmd { cmd := exec.Command("bash", "-c", netRunbookScript); cmd.Env = env; return cmd },
		check: func([]byte) error {
			for _, s := range r.servers {
				if err := expectFile(filepath.Join(s.dir, "baseline", "galaxy.yaml"), h.small.plain); err != nil {
					return fmt.Errorf("runbook, host %s: %w", s.addr(), err)
				}
			}
			return nil
		},
	}
}

// netResult is one case at one RTT.
type netResult struct {
	rtt             time.Duration
	c               netCase
	action, runbook []netRun
}

func medianRun(runs []netRun, f func(netRun) int) int {
	xs := make([]int, 0, len(runs))
	for _, r := range runs {
		xs = append(xs, f(r))
	}
	slices.Sort(xs)
	return xs[len(xs)/2]
}

func medianWall(runs []netRun) time.Duration {
	var w []time.Duration
	for _, r := range runs {
		w = append(w, r.wall)
	}
	return median(w)
}

// network runs every case at every RTT and prints the tables.
func (h *harness) network(rtts []time.Duration, runs int) error {
	var results []netResult
	for _, rtt := range rtts {
		links, err := h.startLinks(rtt)
		if err != nil {
			return err
		}
		for _, c := range h.netCases() {
			progress("network: %s at %s RTT, %d runs each, alternating with the runbook", c.name, rtt, runs)
			r := h.routeFor(c, links)
			res := netResult{rtt: rtt, c: c}
			samples, err := measure(runs, counted(h.netAction(c, r), r.counted, &res.action), counted(h.netRunbook(c, r), r.counted, &res.runbook))
			if err != nil {
				closeLinks(links)
				return err
			}
			// measure's warm-up run is counted too: drop it, keep the walls.
			res.action, res.runbook = res.action[1:], res.runbook[1:]
			for i := range res.action {
				res.action[i].wall, res.runbook[i].wall = samples[0][i].wall, samples[1][i].wall
			}
			results = append(results, res)
		}
		closeLinks(links)
	}
	printNetwork(results, rtts)
	return h.traceCases()
}

func printNetwork(results []netResult, rtts []time.Duration) {
	head := "| case |"
	sep := "|---|"
	for _, rtt := range rtts {
		head += fmt.Sprintf(" %s RTT |", rtt)
		sep += "---|"
	}
	first := func(c netResult) bool { return c.rtt == rtts[0] }
	fmt.Print("\nRound trips on the wire, action / runbook (ratio), the median of the runs: the delay line's count per connection, summed over the run's connections (10 hosts: per host, the largest):\n\n")
	fmt.Println(head + "\n" + sep)
	printRows(results, first, func(_, r netResult) (string, bool) {
		count := func(x netRun) int { return x.sum }
		if r.c.hosts > 1 {
			count = func(x netRun) int { return x.most }
		}
		a, b := medianRun(r.action, count), medianRun(r.runbook, count)
		return fmt.Sprintf(" %d / %d (%.2f) |", a, b, float64(a)/float64(b)), true
	})
	fmt.Print("\nWall time, median of the runs, action against the runbook in the same loop (ratio action/runbook):\n\n")
	fmt.Println(head + "\n" + sep)
	printRows(results, first, func(_, r netResult) (string, bool) {
		a, b := medianWall(r.action), medianWall(r.runbook)
		return fmt.Sprintf(" %s / %s = %.2f |", ms(a), ms(b), float64(a)/float64(b)), true
	})
	fmt.Print("\nRound trips felt, from the wall time: (wall at RTT − wall at 0) / RTT, action | runbook:\n\n")
	fmt.Println(strings.Replace(head, " 0s RTT |", "", 1) + "\n" + sep[:len(sep)-4])
	printRows(results, func(c netResult) bool { return c.rtt == 0 }, func(base, r netResult) (string, bool) {
		felt := func(x, y []netRun) float64 { return float64(medianWall(x)-medianWall(y)) / float64(r.rtt) }
		return fmt.Sprintf(" %.1f \\| %.1f |", felt(r.action, base.action), felt(r.runbook, base.runbook)), r.rtt != 0
	})
	printHostRatio(results, rtts)
}

// printRows prints a table row for each result row picks, with a cell for
// each result of the same case that cell accepts, in order.
func printRows(results []netResult, row func(netResult) bool, cell func(row, r netResult) (string, bool)) {
	for _, c := range results {
		if !row(c) {
			continue
		}
		line := "| " + c.c.name + " |"
		for _, r := range results {
			if r.c.name != c.c.name {
				continue
			}
			if text, ok := cell(c, r); ok {
				line += text
			}
		}
		fmt.Println(line)
	}
}

// printHostRatio prints the 10-host run's wall time against one host's.
func printHostRatio(results []netResult, rtts []time.Duration) {
	one, ten := map[time.Duration]time.Duration{}, map[time.Duration]time.Duration{}
	for _, r := range results {
		switch r.c.name {
		case "changed file + backup":
			one[r.rtt] = medianWall(r.action)
		case "10 hosts (changed + backup)":
			ten[r.rtt] = medianWall(r.action)
		}
	}
	fmt.Print("\n10 hosts against 1 host (action, wall):")
	for _, rtt := range rtts {
		fmt.Printf(" %s %.2f;", rtt, float64(ten[rtt])/float64(one[rtt]))
	}
	fmt.Println()
}

func parseRTTs(s string) ([]time.Duration, error) {
	var out []time.Duration
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, fmt.Errorf("-rtts: %q is not a whole number of milliseconds", f)
		}
		out = append(out, time.Duration(n)*time.Millisecond)
	}
	return out, nil
}
