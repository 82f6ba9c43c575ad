// Command harness benchmarks the action against the runbook it replaces
// (sops decrypt to a temp file, scp, ssh chmod 600, shred -u) on real sshd
// instances on loopback. Run it through bench/run; see BENCHMARKS.md.
//
// Absolute times on a shared machine are noise, so every workload runs the
// action and its baseline alternately in one loop and reports the ratio of
// their medians.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/productgalaxy/sops-deploy-action/internal/dockerfile"
)

const ageKeyFile = "testdata/keys/a.agekey" // TEST-ONLY

type harness struct {
	runs                        int
	isolated, realHome          bool // see server
	root, tmp, home, remoteRoot string
	bin, sops, user, userHome   string
	clientKey, knownHosts       string // paths
	clientKeyPEM, ageKey        string // contents
	summary, output             string // GITHUB_STEP_SUMMARY, GITHUB_OUTPUT
	small, large                fixture
	mu                          sync.Mutex
	servers                     []*server
	rtts                        []time.Duration // -network
}

func flagSet(name string) (set bool) {
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return set
}

type fixture struct {
	enc   string // relative to the repository root
	plain []byte // what `sops decrypt` prints, byte for byte
}

func main() {
	runs := flag.Int("runs", 10, "timed runs of each program per workload (after one warm-up each)")
	quick := flag.Bool("quick", false, "3 runs each, for a smoke test")
	realHome := flag.Bool("real-home", false, "SSH sessions use the login user's real home and shell rc files, not a fresh /etc/skel home")
	network := flag.Bool("network", false, "run the cases through delay lines and count round trips (see BENCHMARKS.md, Over a network)")
	rtts := flag.String("rtts", "0,25,50,100", "with -network: the round-trip times, in milliseconds")
	flag.Parse()
	h := &harness{runs: *runs, realHome: *realHome}
	if *quick {
		h.runs = 3
	}
	if *network {
		list, err := parseRTTs(*rtts)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: "+err.Error())
			os.Exit(2)
		}
		h.rtts = list
		if !flagSet("runs") {
			h.runs = 3 // each run at 100 ms RTT takes seconds
		}
		if *quick {
			h.runs = 1
		}
	}
	var once sync.Once
	cleanup := func() { once.Do(h.close) }
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		fmt.Fprintf(os.Stderr, "bench: %v: stopping sshd\n", <-sigs)
		cleanup()
		os.Exit(130)
	}()
	err := h.main()
	cleanup()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench: "+err.Error())
		os.Exit(1)
	}
}

// close stops every sshd and removes the temporary directory.
func (h *harness) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range h.servers {
		wg.Go(s.stop)
	}
	wg.Wait()
	h.servers = nil
	if h.tmp != "" {
		_ = os.RemoveAll(h.tmp)
	}
}

func progress(format string, args ...any) { fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...) }

func yesNo(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}

func (h *harness) main() error {
	if h.runs < 1 {
		return errors.New("-runs must be at least 1")
	}
	if err := h.setup(); err != nil {
		return err
	}
	if h.rtts != nil {
		return h.network(h.rtts, h.runs)
	}
	r, err := h.loopback()
	if err != nil {
		return err
	}
	r.print(h.runs)
	return nil
}

// loopbackResults are the loopback workloads' samples: a, b and c hold the
// action's then the baseline's (c also sops decrypt's), start /bin/true's,
// a failing run's and run a's.
type loopbackResults struct {
	a, b, c, start [][]sample
	phases         []string
	binSize        int64
}

