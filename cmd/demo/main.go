// Command demo runs the action's whole deploy path against an SSH/SFTP
// server embedded in the process, with a test-only encrypted file and key:
//
//	go run ./cmd/demo [-keep]
//
// It is a separate command so that the action's binary and image hold
// nothing of the demo (no test key, no in-process server).
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/productgalaxy/sops-deploy-action/internal/demo"
)

func main() {
	keep := flag.Bool("keep", false, "keep the temporary directory with the installed file")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := demo.Run(ctx, os.Stdout, demo.Fixtures, *keep)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "demo failed: %v\n", err)
		os.Exit(1)
	}
}
