package spec

import (
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// source remembers where a loaded design came from. It is shared, read-only, by clones.
type source struct {
	file string
	root *yaml.Node // the document's top-level mapping
}

// SourceFile returns the file the design was loaded from ("" when it was built in code or
// loaded from bytes without a name).
func (d *Design) SourceFile() string {
	if d.src == nil {
		return ""
	}
	return d.src.file
}

// Position returns where the field at path ("spec.traffic[0].routes[1].backends[0].weight",
// map keys as `["key"]`) is in the design's source file. A field that is not written in the file
// (a default, or a missing required field) resolves to its nearest written ancestor, so findings
// about it still point at the right place. ok is false when the design was not loaded from
// source or the path does not parse.
func (d *Design) Position(path string) (Position, bool) {
	if d.src == nil || d.src.root == nil {
		return Position{}, false
	}
	segs, ok := parsePath(path)
	if !ok {
		return Position{}, false
	}
	n := d.src.root
	for _, s := range segs {
		next := child(n, s)
		if next == nil {
			break
		}
		n = next
	}
	return Position{File: d.src.file, Line: n.Line, Column: n.Column}, true
}

// child returns the node for one path segment below n, or nil.
func child(n *yaml.Node, s pathSeg) *yaml.Node {
	for depth := 0; n != nil && n.Kind == yaml.AliasNode && depth < 100; depth++ {
		n = n.Alias
	}
	if n == nil {
		return nil
	}
	switch s.kind {
	case segIndex:
		if n.Kind == yaml.SequenceNode && s.index >= 0 && s.index < len(n.Content) {
			return n.Content[s.index]
		}
	default:
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == s.name {
					return n.Content[i+1]
				}
			}
		}
	}
	return nil
}

// parsePath splits a field path into segments.
func parsePath(p string) ([]pathSeg, bool) {
	var segs []pathSeg
	for len(p) > 0 {
		switch p[0] {
		case '.':
			p = p[1:]
		case '[':
			end := strings.IndexByte(p, ']')
			if end < 0 {
				return nil, false
			}
			inner := p[1:end]
			if strings.HasPrefix(inner, `"`) {
				// A quoted key may contain ']': find the closing quote first.
				q, rest, ok := unquotePrefix(p[1:])
				if !ok || !strings.HasPrefix(rest, "]") {
					return nil, false
				}
				segs = append(segs, pathSeg{name: q, kind: segKey})
				p = rest[1:]
				continue
			}
			i, err := strconv.Atoi(inner)
			if err != nil {
				return nil, false
			}
			segs = append(segs, pathSeg{index: i, kind: segIndex})
			p = p[end+1:]
		default:
			end := strings.IndexAny(p, ".[")
			if end < 0 {
				end = len(p)
			}
			segs = append(segs, pathSeg{name: p[:end]})
			p = p[end:]
		}
	}
	return segs, true
}

// unquotePrefix unquotes the Go-quoted string at the start of s and returns the rest.
func unquotePrefix(s string) (string, string, bool) {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			q, err := strconv.Unquote(s[:i+1])
			return q, s[i+1:], err == nil
		}
	}
	return "", "", false
}
