package adaptertest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"k8s.io/apiextensions-apiserver/pkg/apis/apiextensions"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	structuralschema "k8s.io/apiextensions-apiserver/pkg/apiserver/schema"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel"
	structuraldefaulting "k8s.io/apiextensions-apiserver/pkg/apiserver/schema/defaulting"
	"k8s.io/apiextensions-apiserver/pkg/apiserver/schema/pruning"
	apiservervalidation "k8s.io/apiextensions-apiserver/pkg/apiserver/validation"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/validation/field"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	celconfig "k8s.io/apiserver/pkg/apis/cel"

	"github.com/trellis-mesh/trellis/adapters"
)

// CRDDir returns the absolute path of one folder of CRD copies in adaptertest/testdata/crds:
// "istio", "linkerd", "consul", "gateway-api" or "appmesh". It panics on another name (a
// programming mistake in a test).
func CRDDir(name string) string {
	switch name {
	case "istio", "linkerd", "consul", "gateway-api", "appmesh":
	default:
		panic(fmt.Sprintf("adaptertest.CRDDir: unknown CRD folder %q: expected istio, linkerd, consul, gateway-api or appmesh", name))
	}
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("adaptertest.CRDDir: cannot locate the adaptertest package")
	}
	return filepath.Join(filepath.Dir(file), "testdata", "crds", name)
}

// SchemaSet validates objects against the OpenAPI v3 schemas of a set of CRDs: the structural
// schema (unknown fields), the OpenAPI value validations (types, enums, formats, bounds,
// required) and the CEL rules (x-kubernetes-validations), as a kube-apiserver does on create.
type SchemaSet struct {
	versions map[schema.GroupVersionKind]*versionSchema
}

type versionSchema struct {
	crd        string
	served     bool
	structural *structuralschema.Structural
	validator  apiservervalidation.SchemaValidator
	cel        *cel.Validator
}

var (
	schemaCacheMu sync.Mutex
	schemaCache   = map[string]*SchemaSet{}
)

// LoadSchemas reads every *.yaml / *.yml / *.json CRD file in dirs (files or directories; other
// documents are ignored) and prepares a validator for each served version. Results are cached
// per set of paths.
func LoadSchemas(paths ...string) (*SchemaSet, error) {
	key := strings.Join(paths, "\x00")
	schemaCacheMu.Lock()
	defer schemaCacheMu.Unlock()
	if s, ok := schemaCache[key]; ok {
		return s, nil
	}
	set := &SchemaSet{versions: map[schema.GroupVersionKind]*versionSchema{}}
	for _, p := range paths {
		files, err := crdFiles(p)
		if err != nil {
			return nil, err
		}
		for _, f := range files {
			if err := set.addFile(f); err != nil {
				return nil, err
			}
		}
	}
	if len(set.versions) == 0 {
		return nil, fmt.Errorf("no CustomResourceDefinition found in %v", paths)
	}
	schemaCache[key] = set
	return set, nil
}

func crdFiles(p string) ([]string, error) {
	st, err := os.Stat(p)
	if err != nil {
		return nil, fmt.Errorf("reading CRDs: %w", err)
	}
	if !st.IsDir() {
		return []string{p}, nil
	}
	var files []string
	for _, pat := range []string{"*.yaml", "*.yml", "*.json"} {
		m, _ := filepath.Glob(filepath.Join(p, pat))
		files = append(files, m...)
	}
	sort.Strings(files)
	return files, nil
}

