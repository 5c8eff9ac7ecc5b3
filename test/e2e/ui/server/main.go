// Command server starts the real Trellis server in-process for the dashboard's browser tests:
// SQLite in a fresh temporary home, the example designs loaded, the embedded dashboard mounted
// at "/". It prints one JSON line {"url": ..., "token": ...} (the first-start admin token) on
// standard output, then serves until it is interrupted or its standard input closes.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/trellis-mesh/trellis/server"
	"github.com/trellis-mesh/trellis/ui"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ui e2e server:", err)
		os.Exit(1)
	}
}

func run() error {
	examples := flag.String("examples", "examples/designs", "directory of example designs loaded on start")
	addr := flag.String("addr", "127.0.0.1:0", "listen address")
	flag.Parse()

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Stop when the parent test process goes away (its end of our stdin closes).
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()

	home, err := os.MkdirTemp("", "trellis-ui-e2e-")
	if err != nil {
		return fmt.Errorf("creating a temporary home: %w", err)
	}
	defer os.RemoveAll(home)

	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := server.New(ctx, server.Config{
		Home:          home,
		LoadExamples:  *examples,
		Logger:        logger,
		AdminTokenOut: io.Discard,
	})
	if err != nil {
		return fmt.Errorf("starting the server: %w", err)
	}
	defer srv.Close()
	srv.Mount("/", ui.Handler())

	// The first start wrote the admin token to the home directory, as `trellis serve` does.
	b, err := os.ReadFile(filepath.Join(home, server.AdminTokenFile))
	if err != nil {
		return fmt.Errorf("reading the admin token: %w", err)
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listening on %s: %w", *addr, err)
	}
	line, err := json.Marshal(map[string]string{"url": "http://" + ln.Addr().String(), "token": strings.TrimSpace(string(b))})
	if err != nil {
		return err
	}
	fmt.Println(string(line))
	err = srv.Serve(ctx, ln)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
