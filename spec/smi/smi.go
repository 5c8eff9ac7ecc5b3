// Package smi imports Service Mesh Interface resources into Trellis designs: TrafficSplit
// (split.smi-spec.io v1alpha1–v1alpha4), HTTPRouteGroup and TCPRoute (specs.smi-spec.io
// v1alpha1–v1alpha4) and TrafficTarget (access.smi-spec.io v1alpha1–v1alpha3). SMI was archived in
// 2023; this importer lets its users carry their intent over to any mesh Trellis translates to.
//
// Real-world SMI files differ by version: v1alpha1/v1alpha2 route groups keep "matches" at the top
// level instead of under "spec", v1alpha1 split weights are Kubernetes quantities ("500m"), and
// route-group headers are written either as a map or as a list of one-entry maps. All are read.
package smi

import (
	"context"
	"fmt"
	"regexp"
	"regexp/syntax"
	"sort"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
	"github.com/trellis-mesh/trellis/spec"
)

// Source is the name this importer reports in warnings.
const Source = "smi"

// API groups of the SMI resources.
const (
	GroupSplit  = "split.smi-spec.io"
	GroupSpecs  = "specs.smi-spec.io"
	GroupAccess = "access.smi-spec.io"
)

// Options tunes an import.
type Options struct {
	// Name is the design's name. Default: the namespace of the objects, or "smi".
	Name string
	// Namespace is the design's namespace. Default: the namespace most objects are in, or "default".
	Namespace string
}

// importer holds the state of one import.
type importer struct {
	ns       string
	design   *spec.Design
	warnings []adapters.Warning
	groups   map[string]*unstructured.Unstructured // "ns/name" -> HTTPRouteGroup
	tcp      map[string]*unstructured.Unstructured // "ns/name" -> TCPRoute
	services map[string]int                        // service name -> index in design.Spec.Services
}

func (im *importer) warn(path string, feature adapters.Feature, sev adapters.Severity, format string, args ...any) {
	im.warnings = append(im.warnings, adapters.Warning{
		Path: path, Mesh: Source, Feature: feature, Severity: sev, Lost: fmt.Sprintf(format, args...),
	})
}

// Import builds a design from SMI objects. Objects of other API groups are reported as warnings
// and skipped. The design is defaulted and validated; an error lists every violation.
func Import(ctx context.Context, objs []*unstructured.Unstructured, opts Options) (*spec.Design, []adapters.Warning, error) {
	im := &importer{
		groups:   map[string]*unstructured.Unstructured{},
		tcp:      map[string]*unstructured.Unstructured{},
		services: map[string]int{},
	}
	im.ns = opts.Namespace
	if im.ns == "" {
		im.ns = majorityNamespace(objs)
	}
	name := opts.Name
	if name == "" {
		name = im.ns
		if name == "" || name == "default" {
			name = "smi"
		}
	}
	im.design = &spec.Design{APIVersion: spec.APIVersion, Kind: spec.Kind, Metadata: spec.Metadata{Name: name, Namespace: im.ns}}

	var splits, targets []*unstructured.Unstructured
	selectors := map[string]map[string]string{}
	kubePorts := map[string][]spec.Port{}
	for _, o := range sorted(objs) {
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		group := o.GroupVersionKind().Group
		ref := fmt.Sprintf("%s %s/%s", o.GetKind(), namespaceOf(o, im.ns), o.GetName())
		switch {
		case group == GroupSplit && o.GetKind() == "TrafficSplit":
			splits = append(splits, o)
		case group == GroupSpecs && o.GetKind() == "HTTPRouteGroup":
			im.groups[key(namespaceOf(o, im.ns), o.GetName())] = o
		case group == GroupSpecs && o.GetKind() == "TCPRoute":
			im.tcp[key(namespaceOf(o, im.ns), o.GetName())] = o
		case group == GroupSpecs && o.GetKind() == "UDPRoute":
			im.warn(ref, adapters.FeatureAuthzConditions, adapters.SeverityWarning, "UDPRoute is not supported by Trellis designs; skipped")
		case group == GroupAccess && o.GetKind() == "TrafficTarget":
			targets = append(targets, o)
		case group == "" && o.GetKind() == "Service":
			// A Kubernetes Service gives the selector of the service of the same name.
			sel, _, _ := unstructured.NestedStringMap(o.Object, "spec", "selector")
			selectors[namespaceOf(o, im.ns)+"/"+o.GetName()] = sel
			// And its ports: without them every service would get the default port 80.
			kubePorts[namespaceOf(o, im.ns)+"/"+o.GetName()] = servicePorts(o)
		case strings.HasSuffix(group, ".smi-spec.io"):
			// TrafficMetrics (metrics.smi-spec.io) and kinds of later drafts: SMI, but nothing
			// a design holds.
			im.warn(ref, "", adapters.SeverityInfo, "SMI kind %s (%s) has no design equivalent; skipped", o.GetKind(), o.GetAPIVersion())
		default:
			im.warn(ref, "", adapters.SeverityInfo, "not an SMI resource (%s); skipped", o.GetAPIVersion())
		}
	}
	for _, s := range splits {
		im.importSplit(s)
	}
	if len(targets) > 0 {
		sec := &spec.Security{MTLS: spec.MTLSStrict, DefaultPolicy: spec.ActionDeny}
		im.design.Spec.Security = sec
		for _, t := range targets {
			im.importTarget(t)
		}
	}
	d := im.design
	d.SetSelectors(selectors)
	for i := range d.Spec.Services {
		sv := &d.Spec.Services[i]
		ns := sv.Namespace
		if ns == "" {
			ns = im.ns
		}
		if ps := kubePorts[ns+"/"+sv.Name]; len(sv.Ports) == 0 && len(ps) > 0 {
			sv.Ports = ps
		}
	}
	d.SimplifyWeights()
	d.Default()
	if vs := d.Validate(); len(vs) > 0 {
		return d, im.warnings, &spec.ValidationError{Violations: vs}
	}
	adapters.SortWarnings(im.warnings)
	return d, im.warnings, nil
}

