package inputs

import (
	"errors"
	"fmt"
	"io/fs"
	"reflect"
	"strings"
	"testing"
	"time"
)

// Distinctive secret values: no error or hint may ever contain them.
const (
	testAgeKey     = "AGE-SECRET-KEY-1DISTINCTIVEAGEKEYVALUEQQQQQQQQQQQQQQQQQQQQQQQQQQQ"
	testSSHKey     = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAADISTINCTIVESSHKEY\n-----END OPENSSH PRIVATE KEY-----"
	testPassphrase = "distinctive-passphrase-value"
	testFP1        = "SHA256:nThbg6kXUpJWGl7E1IGOCspRomTxdCARLviKw6E5SY8"
	testFP2        = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s"
)

var secretValues = []string{testAgeKey, testSSHKey, testPassphrase, "DISTINCTIVESSHKEY", "DISTINCTIVEAGEKEY"}

// valid returns a complete set of valid inputs, with over applied on top;
// a value of "" in over removes the input.
func valid(over map[string]string) map[string]string {
	in := map[string]string{
		"env":                "staging",
		"age_key":            testAgeKey,
		"host":               "vps.example.com",
		"user":               "deploy",
		"ssh_key":            testSSHKey,
		"ssh_key_passphrase": testPassphrase,
		"known_hosts":        "vps.example.com ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl",
	}
	for k, v := range over {
		if v == "" {
			delete(in, k)
		} else {
			in[k] = v
		}
	}
	return in
}

func load(in map[string]string) (*Config, error) {
	return Load(func(name string) string { return in[name] })
}

// checkNoSecrets fails if err or its hint holds a secret input value.
func checkNoSecrets(t *testing.T, err error) {
	t.Helper()
	texts := []string{err.Error()}
	var ie *Error
	if errors.As(err, &ie) {
		texts = append(texts, ie.Hint(), ie.Problem)
	}
	for _, text := range texts {
		for _, s := range secretValues {
			if strings.Contains(text, s) {
				t.Errorf("error text %q holds a secret input value", text)
			}
		}
	}
}

