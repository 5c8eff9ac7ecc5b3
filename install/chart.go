// Package install holds Trellis's own installation artefacts: the Helm chart (helm/trellis), the
// Dockerfile, and Render, which renders the chart with the Helm SDK so that it can be tested
// against a real kube-apiserver and applied without the helm binary.
package install

import (
	"bytes"
	"embed"
	"fmt"
	"io"
	"io/fs"
	"path"
	"sort"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/engine"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
)

//go:embed all:helm/trellis
var chartFS embed.FS

// Chart loads the embedded Helm chart of Trellis.
func Chart() (*chart.Chart, error) {
	var files []*loader.BufferedFile
	err := fs.WalkDir(chartFS, "helm/trellis", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := chartFS.ReadFile(p)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: strings.TrimPrefix(p, "helm/trellis/"), Data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("reading embedded chart: %w", err)
	}
	c, err := loader.LoadFiles(files)
	if err != nil {
		return nil, fmt.Errorf("loading embedded chart: %w", err)
	}
	return c, nil
}

// Render renders the chart for a release named release in namespace with values merged over the
// chart's defaults, and returns the objects sorted by template file and order within it.
func Render(release, namespace string, values map[string]any) ([]*unstructured.Unstructured, error) {
	c, err := Chart()
	if err != nil {
		return nil, err
	}
	vals, err := chartutil.ToRenderValues(c, values, chartutil.ReleaseOptions{
		Name: release, Namespace: namespace, IsInstall: true,
	}, chartutil.DefaultCapabilities)
	if err != nil {
		return nil, fmt.Errorf("merging values: %w", err)
	}
	rendered, err := engine.Render(c, vals)
	if err != nil {
		return nil, fmt.Errorf("rendering chart: %w", err)
	}
	names := make([]string, 0, len(rendered))
	for n := range rendered {
		if path.Ext(n) == ".yaml" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	var objs []*unstructured.Unstructured
	for _, n := range names {
		dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader([]byte(rendered[n])), 4096)
		for {
			var m map[string]any
			if err := dec.Decode(&m); err != nil {
				if err == io.EOF {
					break
				}
				return nil, fmt.Errorf("parsing rendered %s: %w", n, err)
			}
			if len(m) == 0 {
				continue
			}
			objs = append(objs, &unstructured.Unstructured{Object: m})
		}
	}
	return objs, nil
}
