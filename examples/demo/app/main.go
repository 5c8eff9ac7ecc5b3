// Command app runs one instance of the bundled mesh's demo application (see package demoapp):
//
//	go run ./examples/demo/app --service frontend --version v1 --listen 127.0.0.1:9080 \
//	    --upstream reviews --outbound 127.0.0.1:15001 --latency 5ms --error-rate 0.1
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/trellis-mesh/trellis/examples/demo/demoapp"
)

func main() {
	var cfg demoapp.Config
	var upstreams string
	flag.StringVar(&cfg.Service, "service", "", "service this instance plays (frontend, reviews, ratings, …)")
	flag.StringVar(&cfg.Version, "version", "", "version of the instance (v1, v2, …)")
	flag.StringVar(&cfg.Listen, "listen", "127.0.0.1:9080", "address to serve HTTP/1.1, h2c and gRPC on")
	flag.DurationVar(&cfg.Latency, "latency", 0, "latency added to every request (e.g. 5ms)")
	flag.Float64Var(&cfg.ErrorRate, "error-rate", 0, "share of requests answered with an error, 0-1")
	flag.StringVar(&upstreams, "upstream", "", "comma-separated services called on every request (Host header = name)")
	flag.StringVar(&cfg.Outbound, "outbound", "127.0.0.1:15001", "sidecar outbound address upstreams are called through")
	flag.Parse()
	for _, u := range strings.Split(upstreams, ",") {
		if u = strings.TrimSpace(u); u != "" {
			cfg.Upstreams = append(cfg.Upstreams, u)
		}
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := demoapp.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}