// loadErr runs Load and returns its *Error, failing the test if there is
// none.
func loadErr(t *testing.T, in map[string]string) *Error {
	t.Helper()
	c, err := load(in)
	if err == nil {
		t.Fatalf("Load succeeded with %+v, want an error", c)
	}
	checkNoSecrets(t, err)
	var ie *Error
	if !errors.As(err, &ie) {
		t.Fatalf("Load error is %T (%v), want *inputs.Error", err, err)
	}
	if ie.Hint() == "" {
		t.Errorf("error %q has no hint", err)
	}
	if got, want := err.Error(), "input "+ie.Input+": "; !strings.HasPrefix(got, want) {
		t.Errorf("got %q, want prefix %q", got, want)
	}
	return ie
}

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	c, err := load(valid(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := c.Port, 22; got != want {
		t.Errorf("Port: got %d, want %d", got, want)
	}
	if got, want := c.Port, defaultPort; got != want {
		t.Errorf("Port: got %d, want defaultPort %d", got, want)
	}
	if got, want := c.File, "secrets/staging/galaxy.enc.yaml"; got != want {
		t.Errorf("File: got %q, want %q", got, want)
	}
	if got, want := c.RemotePath, "/etc/galaxy/secrets/galaxy.yaml"; got != want {
		t.Errorf("RemotePath: got %q, want %q", got, want)
	}
	if got, want := c.Env, "staging"; got != want {
		t.Errorf("Env: got %q, want %q", got, want)
	}
	if got, want := c.Hosts, []Host{{Name: "vps.example.com", Port: 22}}; !reflect.DeepEqual(got, want) {
		t.Errorf("Hosts: got %+v, want %+v", got, want)
	}
	if got, want := c.Operation, Deploy; got != want {
		t.Errorf("Operation: got %q, want %q", got, want)
	}
	if got, want := c.FileMode, fs.FileMode(0o600); got != want {
		t.Errorf("FileMode: got %04o, want %04o", got, want)
	}
	if c.Owner != -1 || c.Group != -1 {
		t.Errorf("Owner, Group: got %d, %d, want -1, -1", c.Owner, c.Group)
	}
	if c.Sudo || !c.Backup {
		t.Errorf("Sudo, Backup: got %v, %v, want false, true", c.Sudo, c.Backup)
	}
	if got, want := c.Timeout, defaultTimeout; got != want {
		t.Errorf("Timeout: got %v, want %v", got, want)
	}
	if got, want := c.Retries, defaultRetries; got != want {
		t.Errorf("Retries: got %d, want %d", got, want)
	}
	if got, want := c.Parallel, defaultParallel; got != want {
		t.Errorf("Parallel: got %d, want %d", got, want)
	}
	if c.Jump != nil {
		t.Errorf("Jump: got %+v, want nil", c.Jump)
	}
	if got, want := c.User, "deploy"; got != want {
		t.Errorf("User: got %q, want %q", got, want)
	}
	if got, want := c.AgeKey.Reveal(), testAgeKey; got != want {
		t.Errorf("AgeKey: got %q, want %q", got, want)
	}
	if got, want := c.SSHKey.Reveal(), testSSHKey; got != want {
		t.Errorf("SSHKey: got %q, want %q", got, want)
	}
	if got, want := c.SSHKeyPassphrase.Reveal(), testPassphrase; got != want {
		t.Errorf("SSHKeyPassphrase: got %q, want %q", got, want)
	}
	if got, want := c.KnownHosts, valid(nil)["known_hosts"]; got != want {
		t.Errorf("KnownHosts: got %q, want %q", got, want)
	}
	if c.HostFingerprints != nil {
		t.Errorf("HostFingerprints: got %q, want nil", c.HostFingerprints)
	}
	if c.RequiredKeys != nil {
		t.Errorf("RequiredKeys: got %q, want nil", c.RequiredKeys)
	}

	// The file default follows env.
	c, err = load(valid(map[string]string{"env": "prod-eu_1"}))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	if got, want := c.File, "secrets/prod-eu_1/galaxy.enc.yaml"; got != want {
		t.Errorf("File: got %q, want %q", got, want)
	}
}

// TestLoadConfigRedacted checks that printing a Config with any verb does
// not reveal a secret input.
func TestLoadConfigRedacted(t *testing.T) {
	t.Parallel()
	c, err := load(valid(nil))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q"} {
		out := fmt.Sprintf(verb, c) + fmt.Sprintf(verb, *c)
		for _, s := range secretValues {
			if strings.Contains(out, s) {
				t.Errorf("fmt %s of Config reveals a secret input", verb)
			}
		}
		if !strings.Contains(out, "vps.example.com") {
			t.Errorf("fmt %s of Config = %q, want it to show the host", verb, out)
		}
	}
}

func TestLoadRequired(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		missing   string
		wantInput string
	}{
		{"env", "env"},
		{"age_key", "age_key"},
		{"ssh_key", "ssh_key"},
		{"host", "host"},
		{"user", "user"},
		// Neither known_hosts nor host_fingerprint.
		{"known_hosts", "known_hosts"},
	} {
		t.Run(tc.missing, func(t *testing.T) {
			t.Parallel()
			ie := loadErr(t, valid(map[string]string{tc.missing: ""}))
			if got, want := ie.Input, tc.wantInput; got != want {
				t.Errorf("Input: got %q, want %q", got, want)
			}
			if got, want := ie.Problem, "is"; !strings.HasPrefix(got, want) {
				t.Errorf("Problem: got %q, want it to start with %q", got, want)
			}
		})
	}
}

func TestLoadNoInputs(t *testing.T) {
	t.Parallel()
	ie := loadErr(t, map[string]string{})
	if got, want := ie.Input, "env"; got != want {
		t.Errorf("Input: got %q, want %q", got, want)
	}
}