func (s *SchemaSet) addFile(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("reading CRDs: %w", err)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for i := 1; ; i++ {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := dec.Decode(&crd); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("%s: document %d: %w", file, i, err)
		}
		if crd.Kind != "CustomResourceDefinition" {
			continue
		}
		apiextensionsv1.SetObjectDefaults_CustomResourceDefinition(&crd)
		var internal apiextensions.CustomResourceDefinition
		if err := apiextensionsv1.Convert_v1_CustomResourceDefinition_To_apiextensions_CustomResourceDefinition(&crd, &internal, nil); err != nil {
			return fmt.Errorf("%s: converting CRD %s: %w", file, crd.Name, err)
		}
		for _, v := range internal.Spec.Versions {
			props := internal.Spec.Validation
			if v.Schema != nil {
				props = v.Schema
			}
			gvk := schema.GroupVersionKind{Group: internal.Spec.Group, Version: v.Name, Kind: internal.Spec.Names.Kind}
			vs := &versionSchema{crd: crd.Name, served: v.Served}
			if props != nil && props.OpenAPIV3Schema != nil {
				ss, err := structuralschema.NewStructural(props.OpenAPIV3Schema)
				if err != nil {
					return fmt.Errorf("%s: CRD %s version %s: structural schema: %w", file, crd.Name, v.Name, err)
				}
				validator, _, err := apiservervalidation.NewSchemaValidator(props.OpenAPIV3Schema)
				if err != nil {
					return fmt.Errorf("%s: CRD %s version %s: schema validator: %w", file, crd.Name, v.Name, err)
				}
				vs.structural = ss
				vs.validator = validator
				vs.cel = cel.NewValidator(ss, true, celconfig.PerCallLimit)
			}
			s.versions[gvk] = vs
		}
	}
}

// Validate checks one object and returns its problems (nil when it is valid): an unknown or
// unserved kind, unknown fields, OpenAPI value violations and failed CEL rules, each with its
// field path.
func (s *SchemaSet) Validate(ctx context.Context, obj *unstructured.Unstructured) field.ErrorList {
	gvk := obj.GroupVersionKind()
	vs, ok := s.versions[gvk]
	if !ok {
		return field.ErrorList{field.NotSupported(field.NewPath("kind"), gvk.String(), s.knownKinds())}
	}
	if !vs.served {
		return field.ErrorList{field.Invalid(field.NewPath("apiVersion"), obj.GetAPIVersion(), "version is not served by CRD "+vs.crd)}
	}
	var errs field.ErrorList
	if obj.GetName() == "" {
		errs = append(errs, field.Required(field.NewPath("metadata", "name"), ""))
	}
	if vs.structural == nil {
		return errs
	}
	copyObj := obj.DeepCopy().Object
	unknown := pruning.PruneWithOptions(copyObj, vs.structural, true, structuralschema.UnknownFieldPathOptions{TrackUnknownFieldPaths: true})
	// Like the API server: defaults are applied before validation.
	defaulted := obj.DeepCopy().Object
	structuraldefaulting.Default(defaulted, vs.structural)
	for _, u := range unknown {
		errs = append(errs, &field.Error{Type: field.ErrorTypeNotSupported, Field: u, BadValue: "", Detail: "unknown field (not in the CRD schema; the API server would drop it or, with strict field validation, reject it)"})
	}
	errs = append(errs, apiservervalidation.ValidateCustomResource(nil, defaulted, vs.validator)...)
	if len(errs) == 0 && vs.cel != nil {
		celErrs, _ := vs.cel.Validate(ctx, nil, vs.structural, defaulted, nil, celconfig.RuntimeCELCostBudget)
		errs = append(errs, celErrs...)
	}
	return errs
}

func (s *SchemaSet) knownKinds() []string {
	var kinds []string
	for gvk, vs := range s.versions {
		if vs.served {
			kinds = append(kinds, gvk.String())
		}
	}
	sort.Strings(kinds)
	return kinds
}

// ValidateAgainstCRDs validates every object against the served version's schema of the CRDs
// found in crdDirs (directories or files; see CRDDir) and reports each problem with the object,
// the field path and the message. An object whose kind no CRD defines is an error.
func ValidateAgainstCRDs(t testing.TB, objs []*unstructured.Unstructured, crdDirs ...string) {
	t.Helper()
	set, err := LoadSchemas(crdDirs...)
	if err != nil {
		t.Fatalf("adaptertest: %v", err)
	}
	for _, o := range objs {
		for _, e := range set.Validate(context.Background(), o) {
			t.Errorf("%s: %s", adapters.ObjectRef(o), e.Error())
		}
	}
}
