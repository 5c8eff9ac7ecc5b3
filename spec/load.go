package spec

// PROVISIONAL: a minimal loader so that other packages can be written against the final API.
// The full loader (positions, did-you-mean, multi-document, directories) replaces this file.

import (
	"os"

	"sigs.k8s.io/yaml"
)

// LoadFile reads one design file, applies defaults and validates it. A *ValidationError lists
// every violation.
func LoadFile(path string) ([]*Design, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return LoadBytes(path, b)
}

// LoadBytes parses designs from YAML or JSON bytes; name is used in positions.
func LoadBytes(name string, data []byte) ([]*Design, error) {
	var d Design
	if err := yaml.UnmarshalStrict(data, &d); err != nil {
		return nil, err
	}
	d.Default()
	return []*Design{&d}, nil
}

// Default fills in every default documented on the design's fields.
func (d *Design) Default() {}
