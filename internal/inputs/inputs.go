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

	"github.com/productgalaxy/sops-deploy-action/internal/secrets"
)

// Defaults documented in action.yml.
const (
	DefaultPort       = 22
	DefaultRemotePath = "/etc/galaxy/secrets/galaxy.yaml"
)

// SecretInputs are the inputs whose values are secret; they are masked
// before anything else is printed.
var SecretInputs = []string{"age_key", "ssh_key", "ssh_key_passphrase"}

// Config is the validated set of inputs.
type Config struct {
	Operation        Operation
	Env              string
	AgeKey           secrets.String
	Hosts            []Host
	Port             int // default port
	User             string
	SSHKey           secrets.String
	SSHKeyPassphrase secrets.String
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

// MaxRestartCommand bounds restart_command: a command line, not a script
// file (sshd and shells take far longer ones, but nothing needs them).
const MaxRestartCommand = 4096

// Host is one target host.
type Host struct {
	Name string // name or address, without brackets
	Port int
}

// Label is host:port as known_hosts and logs show it.
func (h Host) Label() string { return net.JoinHostPort(h.Name, strconv.Itoa(h.Port)) }

// Bounds and defaults of the numeric inputs.
const (
	DefaultTimeout  = 5 * time.Minute
	DefaultRetries  = 2
	MaxRetries      = 10
	DefaultParallel = 10
	MaxParallel     = 100
	MaxHosts        = 1000
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
// surrounding whitespace trimmed (githubactions.Action.GetInput).
func Load(get func(name string) string) (*Config, error) {
	c := &Config{
		AgeKey:           secrets.NewString(get("age_key")),
		SSHKey:           secrets.NewString(get("ssh_key")),
		SSHKeyPassphrase: secrets.NewString(get("ssh_key_passphrase")),
		KnownHosts:       get("known_hosts"),
	}

	var err error
	if c.Operation, err = parseOperation(get("operation")); err != nil {
		return nil, err
	}
	if c.Operation == Lint {
		return c.loadLint(get)
	}
	c.Env = get("env")
	switch {
	case c.Env == "":
		return nil, &Error{"env", "is required", "set env to the environment name, e.g. env: staging"}
	case !envRE.MatchString(c.Env):
		return nil, &Error{"env", fmt.Sprintf("%q is not a valid environment name", c.Env), "use lower-case letters, digits, - and _ (it names the directory secrets/<env>/)"}
	}
	if c.Operation == Verify {
		return c.loadVerify(get)
	}
	if c.AgeKey.Len() == 0 && c.Operation == "deploy" {
		return nil, &Error{"age_key", "is required", "set age_key: ${{ secrets.SOPS_AGE_KEY_<ENV> }}; check that the secret exists in this repository or environment"}
	}
	if c.SSHKey.Len() == 0 {
		return nil, &Error{"ssh_key", "is required", "set ssh_key: ${{ secrets.DEPLOY_SSH_KEY }} to an OpenSSH private key authorized on the host"}
	}

	c.Port = DefaultPort
	if p := get("port"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return nil, &Error{"port", fmt.Sprintf("%q is not a TCP port", p), "use a number from 1 to 65535"}
		}
		c.Port = n
	}
	hostsInput := get("host")
	if hostsInput == "" {
		return nil, &Error{"host", "is required", "set host to the target's name or address, e.g. host: ${{ vars.STAGING_HOST }}"}
	}
	seen := map[string]bool{}
	for _, h := range strings.FieldsFunc(hostsInput, func(r rune) bool { return r == ',' || r == '\n' || r == '\r' || r == ' ' || r == '\t' || r == ';' }) {
		name, port, err := parseHost(h, c.Port)
		if err != nil {
			return nil, err
		}
		hh := Host{Name: name, Port: port}
		if seen[hh.Label()] {
			return nil, &Error{"host", fmt.Sprintf("%q is listed twice", h), "list each host once"}
		}
		seen[hh.Label()] = true
		c.Hosts = append(c.Hosts, hh)
	}
	if len(c.Hosts) == 0 {
		// e.g. "${{ vars.A }},${{ vars.B }}" with both variables unset.
		return nil, &Error{"host", fmt.Sprintf("%q names no host", hostsInput), "set host to the target's name or address; if it joins variables, check that they are set"}
	}
	if len(c.Hosts) > MaxHosts {
		return nil, &Error{"host", fmt.Sprintf("lists %d hosts, more than %d", len(c.Hosts), MaxHosts), "split the deploy into several steps"}
	}

	c.User = get("user")
	switch {
	case c.User == "":
		return nil, &Error{"user", "is required", "set user to the SSH login user on the host, e.g. user: deploy"}
	case !userRE.MatchString(c.User):
		return nil, &Error{"user", fmt.Sprintf("%q is not a valid login name", c.User), "give the bare user name, without @host"}
	}

	fps := get("host_fingerprint")
	switch {
	case c.KnownHosts != "" && fps != "":
		return nil, &Error{"host_fingerprint", "is set together with known_hosts", "set known_hosts or host_fingerprint, not both"}
	case c.KnownHosts == "" && fps == "":
		return nil, &Error{"known_hosts", "is empty, and so is host_fingerprint: host keys are always checked, so one is required", fmt.Sprintf("run `ssh-keyscan -p %d %s` from a trusted network and store its output in a variable passed as known_hosts", c.Hosts[0].Port, c.Hosts[0].Name)}
	case fps != "":
		if c.HostFingerprints, err = parseFingerprints(fps); err != nil {
			return nil, err
		}
	}

	if c.File, err = workspacePath(get, "file", "secrets/"+c.Env+"/galaxy.enc.yaml"); err != nil {
		return nil, err
	}

	c.RemotePath = get("remote_path")
	if c.RemotePath == "" {
		c.RemotePath = DefaultRemotePath
	}
	if !path.IsAbs(c.RemotePath) || path.Clean(c.RemotePath) != c.RemotePath || c.RemotePath == "/" || strings.ContainsAny(c.RemotePath, "\x00\n\r") {
		return nil, &Error{"remote_path", fmt.Sprintf("%q is not a clean absolute file path", c.RemotePath), "give an absolute path such as /etc/galaxy/secrets/galaxy.yaml"}
	}
	if c.RequiredKeys, err = requiredKeys(get); err != nil {
		return nil, err
	}
	if err := c.loadHostSide(get); err != nil {
		return nil, err
	}
	return c, nil
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
func requiredKeys(get func(string) string) ([]string, error) {
	var out []string
	for _, k := range strings.FieldsFunc(get("required_keys"), func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if strings.ContainsAny(k, " \t") {
			return nil, &Error{"required_keys", fmt.Sprintf("%q is not a key name", k), "separate key names with commas or new lines"}
		}
		out = append(out, k)
	}
	return out, nil
}

var modeRE = regexp.MustCompile(`^0?[0-7]{3}$`)

// loadHostSide reads the inputs that shape the install on the host.
func (c *Config) loadHostSide(get func(string) string) error {
	m := get("file_mode")
	if m == "" {
		m = "0600"
	}
	if !modeRE.MatchString(m) {
		return &Error{"file_mode", fmt.Sprintf("%q is not an octal file mode", m), "give a mode such as 0600 or 0640"}
	}
	v, _ := strconv.ParseUint(m, 8, 32)
	c.FileMode = fs.FileMode(v)
	if c.FileMode&0o007 != 0 {
		return &Error{"file_mode", fmt.Sprintf("%q gives rights to others", m), "secrets must not be readable by every user: use 0600, or 0640 with group"}
	}
	if c.FileMode&0o111 != 0 {
		return &Error{"file_mode", fmt.Sprintf("%q makes the file executable", m), "use 0600, or 0640 with group"}
	}
	if c.FileMode&0o400 == 0 {
		return &Error{"file_mode", fmt.Sprintf("%q does not let the owner read the file", m), "use 0600, or 0640 with group"}
	}
	var err error
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
	c.Timeout = DefaultTimeout
	if t := get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if n, nerr := strconv.Atoi(t); nerr == nil {
			d, err = time.Duration(n)*time.Second, nil
		}
		if err != nil || d <= 0 || d > 6*time.Hour {
			return &Error{"timeout", fmt.Sprintf("%q is not a duration", t), "give seconds (300) or a Go duration (5m, 90s) up to 6h"}
		}
		c.Timeout = d
	}
	if c.Retries, err = intInput(get, "retries", DefaultRetries, 0, MaxRetries); err != nil {
		return err
	}
	if c.Parallel, err = intInput(get, "parallel", DefaultParallel, 1, MaxParallel); err != nil {
		return err
	}
	if j := get("jump_host"); j != "" {
		c.JumpUser = c.User
		hostPart := j
		if u, h, ok := strings.Cut(j, "@"); ok {
			if !userRE.MatchString(u) {
				return &Error{"jump_host", fmt.Sprintf("%q has an invalid user name", j), "give user@host:port, e.g. jump@bastion.example:22"}
			}
			c.JumpUser, hostPart = u, h
		}
		name, port, err := parseHost(hostPart, DefaultPort)
		if err != nil {
			return &Error{"jump_host", fmt.Sprintf("%q is not user@host:port", j), "give user@host:port, e.g. jump@bastion.example:22"}
		}
		c.Jump = &Host{Name: name, Port: port}
	}
	return c.loadRestart(get)
}

func (c *Config) loadRestart(get func(string) string) error {
	c.RestartCommand = get("restart_command")
	switch {
	case len(c.RestartCommand) > MaxRestartCommand:
		return &Error{"restart_command", fmt.Sprintf("is %d bytes, more than %d", len(c.RestartCommand), MaxRestartCommand), "put a longer script in a file on the host and run that"}
	case strings.ContainsRune(c.RestartCommand, 0) || !utf8.ValidString(c.RestartCommand):
		return &Error{"restart_command", "holds a NUL byte or is not UTF-8", "give a shell command line, e.g. docker compose -f /srv/galaxy/docker-compose.prod.yml up -d --force-recreate --no-deps api worker"}
	}
	return nil
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

// parseHost accepts host, host:port, [v6addr] and [v6addr]:port.
func parseHost(s string, defPort int) (string, int, error) {
	bad := func(problem string) error {
		return &Error{"host", problem, "give one host as name, name:port, or [IPv6]:port"}
	}
	if s == "" {
		return "", 0, &Error{"host", "is required", "set host to the target's name or address, e.g. host: ${{ vars.STAGING_HOST }}"}
	}
	host, port := s, defPort
	switch {
	case strings.HasPrefix(s, "["):
		h, p, err := net.SplitHostPort(s)
		if err != nil {
			if strings.HasSuffix(s, "]") {
				h, p = s[1:len(s)-1], ""
			} else {
				return "", 0, bad(fmt.Sprintf("%q is not host or host:port", s))
			}
		}
		if net.ParseIP(h) == nil || !strings.Contains(h, ":") {
			return "", 0, bad(fmt.Sprintf("%q is not an IPv6 address in brackets", s))
		}
		host = h
		if p != "" {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 65535 {
				return "", 0, bad(fmt.Sprintf("%q has an invalid port", s))
			}
			port = n
		}
		return host, port, nil
	case strings.Count(s, ":") > 1:
		if net.ParseIP(s) == nil {
			return "", 0, bad(fmt.Sprintf("%q is not a host name or address", s))
		}
		return s, port, nil
	case strings.Contains(s, ":"):
		h, p, _ := strings.Cut(s, ":")
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, bad(fmt.Sprintf("%q has an invalid port", s))
		}
		host, port = h, n
	}
	if strings.Contains(host, "@") {
		return "", 0, &Error{"host", fmt.Sprintf("%q contains a user name", s), "put the login user in the user input and only the host in host"}
	}
	if len(host) > 253 || !hostRE.MatchString(host) {
		return "", 0, bad(fmt.Sprintf("%q is not a host name or address", s))
	}
	return host, port, nil
}

func parseFingerprints(s string) ([]string, error) {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' }) {
		switch {
		case fpRE.MatchString(f):
			out = append(out, f)
		case md5RE.MatchString(f):
			return nil, &Error{"host_fingerprint", fmt.Sprintf("%q is an MD5 fingerprint", f), "give the SHA256:… form, from `ssh-keygen -lf <(ssh-keyscan host)`"}
		case strings.HasPrefix(f, "SHA256:") && strings.HasSuffix(f, "="):
			return nil, &Error{"host_fingerprint", fmt.Sprintf("%q has base64 padding", f), "remove the trailing '=' (OpenSSH prints SHA256 fingerprints unpadded)"}
		default:
			return nil, &Error{"host_fingerprint", fmt.Sprintf("%q is not a SHA256:… host key fingerprint", f), "give one or more SHA256:… fingerprints, from `ssh-keygen -lf <(ssh-keyscan host)`"}
		}
	}
	if len(out) == 0 {
		return nil, &Error{"host_fingerprint", "holds no fingerprint", "give one or more SHA256:… fingerprints"}
	}
	return out, nil
}