// loopback measures workloads a to d and the start-up, then traces the
// phases of one run of each.
func (h *harness) loopback() (*loopbackResults, error) {
	var r loopbackResults
	var err error
	one, ten := h.servers[:1], h.servers[:10]
	progress("a. one host, 9 keys: %d runs each, alternating", h.runs)
	if r.a, err = measure(h.runs, h.action(one, h.small), h.baseline(one, h.small)); err != nil {
		return nil, err
	}
	progress("b. ten hosts, 9 keys")
	if r.b, err = measure(h.runs, h.action(ten, h.small), h.baseline(ten, h.small)); err != nil {
		return nil, err
	}
	progress("c. one host, 10,000 keys, and d. sops decrypt alone, in one loop")
	if r.c, err = measure(h.runs, h.action(one, h.large), h.baseline(one, h.large), h.sopsOnly(h.large)); err != nil {
		return nil, err
	}
	progress("start-up: %d runs each of /bin/true, a failing run and run a", 2*h.runs)
	failing := h.action(one, h.small, "INPUT_ENV=") // the last value wins
	failing.name, failing.want = "failing run", 1
	failing.check = func(out []byte) error {
		if n := bytes.Count(out, []byte("::error::")); n != 1 {
			return fmt.Errorf("printed %d ::error:: lines, want 1:\n%s", n, out)
		}
		return nil
	}
	if r.start, err = measure(2*h.runs, prog{name: "/bin/true", cmd: func() *exec.Cmd { return exec.Command("/bin/true") }}, failing, h.action(one, h.small)); err != nil {
		return nil, err
	}
	if r.phases, err = h.phases(one, ten); err != nil {
		return nil, err
	}
	bin, err := os.Stat(h.bin)
	if err != nil {
		return nil, err
	}
	r.binSize = bin.Size()
	return &r, nil
}

// phases runs a, b and c once each with RUNNER_DEBUG=1 and returns the
// lines they print, ::add-mask:: lines left out.
func (h *harness) phases(one, ten []*server) ([]string, error) {
	progress("phases: one run each of a, b and c with RUNNER_DEBUG=1")
	var phases []string
	for i, hosts := range [][]*server{one, ten, one} {
		phases = append(phases, "", "abc"[i:i+1]+".")
		fx := h.small
		if i == 2 {
			fx = h.large
		}
		w := h.action(hosts, fx, "RUNNER_DEBUG=1")
		check := w.check
		w.check = func(out []byte) error {
			for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				if !strings.HasPrefix(l, "::add-mask::") {
					phases = append(phases, l)
				}
			}
			return check(out)
		}
		if _, err := w.once(); err != nil {
			return nil, err
		}
	}
	return phases, nil
}

// print writes the loopback tables (BENCHMARKS.md holds them).
func (r *loopbackResults) print(runs int) {
	a, b, c, start := r.a, r.b, r.c, r.start
	fmt.Print("\nMedians of the timed runs, (min–max) in brackets.\n\n")
	fmt.Println("| workload | action | baseline | ratio (action/baseline) | target | met? |")
	fmt.Println("|---|---|---|---|---|---|")
	row := func(name string, act, base []sample, target float64) {
		ratio := float64(med(act, wall)) / float64(med(base, wall))
		goal, met := fmt.Sprintf("≤ %.2f", target), yesNo(ratio <= target)
		if target == 0 {
			goal, met = "–", "–"
		}
		fmt.Printf("| %s | %s | %s | %.3f | %s | %s |\n", name, spread(act), spread(base), ratio, goal, met)
	}
	row("a. 1 host, 9 keys; baseline: runbook", a[0], a[1], 0.15)
	row("b. 10 hosts, 9 keys; baseline: runbook, host by host", b[0], b[1], 0.05)
	row("c. 1 host, 10,000 keys; baseline: runbook", c[0], c[1], 0)
	row("d. c; baseline: `sops decrypt` of the file alone", c[0], c[2], 1.0)
	fmt.Printf("| peak RSS of the action in c; baseline: sops decrypt's | %s | %s | %.2f | < 100 MB | %s |\n",
		mb(maxRSS(c[0])), mb(maxRSS(c[2])), float64(maxRSS(c[0]))/float64(maxRSS(c[2])), yesNo(maxRSS(c[0]) < 100<<10))
	fmt.Printf("\nPeak RSS of the action in a: %s. Stripped binary: %.1f MiB (%d bytes).\n", mb(maxRSS(a[0])), float64(r.binSize)/(1<<20), r.binSize)
	fmt.Printf("CPU time (user+sys) of the action, median: a %s, b %s, c %s; sops decrypt alone %s.\n",
		ms(med(a[0], cpu)), ms(med(b[0], cpu)), ms(med(c[0], cpu)), ms(med(c[2], cpu)))
	fmt.Printf("\n| start-up (median of %d, alternating) | first stdout line | exit |\n|---|---|---|\n", 2*runs)
	for i, name := range []string{"`/bin/true` (floor; prints nothing: first line = EOF)",
		"action failing fast (INPUT_ENV missing: one ::error:: line)", "action, run a (first line: an ::add-mask::)"} {
		fmt.Printf("| %s | %s | %s |\n", name, ms(med(start[i], first)), ms(med(start[i], wall)))
	}
	fmt.Println("\nPhases (RUNNER_DEBUG=1, one run each; ::add-mask:: lines left out):")
	for _, l := range r.phases {
		fmt.Println("    " + l)
	}
}

