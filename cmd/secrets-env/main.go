// Command secrets-env is a container entrypoint: it exports values of the
// secrets YAML file that sops-deploy-action installs (mounted by Compose at
// /run/secrets/galaxy_yaml) as environment variables, optionally switches
// to a non-root user, and replaces itself with the command.
//
//	secrets-env [-file PATH] [-user UID[:GID]] [-override] (VAR=key ... | -all) -- COMMAND [ARG...]
//
// It never prints a value. Run secrets-env -h for the details.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/productgalaxy/sops-deploy-action/cmd/secrets-env/internal/secretsenv"
)

// No signal handling: until execve a signal ends secrets-env with its
// default action, and afterwards the command has its own dispositions.
func main() {
	err := realMain(os.Args[1:], os.Environ())
	// realMain returns only on failure, or nil for -h.
	os.Exit(report(os.Stdout, os.Stderr, err))
}

// realMain reads the file, builds the environment, switches user and execs
// the command. It returns only when it cannot.
func realMain(args, environ []string) error {
	cfg, err := secretsenv.ParseArgs(args)
	if err != nil {
		return err
	}
	f, err := secretsenv.Load(cfg.File)
	if err != nil {
		return err
	}
	var exports []secretsenv.Export
	if cfg.All {
		exports, err = secretsenv.All(f)
	} else {
		exports, err = secretsenv.Select(f, cfg.Specs)
	}
	if err != nil {
		return err
	}
	env, err := secretsenv.Environ(environ, exports, cfg.Override)
	if err != nil {
		return err
	}
	if cfg.User != nil {
		if err := secretsenv.Drop(cfg.User); err != nil {
			return err
		}
	}
	path, err := secretsenv.LookPath(cfg.Command[0], secretsenv.PathOf(env))
	if err != nil {
		return err
	}
	return secretsenv.ExecError(cfg.Command[0], syscall.Exec(path, cfg.Command, env))
}

// report prints err as one error line and a hint on stderr (the usage on
// stdout for -h), and returns the exit code.
func report(stdout, w io.Writer, err error) int {
	if errors.Is(err, secretsenv.ErrHelp) {
		fmt.Fprint(stdout, secretsenv.Usage)
		return 0
	}
	if err == nil {
		err = errors.New("execve returned without an error")
	}
	fmt.Fprintf(w, "secrets-env: error: %v\n", err)
	if h := secretsenv.Hint(err); h != "" {
		fmt.Fprintf(w, "secrets-env: hint: %s\n", h)
	}
	var ce *secretsenv.CommandError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return secretsenv.ExitFailure
}
