package spec

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// LoadFile reads one design file (YAML or JSON, possibly several documents separated by "---"),
// applies defaults and validates every design in it. When anything is wrong it returns a
// *ValidationError listing every violation of every document, each with a field path and a
// file:line:column; other errors (I/O) are returned wrapped.
func LoadFile(path string) ([]*Design, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading design file: %w", err)
	}
	return LoadBytes(path, b)
}

// LoadBytes parses designs from YAML or JSON bytes, applies defaults and validates them; name is
// used as the file in positions. Empty documents are skipped. A top-level list holds several
// designs. On a *ValidationError no design is returned.
func LoadBytes(name string, data []byte) ([]*Design, error) {
	designs, vs := loadBytes(name, data)
	if len(vs) > 0 {
		return nil, &ValidationError{Violations: vs}
	}
	return designs, nil
}

// LoadPaths loads every design in the given files and directories. Directories are walked
// recursively for *.yaml, *.yml and *.json files (hidden directories are skipped), in lexical
// order; files named explicitly are loaded whatever their extension. Design names must be unique
// across everything loaded. Every violation of every file is returned at once in one
// *ValidationError.
func LoadPaths(paths ...string) ([]*Design, error) {
	files, err := ExpandPaths(paths...)
	if err != nil {
		return nil, err
	}
	var (
		all []*Design
		vs  []Violation
	)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("reading design file: %w", err)
		}
		ds, fvs := loadBytes(f, b)
		all = append(all, ds...)
		vs = append(vs, fvs...)
	}
	vs = append(vs, duplicateDesigns(all)...)
	order := make(map[string]int, len(files))
	for i, f := range files {
		order[f] = i
	}
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i].Pos, vs[j].Pos
		if a == nil || b == nil {
			return false
		}
		if a.File != b.File {
			return order[a.File] < order[b.File]
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	if len(vs) > 0 {
		return nil, &ValidationError{Violations: vs}
	}
	return all, nil
}

// ExpandPaths lists the design files LoadPaths would read for paths, in order.
func ExpandPaths(paths ...string) ([]string, error) {
	var files []string
	seen := map[string]bool{}
	add := func(f string) {
		if !seen[f] {
			seen[f] = true
			files = append(files, f)
		}
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("reading designs: %w", err)
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if e.IsDir() {
				if path != p && strings.HasPrefix(e.Name(), ".") {
					return filepath.SkipDir
				}
				return nil
			}
			switch strings.ToLower(filepath.Ext(path)) {
			case ".yaml", ".yml", ".json":
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reading designs in %s: %w", p, err)
		}
		sort.Strings(found)
		for _, f := range found {
			add(f)
		}
	}
	return files, nil
}

