package spec

import (
	"reflect"
	"testing"
)

func TestInferSelector(t *testing.T) {
	ver := func(name string, labels map[string]string) Version { return Version{Name: name, Labels: labels} }
	for _, tc := range []struct {
		name string
		svc  Service
		ok   bool
		want map[string]string
	}{
		{"default fits: left alone", Service{Name: "r", Versions: []Version{ver("v1", map[string]string{"version": "v1", "tier": "b"}), ver("v2", map[string]string{"version": "v2", "tier": "b"})}}, true, nil},
		{"explicit selector kept", Service{Name: "r", Selector: map[string]string{"x": "y"}, Versions: []Version{ver("v1", map[string]string{"app": "other"})}}, true, map[string]string{"x": "y"}},
		{"shared labels of contradicting versions", Service{Name: "color", Versions: []Version{ver("blue", map[string]string{"app": "teller", "version": "blue"}), ver("red", map[string]string{"app": "teller", "version": "red"})}}, true, map[string]string{"app": "teller"}},
		{"nothing shared", Service{Name: "color", Versions: []Version{ver("blue", map[string]string{"app": "blue"}), ver("red", map[string]string{"app": "red"})}}, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.svc
			if ok := s.InferSelector(); ok != tc.ok || !reflect.DeepEqual(s.Selector, tc.want) {
				t.Errorf("InferSelector() = %v, selector %v; want %v, %v", ok, s.Selector, tc.ok, tc.want)
			}
		})
	}
}
