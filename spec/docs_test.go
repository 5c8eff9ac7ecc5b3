package spec

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
	"testing"
)

const (
	docsFile     = "../docs/spec.md"
	docsBegin    = "<!-- BEGIN GENERATED FIELD REFERENCE (UPDATE_GOLDEN=1 go test ./spec -run TestDocsUpToDate) -->"
	docsEnd      = "<!-- END GENERATED FIELD REFERENCE -->"
	schemaDefRef = "#/$defs/"
)

// schemaNode is the part of a JSON Schema the reference generator reads.
type schemaNode struct {
	Ref                  string                 `json:"$ref"`
	Type                 string                 `json:"type"`
	Description          string                 `json:"description"`
	Enum                 []string               `json:"enum"`
	Const                string                 `json:"const"`
	Pattern              string                 `json:"pattern"`
	Minimum              *float64               `json:"minimum"`
	Maximum              *float64               `json:"maximum"`
	Items                *schemaNode            `json:"items"`
	AdditionalProperties json.RawMessage        `json:"additionalProperties"`
	Properties           map[string]*schemaNode `json:"properties"`
	Required             []string               `json:"required"`
	AllOf                []*schemaNode          `json:"allOf"`
	OneOf                []*schemaNode          `json:"oneOf"`
	Defs                 map[string]*schemaNode `json:"$defs"`
}

// fieldReference renders the schema as Markdown tables, one per type, in reference order.
func fieldReference(t *testing.T) string {
	var root schemaNode
	if err := json.Unmarshal(JSONSchema(), &root); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	var queue []string
	enqueue := func(n *schemaNode) {
		var visit func(*schemaNode)
		visit = func(n *schemaNode) {
			if n == nil {
				return
			}
			if strings.HasPrefix(n.Ref, schemaDefRef) {
				name := strings.TrimPrefix(n.Ref, schemaDefRef)
				if !seen[name] {
					seen[name] = true
					queue = append(queue, name)
				}
			}
			visit(n.Items)
			for _, a := range append(n.AllOf, n.OneOf...) {
				visit(a)
			}
			if len(n.AdditionalProperties) > 0 && n.AdditionalProperties[0] == '{' {
				var ap schemaNode
				_ = json.Unmarshal(n.AdditionalProperties, &ap)
				visit(&ap)
			}
		}
		for _, k := range sortedKeys(n.Properties) {
			visit(n.Properties[k])
		}
	}
	var b strings.Builder
	writeType := func(name string, n *schemaNode) {
		fmt.Fprintf(&b, "### %s\n\n%s\n\n| Field | Type | Description |\n|---|---|---|\n", name, n.Description)
		req := map[string]bool{}
		for _, r := range n.Required {
			req[r] = true
		}
		// Fields in declaration order are not kept by JSON; required fields first, then by name.
		keys := sortedKeys(n.Properties)
		sort.SliceStable(keys, func(i, j int) bool { return req[keys[i]] && !req[keys[j]] })
		for _, k := range keys {
			p := n.Properties[k]
			field := "`" + k + "`"
			if req[k] {
				field += " (required)"
			}
			desc := strings.ReplaceAll(p.Description, "|", `\|`)
			fmt.Fprintf(&b, "| %s | %s | %s |\n", field, typeString(p), desc)
		}
		b.WriteString("\n")
	}
	writeType("Design", &root)
	enqueue(&root)
	for len(queue) > 0 {
		name := queue[0]
		queue = queue[1:]
		writeType(name, root.Defs[name])
		enqueue(root.Defs[name])
	}
	return b.String()
}

// typeString describes a property's type for the reference.
func typeString(n *schemaNode) string {
	if len(n.AllOf) == 1 {
		return typeString(n.AllOf[0])
	}
	if n.Ref != "" {
		name := strings.TrimPrefix(n.Ref, schemaDefRef)
		return fmt.Sprintf("[%s](#%s)", name, strings.ToLower(name))
	}
	if len(n.OneOf) > 0 {
		var parts []string
		for _, o := range n.OneOf {
			parts = append(parts, typeString(o))
		}
		return strings.Join(parts, " or ")
	}
	switch {
	case n.Const != "":
		return fmt.Sprintf("`%q`", n.Const)
	case len(n.Enum) > 0:
		return "`" + strings.Join(n.Enum, "` \\| `") + "`"
	case n.Pattern == durationPattern:
		return "duration"
	case n.Type == "array":
		return "list of " + typeString(n.Items)
	case n.Type == "object" && len(n.AdditionalProperties) > 0 && n.AdditionalProperties[0] == '{':
		var ap schemaNode
		_ = json.Unmarshal(n.AdditionalProperties, &ap)
		return "map of string to " + typeString(&ap)
	case n.Type == "":
		return "any"
	}
	s := n.Type
	switch {
	case n.Minimum != nil && n.Maximum != nil && *n.Maximum >= math.MaxInt32:
		s += fmt.Sprintf(" (≥ %g)", *n.Minimum)
	case n.Minimum != nil && n.Maximum != nil:
		s += fmt.Sprintf(" (%g–%g)", *n.Minimum, *n.Maximum)
	}
	return s
}

// TestDocsUpToDate keeps the field reference in docs/spec.md in sync with the schema.
func TestDocsUpToDate(t *testing.T) {
	b, err := os.ReadFile(docsFile)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i, j := strings.Index(doc, docsBegin), strings.Index(doc, docsEnd)
	if i < 0 || j < i {
		t.Fatalf("%s lacks the generated-reference markers", docsFile)
	}
	want := doc[:i+len(docsBegin)] + "\n\n" + fieldReference(t) + doc[j:]
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(docsFile, []byte(want), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if want != doc {
		t.Fatalf("%s is stale: run UPDATE_GOLDEN=1 go test ./spec -run TestDocsUpToDate", docsFile)
	}
}
