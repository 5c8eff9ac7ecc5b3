package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/spec"
)

// importFile is one input of `trellis import` with the objects parsed from it.
type importFile struct {
	path string
	objs []*unstructured.Unstructured
}

// importInputExts are the file extensions read when -f names a directory.
var importInputExts = map[string]bool{".yaml": true, ".yml": true, ".json": true}

// expandImportPaths turns the -f arguments into files: a directory stands for every .yaml, .yml
// and .json file below it (sorted, hidden entries skipped), "-" is kept for standard input.
func expandImportPaths(args []string) ([]string, error) {
	var out []string
	for _, a := range args {
		if a == "-" {
			out = append(out, a)
			continue
		}
		st, err := os.Stat(a)
		if err != nil {
			return nil, fmt.Errorf("reading objects: %w", err)
		}
		if !st.IsDir() {
			out = append(out, a)
			continue
		}
		var found []string
		err = filepath.WalkDir(a, func(p string, de os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if p != a && strings.HasPrefix(de.Name(), ".") {
				if de.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if !de.IsDir() && importInputExts[strings.ToLower(filepath.Ext(p))] {
				found = append(found, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading objects from directory %s: %w", a, err)
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("directory %s holds no .yaml, .yml or .json file; hint: pass the files with -f FILE", a)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// clusterScopedKinds are kinds without a namespace; every other kind is namespaced.
var clusterScopedKinds = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"CustomResourceDefinition": true, "GatewayClass": true, "StorageClass": true, "PriorityClass": true,
	"IngressClass": true, "MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true,
	"APIService": true, "RuntimeClass": true,
}

func isClusterScoped(o *unstructured.Unstructured) bool {
	if clusterScopedKinds[o.GetKind()] {
		return true
	}
	// App Mesh's Mesh is cluster-scoped; its other kinds are namespaced.
	return o.GetKind() == "Mesh" && strings.HasPrefix(o.GetAPIVersion(), "appmesh.k8s.aws/")
}

// defaultNamespaces gives namespaced objects without metadata.namespace the namespace kubectl
// would apply them to: --namespace when given, else the most common namespace of the other
// objects (manifests such as Istio's samples leave it out and are applied with -n). Bare Consul
// config entries (no apiVersion) are left alone. It returns the namespace used ("" when none).
func defaultNamespaces(objs []*unstructured.Unstructured, flagNS string) string {
	ns := flagNS
	if ns == "" {
		counts := map[string]int{}
		for _, o := range objs {
			if n := o.GetNamespace(); n != "" {
				counts[n]++
			}
		}
		if len(counts) == 0 {
			// `helm template` output has no namespaces; a ServiceProfile's name still says
			// which namespace its service is in ("web.emojivoto.svc.cluster.local").
			for _, o := range objs {
				if parts := strings.Split(o.GetName(), "."); len(parts) >= 3 && parts[2] == "svc" {
					counts[parts[1]]++
				}
			}
		}
		best := 0
		for _, n := range sortedStringKeys(counts) {
			if counts[n] > best {
				ns, best = n, counts[n]
			}
		}
	}
	if ns == "" {
		return ""
	}
	for _, o := range objs {
		if o.GetNamespace() == "" && o.GetAPIVersion() != "" && !isClusterScoped(o) {
			o.SetNamespace(ns)
		}
	}
	return ns
}

func sortedStringKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// workloadKinds are plain Kubernetes kinds that carry no mesh configuration. `trellis import`
// reads them for service identities and keeps them from the importers, which would otherwise
// report each one as not imported.
var workloadKinds = map[string]bool{
	"Deployment": true, "StatefulSet": true, "DaemonSet": true, "ReplicaSet": true, "Pod": true,
	"Job": true, "CronJob": true, "ServiceAccount": true, "ConfigMap": true, "Secret": true,
	"Role": true, "RoleBinding": true, "ClusterRole": true, "ClusterRoleBinding": true,
	"HorizontalPodAutoscaler": true, "PodDisruptionBudget": true, "PersistentVolumeClaim": true,
	"CustomResourceDefinition": true, "Rollout": true,
}

func isWorkloadObject(o *unstructured.Unstructured) bool {
	if !workloadKinds[o.GetKind()] {
		return false
	}
	g := o.GroupVersionKind().Group
	switch g {
	case "", "apps", "extensions", "batch", "rbac.authorization.k8s.io", "autoscaling", "policy", "apiextensions.k8s.io", "argoproj.io":
		return true
	}
	return false
}

// podTemplate returns the pod labels and service account of a workload object.
func podTemplate(o *unstructured.Unstructured) (map[string]string, string, bool) {
	path := []string{"spec", "template"}
	switch o.GetKind() {
	case "Pod":
		path = nil
	case "CronJob":
		path = []string{"spec", "jobTemplate", "spec", "template"}
	case "Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "Rollout":
	default:
		return nil, "", false
	}
	labels, _, _ := unstructured.NestedStringMap(o.Object, append(append([]string{}, path...), "metadata", "labels")...)
	sa, _, _ := unstructured.NestedString(o.Object, append(append([]string{}, path...), "spec", "serviceAccountName")...)
	if sa == "" {
		sa, _, _ = unstructured.NestedString(o.Object, append(append([]string{}, path...), "spec", "serviceAccount")...)
	}
	return labels, sa, true
}

// setIdentities gives each design service the service account of the workloads its Kubernetes
// Service selects (Istio's bookinfo runs reviews as "bookinfo-reviews"), when all of them name the
// same account and the importer left the default identity. It returns one note per change.
func setIdentities(d *spec.Design, objs []*unstructured.Unstructured) []string {
	type workload struct {
		ns, sa string
		labels map[string]string
	}
	var wls []workload
	selectors := map[string]map[string]string{}
	// Objects without a namespace (none of the inputs had one) are in the design's namespace.
	nsOf := func(o *unstructured.Unstructured) string {
		if n := o.GetNamespace(); n != "" {
			return n
		}
		return d.Metadata.Namespace
	}
	for _, o := range objs {
		if o.GetKind() == "Service" && o.GroupVersionKind().Group == "" {
			sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector")
			selectors[nsOf(o)+"/"+o.GetName()] = sel
			continue
		}
		if !isWorkloadObject(o) {
			continue
		}
		if labels, sa, ok := podTemplate(o); ok && sa != "" {
			wls = append(wls, workload{nsOf(o), sa, labels})
		}
	}
	var notes []string
	for i := range d.Spec.Services {
		s := &d.Spec.Services[i]
		if s.Identity != "" && s.Identity != s.Name {
			continue
		}
		ns := s.Namespace
		if ns == "" {
			ns = d.Metadata.Namespace
		}
		sel := selectors[ns+"/"+s.Name]
		if len(sel) == 0 {
			continue
		}
		accounts := map[string]bool{}
		for _, w := range wls {
			if w.ns == ns && labelsMatch(sel, w.labels) {
				accounts[w.sa] = true
			}
		}
		if len(accounts) != 1 {
			continue
		}
		for sa := range accounts {
			if sa != s.Name {
				s.Identity = sa
				notes = append(notes, fmt.Sprintf("service %s: identity %s (the service account of the workloads it selects)", s.Name, sa))
			}
		}
	}
	return notes
}

func labelsMatch(selector, labels map[string]string) bool {
	for k, v := range selector {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// kindCounts describes objects by kind: "3 objects (Deployment ×2, Service)".
func kindCounts(objs []*unstructured.Unstructured) string {
	if len(objs) == 0 {
		return "no objects"
	}
	counts := map[string]int{}
	for _, o := range objs {
		k := o.GetKind()
		if k == "" {
			k = "config entry"
			if v, _ := o.Object["Kind"].(string); v != "" {
				k = v
			} else if v, _ := o.Object["kind"].(string); v != "" {
				k = v
			}
		}
		counts[k]++
	}
	var parts []string
	for _, k := range sortedStringKeys(counts) {
		if counts[k] > 1 {
			parts = append(parts, fmt.Sprintf("%s ×%d", k, counts[k]))
		} else {
			parts = append(parts, k)
		}
	}
	noun := "objects"
	if len(objs) == 1 {
		noun = "object"
	}
	return fmt.Sprintf("%d %s (%s)", len(objs), noun, strings.Join(parts, ", "))
}

// importSummary is the closing line of `trellis import` on stderr.
func importSummary(source string, files, objs, workloads int, d *spec.Design, warnings int) string {
	access := 0
	if d.Spec.Security != nil {
		access = len(d.Spec.Security.Access)
	}
	s := fmt.Sprintf("imported %s from %s (%s): %s, %s, %s, %s; %s",
		plural(objs, "object"), plural(files, "file"), source, plural(len(d.Spec.Services), "service"),
		plural(len(d.Spec.ExternalServices), "external service"), pluralPolicy(len(d.Spec.Traffic)),
		plural(access, "access rule"), plural(warnings, "warning"))
	if workloads > 0 {
		s += fmt.Sprintf("; %s read for identities only", plural(workloads, "workload object"))
	}
	return s
}

// pluralPolicy formats "1 traffic policy" or "3 traffic policies".
func pluralPolicy(n int) string {
	if n == 1 {
		return "1 traffic policy"
	}
	return fmt.Sprintf("%d traffic policies", n)
}

// dedupeObjects drops repeated objects (same group, kind, namespace and name), as when a
// directory holds both an app's manifest and a `kubectl get -o yaml` dump: the last one wins, as
// with kubectl apply. It returns the objects in input order and a note per differing duplicate.
func dedupeObjects(inputs []importFile) ([]*unstructured.Unstructured, []string) {
	type seen struct {
		file string
		idx  int
	}
	key := func(o *unstructured.Unstructured) string {
		if o.GetAPIVersion() == "" {
			// Bare Consul config entries: Kind and Name.
			return fmt.Sprintf("entry/%v/%v/%v/%v", o.Object["Kind"], o.Object["kind"], o.Object["Name"], o.Object["name"])
		}
		return o.GroupVersionKind().Group + "/" + o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
	}
	var out []*unstructured.Unstructured
	var notes []string
	index := map[string]seen{}
	for _, in := range inputs {
		for _, o := range in.objs {
			k := key(o)
			if prev, ok := index[k]; ok {
				old := out[prev.idx]
				if !equalObjects(old, o) {
					notes = append(notes, fmt.Sprintf("%s %s/%s is defined in %s and again in %s: the later one is used",
						o.GetKind(), o.GetNamespace(), o.GetName(), prev.file, in.path))
				}
				out[prev.idx] = o
				index[k] = seen{in.path, prev.idx}
				continue
			}
			index[k] = seen{in.path, len(out)}
			out = append(out, o)
		}
	}
	return out, notes
}

func equalObjects(a, b *unstructured.Unstructured) bool {
	ja, err1 := a.MarshalJSON()
	jb, err2 := b.MarshalJSON()
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// emptyDesign reports whether an import produced nothing: no service, external service, route,
// security, telemetry or extension.
func emptyDesign(d *spec.Design) bool {
	return len(d.Spec.Services) == 0 && len(d.Spec.ExternalServices) == 0 && len(d.Spec.Traffic) == 0 &&
		d.Spec.Security == nil && d.Spec.Telemetry == nil && len(d.Spec.Extensions) == 0
}

// sameNameServices describes services of one name imported from several namespaces ("httpbin
// is in namespaces bar and foo"), or "" when there are none.
func sameNameServices(d *spec.Design) string {
	nss := map[string][]string{}
	for _, s := range d.Spec.Services {
		ns := s.Namespace
		if ns == "" {
			ns = d.Metadata.Namespace
		}
		nss[s.Name] = append(nss[s.Name], ns)
	}
	var out []string
	for _, n := range sortedStringKeys(nss) {
		if len(nss[n]) > 1 {
			sort.Strings(nss[n])
			out = append(out, fmt.Sprintf("%s is in namespaces %s", n, strings.Join(nss[n], " and ")))
		}
	}
	return strings.Join(out, ", ")
}
