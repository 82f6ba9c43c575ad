package secretsenv

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Usage is the command line, for -h and usage errors.
const Usage = `usage: secrets-env [-file PATH] [-user UID[:GID]] [-override] (VAR=key ... | -all) -- COMMAND [ARG...]

Exports values of the secrets YAML file as environment variables, then
replaces itself with COMMAND (execve): same PID, signals and exit code.

  -file PATH      the secrets file (default ` + DefaultFile + `)
  -user UID[:GID] after reading the file, switch to this numeric uid and gid
                  (gid defaults to uid; supplementary groups are cleared;
                  HOME and the other variables are left as they are)
  -override       let a value replace a variable already set in the environment
  -all            export every value, named by its key path upper-cased with
                  "_" between parts: db.password is DB_PASSWORD, hosts[0] is HOSTS_0
  VAR=key         export the value at key as VAR; nested keys are joined
                  with ".", list items written [n]: db.password, hosts[0]

Exit status: COMMAND's; 125 when secrets-env fails (nothing ran), 126 when
COMMAND cannot be executed, 127 when it is not found.
`

// Config is a parsed command line.
type Config struct {
	File     string
	User     *Cred // nil: keep the current user
	Override bool
	All      bool
	Specs    []Spec
	Command  []string
}

// ErrHelp is returned by ParseArgs for -h and -help.
var ErrHelp = flag.ErrHelp

// ParseArgs parses the arguments after the program name: flags, then
// VAR=key exports, then -- and the command.
func ParseArgs(args []string) (*Config, error) {
	sep, err := separator(args)
	if err != nil {
		return nil, err
	}
	cfg := &Config{File: DefaultFile, Command: args[sep+1:]}
	exports, err := cfg.parseFlags(args[:sep])
	if err != nil {
		return nil, err
	}
	if cfg.Specs, err = parseSpecs(exports); err != nil {
		return nil, err
	}
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// separator returns the index of the --, or ErrHelp for a help flag
// without one.
func separator(args []string) (int, error) {
	for i, a := range args {
		if a == "--" {
			return i, nil
		}
	}
	for _, a := range args {
		if a == "-h" || a == "-help" || a == "--help" {
			return 0, ErrHelp
		}
	}
	return 0, &UsageError{Problem: "no -- before the command", Hint: "write: secrets-env VAR=key ... -- COMMAND [ARG...]"}
}

// parseFlags sets cfg's flags from the arguments before the -- and returns
// the rest, the VAR=key exports.
func (cfg *Config) parseFlags(args []string) ([]string, error) {
	var user string
	fs := flag.NewFlagSet("secrets-env", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&cfg.File, "file", DefaultFile, "")
	fs.StringVar(&user, "user", "", "")
	fs.BoolVar(&cfg.Override, "override", false, "")
	fs.BoolVar(&cfg.All, "all", false, "")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, ErrHelp
		}
		// flag's messages quote only the flag name and its argument.
		return nil, &UsageError{Problem: err.Error(), Hint: "run secrets-env -h for the usage"}
	}
	if cfg.File == "" {
		return nil, &UsageError{Problem: "-file is empty"}
	}
	userSet := false
	fs.Visit(func(f *flag.Flag) { userSet = userSet || f.Name == "user" })
	if userSet {
		c, err := ParseUser(user)
		if err != nil {
			return nil, err
		}
		cfg.User = c
	}
	return fs.Args(), nil
}

// parseSpecs parses the VAR=key exports, each variable once.
func parseSpecs(args []string) ([]Spec, error) {
	var specs []Spec
	seen := map[string]bool{}
	for _, a := range args {
		if strings.HasPrefix(a, "-") {
			return nil, &UsageError{Problem: fmt.Sprintf("flag %q after a VAR=key argument", a), Hint: "put flags first: secrets-env -file PATH VAR=key ... -- COMMAND"}
		}
		name, key, ok := strings.Cut(a, "=")
		switch {
		case !ok:
			return nil, &UsageError{Problem: fmt.Sprintf("argument %q is not VAR=key", a), Hint: "end the exports with -- before the command"}
		case !ValidName(name):
			return nil, &UsageError{Problem: fmt.Sprintf("%q is not a valid variable name", name), Hint: "use ASCII letters, digits and _, not starting with a digit"}
		case key == "":
			return nil, &UsageError{Problem: fmt.Sprintf("no key after %s=", name)}
		case seen[name]:
			return nil, &UsageError{Problem: fmt.Sprintf("variable %s is given twice", name)}
		}
		seen[name] = true
		specs = append(specs, Spec{Var: name, Key: key})
	}
	return specs, nil
}

// check refuses a configuration that exports nothing, or both ways, or
// runs no command.
func (cfg *Config) check() error {
	switch {
	case cfg.All && len(cfg.Specs) > 0:
		return &UsageError{Problem: "-all and VAR=key arguments are given together", Hint: "use one: -all exports every value, VAR=key only the ones named"}
	case !cfg.All && len(cfg.Specs) == 0:
		return &UsageError{Problem: "nothing to export", Hint: "name values with VAR=key, or pass -all"}
	case len(cfg.Command) == 0:
		return &UsageError{Problem: "no command after --"}
	case cfg.Command[0] == "":
		return &UsageError{Problem: "the command is empty"}
	}
	return nil
}