// duplicateDesigns reports designs that share a name.
func duplicateDesigns(ds []*Design) []Violation {
	var vs []Violation
	first := map[string]*Design{}
	for _, d := range ds {
		name := d.Metadata.Name
		prev, ok := first[name]
		if !ok {
			first[name] = d
			continue
		}
		where := "another document"
		if p, ok := prev.Position("metadata.name"); ok {
			where = p.String()
		}
		v := Violation{
			Path:     "metadata.name",
			Message:  fmt.Sprintf("design name %q is already used at %s", name, where),
			Expected: "a name unique among the designs loaded together",
			Hint:     "rename one of the designs",
		}
		if p, ok := d.Position("metadata.name"); ok {
			v.Pos = &p
		}
		vs = append(vs, v)
	}
	return vs
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): `)

// loadBytes parses, defaults and validates every document; it never panics.
func loadBytes(name string, data []byte) (designs []*Design, vs []Violation) {
	defer func() {
		if r := recover(); r != nil {
			designs = nil
			vs = append(vs, Violation{
				Message: fmt.Sprintf("cannot parse the file: %v", r),
				Pos:     &Position{File: name},
			})
		}
	}()
	if looksLikeJSON(data) {
		// Raw tabs can only be whitespace in JSON, but YAML refuses them as indentation.
		data = bytes.ReplaceAll(data, []byte{'\t'}, []byte{' '})
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	budget := 8*len(data) + 10000
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			vs = append(vs, syntaxViolation(name, data, err))
			break
		}
		root := &doc
		if root.Kind == yaml.DocumentNode {
			if len(root.Content) == 0 {
				continue
			}
			root = root.Content[0]
		}
		if isNull(root) {
			continue
		}
		items := []*yaml.Node{root}
		if root.Kind == yaml.SequenceNode {
			items = root.Content
		}
		for _, item := range items {
			d, dvs := loadNode(name, item, &budget)
			vs = append(vs, dvs...)
			if d != nil && len(dvs) == 0 {
				designs = append(designs, d)
			}
			if budget < 0 {
				return nil, vs
			}
		}
	}
	return designs, vs
}

// loadNode decodes, defaults and validates one design document.
func loadNode(name string, n *yaml.Node, budget *int) (*Design, []Violation) {
	dec := &decoder{file: name, budget: *budget}
	d := &Design{src: &source{file: name, root: n}}
	dec.decode(n, reflect.ValueOf(d).Elem())
	*budget = dec.budget
	if dec.budget < 0 {
		return nil, dec.errs
	}
	vs := dec.errs
	vs = append(vs, d.zeroWeightRoutes()...)
	d.Default()
	for _, v := range d.Validate() {
		if !underBad(v.Path, dec.bad) {
			vs = append(vs, v)
		}
	}
	for i := range vs {
		if vs[i].Pos == nil {
			if p, ok := d.Position(vs[i].Path); ok {
				vs[i].Pos = &p
			}
		}
	}
	sort.SliceStable(vs, func(i, j int) bool {
		a, b := vs[i].Pos, vs[j].Pos
		if a == nil || b == nil {
			return false
		}
		if a.Line != b.Line {
			return a.Line < b.Line
		}
		return a.Column < b.Column
	})
	return d, vs
}

// underBad reports whether path is at or below one of the paths that failed to decode.
func underBad(path string, bad []string) bool {
	for _, b := range bad {
		if path == b || strings.HasPrefix(path, b+".") || strings.HasPrefix(path, b+"[") {
			return true
		}
	}
	return false
}

// zeroWeightRoutes reports routes whose every backend explicitly sets weight 0, which would send
// the route's traffic nowhere (an unset weight means an equal split).
func (d *Design) zeroWeightRoutes() []Violation {
	var vs []Violation
	for i, tp := range d.Spec.Traffic {
		for j, r := range tp.Routes {
			if len(r.Backends) == 0 {
				continue
			}
			all := true
			for k, b := range r.Backends {
				if b.Weight != 0 || !d.written(fmt.Sprintf("spec.traffic[%d].routes[%d].backends[%d].weight", i, j, k)) {
					all = false
					break
				}
			}
			if all {
				vs = append(vs, Violation{
					Path:     fmt.Sprintf("spec.traffic[%d].routes[%d].backends", i, j),
					Message:  "every backend has weight 0, so the route would send its traffic nowhere",
					Expected: "at least one backend with a positive weight",
					Hint:     "give a backend a weight, or remove the weights for an equal split",
				})
			}
		}
	}
	return vs
}

// written reports whether the field at path is written in the design's source.
func (d *Design) written(path string) bool {
	if d.src == nil {
		return false
	}
	segs, ok := parsePath(path)
	if !ok {
		return false
	}
	n := d.src.root
	for _, s := range segs {
		if n = child(n, s); n == nil {
			return false
		}
	}
	return true
}

func syntaxViolation(name string, data []byte, err error) Violation {
	msg := err.Error()
	pos := &Position{File: name}
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		pos.Line, _ = strconv.Atoi(m[1])
		msg = msg[len(m[0]):]
		// yaml.v3 reports parser errors ("did not find expected …") with a 0-based line and
		// scanner errors with a 1-based one.
		if strings.HasPrefix(msg, "did not find expected") {
			pos.Line++
		}
		if last := bytes.Count(bytes.TrimRight(data, " \t\r\n"), []byte{'\n'}) + 1; pos.Line > last {
			pos.Line = last
		}
	} else {
		msg = strings.TrimPrefix(msg, "yaml: ")
	}
	return Violation{
		Message:  "invalid YAML: " + msg,
		Expected: "a YAML or JSON design document",
		Pos:      pos,
	}
}

func looksLikeJSON(data []byte) bool {
	t := bytes.TrimLeft(data, " \t\r\n\ufeff")
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}