// service returns the index of the named service, declaring it when new.
func (im *importer) service(name string) int {
	if i, ok := im.services[name]; ok {
		return i
	}
	im.design.Spec.Services = append(im.design.Spec.Services, spec.Service{Name: name})
	i := len(im.design.Spec.Services) - 1
	im.services[name] = i
	return i
}

// serviceName turns an SMI service reference ("reviews", "reviews.ns", "reviews.ns.svc.cluster.local")
// into a design service name, warning when it points into another namespace.
func (im *importer) serviceName(ref, path string) string {
	parts := strings.Split(ref, ".")
	if len(parts) > 1 && parts[1] != im.ns && parts[1] != "" {
		im.warn(path, adapters.FeatureWeightedSplit, adapters.SeverityWarning,
			"service %q is in namespace %q; imported as a service of the design's namespace %q", ref, parts[1], im.ns)
	}
	return parts[0]
}

func (im *importer) importSplit(o *unstructured.Unstructured) {
	ref := fmt.Sprintf("TrafficSplit %s/%s", namespaceOf(o, im.ns), o.GetName())
	specMap := specOf(o)
	root, _ := specMap["service"].(string)
	if root == "" {
		im.warn(ref+".spec.service", adapters.FeatureWeightedSplit, adapters.SeverityError, "spec.service is empty; split skipped")
		return
	}
	rootName := im.serviceName(root, ref+".spec.service")
	im.service(rootName)
	for _, tp := range im.design.Spec.Traffic {
		if tp.Service == rootName {
			im.warn(ref, adapters.FeatureWeightedSplit, adapters.SeverityError,
				"a second TrafficSplit for service %q; SMI leaves the result undefined, only the first (by name) is imported", rootName)
			return
		}
	}
	rawBackends, _ := specMap["backends"].([]any)
	var backends []spec.Backend
	var total int64
	for i, rb := range rawBackends {
		bm, _ := rb.(map[string]any)
		svc, _ := bm["service"].(string)
		path := fmt.Sprintf("%s.spec.backends[%d]", ref, i)
		if svc == "" {
			im.warn(path, adapters.FeatureWeightedSplit, adapters.SeverityError, "backend without a service; skipped")
			continue
		}
		w, ok := weight(bm["weight"])
		if !ok {
			im.warn(path+".weight", adapters.FeatureWeightedSplit, adapters.SeverityError, "weight %v is not a number or quantity; backend skipped", bm["weight"])
			continue
		}
		name := im.serviceName(svc, path+".service")
		im.service(name)
		b := spec.Backend{Weight: int32(min(w, 1<<30))}
		if name != rootName {
			b.Service = name
		}
		backends = append(backends, b)
		total += w
	}
	if len(backends) == 0 {
		im.warn(ref+".spec.backends", adapters.FeatureWeightedSplit, adapters.SeverityError, "no usable backends; split skipped")
		return
	}
	if total == 0 {
		im.warn(ref+".spec.backends", adapters.FeatureWeightedSplit, adapters.SeverityError, "every backend has weight 0; split skipped")
		return
	}
	scaleWeights(backends, total, func(f string, a ...any) {
		im.warn(ref+".spec.backends", adapters.FeatureWeightedSplit, adapters.SeverityInfo, f, a...)
	})
	tp := spec.TrafficPolicy{Service: rootName}
	matches, _ := specMap["matches"].([]any)
	if len(matches) == 0 {
		tp.Routes = []spec.Route{{Name: "split", Backends: backends}}
	} else {
		var ms []spec.Match
		for i, rm := range matches {
			mm, _ := rm.(map[string]any)
			kind, _ := mm["kind"].(string)
			gname, _ := mm["name"].(string)
			path := fmt.Sprintf("%s.spec.matches[%d]", ref, i)
			if kind != "" && kind != "HTTPRouteGroup" {
				im.warn(path, adapters.FeaturePathMatch, adapters.SeverityWarning, "match kind %q is not supported in splits; skipped", kind)
				continue
			}
			g, ok := im.groups[key(namespaceOf(o, im.ns), gname)]
			if !ok {
				im.warn(path, adapters.FeaturePathMatch, adapters.SeverityError, "HTTPRouteGroup %q not found among the imported objects; match skipped", gname)
				continue
			}
			for _, gm := range groupMatches(g) {
				ms = append(ms, im.routeMatches(gm, fmt.Sprintf("HTTPRouteGroup %s/%s", namespaceOf(g, im.ns), g.GetName()))...)
			}
		}
		if len(ms) == 0 {
			im.warn(ref+".spec.matches", adapters.FeaturePathMatch, adapters.SeverityError,
				"no match could be imported; the split is not applied (unmatched traffic goes to the root service)")
		} else {
			tp.Routes = append(tp.Routes, spec.Route{Name: "split", Match: ms, Backends: backends})
		}
		// SMI: traffic no match selects goes to the root service itself.
		tp.Routes = append(tp.Routes, spec.Route{Name: "default"})
	}
	im.design.Spec.Traffic = append(im.design.Spec.Traffic, tp)
}

