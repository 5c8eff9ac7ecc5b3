package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// ImportFunc turns parsed objects into a design, reporting what does not map as warnings.
type ImportFunc func(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error)

var (
	importSourcesMu sync.Mutex
	importSources   = map[string]ImportFunc{}
)

// registerImportSource adds a source to `trellis import` besides the mesh adapters that
// implement adapters.Importer (for example "smi" or "gateway-api"). It is meant to be called from
// an init function in the source's own CLI file and panics on an empty or duplicate name.
func registerImportSource(name string, fn func(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error)) {
	importSourcesMu.Lock()
	defer importSourcesMu.Unlock()
	if name == "" || fn == nil {
		panic("cli: registerImportSource with an empty name or nil function")
	}
	if _, dup := importSources[name]; dup {
		panic(fmt.Sprintf("cli: import source %q registered twice", name))
	}
	importSources[name] = fn
}

// importSourceNames lists every source: registered import sources and importing adapters.
func importSourceNames() []string {
	importSourcesMu.Lock()
	defer importSourcesMu.Unlock()
	set := map[string]bool{}
	for n := range importSources {
		set[n] = true
	}
	for _, n := range adapters.Names() {
		if a, ok := adapters.Get(n); ok {
			if _, imp := a.(adapters.Importer); imp {
				set[n] = true
			}
		}
	}
	names := make([]string, 0, len(set))
	for n := range set {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// lookupImportSource finds a source by name; readsWorkloads is set for importers that are also
// given the workload objects of the input (adapters.WorkloadReader).
func lookupImportSource(name string, opts adapters.ImportOptions) (fn ImportFunc, readsWorkloads bool, err error) {
	importSourcesMu.Lock()
	fn, ok := importSources[name]
	importSourcesMu.Unlock()
	if ok {
		return fn, false, nil
	}
	if a, ok := adapters.Get(name); ok {
		if imp, ok := a.(adapters.Importer); ok {
			wr, ok := a.(adapters.WorkloadReader)
			return func(ctx context.Context, objs []*unstructured.Unstructured) (*spec.Design, []adapters.Warning, error) {
				return imp.Import(ctx, objs, opts)
			}, ok && wr.ReadsWorkloads(), nil
		}
	}
	return nil, false, fmt.Errorf("unknown import source %q: expected %s", name, joinNames(importSourceNames()))
}

// newImportCmd builds `trellis import`: existing mesh or spec objects in, a design out.
func newImportCmd() *cobra.Command {
	var (
		files  []string
		output string
		opts   adapters.ImportOptions
	)
	cmd := &cobra.Command{
		Use:   "import SOURCE -f PATH",
		Short: "Import existing mesh configuration (or SMI / Gateway API resources) as a design",
		Long: `Read Kubernetes objects of one source (multi-document YAML or JSON, a List is expanded) and
write the equivalent design to stdout. What does not map onto the design is reported on stderr.

Sources: every mesh adapter that can import, plus spec importers such as smi or gateway-api.
Mesh objects rarely carry ports and protocols: include the Kubernetes Services, for example
kubectl get svc,virtualservices,destinationrules,peerauthentications,authorizationpolicies -o yaml.`,
		Example: `  trellis import istio -f istio-config.yaml > design.yaml
  trellis import istio -f a.yaml -f b.yaml --name bookinfo -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(files) == 0 {
				return withCode(ExitUsage, errors.New("no input given: use -f PATH"))
			}
			if output != "yaml" && output != "json" {
				return withCode(ExitUsage, fmt.Errorf("unknown output format %q: expected yaml or json", output))
			}
			fn, readsWorkloads, err := lookupImportSource(args[0], opts)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			paths, err := expandImportPaths(files)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			var inputs []importFile
			var objs []*unstructured.Unstructured
			for _, f := range paths {
				var data []byte
				if f == "-" {
					data, err = io.ReadAll(cmd.InOrStdin())
					f = "<stdin>"
				} else {
					data, err = os.ReadFile(f)
				}
				if err != nil {
					return withCode(ExitUsage, fmt.Errorf("reading objects: %w", err))
				}
				o, err := parseObjects(f, data)
				if err != nil {
					return withCode(ExitInvalid, err)
				}
				inputs = append(inputs, importFile{path: f, objs: o})
				objs = append(objs, o...)
			}
			stderr := cmd.ErrOrStderr()
			defaultNamespaces(objs, opts.Namespace)
			objs, dupNotes := dedupeObjects(inputs)
			for _, n := range dupNotes {
				fmt.Fprintln(stderr, "note: "+n)
			}
			// Deployments, ServiceAccounts and the like carry no mesh configuration: they are read
			// here for service identities and kept from the importer.
			var meshObjs, workloads []*unstructured.Unstructured
			for _, o := range objs {
				if isWorkloadObject(o) {
					workloads = append(workloads, o)
				} else {
					meshObjs = append(meshObjs, o)
				}
			}
			if len(objs) == 0 {
				return withCode(ExitInvalid, fmt.Errorf("no object in %s: every document is empty or a comment; "+
					"hint: pass the files that hold the %s configuration", strings.Join(paths, ", "), args[0]))
			}
			if len(meshObjs) == 0 {
				return withCode(ExitInvalid, fmt.Errorf("no %s or Kubernetes Service object in %s (only %s); "+
					"hint: pass the mesh configuration files too", args[0], strings.Join(paths, ", "), kindCounts(workloads)))
			}
			if len(paths) > 1 {
				for _, in := range inputs {
					fmt.Fprintf(stderr, "read %s: %s\n", in.path, kindCounts(in.objs))
				}
			}
			in := meshObjs
			if readsWorkloads {
				// For example the Istio importer resolves a Service's named targetPort from the
				// container ports of the workloads it selects.
				in = slices.Clone(meshObjs)
				for _, o := range workloads {
					if _, _, ok := podTemplate(o); ok {
						in = append(in, o)
					}
				}
			}
			d, warnings, err := fn(cmd.Context(), in)
			warnings = append(warnings, rolloutWarnings(args[0], workloads)...)
			for _, w := range warnings {
				fmt.Fprintln(stderr, w.String())
			}
			if err != nil {
				return withCode(ExitInvalid, fmt.Errorf("importing from %s: %w", args[0], err))
			}
			for _, n := range setIdentities(d, objs) {
				fmt.Fprintln(stderr, "note: "+n)
			}
			fmt.Fprintln(stderr, importSummary(args[0], len(paths), len(objs), len(workloads), d, len(warnings)))
			var b []byte
			if output == "json" {
				b, err = json.MarshalIndent(d, "", "  ")
				b = append(b, '\n')
			} else {
				b, err = yaml.Marshal(d)
			}
			if err != nil {
				return withCode(ExitUsage, err)
			}
			if _, err = cmd.OutOrStdout().Write(b); err != nil {
				return err
			}
			if emptyDesign(d) {
				return withCode(ExitInvalid, fmt.Errorf("nothing could be imported from %s (%s): no service, route or policy; "+
					"hint: check the warnings above, and that %q is the right source (sources: %s)",
					strings.Join(paths, ", "), kindCounts(meshObjs), args[0], joinNames(importSourceNames())))
			}
			// Importers map what they can; say so when the result still needs hand edits
			// (a subset without its DestinationRule, a route to an undeclared service, ...),
			// rather than letting validate or translate fail later. The design is printed anyway.
			if _, verr := spec.LoadBytes("imported design", b); verr != nil {
				hint := "add the missing objects to the input (Kubernetes Services, DestinationRules, service-defaults, ...) or edit the design"
				if same := sameNameServices(d); same != "" {
					hint = same + "; a design names each service once: import the objects of one namespace at a time (one design per namespace)"
				}
				return withCode(ExitInvalid, fmt.Errorf("the imported design does not validate yet (printed anyway): %w; hint: %s", verr, hint))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&files, "file", "f", nil, "file of Kubernetes objects, multi-document YAML or JSON (repeatable)")
	f.StringVarP(&output, "output", "o", "yaml", "output format: yaml or json")
	f.StringVar(&opts.Name, "name", "", "name of the design (default: the objects' namespace)")
	f.StringVar(&opts.Namespace, "namespace", "", "namespace of the design (default: the most common namespace of the objects)")
	return cmd
}

func init() { register(newImportCmd) }

// parseObjects parses multi-document YAML or JSON into objects; errors carry file:line. A
// document of kind List (or *List) is expanded into its items.
func parseObjects(file string, data []byte) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') {
		return parseJSONObjects(file, trimmed)
	}
	if line, ok := looksLikeHCL(data); ok {
		return nil, fmt.Errorf("%s:%d: HCL is not supported (this looks like a Consul config entry or agent configuration in HCL); "+
			"expected YAML or JSON: convert each entry to JSON, for example with `consul config read -kind KIND -name NAME` "+
			"(it prints JSON) or by rewriting it as a JSON object with Kind and Name", file, line)
	}
	line := 1
	start := 1
	var cur strings.Builder
	flush := func() error {
		doc := cur.String()
		cur.Reset()
		if strings.TrimSpace(stripComments(doc)) == "" {
			return nil
		}
		j, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			if l, action, ok := templateLine(doc); ok {
				if isArgoArgument(action) {
					return fmt.Errorf("%s:%d: unrendered template (Argo Rollouts argument placeholder %s): %w; "+
						"hint: the Rollouts controller fills {{args.NAME}} itself when it runs an analysis, so there is nothing to render: "+
						"leave the %s out of the input (it carries no mesh configuration), or quote the placeholder (\"%s\")", file, start+l-1, action, err, docKind(doc, "AnalysisTemplate"), action)
				}
				return fmt.Errorf("%s:%d: unrendered template (Helm/Go template braces): %w; "+
					"hint: render it first, for example with helm template or kustomize build", file, start+l-1, err)
			}
			if msg := err.Error(); strings.Contains(msg, "unknown anchor") {
				line := start + yamlErrLine(err)
				if _, rest, ok := strings.Cut(msg, "unknown anchor '"); ok {
					alias := "*" + strings.SplitN(rest, "'", 2)[0]
					for i, l := range strings.Split(doc, "\n") {
						if strings.Contains(l, alias) {
							line = start + i
							break
						}
					}
				}
				return fmt.Errorf("%s:%d: %s; hint: YAML anchors do not cross --- document separators: define the anchor in the same document, or put the objects in one List", file, line, err)
			}
			if strings.Contains(err.Error(), "found character that cannot start any token") {
				for i, l := range strings.Split(doc, "\n") {
					if strings.HasPrefix(strings.TrimLeft(l, " "), "\t") {
						return fmt.Errorf("%s:%d: %s; hint: YAML indents with spaces: this line starts with a tab", file, start+i, err)
					}
				}
			}
			return fmt.Errorf("%s:%d: %s", file, start+yamlErrLine(err), err)
		}
		o, err := decodeObjects(j)
		if err != nil {
			return fmt.Errorf("%s:%d: %w", file, start, err)
		}
		for _, obj := range o {
			if err := checkPlaceholders(obj); err != nil {
				return fmt.Errorf("%s:%d: %w", file, start+placeholderLine(doc), err)
			}
		}
		objs = append(objs, o...)
		return nil
	}
	for _, l := range strings.SplitAfter(string(data), "\n") {
		if strings.TrimRight(l, " \r\n") == "---" || strings.HasPrefix(l, "--- ") {
			if err := flush(); err != nil {
				return nil, err
			}
			line++
			start = line
			continue
		}
		cur.WriteString(l)
		line++
	}
	if err := flush(); err != nil {
		return nil, err
	}
	return objs, nil
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if t := strings.TrimSpace(l); t != "" && !strings.HasPrefix(t, "#") {
			b.WriteString(l)
			b.WriteString("\n")
		}
	}
	return b.String()
}

// yamlErrLine extracts the 1-based line of a YAML parse error ("yaml: line 3: ..."), minus one,
// so it can be added to the document's first line; 0 when unknown.
func yamlErrLine(err error) int {
	var n int
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		if _, scanErr := fmt.Sscanf(msg[i:], "line %d", &n); scanErr == nil && n > 0 {
			return n - 1
		}
	}
	return 0
}

func parseJSONObjects(file string, data []byte) ([]*unstructured.Unstructured, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	var objs []*unstructured.Unstructured
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			off := dec.InputOffset()
			return nil, fmt.Errorf("%s:%d: %w", file, 1+bytes.Count(data[:off], []byte("\n")), err)
		}
		start := int(dec.InputOffset()) - len(raw)
		line := 1 + bytes.Count(data[:max(start, 0)], []byte("\n"))
		if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
			var items []json.RawMessage
			if err := json.Unmarshal(raw, &items); err != nil {
				return nil, fmt.Errorf("%s:%d: %w", file, line, err)
			}
			for _, it := range items {
				o, err := decodeObjects(it)
				if err != nil {
					return nil, fmt.Errorf("%s:%d: %w", file, line, err)
				}
				objs = append(objs, o...)
			}
			continue
		}
		o, err := decodeObjects(raw)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, line, err)
		}
		objs = append(objs, o...)
	}
}

func decodeObjects(j []byte) ([]*unstructured.Unstructured, error) {
	if string(bytes.TrimSpace(j)) == "null" {
		return nil, nil
	}
	v, err := adapters.Normalize(json.RawMessage(j))
	m, ok := v.(map[string]any)
	if err != nil || !ok {
		return nil, fmt.Errorf("expected a Kubernetes object (a mapping with apiVersion and kind), got %s", strings.TrimSpace(string(j)))
	}
	u := &unstructured.Unstructured{Object: m}
	if u.IsList() || strings.HasSuffix(u.GetKind(), "List") {
		items, _, _ := unstructured.NestedSlice(m, "items")
		var out []*unstructured.Unstructured
		for i, it := range items {
			im, ok := it.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("items[%d]: expected an object", i)
			}
			b, _ := json.Marshal(im)
			o, err := decodeObjects(b)
			if err != nil {
				return nil, fmt.Errorf("items[%d]: %w", i, err)
			}
			out = append(out, o...)
		}
		return out, nil
	}
	if u.GetAPIVersion() == "" && isConsulConfigEntry(m) {
		// A bare Consul config entry (`consul config read` output, or the JSON bodies of the
		// /v1/config API), CamelCase or snake_case; the consul importer reads it.
		return []*unstructured.Unstructured{u}, nil
	}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		return nil, errors.New("apiVersion and kind are required; expected a Kubernetes object (or a Consul config entry with Kind and Name)")
	}
	if u.GetName() == "" {
		return nil, fmt.Errorf("%s %s: metadata.name is required", u.GetAPIVersion(), u.GetKind())
	}
	return []*unstructured.Unstructured{u}, nil
}

// isConsulConfigEntry reports whether m is a bare Consul config entry: no apiVersion, a Kind (or
// snake_case kind) such as "service-router", and a Name (or name), except for the mesh entry.
func isConsulConfigEntry(m map[string]any) bool {
	kind, _ := m["Kind"].(string)
	if kind == "" {
		kind, _ = m["kind"].(string)
	}
	if kind == "" || !strings.Contains(kind, "-") && kind != "mesh" || strings.ToLower(kind) != kind {
		return false
	}
	if kind == "mesh" {
		return true
	}
	name, _ := m["Name"].(string)
	if name == "" {
		name, _ = m["name"].(string)
	}
	return name != ""
}

// looksLikeHCL reports whether data is HCL rather than YAML (Consul config entries and agent
// configuration are often written in HCL), with the 1-based line that gave it away.
func looksLikeHCL(data []byte) (int, bool) {
	for i, l := range strings.Split(string(data), "\n") {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "//") {
			continue
		}
		// The first meaningful line decides: `kind = "..."`, `Kind = "..."` or a block such as
		// `config_entries {`. YAML would use a colon.
		if k, v, ok := strings.Cut(t, "="); ok && !strings.Contains(k, ":") && isHCLIdent(strings.TrimSpace(k)) &&
			strings.HasPrefix(strings.TrimSpace(v), "\"") {
			return i + 1, true
		}
		if strings.HasSuffix(t, "{") && isHCLIdent(strings.TrimSpace(strings.TrimSuffix(t, "{"))) {
			return i + 1, true
		}
		return 0, false
	}
	return 0, false
}

func isHCLIdent(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}

// templateLine returns the 1-based line of the first Helm/Go template action in doc and the
// action itself ("{{ .Values.x }}").
func templateLine(doc string) (int, string, bool) {
	for i, l := range strings.Split(doc, "\n") {
		open := strings.Index(l, "{{")
		if open < 0 {
			continue
		}
		if end := strings.Index(l[open:], "}}"); end > 0 {
			return i + 1, l[open : open+end+2], true
		}
	}
	return 0, "", false
}

// isArgoArgument reports whether a template action is an Argo Rollouts argument placeholder
// ({{args.service-name}}, {{ args.namespace }}), which AnalysisTemplates and experiments carry
// and the Rollouts controller substitutes, rather than a Helm/Go template action ({{ .Values.x }}).
func isArgoArgument(action string) bool {
	inner := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(action, "{{"), "}}"))
	return strings.HasPrefix(inner, "args.")
}

// docKind returns the kind a YAML document declares at its top level, or fallback.
func docKind(doc, fallback string) string {
	for _, l := range strings.Split(doc, "\n") {
		if k, ok := strings.CutPrefix(strings.TrimRight(l, " \r"), "kind:"); ok {
			if k = strings.Trim(strings.TrimSpace(k), `"'`); k != "" {
				return k
			}
		}
	}
	return fallback
}

// placeholderLine returns the 0-based line offset of the first shell-style placeholder in doc.
func placeholderLine(doc string) int {
	for i, l := range strings.Split(doc, "\n") {
		if placeholderIn(l) != "" {
			return i
		}
	}
	return 0
}

// placeholderIn returns the first $VAR or ${VAR} placeholder in s, or "".
func placeholderIn(s string) string {
	for i := 0; i < len(s)-1; i++ {
		if s[i] != '$' {
			continue
		}
		j := i + 1
		if s[j] == '{' {
			if k := strings.IndexByte(s[j:], '}'); k > 1 {
				return s[i : j+k+1]
			}
			continue
		}
		k := j
		for k < len(s) && (s[k] == '_' || s[k] >= 'A' && s[k] <= 'Z' || s[k] >= '0' && s[k] <= '9') {
			k++
		}
		if k > j && (s[j] < '0' || s[j] > '9') {
			return s[i:k]
		}
	}
	return ""
}

// checkPlaceholders rejects objects whose name or namespace still holds a shell placeholder
// ($APP_NAMESPACE, ${MESH_NAME}): walkthroughs ship such templates for envsubst.
func checkPlaceholders(o *unstructured.Unstructured) error {
	for _, f := range []struct{ path, v string }{{"metadata.name", o.GetName()}, {"metadata.namespace", o.GetNamespace()}} {
		if p := placeholderIn(f.v); p != "" {
			return fmt.Errorf("%s %s: %s: unrendered template placeholder %s in %q (expected a DNS-1123 name); "+
				"hint: render the template first, for example: export %s=...; envsubst < FILE > rendered.yaml",
				o.GetKind(), o.GetName(), f.path, p, f.v, strings.Trim(p, "${}"))
		}
	}
	return nil
}
