package linkerd

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// versionCandidate is a Service "<base>-<version>" that selects one version of service base.
type versionCandidate struct {
	obj  *unstructured.Unstructured
	base string
	sel  map[string]string
	// key is the label whose value is base (when the base Service is not among the objects).
	key string
}

// versionServices turns per-version Services into versions. A Service "<base>-<version>" is a
// version of base when the Service base is among the objects and its selector is a strict subset
// of this one's, or else when one of its selector's labels (app first) has the value base. The
// service's selector is then the base Service's selector; without a base Service, it is the
// labels every per-version Service shares (narrowed to a Server's pod selector of the service when
// one fits), or the default {app: <base>} when the versions carry it.
func (im *importer) versionServices() {
	full := map[string]map[string]string{} // ns/name -> selector of every Service with one
	for _, o := range im.byKind["/Service"] {
		if sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector"); len(sel) > 0 {
			full[o.GetNamespace()+"/"+o.GetName()] = sel
		}
	}
	groups := map[string][]versionCandidate{}
	var order []string
	for _, o := range im.byKind["/Service"] {
		sel := full[o.GetNamespace()+"/"+o.GetName()]
		if len(sel) < 2 {
			continue
		}
		c, ok := versionOf(o, sel, full)
		if !ok {
			continue
		}
		k := o.GetNamespace() + "/" + c.base
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], c)
	}
	for _, k := range order {
		cs := groups[k]
		ns, base, _ := strings.Cut(k, "/")
		selector, ok := full[k]
		if !ok && len(cs) == 1 && !versionLike(cs[0]) {
			// One Service whose name merely starts with a label value (Helm's
			// "<release>-<chart>" Services select app.kubernetes.io/instance: <release>) is a
			// service of its own, not the only version of an unseen one.
			continue
		}
		if !ok {
			selector = im.inferredSelector(ns, cs)
		}
		s := im.service(ns, base)
		if !isDefaultSelector(base, selector) {
			s.Selector = selector
		}
		for _, c := range cs {
			labels := map[string]string{}
			for l, v := range c.sel {
				if selector[l] != v {
					labels[l] = v
				}
			}
			s.Versions = append(s.Versions, spec.Version{Name: strings.TrimPrefix(c.obj.GetName(), base+"-"), Labels: labels})
			im.servicePorts(c.obj, s)
			im.accrual(c.obj, s)
			c.obj.Object["__version"] = true
		}
	}
}

// versionOf reports whether Service o (with selector sel) selects a version of another service.
func versionOf(o *unstructured.Unstructured, sel map[string]string, full map[string]map[string]string) (versionCandidate, bool) {
	name := o.GetName()
	for i := strings.LastIndex(name, "-"); i > 0; i = strings.LastIndex(name[:i], "-") {
		baseSel, ok := full[o.GetNamespace()+"/"+name[:i]]
		if ok && len(baseSel) < len(sel) && subset(baseSel, sel) {
			return versionCandidate{obj: o, base: name[:i], sel: sel}, true
		}
	}
	keys := make([]string, 0, len(sel))
	for k := range sel {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if (keys[i] == appLabel) != (keys[j] == appLabel) {
			return keys[i] == appLabel
		}
		return keys[i] < keys[j]
	})
	for _, k := range keys {
		if v := sel[k]; v != "" && strings.HasPrefix(name, v+"-") {
			return versionCandidate{obj: o, base: v, sel: sel, key: k}, true
		}
	}
	return versionCandidate{}, false
}

// versionLike reports whether the labels a per-version Service adds to its base's label name a
// version: the version name is one of their values, under a key that says version or track
// (version, app.kubernetes.io/version, track). Chart labels such as app.kubernetes.io/name do not.
func versionLike(c versionCandidate) bool {
	v := strings.TrimPrefix(c.obj.GetName(), c.base+"-")
	for k, val := range c.sel {
		if k == c.key {
			continue
		}
		lk := strings.ToLower(k)
		if val == v && (strings.Contains(lk, "version") || strings.Contains(lk, "track")) {
			return true
		}
	}
	return false
}

