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
