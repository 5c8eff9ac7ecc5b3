package istio

import (
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// nameLabels are pod labels that conventionally carry a workload's name, tried (in this order)
// when a workload selector has no app label and no label names a known service.
var nameLabels = []string{"app.kubernetes.io/name", "service", "k8s-app", "name", "app.kubernetes.io/instance", "component"}

// selectorApp returns the design service an object's workload selector (selector.matchLabels)
// selects, "" when it has none or its labels name no service.
func (im *importer) selectorApp(o *unstructured.Unstructured, s map[string]any) string {
	return im.labelsService(o, "spec.selector.matchLabels", mp(mp(s, "selector"), "matchLabels"))
}

// selectorCandidate is the labels of one workload selector naming a service.
type selectorCandidate struct {
	labels map[string]string
	// obj and field locate the selector, for warnings.
	obj   *unstructured.Unstructured
	field string
}

// labelsService resolves workload-selector labels to a service name: a Kubernetes Service whose
// selector the labels include, else the app label (the default selector), else a label whose
// value names a known service, else a conventional name label (nameLabels). Labels that select
// a gateway resolve to "". The labels are remembered as a selector candidate of the service;
// candidates become the service's selector when the import finishes (see selectors).
func (im *importer) labelsService(o *unstructured.Unstructured, field string, raw map[string]any) string {
	ns := o.GetNamespace()
	labels := map[string]string{}
	for k, v := range raw {
		if s, ok := v.(string); ok {
			labels[k] = s
		}
	}
	if len(labels) == 0 || gatewayWorkload(raw) {
		return ""
	}
	// The most specific Kubernetes Service wins; among equally specific ones, one named by a label.
	name, best := "", 0
	named := map[string]bool{}
	for _, v := range labels {
		named[v] = true
	}
	for _, k := range sortedKeys(im.kubeSel) {
		kns, kname, _ := strings.Cut(k, "/")
		sel := im.kubeSel[k]
		if (kns != ns && ns != rootNamespace) || !labelsInclude(labels, sel) {
			continue
		}
		if len(sel) > best || (len(sel) == best && named[kname] && !named[name]) {
			name, best = kname, len(sel)
		}
	}
	if name == "" {
		name = labels[AppLabel]
	}
	if name == "" {
		for _, k := range sortedKeys(labels) {
			if _, known := im.services[ns+"/"+labels[k]]; known {
				name = labels[k]
				break
			}
			if _, known := im.kubeSel[ns+"/"+labels[k]]; known {
				name = labels[k]
				break
			}
		}
	}
	for _, k := range nameLabels {
		if name != "" {
			break
		}
		if v := labels[k]; isDNSLabel(v) {
			name = v
		}
	}
	if name == "" {
		return ""
	}
	key := ns + "/" + name
	if im.selCands == nil {
		im.selCands = map[string][]selectorCandidate{}
	}
	im.selCands[key] = append(im.selCands[key], selectorCandidate{labels: labels, obj: o, field: field})
	return name
}

// selectors sets the selector of every service that has none yet (no Kubernetes Service gave
// it): the labels every workload selector naming the service shares, unless they carry the
// default app=<name> (the default then fits; extra labels restrict a policy to some pods) and
// leaving out labels a version gives another value (a policy of one version); else, from its
// versions when they contradict the default. What cannot be expressed is
// reported.
func (im *importer) selectors() {
	for _, k := range im.order {
		s := im.services[k]
		if len(s.Selector) > 0 {
			continue
		}
		if cands := im.selCands[k]; len(cands) > 0 {
			sets := make([]map[string]string, len(cands))
			for i, c := range cands {
				sets[i] = c.labels
			}
			common := spec.CommonLabels(sets...)
			dropVersionKeys(common, s.Versions)
			if len(common) > 0 && common[AppLabel] != s.Name {
				s.Selector = common
			}
		}
		if !s.InferSelector() {
			im.warnings = append(im.warnings, adapters.Warning{Path: "DestinationRule " + k + ": spec.subsets", Mesh: Name, Feature: adapters.FeatureWeightedSplit, Severity: adapters.SeverityWarning,
				Lost: "the subsets select pods with different app labels and share no label: no selector covers service " + s.Name + "; set its selector (and the versions' labels) by hand"})
		}
		im.narrowSelectors(s, im.selCands[k])
	}
}

// narrowSelectors reports the workload selectors of a service that select only some of its pods
// (labels beyond the service's selector, such as version=v2): the design applies their policies
// to the whole service.
func (im *importer) narrowSelectors(s *spec.Service, cands []selectorCandidate) {
	sel := s.SelectorLabels()
	seen := map[string]bool{}
	for _, c := range cands {
		var extra []string
		for _, l := range sortedKeys(c.labels) {
			if sel[l] != c.labels[l] {
				extra = append(extra, l+"="+c.labels[l])
			}
		}
		ref := c.obj.GetKind() + "/" + c.obj.GetNamespace() + "/" + c.obj.GetName()
		if len(extra) == 0 || seen[ref] {
			continue
		}
		seen[ref] = true
		im.warn(c.obj, c.field, "", "selects only the pods of "+s.Name+" also labelled "+strings.Join(extra, ", ")+
			": the design has no per-pod policies, so it applies to every pod of the service")
	}
}

// kubeSelector records a Kubernetes Service's selector and makes it the service's.
func (im *importer) kubeSelector(o *unstructured.Unstructured, svc *spec.Service, s map[string]any) {
	sel := map[string]string{}
	for k, v := range mp(s, "selector") {
		if str, ok := v.(string); ok {
			sel[k] = str
		}
	}
	if len(sel) == 0 {
		return
	}
	im.kubeSel[o.GetNamespace()+"/"+o.GetName()] = sel
	if len(sel) != 1 || sel[AppLabel] != svc.Name {
		svc.Selector = sel
	}
}

// labelsInclude reports whether labels carry every label of sel.
func labelsInclude(labels, sel map[string]string) bool {
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// dropVersionKeys removes from sel the labels some version gives another value: they restrict
// a policy to one version (as version=v2 does), they do not select the service.
func dropVersionKeys(sel map[string]string, versions []spec.Version) {
	for _, v := range versions {
		for k, val := range v.Labels {
			if s, ok := sel[k]; ok && s != val {
				delete(sel, k)
			}
		}
	}
}

// isDNSLabel reports whether s can be a service name (a DNS-1123 label).
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