// routeMatches turns one HTTPRouteGroup match into design matches: one per method, since a design
// match has a single method.
func (im *importer) routeMatches(gm map[string]any, ref string) []spec.Match {
	name, _ := gm["name"].(string)
	path := ref + ".matches[" + strconv.Quote(name) + "]"
	base := spec.Match{}
	if re, _ := gm["pathRegex"].(string); re != "" && re != ".*" && re != "/.*" {
		if _, err := regexp.Compile(re); err != nil {
			im.warn(path+".pathRegex", adapters.FeaturePathMatch, adapters.SeverityError, "pathRegex %q is not RE2: %v; path condition dropped", re, err)
		} else if lit, ok := literalPath(re); ok {
			base.Path = &spec.PathMatch{Exact: lit}
		} else {
			base.Path = &spec.PathMatch{Regex: re}
		}
	}
	for hn, hv := range headers(gm["headers"]) {
		if base.Headers == nil {
			base.Headers = map[string]spec.StringMatch{}
		}
		if _, err := regexp.Compile(hv); err != nil {
			im.warn(path+".headers."+hn, adapters.FeatureHeaderMatch, adapters.SeverityError, "header regex %q is not RE2: %v; condition dropped", hv, err)
			continue
		}
		if regexp.QuoteMeta(hv) == hv {
			base.Headers[strings.ToLower(hn)] = spec.StringMatch{Exact: hv}
		} else {
			base.Headers[strings.ToLower(hn)] = spec.StringMatch{Regex: hv}
		}
	}
	methods := strSlice(gm["methods"])
	var out []spec.Match
	for _, m := range methods {
		if m == "*" {
			return []spec.Match{base}
		}
		mm := base
		mm.Method = strings.ToUpper(m)
		out = append(out, mm)
	}
	if len(out) == 0 {
		out = []spec.Match{base}
	}
	return out
}

