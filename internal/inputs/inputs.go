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
	Env              string
	AgeKey           secrets.String
	Host             string // host name or IP address, without brackets
	Port             int
	User             string
	SSHKey           secrets.String
	SSHKeyPassphrase secrets.String
	KnownHosts       string   // known_hosts text, or ""
	HostFingerprints []string // SHA256:… fingerprints, or nil
	File             string   // path relative to the workspace, slash-separated
	RemotePath       string   // absolute, clean
	RequiredKeys     []string // key names or paths that must be in the file
}

// Error names the input at fault, what is wrong and how to fix it.
type Error struct {
	Input   string
	Problem string
	Hint    string
}

func (e *Error) Error() string { return fmt.Sprintf("input %s: %s", e.Input, e.Problem) }

var (
	envRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	userRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
	hostRE = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
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

	c.Env = get("env")
	switch {
	case c.Env == "":
		return nil, &Error{"env", "is required", "set env to the environment name, e.g. env: staging"}
	case !envRE.MatchString(c.Env):
		return nil, &Error{"env", fmt.Sprintf("%q is not a valid environment name", c.Env), "use lower-case letters, digits, - and _ (it names the directory secrets/<env>/)"}
	}
	if c.AgeKey.Len() == 0 {
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
	host, port, err := parseHost(get("host"), c.Port)
	if err != nil {
		return nil, err
	}
	c.Host, c.Port = host, port

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
		return nil, &Error{"known_hosts", "is empty, and so is host_fingerprint: host keys are always checked, so one is required", fmt.Sprintf("run `ssh-keyscan -p %d %s` from a trusted network and store its output in a variable passed as known_hosts", c.Port, c.Host)}
	case fps != "":
		if c.HostFingerprints, err = parseFingerprints(fps); err != nil {
			return nil, err
		}
	}

	c.File = get("file")
	if c.File == "" {
		c.File = "secrets/" + c.Env + "/galaxy.enc.yaml"
	}
	clean := path.Clean(strings.TrimPrefix(c.File, "./"))
	if !fs.ValidPath(clean) || clean == "." || strings.Contains(c.File, "\\") {
		return nil, &Error{"file", fmt.Sprintf("%q is not a path inside the workspace", c.File), "give a relative path such as secrets/staging/galaxy.enc.yaml, without .. or a leading /"}
	}
	c.File = clean

	c.RemotePath = get("remote_path")
	if c.RemotePath == "" {
		c.RemotePath = DefaultRemotePath
	}
	if !path.IsAbs(c.RemotePath) || path.Clean(c.RemotePath) != c.RemotePath || c.RemotePath == "/" || strings.ContainsAny(c.RemotePath, "\x00\n\r") {
		return nil, &Error{"remote_path", fmt.Sprintf("%q is not a clean absolute file path", c.RemotePath), "give an absolute path such as /etc/galaxy/secrets/galaxy.yaml"}
	}
	for _, k := range strings.FieldsFunc(get("required_keys"), func(r rune) bool { return r == ',' || r == '\n' || r == '\r' }) {
		k = strings.TrimSpace(k)
		if k == "" {
			continue
		}
		if strings.ContainsAny(k, " \t") {
			return nil, &Error{"required_keys", fmt.Sprintf("%q is not a key name", k), "separate key names with commas or new lines"}
		}
		c.RequiredKeys = append(c.RequiredKeys, k)
	}
	return c, nil
}

// parseHost accepts host, host:port, [v6addr] and [v6addr]:port.
func parseHost(s string, defPort int) (string, int, error) {
	bad := func(problem string) error {
		return &Error{"host", problem, "give one host as name, name:port, or [IPv6]:port"}
	}
	if s == "" {
		return "", 0, &Error{"host", "is required", "set host to the target's name or address, e.g. host: ${{ vars.STAGING_HOST }}"}
	}
	if strings.ContainsAny(s, " \t\n,;") {
		return "", 0, bad(fmt.Sprintf("%q holds more than one host", s))
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
	if !hostRE.MatchString(host) {
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
