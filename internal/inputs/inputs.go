// Package inputs reads and validates the action's inputs. It returns a
// Config or an *Error naming the input at fault; it never prints.
package inputs

import (
	"fmt"
	"io/fs"
	"net"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/productgalaxy/sops-deploy-action/internal/secret"
)

// The defaults of the inputs, for a run outside the runner (which passes
// action.yml's defaults itself). action.yml decides them;
// TestInputDefaultsMatchActionYML (docs_test.go) holds these equal.
const (
	defaultPort       = 22
	defaultRemotePath = "/etc/galaxy/secrets/galaxy.yaml"
	defaultFileMode   = "0600"
)

// SecretInputs are the inputs whose values are secret; they are masked
// before anything else is printed.
var SecretInputs = []string{"age_key", "ssh_key", "ssh_key_passphrase"}

// Config is the validated set of inputs.
type Config struct {
	Operation        Operation
	Env              string
	AgeKey           secret.String
	Hosts            []Host
	Port             int // default port
	User             string
	SSHKey           secret.String
	SSHKeyPassphrase secret.String
	KnownHosts       string   // known_hosts text, or ""
	HostFingerprints []string // SHA256:… fingerprints, or nil
	File             string   // path relative to the workspace, slash-separated
	RemotePath       string   // absolute, clean
	RequiredKeys     []string // key names or paths that must be in the file
	FileMode         fs.FileMode
	Owner, Group     int // numeric uid and gid, or -1
	Sudo             bool
	Backup           bool
	Timeout          time.Duration // bounds the whole run per host
	Retries          int
	Parallel         int
	Jump             *Host // bastion, or nil
	JumpUser         string
	CompareFile      string        // verify: the file to compare key names with, or ""
	MaxAge           time.Duration // lint: the oldest lastmodified without a warning; 0 is off
	// RestartCommand runs on each host whose file this run changed, after
	// the install is verified; empty means none.
	RestartCommand string
}

// maxRestartCommand bounds restart_command: a command line, not a script
// file (sshd and shells take far longer ones, but nothing needs them).
const maxRestartCommand = 4096

// Host is one target host.
type Host struct {
	Name string // name or address, without brackets
	Port int
}

// Addr is host:port as known_hosts shows it (a host's label in logs and
// the summary, report.Host.Label, is user@host:port).
func (h Host) Addr() string { return net.JoinHostPort(h.Name, strconv.Itoa(h.Port)) }

// Bounds and defaults of the numeric inputs.
const (
	defaultTimeout  = 5 * time.Minute
	maxTimeout      = 6 * time.Hour
	defaultRetries  = 2
	maxRetries      = 10
	defaultParallel = 10
	maxParallel     = 100
	maxHosts        = 1000
)

// Error names the input at fault, what is wrong and how to fix it.
type Error struct {
	Input   string
	Problem string
	Fix     string // how to fix it
}

func (e *Error) Error() string { return fmt.Sprintf("input %s: %s", e.Input, e.Problem) }

// Hint says how to fix it.
func (e *Error) Hint() string { return e.Fix }