func TestLoadEnv(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		env string
		ok  bool
	}{
		{"staging", true},
		{"prod", true},
		{"prod-eu_1", true},
		{"1st", true},
		{strings.Repeat("a", 63), true},
		{strings.Repeat("a", 64), false},
		{"Staging", false},
		{"-staging", false},
		{"_staging", false},
		{"stag ing", false},
		{"../prod", false},
		{"prod/eu", false},
		{"prod.eu", false},
		{"prod\n", false},
	} {
		t.Run(tc.env, func(t *testing.T) {
			t.Parallel()
			in := valid(map[string]string{"env": tc.env})
			if tc.ok {
				c, err := load(in)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got, want := c.Env, tc.env; got != want {
					t.Errorf("got %q, want %q", got, want)
				}
				return
			}
			ie := loadErr(t, in)
			if got, want := ie.Input, "env"; got != want {
				t.Errorf("Input: got %q, want %q", got, want)
			}
			if got, want := ie.Problem, fmt.Sprintf("%q", tc.env); !strings.Contains(got, want) {
				t.Errorf("Problem: got %q, want it to quote %s", got, want)
			}
		})
	}
}

func TestLoadUser(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		user string
		ok   bool
	}{
		{"deploy", true},
		{"deploy.bot-1", true},
		{"_svc", true},
		{"Deploy", true},
		{"deploy@vps", false},
		{"-deploy", false},
		{"de ploy", false},
		{strings.Repeat("u", 65), false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			t.Parallel()
			in := valid(map[string]string{"user": tc.user})
			if tc.ok {
				c, err := load(in)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got, want := c.User, tc.user; got != want {
					t.Errorf("got %q, want %q", got, want)
				}
				return
			}
			ie := loadErr(t, in)
			if got, want := ie.Input, "user"; got != want {
				t.Errorf("Input: got %q, want %q", got, want)
			}
		})
	}
}