func (im *importer) importTarget(o *unstructured.Unstructured) {
	ref := fmt.Sprintf("TrafficTarget %s/%s", namespaceOf(o, im.ns), o.GetName())
	sp := specOf(o)
	dst, _ := sp["destination"].(map[string]any)
	dstSA, _ := dst["name"].(string)
	if dstSA == "" {
		im.warn(ref+".spec.destination", adapters.FeatureAuthzAllow, adapters.SeverityError, "destination has no service account name; target skipped")
		return
	}
	if k, _ := dst["kind"].(string); k != "" && k != "ServiceAccount" {
		im.warn(ref+".spec.destination.kind", adapters.FeatureAuthzAllow, adapters.SeverityError, "destination kind %q is not ServiceAccount; target skipped", k)
		return
	}
	dstSvc := im.serviceForIdentity(dstSA, ref)
	var sources []spec.Source
	for i, rs := range anySlice(sp["sources"]) {
		sm, _ := rs.(map[string]any)
		sa, _ := sm["name"].(string)
		if sa == "" {
			im.warn(fmt.Sprintf("%s.spec.sources[%d]", ref, i), adapters.FeatureAuthzAllow, adapters.SeverityError, "source without a service account name; skipped")
			continue
		}
		src := spec.Source{Identity: sa}
		if ns, _ := sm["namespace"].(string); ns != "" && ns != im.ns {
			src.Namespace = ns
		}
		sources = append(sources, src)
	}
	if len(sources) == 0 {
		im.warn(ref+".spec.sources", adapters.FeatureAuthzAllow, adapters.SeverityError, "no usable sources; target skipped (traffic stays denied)")
		return
	}
	rule := spec.AccessRule{Name: sanitize(o.GetName()), Destination: dstSvc, Action: spec.ActionAllow, Sources: sources}
	rules := anySlice(sp["rules"])
	if rules == nil {
		rules = anySlice(sp["specs"]) // v1alpha1
	}
	allRequests := false
	for i, rr := range rules {
		rm, _ := rr.(map[string]any)
		kind, _ := rm["kind"].(string)
		name, _ := rm["name"].(string)
		path := fmt.Sprintf("%s.spec.rules[%d]", ref, i)
		wanted := map[string]bool{}
		for _, m := range strSlice(rm["matches"]) {
			wanted[m] = true
		}
		switch kind {
		case "HTTPRouteGroup":
			g, ok := im.groups[key(namespaceOf(o, im.ns), name)]
			if !ok {
				im.warn(path, adapters.FeatureAuthzConditions, adapters.SeverityError, "HTTPRouteGroup %q not found; its requests stay denied", name)
				continue
			}
			for _, gm := range groupMatches(g) {
				mname, _ := gm["name"].(string)
				if len(wanted) > 0 && !wanted[mname] {
					continue
				}
				if c, ok := im.accessCondition(gm, path+".matches["+strconv.Quote(mname)+"]"); ok {
					if c == nil {
						allRequests = true
					} else {
						rule.When = append(rule.When, *c)
					}
				}
			}
		case "TCPRoute":
			t, ok := im.tcp[key(namespaceOf(o, im.ns), name)]
			if !ok {
				im.warn(path, adapters.FeatureAuthzAllow, adapters.SeverityError, "TCPRoute %q not found; its connections stay denied", name)
				continue
			}
			var ports []int32
			if mm, ok := specOf(t)["matches"].(map[string]any); ok {
				for _, p := range anySlice(mm["ports"]) {
					if n, ok := toInt(p); ok && n > 0 && n < 65536 {
						ports = append(ports, int32(n))
					}
				}
			}
			if len(ports) == 0 {
				allRequests = true
			} else {
				rule.When = append(rule.When, spec.AccessCondition{Ports: ports})
			}
		default:
			im.warn(path, adapters.FeatureAuthzConditions, adapters.SeverityError, "rule kind %q is not supported; its requests stay denied", kind)
		}
	}
	if len(rules) == 0 || allRequests {
		rule.When = nil
	}
	if len(rules) > 0 && !allRequests && len(rule.When) == 0 {
		im.warn(ref+".spec.rules", adapters.FeatureAuthzAllow, adapters.SeverityError, "no rule could be imported; target skipped (traffic stays denied)")
		return
	}
	im.declareTCP(dstSvc, rule.When)
	im.design.Spec.Security.Access = append(im.design.Spec.Security.Access, rule)
}

