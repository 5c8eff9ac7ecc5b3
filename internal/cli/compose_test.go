package cli

import (
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
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
	var compose composeFile
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
	example := sidecarExample(t)
	for _, c := range example.Spec.Template.Spec.Containers {
		if c.Name == "trellis-proxy" {
			lines["install/sidecar-example.yaml"] = c.Args
		}
	}
	for where, args := range lines {
		code, _, errOut := run(t, append(args, "--help")...)
		if code != ExitOK || strings.Contains(errOut, "unknown") {
			t.Errorf("%s: `trellis %s` does not parse: exit %d %s", where, strings.Join(args, " "), code, errOut)
		}
	}
}

// composeFile is the part of docker-compose.yml the tests read.
type composeFile struct {
	Services map[string]struct {
		Image      string         `json:"image"`
		Entrypoint []string       `json:"entrypoint"`
		Command    []string       `json:"command"`
		Volumes    []string       `json:"volumes"`
		DependsOn  map[string]any `json:"depends_on"`
	} `json:"services"`
	Volumes map[string]any `json:"volumes"`
}

// sidecarExample reads install/sidecar-example.yaml (a Deployment with a trellis-proxy sidecar).
func sidecarExample(t *testing.T) *appsv1.Deployment {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "install", "sidecar-example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(b, &d); err != nil {
		t.Fatalf("install/sidecar-example.yaml: %v", err)
	}
	return &d
}

// flagValue returns the value of --name=value in args ("" when absent).
func flagValue(args []string, name string) string {
	for _, a := range args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

// TestComposeProxiesGetTheJoinToken checks the join token's path through docker-compose.yml: a
// one-shot service writes it (trellis join-token --out) to a volume that holds nothing else,
// trellis serve starts after it, and every proxy reads it (--join-token-file) from that volume,
// mounted read-only, after the one-shot completed; no proxy mounts the trellis home (CA key,
// admin token).
func TestComposeProxiesGetTheJoinToken(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var compose composeFile
	if err := yaml.Unmarshal(b, &compose); err != nil {
		t.Fatal(err)
	}
	// mounted returns the volume mounted at a parent directory of file, and whether read-only.
	mounted := func(volumes []string, file string) (string, bool) {
		for _, v := range volumes {
			parts := strings.Split(v, ":")
			if len(parts) >= 2 && parts[1] == path.Dir(file) {
				return parts[0], len(parts) == 3 && parts[2] == "ro"
			}
		}
		return "", false
	}
	writer, tokenVolume := "", ""
	for name, s := range compose.Services {
		if len(s.Command) > 0 && s.Command[0] == "join-token" {
			out := flagValue(s.Command, "out")
			vol, ro := mounted(s.Volumes, out)
			if out == "" || vol == "" || ro {
				t.Fatalf("%s: join-token --out %q must be on a writable volume (volumes %v)", name, out, s.Volumes)
			}
			writer, tokenVolume = name, vol
		}
	}
	if writer == "" {
		t.Fatal("no service runs `trellis join-token --out …`")
	}
	if _, ok := compose.Volumes[tokenVolume]; !ok {
		t.Errorf("the token volume %q is not a named volume of the file", tokenVolume)
	}
	for name, s := range compose.Services {
		if len(s.Command) > 0 && s.Command[0] == "serve" {
			if dep, _ := s.DependsOn[writer].(map[string]any); dep["condition"] != "service_completed_successfully" {
				t.Errorf("%s must start after %s completed (depends_on %v)", name, writer, s.DependsOn)
			}
		}
	}
	proxies := 0
	for name, s := range compose.Services {
		if len(s.Command) == 0 || s.Command[0] != "proxy" {
			continue
		}
		proxies++
		file := flagValue(s.Command, "join-token-file")
		if file == "" {
			t.Errorf("%s: the proxy has no --join-token-file", name)
			continue
		}
		if vol, ro := mounted(s.Volumes, file); vol != tokenVolume || !ro {
			t.Errorf("%s: --join-token-file %s is not on the token volume %q mounted read-only (volumes %v)", name, file, tokenVolume, s.Volumes)
		}
		if dep, _ := s.DependsOn[writer].(map[string]any); dep["condition"] != "service_completed_successfully" {
			t.Errorf("%s must start after %s completed (depends_on %v)", name, writer, s.DependsOn)
		}
		for _, v := range s.Volumes {
			if strings.HasPrefix(v, "trellis-home:") {
				t.Errorf("%s mounts the trellis home (%s): the CA key and admin token must stay with trellis", name, v)
			}
		}
	}
	if proxies < 4 {
		t.Errorf("found %d proxies in docker-compose.yml, want 4", proxies)
	}
}

// TestChartSidecarExampleGetsTheJoinToken checks that the documented sidecar reads
// TRELLIS_JOIN_TOKEN from the Secret the chart creates in the sidecar's namespace.
func TestChartSidecarExampleGetsTheJoinToken(t *testing.T) {
	d := sidecarExample(t)
	objs, err := install.Render("trellis", "trellis-system", map[string]any{"mesh": map[string]any{"joinTokenNamespaces": []any{d.Namespace}}})
	if err != nil {
		t.Fatal(err)
	}
	var proxy *corev1.Container
	for i, c := range d.Spec.Template.Spec.Containers {
		if c.Name == "trellis-proxy" {
			proxy = &d.Spec.Template.Spec.Containers[i]
		}
	}
	if proxy == nil {
		t.Fatal("install/sidecar-example.yaml has no trellis-proxy container")
	}
	i := slices.IndexFunc(proxy.Env, func(e corev1.EnvVar) bool { return e.Name == "TRELLIS_JOIN_TOKEN" })
	if i < 0 || proxy.Env[i].ValueFrom == nil || proxy.Env[i].ValueFrom.SecretKeyRef == nil {
		t.Fatalf("the sidecar's TRELLIS_JOIN_TOKEN does not come from a Secret: %+v", proxy.Env)
	}
	ref := proxy.Env[i].ValueFrom.SecretKeyRef
	found := false
	for _, o := range objs {
		if o.GetKind() == "Secret" && o.GetNamespace() == d.Namespace && o.GetName() == ref.Name {
			_, found, _ = unstructured.NestedString(o.Object, "stringData", ref.Key)
		}
	}
	if !found {
		t.Errorf("the chart renders no Secret %s/%s with key %s for the sidecar", d.Namespace, ref.Name, ref.Key)
	}
	if xds := flagValue(proxy.Args, "xds"); xds != "trellis.trellis-system.svc:15010" {
		t.Errorf("sidecar --xds=%s, want the chart's Service trellis.trellis-system.svc:15010", xds)
	}
}