func TestLoadHost(t *testing.T) {
	t.Parallel()
	type H = Host
	for _, tc := range []struct {
		host    string
		port    string // the port input
		want    []Host
		wantErr string // substring of the problem; "" means success
	}{
		{host: "host", want: []H{{"host", 22}}},
		{host: "vps.example.com", want: []H{{"vps.example.com", 22}}},
		{host: "host:2222", want: []H{{"host", 2222}}},
		{host: "[::1]:2222", want: []H{{"::1", 2222}}},
		{host: "[::1]", want: []H{{"::1", 22}}},
		{host: "::1", want: []H{{"::1", 22}}},
		{host: "2001:db8::10", want: []H{{"2001:db8::10", 22}}},
		{host: "10.0.0.1", want: []H{{"10.0.0.1", 22}}},
		{host: "10.0.0.1:65535", want: []H{{"10.0.0.1", 65535}}},
		{host: "host:1", want: []H{{"host", 1}}},
		// The port input applies when host names no port.
		{host: "host", port: "2200", want: []H{{"host", 2200}}},
		{host: "[::1]", port: "2200", want: []H{{"::1", 2200}}},
		{host: "::1", port: "2200", want: []H{{"::1", 2200}}},
		{host: "host:2222", port: "2200", want: []H{{"host", 2222}}},
		{host: "[::1]:2222", port: "2200", want: []H{{"::1", 2222}}},
		// Several hosts, in input order.
		{host: "a,b", want: []H{{"a", 22}, {"b", 22}}},
		{host: "b\r\na\n", want: []H{{"b", 22}, {"a", 22}}},
		{host: "a, b:2222,\t[::1]:22 ,10.0.0.1", port: "2200", want: []H{{"a", 2200}, {"b", 2222}, {"::1", 22}, {"10.0.0.1", 2200}}},
		{host: "a:22,a:2222", want: []H{{"a", 22}, {"a", 2222}}},

		{host: "user@host", wantErr: "user name"},
		{host: "user@host:22", wantErr: "user name"},
		{host: "a,user@host", wantErr: "user name"},
		{host: "host:0", wantErr: "invalid port"},
		{host: "host:99999", wantErr: "invalid port"},
		{host: "host:65536", wantErr: "invalid port"},
		{host: "host:", wantErr: "invalid port"},
		{host: "host:ssh", wantErr: "invalid port"},
		{host: "host:-1", wantErr: "invalid port"},
		{host: "[::1]:0", wantErr: "invalid port"},
		{host: "[::1]:99999", wantErr: "invalid port"},
		{host: "a,b:0", wantErr: "invalid port"},
		{host: "a,a", wantErr: "listed twice"},
		{host: "a,a:22", wantErr: "listed twice"},
		{host: "a:2222", port: "2222", wantErr: ""},
		{host: "a,a:2222", port: "2222", wantErr: "listed twice"},
		{host: "[10.0.0.1]:22", wantErr: "IPv6"},
		{host: "[vps]:22", wantErr: "IPv6"},
		{host: "[::1", wantErr: "not host or host:port"},
		{host: "1::2::3", wantErr: "not a host name"},
		{host: ":22", wantErr: "not a host name"},
		{host: "-host", wantErr: "not a host name"},
		{host: "host-", wantErr: "not a host name"},
		{host: "ho_st", wantErr: "not a host name"},
		{host: "ssh://host", wantErr: "invalid port"},
		{host: "", wantErr: "is required"},
		{host: ",", wantErr: "names no host"},
		{host: ", \n ,", wantErr: "names no host"},
		// Lists are separated by commas and new lines only, as for every
		// list input.
		{host: "a b", wantErr: "not a host name"},
		{host: "a;b", wantErr: "not a host name"},
	} {
		t.Run(tc.host+"/"+tc.port, func(t *testing.T) {
			t.Parallel()
			in := valid(map[string]string{"host": tc.host, "port": tc.port})
			if tc.want != nil || tc.wantErr == "" {
				c, err := load(in)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if tc.want != nil && !reflect.DeepEqual(c.Hosts, tc.want) {
					t.Errorf("Hosts: got %+v, want %+v", c.Hosts, tc.want)
				}
				if len(c.Hosts) == 0 {
					t.Errorf("Hosts: got none")
				}
				return
			}
			ie := loadErr(t, in)
			if got, want := ie.Input, "host"; got != want {
				t.Errorf("Input: got %q, want %q", got, want)
			}
			if got, want := ie.Problem, tc.wantErr; !strings.Contains(got, want) {
				t.Errorf("Problem: got %q, want it to contain %q", got, want)
			}
		})
	}
}

// TestLoadNoHostNoKnownHosts is the case where the known_hosts hint needs
// a host to name.
func TestLoadNoHostNoKnownHosts(t *testing.T) {
	t.Parallel()
	ie := loadErr(t, valid(map[string]string{"host": ",", "known_hosts": ""}))
	if got, want := ie.Input, "host"; got != want {
		t.Errorf("Input: got %q, want %q", got, want)
	}
}

func TestHostAddr(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		h    Host
		want string
	}{
		{Host{"vps", 22}, "vps:22"},
		{Host{"10.0.0.1", 2222}, "10.0.0.1:2222"},
		{Host{"::1", 2222}, "[::1]:2222"},
	} {
		if got := tc.h.Addr(); got != tc.want {
			t.Errorf("got %q, want %q", got, tc.want)
		}
	}
}

func TestLoadPort(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		port string
		want int // 0 means an error
	}{
		{"22", 22},
		{"1", 1},
		{"2222", 2222},
		{"65535", 65535},
		{"0", 0},
		{"65536", 0},
		{"-22", 0},
		{"ssh", 0},
		{"22 ", 0},
		{"0x16", 0},
		{"22.0", 0},
	} {
		t.Run(tc.port, func(t *testing.T) {
			t.Parallel()
			in := valid(map[string]string{"port": tc.port})
			if tc.want != 0 {
				c, err := load(in)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got, want := c.Port, tc.want; got != want {
					t.Errorf("got %d, want %d", got, want)
				}
				return
			}
			ie := loadErr(t, in)
			if got, want := ie.Input, "port"; got != want {
				t.Errorf("Input: got %q, want %q", got, want)
			}
		})
	}
}

