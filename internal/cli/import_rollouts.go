package cli

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/trellis-mesh/trellis/adapters"
)

// rolloutWarnings reports, for each Argo Rollouts Rollout among the workloads (read for service
// identities only), that the Rollouts controller moves traffic itself during a rollout, so what
// the design holds is a snapshot: the weights of the routes it manages (canary with traffic
// routing), the active Service's selector (blue-green) or the replica counts (canary without
// traffic routing). One warning per Rollout, in the importers' format.
func rolloutWarnings(source string, workloads []*unstructured.Unstructured) []adapters.Warning {
	var out []adapters.Warning
	for _, o := range workloads {
		if o.GetKind() != "Rollout" || o.GroupVersionKind().Group != "argoproj.io" {
			continue
		}
		path := "Rollout/" + o.GetName()
		if ns := o.GetNamespace(); ns != "" {
			path = "Rollout/" + ns + "/" + o.GetName()
		}
		w := adapters.Warning{
			Path:     path,
			Mesh:     source,
			Feature:  adapters.FeatureWeightedSplit,
			Severity: adapters.SeverityWarning,
		}
		canary, isCanary, _ := unstructured.NestedMap(o.Object, "spec", "strategy", "canary")
		_, isBlueGreen, _ := unstructured.NestedMap(o.Object, "spec", "strategy", "blueGreen")
		routing := trafficRouters(canary, o.GetName())
		switch {
		case isCanary && len(routing) > 0:
			w.Lost = "the Argo Rollouts controller rewrites the route weights it manages (trafficRouting: " + strings.Join(routing, ", ") +
				") at each setWeight step of a rollout: the imported weights are a snapshot of this moment, not a policy to keep"
		case isBlueGreen:
			w.Severity = adapters.SeverityInfo
			w.Lost = "the Argo Rollouts controller switches the active Service's selector to the new pods during a blue-green rollout: the imported services and versions are a snapshot of this moment"
		case isCanary:
			w.Severity = adapters.SeverityInfo
			w.Lost = "the Argo Rollouts controller shifts traffic by scaling the canary and stable pods (no trafficRouting): the imported design holds no weight for it and reflects this moment's pods"
		default:
			continue
		}
		out = append(out, w)
	}
	return out
}

// trafficRouters returns the sorted traffic routers a Rollout's canary strategy names
// (trafficRouting, or trafficManagement as some examples spell it), with the objects whose
// weights the controller rewrites when the Rollout names them: "istio VirtualService vs",
// "smi TrafficSplit name" (the Rollout's name by default), "appMesh", "plugin argoproj-labs/gatewayAPI".
func trafficRouters(canary map[string]any, rollout string) []string {
	var out []string
	for _, field := range []string{"trafficRouting", "trafficManagement"} {
		m, ok := canary[field].(map[string]any)
		if !ok {
			continue
		}
		for k, v := range m {
			cfg, _ := v.(map[string]any)
			switch k {
			case "managedRoutes", "maxTrafficWeight":
				continue
			case "plugins":
				for p := range cfg {
					out = append(out, "plugin "+p)
				}
				continue
			case "istio":
				var names []string
				if vs, ok := cfg["virtualService"].(map[string]any); ok {
					if n, _ := vs["name"].(string); n != "" {
						names = append(names, n)
					}
				}
				if vss, ok := cfg["virtualServices"].([]any); ok {
					for _, x := range vss {
						if vs, ok := x.(map[string]any); ok {
							if n, _ := vs["name"].(string); n != "" {
								names = append(names, n)
							}
						}
					}
				}
				if len(names) > 0 {
					k += " VirtualService " + strings.Join(names, ", ")
				}
			case "smi":
				name, _ := cfg["trafficSplitName"].(string)
				if name == "" {
					name = rollout
				}
				k += " TrafficSplit " + name
			}
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
