package spec

import (
	"fmt"
	"math"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// decoder turns a yaml.v3 node tree into spec types by reflection. Unlike a JSON round trip it
// knows where every value came from, so type errors and unknown fields are reported with a field
// path and a file:line:column, and it keeps going after an error to report every problem at once.
type decoder struct {
	file   string
	path   []pathSeg
	errs   []Violation
	budget int
	// bad holds the paths of values that failed to decode; validation findings at or below them
	// are dropped because they would only repeat the decode error.
	bad []string
}

// pathSeg is one step of a field path: a field name, a list index or a map key.
type pathSeg struct {
	name  string
	index int
	kind  uint8
}

const (
	segField uint8 = iota
	segIndex
	segKey
)

var (
	durationType = reflect.TypeFor[Duration]()
	sourceType   = reflect.TypeFor[Source]()
)

// pathString renders the decoder's current path.
func (d *decoder) pathString() string {
	var b strings.Builder
	for i, s := range d.path {
		switch s.kind {
		case segField:
			if i > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.name)
		case segIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.index))
			b.WriteByte(']')
		case segKey:
			b.WriteString(keySegment(s.name))
		}
	}
	return b.String()
}

// keySegment renders a map key as a path segment: ["key"].
func keySegment(k string) string { return "[" + strconv.Quote(k) + "]" }

func (d *decoder) fail(n *yaml.Node, msg, expected, hint string) {
	p := d.pathString()
	d.bad = append(d.bad, p)
	d.errs = append(d.errs, Violation{
		Path: p, Message: msg, Expected: expected, Hint: hint,
		Pos: &Position{File: d.file, Line: n.Line, Column: n.Column},
	})
}

// resolve follows aliases and charges the work budget, which bounds alias expansion ("billion
// laughs"): a document without aliases never visits more nodes than it has bytes.
func (d *decoder) resolve(n *yaml.Node) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode; depth++ {
		if depth > 100 {
			return nil
		}
		n = n.Alias
	}
	d.budget--
	return n
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.Tag == "!!null"
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "an object"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return fmt.Sprintf("the string %q", n.Value)
		case "!!int":
			return "the integer " + n.Value
		case "!!float":
			return "the number " + n.Value
		case "!!bool":
			return "the boolean " + n.Value
		case "!!null":
			return "null"
		}
		return fmt.Sprintf("%q", n.Value)
	}
	return "an unsupported YAML node"
}

// decode fills v from n.
func (d *decoder) decode(n *yaml.Node, v reflect.Value) {
	n = d.resolve(n)
	if n == nil {
		return
	}
	if d.budget < 0 {
		if d.budget == -1 {
			d.fail(n, "document is too large after alias expansion", "", "avoid deeply nested YAML aliases")
		}
		return
	}
	t := v.Type()
	switch t {
	case durationType:
		d.decodeDuration(n, v)
		return
	case sourceType:
		if n.Kind == yaml.ScalarNode && !isNull(n) {
			v.Set(reflect.ValueOf(Source{Service: n.Value}))
			return
		}
	}
	switch t.Kind() {
	case reflect.Pointer:
		if isNull(n) {
			v.SetZero()
			return
		}
		p := reflect.New(t.Elem())
		d.decode(n, p.Elem())
		v.Set(p)
	case reflect.Struct:
		d.decodeStruct(n, v)
	case reflect.Slice:
		d.decodeSlice(n, v)
	case reflect.Map:
		d.decodeMap(n, v)
	case reflect.String:
		if isNull(n) {
			v.SetString("")
			return
		}
		if n.Kind != yaml.ScalarNode {
			d.fail(n, "expected a string, got "+describe(n), "a string", "")
			return
		}
		v.SetString(n.Value)
	case reflect.Bool:
		if isNull(n) {
			v.SetBool(false)
			return
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!bool" {
			d.fail(n, "expected a boolean, got "+describe(n), "true or false", "")
			return
		}
		v.SetBool(n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
	case reflect.Int32, reflect.Int64, reflect.Int:
		if isNull(n) {
			v.SetInt(0)
			return
		}
		if n.Kind != yaml.ScalarNode || n.Tag != "!!int" {
			hint := ""
			if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
				if _, err := strconv.ParseInt(n.Value, 10, 64); err == nil {
					hint = "remove the quotes"
				}
			}
			d.fail(n, "expected an integer, got "+describe(n), "an integer", hint)
			return
		}
		i, err := strconv.ParseInt(n.Value, 0, 64)
		if err != nil {
			i, err = strconv.ParseInt(strings.Replace(n.Value, "0o", "0", 1), 0, 64)
		}
		if err != nil || v.OverflowInt(i) {
			d.fail(n, fmt.Sprintf("integer %s is out of range", n.Value), fmt.Sprintf("an integer that fits in %d bits", t.Bits()), "")
			return
		}
		v.SetInt(i)
	case reflect.Float64, reflect.Float32:
		if isNull(n) {
			v.SetFloat(0)
			return
		}
		if n.Kind != yaml.ScalarNode || (n.Tag != "!!int" && n.Tag != "!!float") {
			d.fail(n, "expected a number, got "+describe(n), "a number", "")
			return
		}
		f, err := strconv.ParseFloat(strings.ReplaceAll(n.Value, "_", ""), 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) {
			d.fail(n, fmt.Sprintf("expected a finite number, got %q", n.Value), "a finite number", "")
			return
		}
		v.SetFloat(f)
	case reflect.Interface:
		d.decodeAny(n, v)
	default:
		d.fail(n, "unsupported field type "+t.String(), "", "")
	}
}

