// Command sops-deploy-action is a GitHub container action that decrypts a
// SOPS+age secrets file in memory and installs it on a host over SFTP.
//
// Run without arguments it is the action (inputs from INPUT_* variables).
// The demo is its own command, `go run ./cmd/demo`; see the README.
// `sops-deploy-action lint [PATH…]` checks .sops.yaml and the sops files
// without a key (internal/lintcmd).
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/sethvargo/go-githubactions"

	"github.com/productgalaxy/sops-deploy-action/internal/action"
	"github.com/productgalaxy/sops-deploy-action/internal/lintcmd"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := realMain(ctx, os.Args[1:])
	stop()
	if err != nil {
		os.Exit(1)
	}
}

func realMain(ctx context.Context, args []string) error {
	if len(args) > 0 && args[0] == "lint" {
		return lintcmd.Run(".", args[1:], os.Stdout, os.Stderr)
	}
	if len(args) > 0 {
		err := fmt.Errorf("unknown command %q; run without arguments as the action (the demo is `go run ./cmd/demo`)", args[0])
		fmt.Fprintln(os.Stderr, err)
		return err
	}
	gha := githubactions.New(githubactions.WithWriter(action.LogWriter(os.Stdout)))
	return action.Run(ctx, gha, action.Options{})
}
