package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/install"
)

// TestComposeAndChartCommandsParse checks that every trellis command line in docker-compose.yml
// and in the Helm chart's Deployment names an existing command with existing flags (there is no
// Docker engine here to run them, so this is what keeps them from rotting).
func TestComposeAndChartCommandsParse(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose struct {
		Services map[string]struct {
			Image      string   `json:"image"`
			Entrypoint []string `json:"entrypoint"`
			Command    []string `json:"command"`
		} `json:"services"`
	}
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	lines := map[string][]string{}
	for name, s := range compose.Services {
		if s.Image != "trellis:dev" {
			continue
		}
		args := s.Command
		if len(s.Entrypoint) > 0 {
			args = append(append([]string(nil), s.Entrypoint[1:]...), s.Command...)
		}
		lines["compose "+name] = args
	}
	if len(lines) < 5 {
		t.Fatalf("found only %d trellis services in docker-compose.yml", len(lines))
	}
	objs, err := install.Render("trellis", "trellis-system", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if o.GetKind() != "Deployment" {
			continue
		}
		cs, _, _ := unstructured.NestedSlice(o.Object, "spec", "template", "spec", "containers")
		for _, c := range cs {
			var args []string
			for _, a := range c.(map[string]any)["args"].([]any) {
				args = append(args, a.(string))
			}
			lines["chart deployment"] = args
		}
	}
	for where, args := range lines {
		code, _, errOut := run(t, append(args, "--help")...)
		if code != ExitOK || strings.Contains(errOut, "unknown") {
			t.Errorf("%s: `trellis %s` does not parse: exit %d %s", where, strings.Join(args, " "), code, errOut)
		}
	}
}