func TestLoadHostKeyInputs(t *testing.T) {
	t.Parallel()
	kh := valid(nil)["known_hosts"]

	// Both set.
	ie := loadErr(t, valid(map[string]string{"host_fingerprint": testFP1}))
	if got, want := ie.Input, "host_fingerprint"; got != want {
		t.Errorf("both: Input: got %q, want %q", got, want)
	}
	if got, want := ie.Hint(), "not both"; !strings.Contains(got, want) {
		t.Errorf("both: Hint: got %q, want it to contain %q", got, want)
	}

	// Neither set: the hint names the host and port to scan.
	ie = loadErr(t, valid(map[string]string{"known_hosts": "", "host": "vps.example.com:2222"}))
	if got, want := ie.Input, "known_hosts"; got != want {
		t.Errorf("neither: Input: got %q, want %q", got, want)
	}
	if got, want := ie.Problem, "host_fingerprint"; !strings.Contains(got, want) {
		t.Errorf("neither: Problem: got %q, want it to mention %q", got, want)
	}
	if got, want := ie.Hint(), "ssh-keyscan -p 2222 vps.example.com"; !strings.Contains(got, want) {
		t.Errorf("neither: Hint: got %q, want it to contain %q", got, want)
	}

	// known_hosts alone.
	c, err := load(valid(nil))
	if err != nil {
		t.Fatalf("known_hosts only: %v", err)
	}
	if got, want := c.KnownHosts, kh; got != want {
		t.Errorf("KnownHosts: got %q, want %q", got, want)
	}

	// host_fingerprint alone.
	c, err = load(valid(map[string]string{"known_hosts": "", "host_fingerprint": testFP1}))
	if err != nil {
		t.Fatalf("host_fingerprint only: %v", err)
	}
	if got, want := c.HostFingerprints, []string{testFP1}; !reflect.DeepEqual(got, want) {
		t.Errorf("HostFingerprints: got %q, want %q", got, want)
	}
	if got, want := c.KnownHosts, ""; got != want {
		t.Errorf("KnownHosts: got %q, want %q", got, want)
	}
}

func TestLoadFingerprints(t *testing.T) {
	t.Parallel()
	const md5 = "16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"
	for _, tc := range []struct {
		name    string
		in      string
		want    []string
		wantErr string // substring of the problem
	}{
		{name: "one", in: testFP1, want: []string{testFP1}},
		{name: "comma", in: testFP1 + "," + testFP2, want: []string{testFP1, testFP2}},
		{name: "comma space", in: testFP1 + ", " + testFP2, want: []string{testFP1, testFP2}},
		{name: "newline", in: testFP1 + "\n" + testFP2, want: []string{testFP1, testFP2}},
		{name: "crlf", in: testFP1 + "\r\n" + testFP2, want: []string{testFP1, testFP2}},
		{name: "mixed", in: testFP1 + " ,\n\t" + testFP2 + ",", want: []string{testFP1, testFP2}},
		{name: "md5", in: md5, wantErr: "MD5"},
		{name: "md5 prefixed", in: "MD5:" + md5, wantErr: "MD5"},
		{name: "md5 after valid", in: testFP1 + "," + md5, wantErr: "MD5"},
		{name: "padded", in: testFP1 + "=", wantErr: "padding"},
		{name: "short", in: testFP1[:len(testFP1)-1], wantErr: "not a SHA256"},
		{name: "long", in: testFP1 + "A", wantErr: "not a SHA256"},
		{name: "no prefix", in: strings.TrimPrefix(testFP1, "SHA256:"), wantErr: "not a SHA256"},
		{name: "lower prefix", in: "sha256:" + strings.TrimPrefix(testFP1, "SHA256:"), wantErr: "not a SHA256"},
		{name: "url base64", in: "SHA256:" + strings.Repeat("-", 43), wantErr: "not a SHA256"},
		{name: "known_hosts line", in: "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl", wantErr: "not a SHA256"},
		{name: "separators only", in: ", ,\n", wantErr: "no fingerprint"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := valid(map[string]string{"known_hosts": "", "host_fingerprint": tc.in})
			if tc.wantErr == "" {
				c, err := load(in)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got, want := c.HostFingerprints, tc.want; !reflect.DeepEqual(got, want) {
					t.Errorf("got %q, want %q", got, want)
				}
				return
			}
			ie := loadErr(t, in)
			if got, want := ie.Input, "host_fingerprint"; got != want {
				t.Errorf("Input: got %q, want %q", got, want)
			}
			if got, want := ie.Problem, tc.wantErr; !strings.Contains(got, want) {
				t.Errorf("Problem: got %q, want it to contain %q", got, want)
			}
		})
	}
}

