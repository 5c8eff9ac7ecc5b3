package consul

import (
	"fmt"
	"sort"
	"strings"
	"unicode"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
)

// objects renders the entries in the requested form.
func (t *translator) objects(format string) ([]*unstructured.Unstructured, error) {
	keys := sortedKeys(t.entries)
	objs := make([]*unstructured.Unstructured, 0, len(keys))
	for _, k := range keys {
		e := t.entries[k]
		var o *unstructured.Unstructured
		if format == FormatConfigEntry {
			o = t.configEntryObject(e)
		} else {
			o = t.crdObject(e)
		}
		objs = append(objs, o)
	}
	return objs, nil
}

func (t *translator) crdObject(e *entry) *unstructured.Unstructured {
	sp := copyMap(e.spec)
	if e.kind == KindServiceIntentions {
		sp["destination"] = map[string]any{"name": e.name}
	}
	o := adapters.NewObject(CRDAPIVersion, e.kind, e.namespace, e.name, t.d, sp)
	if len(e.meta) > 0 {
		o.SetAnnotations(e.meta)
	}
	return o
}

func (t *translator) configEntryObject(e *entry) *unstructured.Unstructured {
	labels := adapters.DesignLabels(t.d)
	body := toConsulKeys(e.spec, "").(map[string]any)
	body["Kind"] = consulKinds[e.kind]
	if e.kind != KindMesh {
		body["Name"] = e.name
	}
	meta := map[string]any{}
	for k, v := range labels {
		meta[k] = v
	}
	for k, v := range e.meta {
		meta[k] = v
	}
	body["Meta"] = meta
	mdLabels := map[string]any{}
	for k, v := range labels {
		mdLabels[k] = v
	}
	body["apiVersion"] = ConfigEntryAPIVersion
	body["kind"] = e.kind
	body["metadata"] = map[string]any{"name": e.name, "labels": mdLabels}
	return &unstructured.Unstructured{Object: body}
}

// ConfigEntries returns the Consul config entries of a translation, in the order they must be
// written (`PUT /v1/config` or `consul config write`): proxy and mesh defaults and service
// defaults before the resolvers, splitters and routers that depend on their protocols, JWT
// providers before the intentions that use them. Objects in either form are accepted: the
// envelope of the "config-entry" form is removed, consul-k8s custom resources are converted.
func ConfigEntries(out *adapters.Output) ([]map[string]any, error) {
	if out == nil {
		return nil, nil
	}
	type keyed struct {
		order int
		name  string
		entry map[string]any
	}
	rank := map[string]int{}
	for i, k := range writeOrder {
		rank[k] = i
	}
	var list []keyed
	for _, o := range out.Objects {
		e, err := ConfigEntry(o)
		if err != nil {
			return nil, err
		}
		r, ok := rank[o.GetKind()]
		if !ok {
			r = len(writeOrder)
		}
		name, _ := e["Name"].(string)
		list = append(list, keyed{order: r, name: name, entry: e})
	}
	sort.SliceStable(list, func(i, j int) bool {
		if list[i].order != list[j].order {
			return list[i].order < list[j].order
		}
		return list[i].name < list[j].name
	})
	entries := make([]map[string]any, len(list))
	for i, k := range list {
		entries[i] = k.entry
	}
	return entries, nil
}

// ConfigEntry converts one object (either form) into a Consul config entry.
func ConfigEntry(o *unstructured.Unstructured) (map[string]any, error) {
	switch o.GetAPIVersion() {
	case ConfigEntryAPIVersion:
		e := map[string]any{}
		for k, v := range o.DeepCopy().Object {
			if k == "apiVersion" || k == "kind" || k == "metadata" {
				continue
			}
			e[k] = v
		}
		return e, nil
	case CRDAPIVersion:
		kind, ok := consulKinds[o.GetKind()]
		if !ok {
			return nil, fmt.Errorf("converting %s to a consul config entry: unknown kind %q", adapters.ObjectRef(o), o.GetKind())
		}
		sp, _, _ := unstructured.NestedMap(o.Object, "spec")
		if sp == nil {
			sp = map[string]any{}
		}
		name := o.GetName()
		if o.GetKind() == KindServiceIntentions {
			if n, ok, _ := unstructured.NestedString(sp, "destination", "name"); ok && n != "" {
				name = n
			}
			delete(sp, "destination")
		}
		e := toConsulKeys(sp, "").(map[string]any)
		e["Kind"] = kind
		if o.GetKind() != KindMesh {
			e["Name"] = name
		}
		meta := map[string]any{}
		for k, v := range o.GetLabels() {
			meta[k] = v
		}
		for k, v := range o.GetAnnotations() {
			if strings.HasPrefix(k, "trellis.dev/") {
				meta[k] = v
			}
		}
		if len(meta) > 0 {
			e["Meta"] = meta
		}
		return e, nil
	default:
		return nil, fmt.Errorf("converting %s to a consul config entry: apiVersion %q is neither %q nor %q", adapters.ObjectRef(o), o.GetAPIVersion(), CRDAPIVersion, ConfigEntryAPIVersion)
	}
}