func (d *decoder) decodeDuration(n *yaml.Node, v reflect.Value) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!int" && n.Value == "0" {
		v.SetZero()
		return
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		hint := ""
		if n.Kind == yaml.ScalarNode && (n.Tag == "!!int" || n.Tag == "!!float") {
			hint = fmt.Sprintf("add a unit, for example %q", n.Value+"s")
		}
		d.fail(n, "expected a duration, got "+describe(n), `a duration such as "500ms" or "2s"`, hint)
		return
	}
	dur, err := time.ParseDuration(n.Value)
	if err != nil {
		hint := ""
		if _, ferr := strconv.ParseFloat(n.Value, 64); ferr == nil {
			hint = fmt.Sprintf("add a unit, for example %q", n.Value+"s")
		}
		d.fail(n, fmt.Sprintf("invalid duration %q", n.Value), `a duration such as "500ms" or "2s" (units ns, us, ms, s, m, h)`, hint)
		return
	}
	v.Set(reflect.ValueOf(Duration{dur}))
}

func (d *decoder) decodeStruct(n *yaml.Node, v reflect.Value) {
	if isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, "expected an object, got "+describe(n), "an object (a YAML mapping)", "")
		return
	}
	info := structInfoFor(v.Type())
	var seen uint64
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := d.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode {
			d.fail(k, "field names must be strings, got "+describe(k), "a field name", "")
			continue
		}
		if k.Tag == "!!merge" {
			d.fail(k, "YAML merge keys (<<) are not supported", "explicit fields", "repeat the fields or use an alias for the whole value")
			continue
		}
		fi, ok := info.byName[k.Value]
		d.path = append(d.path, pathSeg{name: k.Value})
		if !ok {
			hint := ""
			if s := suggest(k.Value, info.names); s != "" {
				hint = fmt.Sprintf("did you mean %q?", s)
			}
			p := d.pathString()
			d.errs = append(d.errs, Violation{
				Path: p, Message: fmt.Sprintf("unknown field %q", k.Value),
				Expected: "one of " + strings.Join(info.names, ", "), Hint: hint,
				Pos: &Position{File: d.file, Line: k.Line, Column: k.Column},
			})
			d.path = d.path[:len(d.path)-1]
			continue
		}
		if fi.bit < 64 && seen&(1<<fi.bit) != 0 {
			d.fail(k, fmt.Sprintf("field %q is set twice", k.Value), "each field at most once", "remove one of them")
			d.path = d.path[:len(d.path)-1]
			continue
		}
		seen |= 1 << fi.bit
		d.decode(val, v.Field(fi.index))
		d.path = d.path[:len(d.path)-1]
	}
}

func (d *decoder) decodeSlice(n *yaml.Node, v reflect.Value) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.SequenceNode {
		d.fail(n, "expected a list, got "+describe(n), "a list", "write the value as a one-element list: [value]")
		return
	}
	s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
	for i, c := range n.Content {
		d.path = append(d.path, pathSeg{index: i, kind: segIndex})
		d.decode(c, s.Index(i))
		d.path = d.path[:len(d.path)-1]
	}
	v.Set(s)
}