func TestLoadFile(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		want string // "" means an error
	}{
		{"secrets/prod/galaxy.enc.yaml", "secrets/prod/galaxy.enc.yaml"},
		{"./secrets/x.yaml", "secrets/x.yaml"},
		{"secrets//x.yaml", "secrets/x.yaml"},
		{"secrets/./x.yaml", "secrets/x.yaml"},
		{"a/../b.yaml", "b.yaml"},
		{"x.yaml", "x.yaml"},
		{"../x", ""},
		{"..", ""},
		{".", ""},
		{"./", ""},
		{"/abs", ""},
		{"/etc/galaxy.enc.yaml", ""},
		{"a/../../x", ""},
		{"secrets/../../x", ""},
		{"secrets\\x.yaml", ""},
		{"..\\x.yaml", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			in := valid(map[string]string{"file": tc.file})
			if tc.want != "" {
				c, err := load(in)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got, want := c.File, tc.want; got != want {
					t.Errorf("got %q, want %q", got, want)
				}
				return
			}
			ie := loadErr(t, in)
			if got, want := ie.Input, "file"; got != want {
				t.Errorf("Input: got %q, want %q", got, want)
			}
			if got, want := ie.Problem, fmt.Sprintf("%q", tc.file); !strings.Contains(got, want) {
				t.Errorf("Problem: got %q, want it to quote the input as %s", got, want)
			}
		})
	}
}

func TestLoadRemotePath(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path string
		ok   bool
	}{
		{"/etc/galaxy/secrets/galaxy.yaml", true},
		{"/srv/app/.env", true},
		{"/x", true},
		{"/a/..b/c", true},
		{"/a/b..", true},
		{"etc/galaxy.yaml", false},
		{"./galaxy.yaml", false},
		{"~/galaxy.yaml", false},
		{"/", false},
		{"/x/", false},
		{"/etc/galaxy/", false},
		{"/etc/../x", false},
		{"/etc/galaxy/../../x", false},
		{"/x/..", false},
		{"/etc/./x", false},
		{"//etc/x", false},
		{"/etc//x", false},
		{"/etc/x\n", false},
		{"/etc/x\x00y", false},
		{"/etc/x\ry", false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			t.Parallel()
			in := valid(map[string]string{"remote_path": tc.path})
			if tc.ok {
				c, err := load(in)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got, want := c.RemotePath, tc.path; got != want {
					t.Errorf("got %q, want %q", got, want)
				}
				return
			}
			ie := loadErr(t, in)
			if got, want := ie.Input, "remote_path"; got != want {
				t.Errorf("Input: got %q, want %q", got, want)
			}
		})
	}
}