// Keys whose values are opaque to Consul's key casing (free-form maps), and keys whose values
// are maps keyed by names (the names are kept, the values converted).
var (
	opaqueKeys = map[string]bool{"config": true, "arguments": true, "meta": true, "add": true, "set": true}
	namedKeys  = map[string]bool{"subsets": true, "failover": true}
)

// Field names whose Consul spelling is not the camelCase name with its first letter raised.
var consulSpelling = map[string]string{
	"http": "HTTP", "jwt": "JWT", "jsonWebKeySet": "JSONWebKeySet", "jsonFormat": "JSONFormat",
	"uri": "URI", "sourceIP": "SourceIP", "tls": "TLS", "ttl": "TTL", "jwks": "JWKS",
	"jwksCluster": "JWKSCluster", "sni": "SNI", "externalSNI": "ExternalSNI",
}

var camelSpelling = func() map[string]string {
	m := map[string]string{}
	for k, v := range consulSpelling {
		m[v] = k
	}
	return m
}()

// ConsulKey converts a consul-k8s (camelCase) field name to Consul's config-entry spelling.
func ConsulKey(k string) string {
	if s, ok := consulSpelling[k]; ok {
		return s
	}
	if k == "" {
		return k
	}
	r := []rune(k)
	r[0] = unicode.ToUpper(r[0])
	return string(r)
}

// CamelKey converts a Consul config-entry field name to the consul-k8s camelCase spelling. It
// also accepts snake_case aliases ("retry_on" → "retryOn") and already camelCase names.
func CamelKey(k string) string {
	if s, ok := camelSpelling[k]; ok {
		return s
	}
	if strings.Contains(k, "_") {
		parts := strings.Split(k, "_")
		for i := 1; i < len(parts); i++ {
			if p := parts[i]; p != "" {
				parts[i] = strings.ToUpper(p[:1]) + p[1:]
			}
		}
		k = strings.Join(parts, "")
	}
	r := []rune(k)
	// Lower the leading run of capitals, keeping the last one when a lower-case letter follows
	// ("JSONFormat" → "jsonFormat", "MutualTLSMode" → "mutualTLSMode").
	n := 0
	for n < len(r) && unicode.IsUpper(r[n]) {
		n++
	}
	switch {
	case n == 0:
	case n == len(r) || n == 1:
		for i := 0; i < n; i++ {
			r[i] = unicode.ToLower(r[i])
		}
	default:
		if unicode.IsLower(r[n]) {
			n--
		}
		for i := 0; i < n; i++ {
			r[i] = unicode.ToLower(r[i])
		}
	}
	return string(r)
}

func toConsulKeys(v any, parent string) any {
	return convertKeys(v, parent, ConsulKey)
}

func toCamelKeys(v any, parent string) any {
	return convertKeys(v, parent, CamelKey)
}

// convertKeys renames the keys of v with conv, except below opaque keys and for the names of
// named maps. parent is the camelCase name of the field holding v.
func convertKeys(v any, parent string, conv func(string) string) any {
	switch x := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			camel := CamelKey(k)
			switch {
			case namedKeys[parent]:
				out[k] = convertKeys(e, "", conv)
			case opaqueKeys[camel]:
				out[conv(k)] = e
			default:
				out[conv(k)] = convertKeys(e, camel, conv)
			}
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = convertKeys(e, parent, conv)
		}
		return out
	default:
		return v
	}
}