var (
	envRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	userRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
	hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$`) // and at most 253 bytes
	fpRE   = regexp.MustCompile(`^SHA256:[A-Za-z0-9+/]{43}$`)
	md5RE  = regexp.MustCompile(`^(MD5:)?([0-9a-fA-F]{2}:){15}[0-9a-fA-F]{2}$`)
)

// Load reads the inputs through get, which returns an input's value with
// surrounding whitespace trimmed (githubactions.Action.GetInput). Each
// input has one parser below; the operation decides which are read.
func Load(get func(name string) string) (*Config, error) {
	c := &Config{
		AgeKey:           secret.NewString(get("age_key")),
		SSHKey:           secret.NewString(get("ssh_key")),
		SSHKeyPassphrase: secret.NewString(get("ssh_key_passphrase")),
		KnownHosts:       get("known_hosts"),
	}
	var err error
	if c.Operation, err = parseOperation(get("operation")); err != nil {
		return nil, err
	}
	if c.Operation == Lint {
		return c.loadLint(get)
	}
	if c.Env, err = envInput(get("env")); err != nil {
		return nil, err
	}
	if c.Operation == Verify {
		return c.loadVerify(get)
	}
	if err := c.loadTarget(get); err != nil {
		return nil, err
	}
	if err := c.loadFiles(get); err != nil {
		return nil, err
	}
	if err := c.loadHostSide(get); err != nil {
		return nil, err
	}
	return c, nil
}

// loadTarget reads what a deploy or rollback connects with: the keys, the
// hosts, the user and the host keys.
func (c *Config) loadTarget(get func(string) string) error {
	if c.AgeKey.Len() == 0 && c.Operation == Deploy {
		return &Error{"age_key", "is required", "set age_key: ${{ secrets.SOPS_AGE_KEY_<ENV> }}; check that the secret exists in this repository or environment"}
	}
	if c.SSHKey.Len() == 0 {
		return &Error{"ssh_key", "is required", "set ssh_key: ${{ secrets.DEPLOY_SSH_KEY }} to an OpenSSH private key authorized on the host"}
	}
	var err error
	if c.Port, err = portInput(get("port")); err != nil {
		return err
	}
	if c.Hosts, err = hostsInput(get("host"), c.Port); err != nil {
		return err
	}
	if c.User, err = userInput(get("user")); err != nil {
		return err
	}
	c.HostFingerprints, err = hostKeyInputs(c.KnownHosts, get("host_fingerprint"), c.Hosts[0])
	return err
}

// loadFiles reads the file to decrypt, where it goes, and the keys it
// must hold.
func (c *Config) loadFiles(get func(string) string) error {
	var err error
	if c.File, err = workspacePath(get, "file", defaultFile(c.Env)); err != nil {
		return err
	}
	if c.RemotePath, err = remotePathInput(get("remote_path")); err != nil {
		return err
	}
	c.RequiredKeys, err = requiredKeys(get("required_keys"))
	return err
}

// loadHostSide reads the inputs that shape the install on the host and
// the run per host.
func (c *Config) loadHostSide(get func(string) string) error {
	var err error
	if c.FileMode, err = fileModeInput(get("file_mode")); err != nil {
		return err
	}
	if c.Owner, err = idInput(get, "owner"); err != nil {
		return err
	}
	if c.Group, err = idInput(get, "group"); err != nil {
		return err
	}
	if c.Sudo, err = boolInput(get, "sudo", false); err != nil {
		return err
	}
	if c.Backup, err = boolInput(get, "backup", true); err != nil {
		return err
	}
	if c.Timeout, err = timeoutInput(get("timeout")); err != nil {
		return err
	}
	if c.Retries, err = intInput(get, "retries", defaultRetries, 0, maxRetries); err != nil {
		return err
	}
	if c.Parallel, err = intInput(get, "parallel", defaultParallel, 1, maxParallel); err != nil {
		return err
	}
	if c.Jump, c.JumpUser, err = jumpHostInput(get("jump_host"), c.User); err != nil {
		return err
	}
	c.RestartCommand, err = restartCommandInput(get("restart_command"))
	return err
}

// defaultFile is the file input's default for an environment.
func defaultFile(env string) string { return "secrets/" + env + "/galaxy.enc.yaml" }

// splitList splits a list input the one way every list input is split:
// on commas and line breaks, each item trimmed, empty items dropped (so a
// trailing comma or an unset variable in "${{ vars.A }},${{ vars.B }}"
// adds nothing). Spaces inside an item are the item's parser's to refuse.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// The hints that more than one check gives.
const (
	hostRequiredHint = "set host to the target's name or address, e.g. host: ${{ vars.STAGING_HOST }}"
	hostFormHint     = "give each host as name, name:port, or [IPv6]:port, separated by commas or new lines"
	jumpHostHint     = "give user@host:port, e.g. jump@bastion.example:22"
	fileModeHint     = "use 0600, or 0640 with group"
	fingerprintHint  = "give one or more SHA256:… fingerprints, separated by commas or new lines, from `ssh-keygen -lf <(ssh-keyscan host)`"
)

func envInput(v string) (string, error) {
	switch {
	case v == "":
		return "", &Error{"env", "is required", "set env to the environment name, e.g. env: staging"}
	case !envRE.MatchString(v):
		return "", &Error{"env", fmt.Sprintf("%q is not a valid environment name", v), "use lower-case letters, digits, - and _ (it names the directory secrets/<env>/)"}
	}
	return v, nil
}

func userInput(v string) (string, error) {
	switch {
	case v == "":
		return "", &Error{"user", "is required", "set user to the SSH login user on the host, e.g. user: deploy"}
	case !userRE.MatchString(v):
		return "", &Error{"user", fmt.Sprintf("%q is not a valid login name", v), "give the bare user name, without @host"}
	}
	return v, nil
}

// parsePort parses a TCP port, 1 to 65535.
func parsePort(s string) (int, bool) {
	n, err := strconv.Atoi(s)
	return n, err == nil && n >= 1 && n <= 65535
}

func portInput(v string) (int, error) {
	if v == "" {
		return defaultPort, nil
	}
	n, ok := parsePort(v)
	if !ok {
		return 0, &Error{"port", fmt.Sprintf("%q is not a TCP port", v), "use a number from 1 to 65535"}
	}
	return n, nil
}

// hostsInput reads the host input: one or more hosts, each once, at most
// maxHosts; defPort applies to those that name no port.
func hostsInput(v string, defPort int) ([]Host, error) {
	if v == "" {
		return nil, &Error{"host", "is required", hostRequiredHint}
	}
	var hosts []Host
	seen := map[string]bool{}
	for _, item := range splitList(v) {
		h, err := parseHost(item, defPort)
		if err != nil {
			return nil, err
		}
		if seen[h.Addr()] {
			return nil, &Error{"host", fmt.Sprintf("%q is listed twice", item), "list each host once"}
		}
		seen[h.Addr()] = true
		hosts = append(hosts, h)
	}
	switch {
	case len(hosts) == 0:
		// e.g. "${{ vars.A }},${{ vars.B }}" with both variables unset.
		return nil, &Error{"host", fmt.Sprintf("%q names no host", v), "set host to the target's name or address; if it joins variables, check that they are set"}
	case len(hosts) > maxHosts:
		return nil, &Error{"host", fmt.Sprintf("lists %d hosts, more than %d", len(hosts), maxHosts), "split the deploy into several steps"}
	}
	return hosts, nil
}

// hostKeyInputs checks that exactly one of known_hosts and
// host_fingerprint is set, and parses the fingerprints; first is named in
// the hint when both are empty.
func hostKeyInputs(knownHosts, fps string, first Host) ([]string, error) {
	switch {
	case knownHosts != "" && fps != "":
		return nil, &Error{"host_fingerprint", "is set together with known_hosts", "set known_hosts or host_fingerprint, not both"}
	case knownHosts == "" && fps == "":
		return nil, &Error{"known_hosts", "is empty, and so is host_fingerprint: host keys are always checked, so one is required", fmt.Sprintf("run `ssh-keyscan -p %d %s` from a trusted network and store its output in a variable passed as known_hosts", first.Port, first.Name)}
	case fps != "":
		return parseFingerprints(fps)
	}
	return nil, nil
}

func remotePathInput(v string) (string, error) {
	if v == "" {
		return defaultRemotePath, nil
	}
	if !path.IsAbs(v) || path.Clean(v) != v || v == "/" || strings.ContainsAny(v, "\x00\n\r") {
		return "", &Error{"remote_path", fmt.Sprintf("%q is not a clean absolute file path", v), "give an absolute path such as /etc/galaxy/secrets/galaxy.yaml"}
	}
	return v, nil
}

// workspacePath reads an input that names a file in the workspace; def is
// used when it is empty.
func workspacePath(get func(string) string, name, def string) (string, error) {
	p := get(name)
	if p == "" {
		p = def
	}
	clean := path.Clean(strings.TrimPrefix(p, "./"))
	if !fs.ValidPath(clean) || clean == "." || strings.Contains(p, "\\") {
		return "", &Error{name, fmt.Sprintf("%q is not a path inside the workspace", p), "give a relative path such as secrets/staging/galaxy.enc.yaml, without .. or a leading /"}
	}
	return clean, nil
}

// requiredKeys reads the required_keys input.
func requiredKeys(v string) ([]string, error) {
	keys := splitList(v)
	for _, k := range keys {
		if strings.ContainsAny(k, " \t") {
			return nil, &Error{"required_keys", fmt.Sprintf("%q is not a key name", k), "separate key names with commas or new lines"}
		}
	}
	return keys, nil
}

var modeRE = regexp.MustCompile(`^0?[0-7]{3}$`)

// fileModeInput reads file_mode: octal, readable by the owner, never
// executable, nothing for others.
func fileModeInput(v string) (fs.FileMode, error) {
	if v == "" {
		v = defaultFileMode
	}
	if !modeRE.MatchString(v) {
		return 0, &Error{"file_mode", fmt.Sprintf("%q is not an octal file mode", v), "give a mode such as 0600 or 0640"}
	}
	n, _ := strconv.ParseUint(v, 8, 32)
	m := fs.FileMode(n)
	switch {
	case m&0o007 != 0:
		return 0, &Error{"file_mode", fmt.Sprintf("%q gives rights to others", v), "secrets must not be readable by every user: " + fileModeHint}
	case m&0o111 != 0:
		return 0, &Error{"file_mode", fmt.Sprintf("%q makes the file executable", v), fileModeHint}
	case m&0o400 == 0:
		return 0, &Error{"file_mode", fmt.Sprintf("%q does not let the owner read the file", v), fileModeHint}
	}
	return m, nil
}

// timeoutInput reads timeout: seconds or a Go duration, up to maxTimeout.
func timeoutInput(v string) (time.Duration, error) {
	if v == "" {
		return defaultTimeout, nil
	}
	d, err := time.ParseDuration(v)
	if n, nerr := strconv.Atoi(v); nerr == nil {
		d, err = time.Duration(n)*time.Second, nil
	}
	if err != nil || d <= 0 || d > maxTimeout {
		return 0, &Error{"timeout", fmt.Sprintf("%q is not a duration", v), "give seconds (300) or a Go duration (5m, 90s) up to 6h"}
	}
	return d, nil
}

// jumpHostInput reads jump_host, user@host:port; the user defaults to
// user and the port to defaultPort.
func jumpHostInput(v, user string) (*Host, string, error) {
	if v == "" {
		return nil, "", nil
	}
	hostPart := v
	if u, h, ok := strings.Cut(v, "@"); ok {
		if !userRE.MatchString(u) {
			return nil, "", &Error{"jump_host", fmt.Sprintf("%q has an invalid user name", v), jumpHostHint}
		}
		user, hostPart = u, h
	}
	h, err := parseHost(hostPart, defaultPort)
	if err != nil {
		return nil, "", &Error{"jump_host", fmt.Sprintf("%q is not user@host:port", v), jumpHostHint}
	}
	return &h, user, nil
}

func restartCommandInput(v string) (string, error) {
	switch {
	case len(v) > maxRestartCommand:
		return "", &Error{"restart_command", fmt.Sprintf("is %d bytes, more than %d", len(v), maxRestartCommand), "put a longer script in a file on the host and run that"}
	case strings.ContainsRune(v, 0) || !utf8.ValidString(v):
		return "", &Error{"restart_command", "holds a NUL byte or is not UTF-8", "give a shell command line, e.g. docker compose -f /srv/galaxy/docker-compose.prod.yml up -d --force-recreate --no-deps api worker"}
	}
	return v, nil
}

func idInput(get func(string) string, name string) (int, error) {
	v := get(name)
	if v == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > 1<<31-2 {
		return 0, &Error{name, fmt.Sprintf("%q is not a numeric id", v), "give the numeric uid or gid (id -u deploy), not a name: names can differ between hosts"}
	}
	return n, nil
}

func boolInput(get func(string) string, name string, def bool) (bool, error) {
	switch v := strings.ToLower(get(name)); v {
	case "":
		return def, nil
	case "true", "yes", "1":
		return true, nil
	case "false", "no", "0":
		return false, nil
	default:
		return false, &Error{name, fmt.Sprintf("%q is not true or false", v), "use true or false"}
	}
}

func intInput(get func(string) string, name string, def, lo, hi int) (int, error) {
	v := get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &Error{name, fmt.Sprintf("%q is not a number from %d to %d", v, lo, hi), fmt.Sprintf("give a number from %d to %d", lo, hi)}
	}
	return n, nil
}

// parseHost parses one host of the host input: host, host:port, [v6addr]
// or [v6addr]:port; defPort applies when it names no port.
func parseHost(s string, defPort int) (Host, error) {
	bad := func(problem string) error {
		return &Error{"host", fmt.Sprintf("%q %s", s, problem), hostFormHint}
	}
	host, port := s, defPort
	switch {
	case strings.HasPrefix(s, "["):
		h, p, err := net.SplitHostPort(s)
		switch {
		case err == nil:
		case strings.HasSuffix(s, "]"):
			h, p = s[1:len(s)-1], ""
		default:
			return Host{}, bad("is not host or host:port")
		}
		if net.ParseIP(h) == nil || !strings.Contains(h, ":") {
			return Host{}, bad("is not an IPv6 address in brackets")
		}
		if p == "" {
			return Host{h, port}, nil
		}
		n, ok := parsePort(p)
		if !ok {
			return Host{}, bad("has an invalid port")
		}
		return Host{h, n}, nil
	case strings.Count(s, ":") > 1:
		if net.ParseIP(s) == nil {
			return Host{}, bad("is not a host name or address")
		}
		return Host{s, port}, nil
	case strings.Contains(s, ":"):
		h, p, _ := strings.Cut(s, ":")
		n, ok := parsePort(p)
		if !ok {
			return Host{}, bad("has an invalid port")
		}
		host, port = h, n
	}
	if strings.Contains(host, "@") {
		return Host{}, &Error{"host", fmt.Sprintf("%q contains a user name", s), "put the login user in the user input and only the host in host"}
	}
	if len(host) > 253 || !hostRE.MatchString(host) {
		return Host{}, bad("is not a host name or address")
	}
	return Host{host, port}, nil
}

// parseFingerprints reads host_fingerprint: SHA256:… fingerprints,
// unpadded, as OpenSSH prints them.
func parseFingerprints(s string) ([]string, error) {
	var out []string
	for _, f := range splitList(s) {
		switch {
		case fpRE.MatchString(f):
			out = append(out, f)
		case md5RE.MatchString(f):
			return nil, &Error{"host_fingerprint", fmt.Sprintf("%q is an MD5 fingerprint", f), "give the SHA256:… form, from `ssh-keygen -lf <(ssh-keyscan host)`"}
		case strings.HasPrefix(f, "SHA256:") && strings.HasSuffix(f, "="):
			return nil, &Error{"host_fingerprint", fmt.Sprintf("%q has base64 padding", f), "remove the trailing '=' (OpenSSH prints SHA256 fingerprints unpadded)"}
		default:
			return nil, &Error{"host_fingerprint", fmt.Sprintf("%q is not a SHA256:… host key fingerprint", f), fingerprintHint}
		}
	}
	if len(out) == 0 {
		return nil, &Error{"host_fingerprint", "holds no fingerprint", fingerprintHint}
	}
	return out, nil
}
