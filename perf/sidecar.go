package perf

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/trellis-mesh/trellis/proxy"
)

// sidecarSet starts the bundled proxies of a mesh run, in process or as subprocesses.
type sidecarSet struct {
	xds         string
	token       string // join token: Config.JoinToken in process, $TRELLIS_JOIN_TOKEN for subprocesses
	log         *slog.Logger
	binary      string
	concurrency int
	stderr      io.Writer

	inProcess []*proxy.Proxy
	procs     []*exec.Cmd
	pids      []int
}

// readyTimeout bounds how long a sidecar may take to receive its first configuration.
const readyTimeout = 10 * time.Second

// start starts one sidecar and waits until it has its configuration; it stops with ctx.
func (s *sidecarSet) start(ctx context.Context, cfg proxy.Config) error {
	if s.binary != "" {
		return s.startProcess(ctx, cfg)
	}
	cfg.XDS, cfg.Logger, cfg.DrainTimeout, cfg.JoinToken = s.xds, s.log, time.Second, s.token
	p, err := proxy.Start(ctx, cfg)
	if err != nil {
		return fmt.Errorf("perf mesh: starting the %s sidecar: %w", cfg.Service, err)
	}
	s.inProcess = append(s.inProcess, p)
	select {
	case <-p.Ready():
		return nil
	case <-time.After(readyTimeout):
		return fmt.Errorf("perf mesh: the %s sidecar got no configuration within %s", cfg.Service, readyTimeout)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// proxyArgs builds the `trellis proxy` command line of a sidecar.
func proxyArgs(xds, admin string, concurrency int, cfg proxy.Config) []string {
	labels := make([]string, 0, len(cfg.Labels))
	for k, v := range cfg.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	return []string{"proxy", "--xds", xds, "--service", cfg.Service, "--namespace", cfg.Namespace,
		"--version", cfg.Version, "--identity", cfg.Identity, "--labels", strings.Join(labels, ","),
		"--inbound=" + cfg.Inbound, "--outbound=" + cfg.Outbound, "--app=" + cfg.App, "--admin", admin,
		"--drain-timeout", "1s", "--log-level", "warn", "--concurrency", strconv.Itoa(concurrency)}
}

func (s *sidecarSet) startProcess(ctx context.Context, cfg proxy.Config) error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("perf mesh: reserving an admin port: %w", err)
	}
	admin := l.Addr().String()
	_ = l.Close()
	cmd := exec.CommandContext(ctx, s.binary, proxyArgs(s.xds, admin, s.concurrency, cfg)...)
	cmd.Stdout, cmd.Stderr = s.stderr, s.stderr
	// The token goes in the environment, not on the command line other users can read.
	cmd.Env = append(os.Environ(), "TRELLIS_JOIN_TOKEN="+s.token)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 3 * time.Second
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("perf mesh: starting the %s sidecar (%s proxy): %w", cfg.Service, s.binary, err)
	}
	s.procs = append(s.procs, cmd)
	s.pids = append(s.pids, cmd.Process.Pid)
	c := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(readyTimeout)
	for time.Now().Before(deadline) {
		if resp, err := c.Get("http://" + admin + "/ready"); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("perf mesh: the %s sidecar (pid %d) was not ready within %s; hint: run with --log-level debug", cfg.Service, cmd.Process.Pid, readyTimeout)
}

// wait waits for every sidecar to stop (their context must be cancelled first).
func (s *sidecarSet) wait() {
	for _, p := range s.inProcess {
		_ = p.Wait()
	}
	for _, c := range s.procs {
		_ = c.Wait()
	}
}
