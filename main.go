// Command sops-deploy-action is a GitHub container action that decrypts a
// SOPS+age secrets file in memory and installs it on a host over SFTP.
//
// Run without arguments it is the action (inputs from INPUT_* variables).
// `sops-deploy-action demo` runs the same deploy path against an embedded
// SSH server; see the README. `sops-deploy-action lint [PATH…]` checks
// .sops.yaml and the sops files without a key (internal/lintcmd).
package main

import (
	"context"
	"embed"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-githubactions"

	"github.com/productgalaxy/sops-deploy-action/internal/action"
	"github.com/productgalaxy/sops-deploy-action/internal/demo"
	"github.com/productgalaxy/sops-deploy-action/internal/lintcmd"
)

// fixtures are the demo's test-only inputs.
//
//go:embed testdata/staging/galaxy.enc.yaml testdata/keys/a.agekey
var fixtures embed.FS

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:])
	stop()
	if err != nil {
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "demo" {
		fl := flag.NewFlagSet("demo", flag.ContinueOnError)
		keep := fl.Bool("keep", false, "keep the temporary directory with the installed file")
		if err := fl.Parse(args[1:]); err != nil {
			return err
		}
		if err := demo.Run(ctx, os.Stdout, fixtures, *keep); err != nil {
			fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
			return err
		}
		return nil
	}
	if len(args) > 0 && args[0] == "lint" {
		return lintcmd.Run(".", args[1:], os.Stdout, os.Stderr)
	}
	if len(args) > 0 {
		err := fmt.Errorf("unknown command %q; run without arguments as the action, or `demo`", args[0])
		fmt.Fprintln(os.Stderr, err)
		return err
	}
	return action.Run(ctx, githubactions.New(), action.Options{})
}