// declareTCP makes a service that only TCPRoutes reach a tcp service on those ports, unless its
// ports are already known.
func (im *importer) declareTCP(name string, when []spec.AccessCondition) {
	var ports []spec.Port
	for _, c := range when {
		if len(c.Methods) > 0 || len(c.Paths) > 0 || len(c.Headers) > 0 || len(c.Ports) == 0 {
			return
		}
		for _, p := range c.Ports {
			ports = append(ports, spec.Port{Port: p})
		}
	}
	svc := &im.design.Spec.Services[im.services[name]]
	if len(ports) == 0 || len(svc.Ports) > 0 || svc.Protocol != "" {
		return
	}
	svc.Protocol = spec.ProtocolTCP
	svc.Ports = ports
}

// accessCondition converts an HTTPRouteGroup match into an access condition. It returns (nil,
// true) when the match allows every request, and false when it cannot be expressed: the match is
// then not imported, so access stays narrower than in SMI, never wider.
func (im *importer) accessCondition(gm map[string]any, path string) (*spec.AccessCondition, bool) {
	c := &spec.AccessCondition{}
	for _, m := range strSlice(gm["methods"]) {
		if m == "*" {
			c.Methods = nil
			break
		}
		c.Methods = append(c.Methods, strings.ToUpper(m))
	}
	if re, _ := gm["pathRegex"].(string); re != "" && re != ".*" && re != "/.*" {
		p, ok := accessPath(re)
		if !ok {
			im.warn(path+".pathRegex", adapters.FeatureAuthzConditions, adapters.SeverityError,
				"pathRegex %q is not an exact path or a prefix; access rules take exact paths and \"prefix*\" only, so this match is not imported and its requests stay denied", re)
			return nil, false
		}
		c.Paths = []string{p}
	}
	for hn, hv := range headers(gm["headers"]) {
		if c.Headers == nil {
			c.Headers = map[string]spec.StringMatch{}
		}
		c.Headers[strings.ToLower(hn)] = spec.StringMatch{Regex: hv}
	}
	if len(c.Methods) == 0 && len(c.Paths) == 0 && len(c.Headers) == 0 {
		return nil, true
	}
	return c, true
}

// serviceForIdentity finds the service whose identity is sa, declaring one named after the
// service account when none is known.
func (im *importer) serviceForIdentity(sa, ref string) string {
	for _, s := range im.design.Spec.Services {
		if s.Identity == sa || (s.Identity == "" && s.Name == sa) {
			return s.Name
		}
	}
	name := sanitize(sa)
	i := im.service(name)
	im.design.Spec.Services[i].Identity = sa
	im.warn(ref+".spec.destination", adapters.FeatureAuthzAllow, adapters.SeverityInfo,
		"SMI targets service accounts; assumed service account %q backs a service named %q (rename spec.services[%d] if not)", sa, name, i)
	return name
}

// scaleWeights keeps relative weights but brings them within the design's 0-10000 range.
func scaleWeights(bs []spec.Backend, total int64, note func(string, ...any)) {
	var max int64
	for _, b := range bs {
		max = maxI(max, int64(b.Weight))
	}
	if max <= 10000 {
		return
	}
	for i := range bs {
		bs[i].Weight = int32(int64(bs[i].Weight) * 10000 / total)
	}
	note("weights rescaled to parts of 10000 (relative shares kept within 0.01%%)")
}

func maxI(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// weight reads an SMI weight: an integer (v1alpha2+) or a quantity such as "500m" (v1alpha1,
// read in thousandths).
func weight(v any) (int64, bool) {
	if n, ok := toInt(v); ok {
		return n, n >= 0
	}
	s, ok := v.(string)
	if !ok {
		return 0, false
	}
	q, err := resource.ParseQuantity(s)
	if err != nil {
		return 0, false
	}
	return q.MilliValue(), q.MilliValue() >= 0
}

func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case float64:
		if n == float64(int64(n)) {
			return int64(n), true
		}
	}
	return 0, false
}

// literalPath reports whether re matches exactly one literal path, returning it.
func literalPath(re string) (string, bool) {
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "", false
	}
	r = r.Simplify()
	if r.Op == syntax.OpLiteral && r.Flags&syntax.FoldCase == 0 {
		s := string(r.Rune)
		if strings.HasPrefix(s, "/") {
			return s, true
		}
	}
	return "", false
}