func TestLoadRequiredKeys(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name    string
		in      string
		want    []string
		wantErr string // quoted in the problem
	}{
		{name: "none", in: "", want: nil},
		{name: "one", in: "DB_PASSWORD", want: []string{"DB_PASSWORD"}},
		{name: "comma", in: "a,b,c", want: []string{"a", "b", "c"}},
		{name: "comma space", in: "a, b ,c", want: []string{"a", "b", "c"}},
		{name: "newline", in: "a\nb\nc", want: []string{"a", "b", "c"}},
		{name: "crlf", in: "a\r\nb\r\n", want: []string{"a", "b"}},
		{name: "indented lines", in: "  a\n\t b\t\n", want: []string{"a", "b"}},
		{name: "mixed and empty", in: "a,,\n\n b ,\nc,", want: []string{"a", "b", "c"}},
		{name: "paths", in: "db.password, api.keys[0]", want: []string{"db.password", "api.keys[0]"}},
		{name: "separators only", in: ", ,\n", want: nil},
		{name: "inner space", in: "a, db password", wantErr: `"db password"`},
		{name: "inner tab", in: "db\tpassword", wantErr: `"db\tpassword"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := valid(map[string]string{"required_keys": tc.in})
			if tc.wantErr == "" {
				c, err := load(in)
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got, want := c.RequiredKeys, tc.want; !reflect.DeepEqual(got, want) {
					t.Errorf("got %q, want %q", got, want)
				}
				return
			}
			ie := loadErr(t, in)
			if got, want := ie.Input, "required_keys"; got != want {
				t.Errorf("Input: got %q, want %q", got, want)
			}
			if got, want := ie.Problem, tc.wantErr; !strings.Contains(got, want) {
				t.Errorf("Problem: got %q, want it to contain %s", got, want)
			}
		})
	}
}

// TestLoadErrorsHoldNoSecrets runs every kind of failure with distinctive
// secret inputs set and checks that no error text holds a secret value.
func TestLoadErrorsHoldNoSecrets(t *testing.T) {
	t.Parallel()
	for _, over := range []map[string]string{
		{"env": ""},
		{"env": "BAD"},
		{"age_key": ""},
		{"ssh_key": ""},
		{"host": ""},
		{"host": "a,a"},
		{"host": ","},
		{"file_mode": "0644"},
		{"jump_host": "a b"},
		{"port": "x"},
		{"user": ""},
		{"user": "a@b"},
		{"known_hosts": ""},
		{"host_fingerprint": testFP1},
		{"known_hosts": "", "host_fingerprint": "MD5:16:27:ac:a5:76:28:2d:36:63:1b:56:4d:eb:df:a6:48"},
		{"file": "/abs"},
		{"remote_path": "rel"},
		{"required_keys": "a b"},
	} {
		_, err := load(valid(over))
		if err == nil {
			t.Errorf("Load with %q succeeded, want an error", over)
			continue
		}
		checkNoSecrets(t, err)
		var ie *Error
		if !errors.As(err, &ie) || ie.Hint() == "" {
			t.Errorf("Load with %q: got %#v, want *inputs.Error with a hint", over, err)
		}
	}
}

func TestLoadOperation(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		op, ageKey string
		want       Operation // "" means an error
		wantInput  string
	}{
		{op: "", ageKey: testAgeKey, want: "deploy"},
		{op: "deploy", ageKey: testAgeKey, want: "deploy"},
		{op: "rollback", ageKey: testAgeKey, want: "rollback"},
		// A rollback decrypts nothing, so it needs no age key.
		{op: "rollback", ageKey: "", want: "rollback"},
		{op: "deploy", ageKey: "", wantInput: "age_key"},
		{op: "Deploy", ageKey: testAgeKey, wantInput: "operation"},
		{op: "undo", ageKey: testAgeKey, wantInput: "operation"},
	} {
		in := valid(map[string]string{"operation": tc.op, "age_key": tc.ageKey})
		if tc.want != "" {
			c, err := load(in)
			if err != nil {
				t.Errorf("operation %q: Load: %v", tc.op, err)
				continue
			}
			if got, want := c.Operation, tc.want; got != want {
				t.Errorf("operation %q: got %q, want %q", tc.op, got, want)
			}
			continue
		}
		if got, want := loadErr(t, in).Input, tc.wantInput; got != want {
			t.Errorf("operation %q: Input: got %q, want %q", tc.op, got, want)
		}
	}
}

func TestLoadHostSide(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		input, value string
		check        func(c *Config) bool // nil means an error naming input
	}{
		{"file_mode", "0600", func(c *Config) bool { return c.FileMode == 0o600 }},
		{"file_mode", "640", func(c *Config) bool { return c.FileMode == 0o640 }},
		{"file_mode", "0400", func(c *Config) bool { return c.FileMode == 0o400 }},
		{"file_mode", "0644", nil},
		{"file_mode", "0601", nil},
		{"file_mode", "0200", nil},
		{"file_mode", "0800", nil},
		{"file_mode", "04600", nil},
		{"file_mode", "rw-------", nil},
		{"owner", "0", func(c *Config) bool { return c.Owner == 0 && c.Group == -1 }},
		{"owner", "1000", func(c *Config) bool { return c.Owner == 1000 }},
		{"owner", "deploy", nil},
		{"owner", "-1", nil},
		{"group", "33", func(c *Config) bool { return c.Group == 33 && c.Owner == -1 }},
		{"group", "www-data", nil},
		{"sudo", "true", func(c *Config) bool { return c.Sudo }},
		{"sudo", "False", func(c *Config) bool { return !c.Sudo }},
		{"sudo", "maybe", nil},
		{"backup", "false", func(c *Config) bool { return !c.Backup }},
		{"backup", "no", func(c *Config) bool { return !c.Backup }},
		{"backup", "off", nil},
		{"timeout", "90", func(c *Config) bool { return c.Timeout == 90*time.Second }},
		{"timeout", "90s", func(c *Config) bool { return c.Timeout == 90*time.Second }},
		{"timeout", "5m", func(c *Config) bool { return c.Timeout == 5*time.Minute }},
		{"timeout", "6h", func(c *Config) bool { return c.Timeout == 6*time.Hour }},
		{"timeout", "7h", nil},
		{"timeout", "0", nil},
		{"timeout", "-5m", nil},
		{"timeout", "soon", nil},
		{"retries", "0", func(c *Config) bool { return c.Retries == 0 }},
		{"retries", "10", func(c *Config) bool { return c.Retries == maxRetries }},
		{"retries", "11", nil},
		{"retries", "-1", nil},
		{"parallel", "1", func(c *Config) bool { return c.Parallel == 1 }},
		{"parallel", "0", nil},
		{"parallel", "101", nil},
		{"jump_host", "bastion.example.com", func(c *Config) bool {
			return reflect.DeepEqual(c.Jump, &Host{"bastion.example.com", 22}) && c.JumpUser == "deploy"
		}},
		{"jump_host", "jump@bastion:2222", func(c *Config) bool {
			return reflect.DeepEqual(c.Jump, &Host{"bastion", 2222}) && c.JumpUser == "jump"
		}},
		{"jump_host", "jump@[::1]:2222", func(c *Config) bool {
			return reflect.DeepEqual(c.Jump, &Host{"::1", 2222}) && c.JumpUser == "jump"
		}},
		{"jump_host", "a,b", nil},
		{"jump_host", "bad user@bastion", nil},
		{"jump_host", "jump@bastion:0", nil},
	} {
		in := valid(map[string]string{tc.input: tc.value})
		if tc.check != nil {
			c, err := load(in)
			if err != nil {
				t.Errorf("%s %q: Load: %v", tc.input, tc.value, err)
				continue
			}
			if !tc.check(c) {
				t.Errorf("%s %q: got %+v", tc.input, tc.value, c)
			}
			continue
		}
		if got, want := loadErr(t, in).Input, tc.input; got != want {
			t.Errorf("%s %q: Input: got %q, want %q", tc.input, tc.value, got, want)
		}
	}
}