func (d *decoder) decodeMap(n *yaml.Node, v reflect.Value) {
	if isNull(n) {
		v.SetZero()
		return
	}
	if n.Kind != yaml.MappingNode {
		d.fail(n, "expected an object, got "+describe(n), "an object (a YAML mapping)", "")
		return
	}
	t := v.Type()
	m := reflect.MakeMapWithSize(t, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := d.resolve(n.Content[i]), n.Content[i+1]
		if k == nil {
			continue
		}
		if k.Kind != yaml.ScalarNode || isNull(k) {
			d.fail(k, "keys must be strings, got "+describe(k), "a string key", "")
			continue
		}
		d.path = append(d.path, pathSeg{name: k.Value, kind: segKey})
		if m.MapIndex(reflect.ValueOf(k.Value)).IsValid() {
			d.fail(k, fmt.Sprintf("key %q is set twice", k.Value), "each key at most once", "remove one of them")
			d.path = d.path[:len(d.path)-1]
			continue
		}
		e := reflect.New(t.Elem()).Elem()
		d.decode(val, e)
		m.SetMapIndex(reflect.ValueOf(k.Value).Convert(t.Key()), e)
		d.path = d.path[:len(d.path)-1]
	}
	v.Set(m)
}

// decodeAny decodes free-form values (extension config) into JSON-compatible Go values.
func (d *decoder) decodeAny(n *yaml.Node, v reflect.Value) {
	x, ok := d.anyValue(n, 0)
	if !ok {
		return
	}
	if x == nil {
		v.SetZero()
		return
	}
	v.Set(reflect.ValueOf(x))
}

func (d *decoder) anyValue(n *yaml.Node, depth int) (any, bool) {
	n = d.resolve(n)
	if n == nil || d.budget < 0 {
		return nil, false
	}
	if depth > 64 {
		d.fail(n, "value is nested too deeply", "at most 64 levels", "")
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := d.resolve(n.Content[i])
			if k == nil || k.Kind != yaml.ScalarNode {
				d.fail(n.Content[i], "keys must be strings", "a string key", "")
				return nil, false
			}
			x, ok := d.anyValue(n.Content[i+1], depth+1)
			if !ok {
				return nil, false
			}
			m[k.Value] = x
		}
		return m, true
	case yaml.SequenceNode:
		s := make([]any, len(n.Content))
		for i, c := range n.Content {
			x, ok := d.anyValue(c, depth+1)
			if !ok {
				return nil, false
			}
			s[i] = x
		}
		return s, true
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!null":
			return nil, true
		case "!!bool":
			return n.Value == "true" || n.Value == "True" || n.Value == "TRUE", true
		case "!!int":
			if i, err := strconv.ParseInt(n.Value, 0, 64); err == nil {
				return i, true
			}
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil {
				return f, true
			}
		case "!!float":
			if f, err := strconv.ParseFloat(n.Value, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return f, true
			}
			d.fail(n, fmt.Sprintf("expected a finite number, got %q", n.Value), "a finite number", "")
			return nil, false
		}
		return n.Value, true
	}
	d.fail(n, "unsupported YAML value", "", "")
	return nil, false
}

// structInfo describes a struct's fields by JSON name.
type structInfo struct {
	byName map[string]fieldInfo
	names  []string
}

type fieldInfo struct {
	index int
	bit   uint
}

var structInfos sync.Map // reflect.Type -> *structInfo

func structInfoFor(t reflect.Type) *structInfo {
	if si, ok := structInfos.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{byName: map[string]fieldInfo{}}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		si.byName[name] = fieldInfo{index: i, bit: uint(len(si.names))}
		si.names = append(si.names, name)
	}
	structInfos.Store(t, si)
	return si
}

// jsonName returns the JSON name of a struct field, or "" when the field is not serialized.
func jsonName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	tag := f.Tag.Get("json")
	if tag == "-" {
		return ""
	}
	name, _, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name
}

// suggest returns the candidate closest to s when it is close enough to be a likely typo.
func suggest(s string, candidates []string) string {
	best, bestDist := "", math.MaxInt
	ls := strings.ToLower(s)
	for _, c := range candidates {
		if strings.ToLower(c) == ls {
			return c
		}
		if dist := editDistance(ls, strings.ToLower(c)); dist < bestDist {
			best, bestDist = c, dist
		}
	}
	limit := max(2, len(s)/3)
	if bestDist <= limit && bestDist < len(s) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

// sortedKeys returns a map's keys in order.
func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