// accessPath converts a path regex into an access-rule path: a literal path, or a literal prefix
// followed by ".*" (written "prefix*").
func accessPath(re string) (string, bool) {
	if lit, ok := literalPath(re); ok {
		return lit, true
	}
	r, err := syntax.Parse(re, syntax.Perl)
	if err != nil {
		return "", false
	}
	r = r.Simplify()
	if r.Op == syntax.OpConcat && len(r.Sub) == 2 && r.Sub[0].Op == syntax.OpLiteral && r.Sub[0].Flags&syntax.FoldCase == 0 {
		tail := r.Sub[1]
		if tail.Op == syntax.OpStar && len(tail.Sub) == 1 && (tail.Sub[0].Op == syntax.OpAnyCharNotNL || tail.Sub[0].Op == syntax.OpAnyChar) {
			prefix := string(r.Sub[0].Rune)
			if strings.HasPrefix(prefix, "/") {
				return prefix + "*", true
			}
		}
	}
	return "", false
}

// groupMatches returns an HTTPRouteGroup's matches, under spec (v1alpha3+) or at the top level
// (v1alpha1/v1alpha2).
func groupMatches(g *unstructured.Unstructured) []map[string]any {
	raw := anySlice(specOf(g)["matches"])
	if raw == nil {
		raw = anySlice(g.Object["matches"])
	}
	out := make([]map[string]any, 0, len(raw))
	for _, r := range raw {
		if m, ok := r.(map[string]any); ok {
			out = append(out, m)
		}
	}
	return out
}

// headers reads route-group headers written as a map or as a list of one-entry maps.
func headers(v any) map[string]string {
	out := map[string]string{}
	switch h := v.(type) {
	case map[string]any:
		for k, val := range h {
			if s, ok := val.(string); ok {
				out[k] = s
			}
		}
	case []any:
		for _, e := range h {
			if m, ok := e.(map[string]any); ok {
				for k, val := range m {
					if s, ok := val.(string); ok {
						out[k] = s
					}
				}
			}
		}
	}
	return out
}

// specOf returns the object's spec, or for the v1alpha1 forms without one, the object itself.
func specOf(o *unstructured.Unstructured) map[string]any {
	if s, ok := o.Object["spec"].(map[string]any); ok {
		return s
	}
	return o.Object
}

func anySlice(v any) []any {
	s, _ := v.([]any)
	return s
}

func strSlice(v any) []string {
	var out []string
	for _, e := range anySlice(v) {
		if s, ok := e.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

var nonDNS = regexp.MustCompile(`[^a-z0-9-]+`)

// sanitize turns a Kubernetes name into a DNS-1123 label.
func sanitize(s string) string {
	s = nonDNS.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 63 {
		s = strings.TrimRight(s[:63], "-")
	}
	if s == "" {
		s = "imported"
	}
	return s
}

func key(ns, name string) string { return ns + "/" + name }

func namespaceOf(o *unstructured.Unstructured, def string) string {
	if ns := o.GetNamespace(); ns != "" {
		return ns
	}
	return def
}

// majorityNamespace returns the namespace most objects are in ("default" when none says).
func majorityNamespace(objs []*unstructured.Unstructured) string {
	count := map[string]int{}
	for _, o := range objs {
		if ns := o.GetNamespace(); ns != "" {
			count[ns]++
		}
	}
	best, n := "default", 0
	for ns, c := range count {
		if c > n || (c == n && ns < best) {
			best, n = ns, c
		}
	}
	return best
}

// sorted orders objects by kind, namespace and name so that imports are deterministic.
func sorted(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	out := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.GetKind() != b.GetKind() {
			return a.GetKind() < b.GetKind()
		}
		if a.GetNamespace() != b.GetNamespace() {
			return a.GetNamespace() < b.GetNamespace()
		}
		return a.GetName() < b.GetName()
	})
	return out
}

// servicePorts reads the ports of a Kubernetes Service (a named targetPort keeps the port).
func servicePorts(o *unstructured.Unstructured) []spec.Port {
	raw, _, _ := unstructured.NestedSlice(o.Object, "spec", "ports")
	var out []spec.Port
	for _, p := range raw {
		pm, _ := p.(map[string]any)
		port, ok := toInt32(pm["port"])
		if !ok || port <= 0 {
			continue
		}
		name, _ := pm["name"].(string)
		sp := spec.Port{Port: port, Name: name}
		if t, ok := toInt32(pm["targetPort"]); ok && t > 0 {
			sp.TargetPort = t
		}
		out = append(out, sp)
	}
	return out
}

func toInt32(v any) (int32, bool) {
	switch n := v.(type) {
	case int64:
		return int32(n), true
	case float64:
		return int32(n), true
	case int:
		return int32(n), true
	case int32:
		return n, true
	}
	return 0, false
}
