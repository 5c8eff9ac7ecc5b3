package spec

import (
	_ "embed"
	"encoding/json"
	"math"
	"reflect"
	"strings"
)

//go:generate env UPDATE_GOLDEN=1 go test -run TestSchemaUpToDate .

// SchemaID is the $id of the design JSON Schema.
const SchemaID = "https://trellis.dev/schemas/v1alpha1/design.schema.json"

//go:embed design.schema.json
var schemaJSON []byte

// JSONSchema returns the JSON Schema (draft 2020-12) of a design document, generated from the Go
// types and their doc comments (see design.schema.json; `go generate ./spec` rewrites it). Editors
// use it through the modeline `# yaml-language-server: $schema=<url>/design.schema.json`.
func JSONSchema() []byte { return append([]byte(nil), schemaJSON...) }

// schemaEnums lists the values of the enumerated string types.
var schemaEnums = map[reflect.Type][]string{
	reflect.TypeFor[Protocol]():              protocolNames,
	reflect.TypeFor[MTLSMode]():              mtlsNames,
	reflect.TypeFor[PolicyAction]():          actionNames,
	reflect.TypeFor[HealthCheckProtocol]():   healthCheckProtocolNames,
	reflect.TypeFor[ExternalTLSMode]():       {string(ExternalTLSOriginate), string(ExternalTLSPassthrough)},
	reflect.TypeFor[LoadBalancerAlgorithm](): {string(LBRoundRobin), string(LBLeastRequest), string(LBRandom), string(LBConsistentHash)},
	reflect.TypeFor[ExtensionPhase]():        {string(PhaseAuthn), string(PhaseAuthz), string(PhaseStats), string(PhaseUnspecified)},
	reflect.TypeFor[FailurePolicy]():         {string(FailClosed), string(FailOpen)},
	reflect.TypeFor[TracingProvider]():       {string(TracingOTLP), string(TracingZipkin)},
	reflect.TypeFor[AccessLogFormat]():       {string(AccessLogText), string(AccessLogJSON)},
}

// schemaLimits adds numeric bounds to fields, keyed "Type.jsonName".
var schemaLimits = map[string][2]float64{
	"Port.port":                           {1, 65535},
	"Port.targetPort":                     {1, 65535},
	"Backend.port":                        {1, 65535},
	"HealthCheck.port":                    {1, 65535},
	"MTLSOverride.port":                   {1, 65535},
	"Backend.weight":                      {0, 10000},
	"Retries.attempts":                    {0, 10},
	"AbortFault.httpStatus":               {200, 599},
	"DelayFault.percent":                  {0, 100},
	"AbortFault.percent":                  {0, 100},
	"Mirror.percent":                      {0, 100},
	"RetryBudget.percent":                 {0, 100},
	"Tracing.samplingPercent":             {0, 100},
	"OutlierDetection.maxEjectionPercent": {0, 100},
	"RateLimit.requestsPerSecond":         {1, math.MaxInt32},
	"RateLimit.requestsPerMinute":         {1, math.MaxInt32},
}

// schemaExactlyOne lists, per type, fields of which exactly one must be set (a oneOf of required
// properties, so that editors flag a missing or a second one).
var schemaExactlyOne = map[string][]string{
	"RateLimit": {"requestsPerSecond", "requestsPerMinute"},
}

const durationPattern = `^(0|([0-9]+(\.[0-9]*)?(ns|us|µs|ms|s|m|h))+)$`

// schemaGenerator builds the schema by reflection; docs maps "Type" and "Type.jsonName" to
// descriptions (taken from doc comments when the schema is generated).
type schemaGenerator struct {
	docs map[string]string
	defs map[string]any
}

// generateSchema returns the design schema as indented JSON with sorted keys.
func generateSchema(docs map[string]string) ([]byte, error) {
	g := &schemaGenerator{docs: docs, defs: map[string]any{}}
	root := g.object(reflect.TypeFor[Design]())
	root["$schema"] = "https://json-schema.org/draft/2020-12/schema"
	root["$id"] = SchemaID
	root["title"] = "Trellis design"
	root["$defs"] = g.defs
	props := root["properties"].(map[string]any)
	props["apiVersion"].(map[string]any)["const"] = APIVersion
	props["kind"].(map[string]any)["const"] = Kind
	b, err := json.MarshalIndent(root, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

// schemaFor returns the schema of a field's type.
func (g *schemaGenerator) schemaFor(t reflect.Type) map[string]any {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case reflect.TypeFor[Duration]():
		return map[string]any{"type": "string", "pattern": durationPattern}
	case reflect.TypeFor[Source]():
		g.define(t)
		return map[string]any{"oneOf": []any{
			map[string]any{"type": "string", "description": "Shorthand for {service: NAME}."},
			map[string]any{"$ref": "#/$defs/Source"},
		}}
	}
	if vals, ok := schemaEnums[t]; ok {
		return map[string]any{"type": "string", "enum": vals}
	}
	switch t.Kind() {
	case reflect.String:
		return map[string]any{"type": "string"}
	case reflect.Bool:
		return map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		return map[string]any{"type": "integer"}
	case reflect.Float32, reflect.Float64:
		return map[string]any{"type": "number"}
	case reflect.Slice:
		return map[string]any{"type": "array", "items": g.schemaFor(t.Elem())}
	case reflect.Map:
		return map[string]any{"type": "object", "additionalProperties": g.schemaFor(t.Elem())}
	case reflect.Struct:
		g.define(t)
		return map[string]any{"$ref": "#/$defs/" + t.Name()}
	}
	return map[string]any{}
}

func (g *schemaGenerator) define(t reflect.Type) {
	if _, ok := g.defs[t.Name()]; ok {
		return
	}
	g.defs[t.Name()] = nil // placeholder against recursion
	g.defs[t.Name()] = g.object(t)
}

// object describes a struct type.
func (g *schemaGenerator) object(t reflect.Type) map[string]any {
	props := map[string]any{}
	var required []string
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := jsonName(f)
		if name == "" {
			continue
		}
		s := g.schemaFor(f.Type)
		key := t.Name() + "." + name
		if d := g.docs[key]; d != "" {
			if _, isRef := s["$ref"]; isRef {
				s = map[string]any{"allOf": []any{s}}
			}
			s["description"] = d
			// "Required" in the doc comment marks a required field.
			if strings.HasPrefix(d, "Required") || strings.Contains(d, " Required") {
				required = append(required, name)
			}
		}
		if lim, ok := schemaLimits[key]; ok {
			s["minimum"], s["maximum"] = lim[0], lim[1]
		}
		props[name] = s
	}
	o := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		o["required"] = required
	}
	if one := schemaExactlyOne[t.Name()]; len(one) > 0 {
		var alts []any
		for _, f := range one {
			alts = append(alts, map[string]any{"required": []any{f}})
		}
		o["oneOf"] = alts
	}
	if d := g.docs[t.Name()]; d != "" {
		o["description"] = d
	}
	return o
}
