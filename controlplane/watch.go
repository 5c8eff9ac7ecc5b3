package controlplane

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/trellis-mesh/trellis/spec"
)

// dirHash hashes the names and contents of the design files under dir.
func dirHash(dir string) (string, error) {
	files, err := spec.ExpandPaths(dir)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("reading design file: %w", err)
		}
		fmt.Fprintf(h, "%s\x00%d\x00", f, len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Reload loads every design under path (a file or a directory) and serves them. An invalid
// design keeps the designs served so far; the error lists every violation.
func (s *Server) Reload(ctx context.Context, path string) error {
	designs, err := spec.LoadPaths(path)
	if err != nil {
		return fmt.Errorf("loading designs from %s: %w", path, err)
	}
	warns, err := s.SetDesigns(ctx, designs)
	if err != nil {
		return err
	}
	for _, w := range warns {
		s.log.Debug("translation warning", "warning", w.String())
	}
	names := make([]string, len(designs))
	for i, d := range designs {
		names[i] = d.Metadata.Name
	}
	s.log.Info("designs loaded", "path", path, "designs", names, "warnings", len(warns))
	return nil
}

// WatchDir serves the designs under path and reloads them whenever a file's name or content
// changes (polled every interval, content-hashed). An invalid design is logged with all its
// violations and the last good designs stay in force. It returns when ctx is done.
func (s *Server) WatchDir(ctx context.Context, path string, interval time.Duration) error {
	if interval <= 0 {
		interval = time.Second
	}
	last := ""
	check := func() {
		h, err := dirHash(path)
		if err != nil {
			if last != "error:"+err.Error() {
				s.log.Error("reading designs; keeping the last good snapshot", "path", path, "err", err)
				last = "error:" + err.Error()
			}
			return
		}
		if h == last {
			return
		}
		last = h
		if err := s.Reload(ctx, path); err != nil {
			var ve *spec.ValidationError
			if errors.As(err, &ve) {
				for _, v := range ve.Violations {
					s.log.Error("invalid design; keeping the last good snapshot", "violation", v.String())
				}
				return
			}
			s.log.Error("loading designs; keeping the last good snapshot", "err", err)
		}
	}
	check()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			check()
		}
	}
}
