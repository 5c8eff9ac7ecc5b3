// Package cli implements the trellis command line, one file per command.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes shared by every command.
const (
	// ExitOK means success (and, for validate and check, no problem at or above the threshold).
	ExitOK = 0
	// ExitInvalid means the input was read but is invalid, or findings reached the threshold.
	ExitInvalid = 1
	// ExitUsage means bad flags or arguments, or an I/O error.
	ExitUsage = 2
)

// exitError carries an exit code through cobra.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return ""
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

// withCode wraps err so that the command exits with code.
func withCode(code int, err error) error { return &exitError{code: code, err: err} }

// silentExit exits with code without printing anything more.
func silentExit(code int) error { return &exitError{code: code} }

var (
	commandsMu sync.Mutex
	commands   []func() *cobra.Command
)

// register adds a command constructor; each command file calls it from init.
func register(f func() *cobra.Command) {
	commandsMu.Lock()
	defer commandsMu.Unlock()
	commands = append(commands, f)
}

// newRoot builds the command tree.
func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:           "trellis",
		Short:         "Trellis: one vendor-neutral service-mesh design, translated, checked, deployed and measured",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	commandsMu.Lock()
	defer commandsMu.Unlock()
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

// Main runs the command line with args and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "error:", ee.err)
		}
		return ee.code
	}
	fmt.Fprintln(stderr, "error:", err)
	return ExitUsage
}
