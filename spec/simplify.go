package spec

// SimplifyWeights rewrites the weight of every single-backend route to 100, the form the meshes
// and policy TRF-003 expect ("all traffic"). Importers call it: source formats often write a lone
// backend with weight 1.
func (d *Design) SimplifyWeights() {
	for i := range d.Spec.Traffic {
		for j := range d.Spec.Traffic[i].Routes {
			bs := d.Spec.Traffic[i].Routes[j].Backends
			if len(bs) == 1 && bs[0].Weight > 0 {
				bs[0].Weight = 100
			}
		}
	}
}

// SetSelectors gives every service whose selector is empty the selector of its Kubernetes
// Service, from selectors keyed "<namespace>/<name>" (a service without a namespace is in the
// design's). Importers call it with the selectors of the Services among their input; a selector
// equal to the default {app: <name>} is left out, so that designs stay minimal.
func (d *Design) SetSelectors(selectors map[string]map[string]string) {
	for i := range d.Spec.Services {
		s := &d.Spec.Services[i]
		ns := s.Namespace
		if ns == "" {
			ns = d.Metadata.Namespace
		}
		sel := selectors[ns+"/"+s.Name]
		if len(s.Selector) > 0 || len(sel) == 0 || (len(sel) == 1 && sel[DefaultSelectorLabel] == s.Name) {
			continue
		}
		s.Selector = make(map[string]string, len(sel))
		for k, v := range sel {
			s.Selector[k] = v
		}
	}
}
