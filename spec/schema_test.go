package spec

import (
	"bytes"
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"gopkg.in/yaml.v3"
)

// schemaDocs reads the doc comments of the package's types and struct fields, keyed "Type" and
// "Type.jsonName", from the source files.
func schemaDocs(t *testing.T) map[string]string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]string{}
	clean := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.TYPE {
				continue
			}
			for _, spec := range gd.Specs {
				ts := spec.(*ast.TypeSpec)
				doc := ts.Doc
				if doc == nil {
					doc = gd.Doc
				}
				if doc != nil {
					docs[ts.Name.Name] = clean(doc.Text())
				}
				st, ok := ts.Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, field := range st.Fields.List {
					if field.Doc == nil || field.Tag == nil || len(field.Names) == 0 {
						continue
					}
					tag := reflect.StructTag(strings.Trim(field.Tag.Value, "`"))
					jn, _, _ := strings.Cut(tag.Get("json"), ",")
					if jn == "" || jn == "-" {
						continue
					}
					// Drop the leading Go field name: "Name is the …" reads as "The …" is not
					// attempted; the comment is kept as written.
					docs[ts.Name.Name+"."+jn] = clean(field.Doc.Text())
				}
			}
		}
	}
	return docs
}

// TestSchemaUpToDate regenerates the JSON Schema and compares it with design.schema.json;
// UPDATE_GOLDEN=1 (or go generate ./spec) rewrites the file.
func TestSchemaUpToDate(t *testing.T) {
	got, err := generateSchema(schemaDocs(t))
	if err != nil {
		t.Fatal(err)
	}
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile("design.schema.json", got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile("design.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("design.schema.json is stale: run `go generate ./spec` (or UPDATE_GOLDEN=1 go test ./spec)")
	}
	if !bytes.Equal(JSONSchema(), want) {
		t.Fatal("embedded schema differs from design.schema.json: rebuild")
	}
}

// TestSchemaCoversEveryField checks that every serialized field of every type reachable from
// Design has a description, and that the schema is well-formed JSON with the expected shape.
func TestSchemaCoversEveryField(t *testing.T) {
	var s struct {
		Schema     string                     `json:"$schema"`
		Defs       map[string]json.RawMessage `json:"$defs"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(JSONSchema(), &s); err != nil {
		t.Fatal(err)
	}
	if s.Schema != "https://json-schema.org/draft/2020-12/schema" || len(s.Properties) != 4 {
		t.Fatalf("unexpected schema header: %q, %d properties", s.Schema, len(s.Properties))
	}
	docs := schemaDocs(t)
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		for ty.Kind() == reflect.Pointer || ty.Kind() == reflect.Slice || ty.Kind() == reflect.Map {
			ty = ty.Elem()
		}
		if ty.Kind() != reflect.Struct || ty == reflect.TypeFor[Duration]() || seen[ty] {
			return
		}
		seen[ty] = true
		if ty != reflect.TypeFor[Design]() {
			if _, ok := s.Defs[ty.Name()]; !ok {
				t.Errorf("schema has no $defs entry for %s", ty.Name())
			}
		}
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			if n := jsonName(f); n != "" {
				if docs[ty.Name()+"."+n] == "" {
					t.Errorf("field %s.%s has no doc comment", ty.Name(), n)
				}
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[Design]())
	var svc struct {
		Required []string `json:"required"`
	}
	_ = json.Unmarshal(s.Defs["Service"], &svc)
	if strings.Join(svc.Required, ",") != "name" {
		t.Errorf("Service required = %v, want [name]", svc.Required)
	}
}

// TestSchemaAcceptsCases validates every shared case (as written, before defaults) against the
// schema with an independent JSON Schema implementation, and checks that typical mistakes
// (unknown fields, bad enums, wrong types) are rejected by it too.
func TestSchemaAcceptsCases(t *testing.T) {
	var doc any
	if err := json.Unmarshal(JSONSchema(), &doc); err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource(SchemaID, doc); err != nil {
		t.Fatal(err)
	}
	sch, err := c.Compile(SchemaID)
	if err != nil {
		t.Fatal(err)
	}
	asJSON := func(file string) any {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := yaml.Unmarshal(b, &v); err != nil {
			t.Fatal(err)
		}
		// Round trip through JSON so that numbers and maps have JSON types.
		jb, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var out any
		_ = json.Unmarshal(jb, &out)
		return out
	}
	files, _ := filepath.Glob("testdata/cases/*.yaml")
	examples, _ := filepath.Glob("../examples/designs/*.yaml")
	for _, f := range append(files, examples...) {
		if err := sch.Validate(asJSON(f)); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	for _, name := range []string{"unknown-field", "bad-enum", "type-errors", "bad-port", "wrong-version", "rate-limit-rate"} {
		if err := sch.Validate(asJSON("testdata/invalid/" + name + ".yaml")); err == nil {
			t.Errorf("%s: the schema accepts it", name)
		}
	}
}
