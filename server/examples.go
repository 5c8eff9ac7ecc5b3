package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/models"
	"github.com/trellis-mesh/trellis/spec"
)

// ExamplesAuthor is the author of example designs loaded on first start.
const ExamplesAuthor = "trellis"

// loadExamples saves every design found in the *.yaml, *.yml and *.json files of dirs as
// revision 1, when the store holds no design yet (first start). Invalid files are logged and
// skipped; a design name seen twice keeps its first definition.
func (s *Server) loadExamples(ctx context.Context, dirs []string) error {
	n, err := s.store.CountDesigns(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	var files []string
	for _, dir := range dirs {
		entries, err := os.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("reading example designs: %w", err)
		}
		var in []string
		for _, e := range entries {
			ext := strings.ToLower(filepath.Ext(e.Name()))
			if !e.IsDir() && (ext == ".yaml" || ext == ".yml" || ext == ".json") {
				in = append(in, filepath.Join(dir, e.Name()))
			}
		}
		sort.Strings(in)
		files = append(files, in...)
	}
	loaded := 0
	for _, f := range files {
		designs, err := spec.LoadFile(f)
		if err != nil {
			s.log.WarnContext(ctx, "skipping an invalid example design", slog.String("file", f), slog.String("error", err.Error()))
			continue
		}
		for _, d := range designs {
			b, err := yaml.Marshal(d)
			if err != nil {
				return fmt.Errorf("rendering example %s: %w", f, err)
			}
			_, err = s.store.SaveDesign(ctx, d.Metadata.Name, b, 0, models.RevisionInfo{
				Author: ExamplesAuthor, Message: "loaded from " + filepath.Base(f), Check: s.resolver.CheckOnSave,
			})
			if errors.Is(err, models.ErrConflict) {
				s.log.WarnContext(ctx, "skipping a duplicate example design", slog.String("file", f), slog.String("design", d.Metadata.Name))
				continue
			}
			if err != nil {
				return fmt.Errorf("saving example %s: %w", f, err)
			}
			loaded++
		}
	}
	s.log.InfoContext(ctx, "loaded example designs", slog.String("dirs", strings.Join(dirs, ",")), slog.Int("designs", loaded))
	return nil
}