// setup prints the machine, builds the action, makes keys, starts sshd.
func (h *harness) setup() error {
	for _, step := range []func() error{h.prepare, h.printMachine, h.build, h.makeKeys, h.startServers} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// prepare finds the repository, sops and the fixtures, and makes the
// scratch directories.
func (h *harness) prepare() error {
	var err error
	if h.root, err = os.Getwd(); err != nil {
		return err
	}
	if mod, err := os.ReadFile("go.mod"); err != nil || !bytes.Contains(mod, []byte("module github.com/productgalaxy/sops-deploy-action\n")) {
		return errors.New("run from the repository root: bash bench/run")
	}
	if h.sops, err = exec.LookPath("sops"); err != nil {
		return errors.New("sops is not in PATH; bash bench/run installs it")
	}
	u, err := user.Current()
	if err != nil {
		return err
	}
	h.user, h.userHome = u.Username, u.HomeDir
	h.small = fixture{enc: "testdata/staging/galaxy.enc.yaml"}
	h.large = fixture{enc: "testdata/large/galaxy.enc.yaml"}
	for _, f := range []*fixture{&h.small, &h.large} {
		if f.plain, err = os.ReadFile(strings.TrimSuffix(f.enc, ".enc.yaml") + ".plain.yaml"); err != nil {
			return err
		}
	}
	if h.tmp, err = os.MkdirTemp("", "sops-deploy-bench-"); err != nil {
		return err
	}
	h.home, h.remoteRoot = filepath.Join(h.tmp, "home"), filepath.Join(h.tmp, "remote")
	h.summary, h.output = filepath.Join(h.tmp, "step_summary"), filepath.Join(h.tmp, "output")
	for _, d := range []string{h.home, h.remoteRoot, filepath.Join(h.tmp, "tmpdir")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	return nil
}

// printMachine prints what the figures were measured on.
func (h *harness) printMachine() error {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		if m := regexp.MustCompile(`(?m)^model name\s*:\s*(.+)$`).FindSubmatch(b); m != nil {
			cpu = string(m[1])
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	gover, _ := exec.Command("go", "version").Output()
	sshv, _ := exec.Command("ssh", "-V").CombinedOutput()
	sopsv, _ := exec.Command(h.sops, "--version", "--disable-version-check").Output()
	command := os.Getenv("BENCH_COMMAND")
	if command == "" {
		command = strings.Join(append([]string{"go run ./bench/harness"}, os.Args[1:]...), " ")
	}
	fmt.Printf("date:    %s\ncommand: %s (%d timed runs of each program per workload)\n", time.Now().UTC().Format(time.RFC3339), command, h.runs)
	fmt.Printf("machine: nproc %d, %s, kernel %s\n", runtime.NumCPU(), cpu, strings.TrimSpace(string(kernel)))
	fmt.Printf("tools:   %s; %s; %s\n", strings.TrimSpace(string(gover)), strings.TrimSpace(string(sshv)), strings.TrimSpace(string(sopsv)))
	return nil
}

// build builds the action with the Dockerfile's go build line.
func (h *harness) build() error {
	h.bin = filepath.Join(h.tmp, "sops-deploy-action")
	cmd, line, err := buildCommand(h.bin)
	if err != nil {
		return err
	}
	progress("building like the Dockerfile: %s (-o %s)", line, h.bin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("build failed: %v\n%s", err, out)
	}
	return nil
}

// makeKeys makes the SSH client key and reads the test-only age key.
func (h *harness) makeKeys() error {
	h.clientKey = filepath.Join(h.tmp, "client_ed25519")
	if err := keygen(h.clientKey); err != nil {
		return err
	}
	pem, err := os.ReadFile(h.clientKey)
	if err != nil {
		return err
	}
	age, err := os.ReadFile(ageKeyFile)
	if err != nil {
		return err
	}
	h.clientKeyPEM, h.ageKey = string(pem), string(age)
	return nil
}

// startServers says how the hosts are isolated, starts the 10 sshd and
// writes their known_hosts.
func (h *harness) startServers() error {
	h.isolated = canUnshare()
	switch {
	case !h.isolated:
		fmt.Println("hosts:   no mount namespaces (needs root): the sshd share one filesystem, so in b all hosts write the same file")
	case h.realHome:
		fmt.Printf("hosts:   each sshd in its own mount namespace with its own remote directory; -real-home: sessions source %s's rc files\n", h.userHome)
	default:
		fmt.Printf("hosts:   each sshd in its own mount namespace with its own remote directory and a fresh /etc/skel home over %s\n", h.userHome)
	}
	if os.Geteuid() == 0 {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil { // privilege separation
			return err
		}
	}
	progress("starting 10 sshd on 127.0.0.1..127.0.0.10")
	var kh []string
	for i := 1; i <= 10; i++ {
		s, err := h.startServer(i)
		if err != nil {
			return err
		}
		h.mu.Lock()
		h.servers = append(h.servers, s)
		h.mu.Unlock()
		kh = append(kh, s.knownHost)
	}
	h.knownHosts = filepath.Join(h.tmp, "known_hosts")
	return os.WriteFile(h.knownHosts, []byte(strings.Join(kh, "\n")+"\n"), 0o600)
}

// buildCommand returns the Dockerfile's go build, for this machine,
// writing out, and how a shell would spell it.
func buildCommand(out string) (*exec.Cmd, string, error) {
	stages, err := dockerfile.Parse("Dockerfile")
	if err != nil {
		return nil, "", err
	}
	gb, err := dockerfile.FindGoBuild(stages)
	if err != nil {
		return nil, "", fmt.Errorf("the Dockerfile: %w", err)
	}
	cmd, err := gb.Command(out, ".")
	return cmd, gb.String(), err
}

// installed returns a prep that empties the file commands and removes
// sub/galaxy.yaml on every host, so that each run installs anew, and a
// check that every host then holds the golden plaintext with mode 0600.
func (h *harness) installed(hosts []*server, sub string, fx fixture) (prep func() error, check func([]byte) error) {
	prep = func() error {
		for _, f := range []string{h.summary, h.output} {
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				return err
			}
		}
		for _, s := range hosts {
			if err := os.Remove(filepath.Join(s.dir, sub, "galaxy.yaml")); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		return nil
	}
	check = func([]byte) error {
		for _, s := range hosts {
			p := filepath.Join(s.dir, sub, "galaxy.yaml")
			got, err := os.ReadFile(p)
			fi, _ := os.Stat(p)
			switch {
			case err != nil:
				return err
			case !bytes.Equal(got, fx.plain):
				return fmt.Errorf("host %s: %s (%d bytes) differs from %s.plain.yaml", s.addr(), p, len(got), strings.TrimSuffix(fx.enc, ".enc.yaml"))
			case fi.Mode().Perm() != 0o600:
				return fmt.Errorf("host %s: %s has mode %04o, want 0600", s.addr(), p, fi.Mode().Perm())
			}
		}
		return nil
	}
	return prep, check
}

// action runs the built binary with a fresh environment, as the runner
// does (INPUT_* variables, file commands), against hosts.
func (h *harness) action(hosts []*server, fx fixture, extraEnv ...string) prog {
	var addrs, kh []string
	for _, s := range hosts {
		addrs, kh = append(addrs, s.addr()), append(kh, s.knownHost)
	}
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + h.home, "TMPDIR=" + filepath.Join(h.tmp, "tmpdir"),
		"GITHUB_ACTIONS=true", "GITHUB_WORKSPACE=" + h.root,
		"GITHUB_STEP_SUMMARY=" + h.summary, "GITHUB_OUTPUT=" + h.output,
		"INPUT_ENV=staging", "INPUT_AGE_KEY=" + h.ageKey,
		"INPUT_HOST=" + strings.Join(addrs, ","), "INPUT_USER=" + h.user,
		"INPUT_SSH_KEY=" + h.clientKeyPEM, "INPUT_KNOWN_HOSTS=" + strings.Join(kh, "\n"),
		"INPUT_FILE=" + fx.enc, "INPUT_REMOTE_PATH=" + filepath.Join(h.remoteRoot, "action", "galaxy.yaml"),
		"INPUT_BACKUP=false",
	}
	env = append(env, extraEnv...)
	prep, check := h.installed(hosts, "action", fx)
	return prog{
		name:  "action",
		prep:  prep,
		cmd:   func() *exec.Cmd { cmd := exec.Command(h.bin); cmd.Env = env; return cmd },
		check: check,
	}
}

// baselineScript is the runbook: decrypt once to a temp file, then per host
// scp and ssh chmod 600, then shred the temp file.
const baselineScript = `set -euo pipefail
SOPS_AGE_KEY_FILE="$AGE_KEY_FILE" sops --config /dev/null decrypt --input-type yaml --output-type yaml "$FILE" > "$TMPF"
for hp in $HOSTS; do
  h=${hp%:*} p=${hp##*:}
  scp -q -F /dev/null -i "$KEY" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes -o BatchMode=yes -P "$p" "$TMPF" "$LOGIN@$h:$REMOTE"
  ssh -F /dev/null -i "$KEY" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes -o BatchMode=yes -p "$p" "$LOGIN@$h" chmod 600 "$REMOTE"
done
shred -u "$TMPF"
`

func (h *harness) baseline(hosts []*server, fx fixture) prog {
	var addrs []string
	for _, s := range hosts {
		addrs = append(addrs, s.addr())
	}
	tmpf := filepath.Join(h.tmp, "tmpdir", "galaxy.yaml")
	env := []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + h.home, "FILE=" + fx.enc, "TMPF=" + tmpf,
		"AGE_KEY_FILE=" + ageKeyFile, "HOSTS=" + strings.Join(addrs, " "), "KEY=" + h.clientKey,
		"KH=" + h.knownHosts, "LOGIN=" + h.user, "REMOTE=" + filepath.Join(h.remoteRoot, "baseline", "galaxy.yaml"),
	}
	prep, check := h.installed(hosts, "baseline", fx)
	return prog{
		name: "baseline",
		prep: prep,
		cmd:  func() *exec.Cmd { cmd := exec.Command("bash", "-c", baselineScript); cmd.Env = env; return cmd },
		check: func(out []byte) error {
			if _, err := os.Stat(tmpf); !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("shred -u left %s", tmpf)
			}
			return check(out)
		},
	}
}

// sopsOnly is `sops decrypt` of the file, nothing else.
func (h *harness) sopsOnly(fx fixture) prog {
	return prog{
		name: "sops decrypt",
		cmd: func() *exec.Cmd {
			cmd := exec.Command(h.sops, "--config", "/dev/null", "decrypt", "--input-type", "yaml", "--output-type", "yaml", fx.enc)
			cmd.Env = []string{"HOME=" + h.home, "SOPS_AGE_KEY_FILE=" + ageKeyFile}
			return cmd
		},
		check: func(out []byte) error {
			if !bytes.Equal(out, fx.plain) {
				return errors.New("output differs from the golden plaintext")
			}
			return nil
		},
	}
}