// inferredSelector returns the selector of a service known only from its per-version Services.
func (im *importer) inferredSelector(ns string, cs []versionCandidate) map[string]string {
	sets := make([]map[string]string, len(cs))
	defaultFits := true
	for i, c := range cs {
		sets[i] = c.sel
		if c.sel[appLabel] != cs[0].base {
			defaultFits = false
		}
	}
	common := spec.CommonLabels(sets...)
	if len(cs) == 1 {
		// One version: only the label naming the service is known to be shared.
		common = map[string]string{cs[0].key: cs[0].base}
	}
	// A Server of the service selects exactly its pods: prefer its selector when it fits.
	for _, o := range im.byKind["policy.linkerd.io/Server"] {
		sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "podSelector", "matchLabels")
		if o.GetNamespace() == ns && len(sel) > 0 && subset(sel, common) && sel[cs[0].key] == cs[0].base {
			return sel
		}
	}
	if defaultFits {
		return map[string]string{appLabel: cs[0].base}
	}
	return common
}

// kubeSelector sets the selector of a service from its (full) Kubernetes Service.
func (im *importer) kubeSelector(o *unstructured.Unstructured, s *spec.Service) {
	sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector")
	if len(sel) > 0 && len(s.Selector) == 0 && !isDefaultSelector(s.Name, sel) {
		s.Selector = sel
	}
}

// serverService finds the service a Server's pod selector selects: the service with that
// selector, else the service named by the app label or by a label value that names a known
// service (or prefixes the Server's name), else the Server's name without its port suffix. A
// service without a selector of its own takes the Server's.
func (im *importer) serverService(o *unstructured.Unstructured, ns string, sel map[string]string) *spec.Service {
	if exprs, _, _ := unstructured.NestedSlice(o.Object, "spec", "podSelector", "matchExpressions"); len(exprs) > 0 {
		im.warn(o, adapters.FeatureAuthzAllow, "podSelector.matchExpressions cannot be expressed in a design (a service's selector is labels only): only matchLabels are imported")
	}
	for _, k := range im.svcOrder {
		if s := im.svcs[k]; s.Namespace == ns && equalLabels(s.SelectorLabels(), sel) {
			return s
		}
	}
	var s *spec.Service
	if app, ok := sel[appLabel]; ok {
		s = im.service(ns, app)
	} else {
		for _, k := range sortedKeys(sel) {
			v := sel[k]
			if _, known := im.svcs[ns+"/"+v]; known || strings.HasPrefix(o.GetName(), v+"-") {
				s = im.service(ns, v)
				break
			}
		}
	}
	if s == nil {
		name := o.GetName()
		if i := strings.LastIndex(name, "-"); i > 0 {
			name = name[:i]
		}
		s = im.service(ns, name)
	}
	if len(s.Selector) == 0 && len(sel) > 0 && !isDefaultSelector(s.Name, sel) && len(s.Versions) == 0 {
		s.Selector = sel
	}
	own := s.SelectorLabels()
	var extra []string
	for _, k := range sortedKeys(sel) {
		if own[k] != sel[k] {
			extra = append(extra, k+"="+sel[k])
		}
	}
	if len(extra) > 0 {
		im.warn(o, adapters.FeatureAuthzAllow, "podSelector selects only the pods of %s also labelled %s: the design has no per-pod policies, so the Server's policies apply to every pod of the service", s.Name, strings.Join(extra, ", "))
	}
	return s
}

// isDefaultSelector reports whether sel is the default selector of service name.
func isDefaultSelector(name string, sel map[string]string) bool {
	return len(sel) == 1 && sel[appLabel] == name
}

// subset reports whether every label of a is in b with the same value.
func subset(a, b map[string]string) bool {
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
